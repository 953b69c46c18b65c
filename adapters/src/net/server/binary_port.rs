//! The binary port: logon and the mapping of binary messages to commands (admins go to `admin`).

use std::collections::HashSet;
use std::time::Instant;

use crate::config::AuthMode;
use hayate_core::units::{AccountId, SymbolId};

use super::client::{CancelScope, Login};
use super::{BINARY_HEARTBEAT, Server};
use crate::binary::messages::{ClientMessage, LogonAck, RejectCode, ServerMessage, SymbolInfo};
use crate::clock::unix_ns;
use crate::limits::Admission;
use crate::metrics::GatewayMetrics;

impl Server {
    pub(super) fn binary_reject(
        &mut self,
        index: usize,
        code: RejectCode,
        ref_msg_type: u8,
        text: &str,
    ) {
        if let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) {
            ServerMessage::Reject {
                code,
                ref_msg_type,
                text,
            }
            .encode(&mut client.conn.outbound);
            GatewayMetrics::bump(&self.metrics.session_rejects);
            self.mark_dirty(index);
        }
    }

    pub(super) fn on_binary_message(&mut self, index: usize, message: &[u8]) {
        let now = Instant::now();
        let now_ns = unix_ns();
        GatewayMetrics::bump(&self.metrics.messages_in);
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        client.last_received = now;
        let msg_type = message.get(2).copied().unwrap_or(0);
        let admission = client.bucket.admit(now);
        if admission == Admission::Disconnect {
            GatewayMetrics::bump(&self.metrics.throttle_disconnects);
            self.binary_reject(
                index,
                RejectCode::Throttled,
                msg_type,
                "rate limit abuse: disconnecting",
            );
            self.close_after_flush(index, "rate limit abuse");
            return;
        }
        let decoded = match ClientMessage::decode(message) {
            Ok(m) => m,
            Err(e) => {
                self.binary_reject(index, e.reject_code(), msg_type, &e.to_string());
                return;
            }
        };
        let logged_on = client.login.clone();
        match (&decoded, logged_on) {
            (ClientMessage::Logon(logon), None) => self.binary_logon(index, logon),
            (ClientMessage::Logon(_), Some(_)) => {
                self.binary_reject(
                    index,
                    RejectCode::AlreadyLoggedOn,
                    msg_type,
                    "already logged on",
                );
            }
            (ClientMessage::Heartbeat, _) => {}
            (ClientMessage::Logout, _) => self.close_after_flush(index, "logout"),
            (_, None) => {
                self.binary_reject(index, RejectCode::NotLoggedOn, msg_type, "log on first");
                self.close_after_flush(index, "message before logon");
            }
            (_, Some(_)) if admission == Admission::Throttle => {
                GatewayMetrics::bump(&self.metrics.throttled);
                self.binary_reject(
                    index,
                    RejectCode::Throttled,
                    msg_type,
                    "rate limit exceeded",
                );
            }
            (message, Some(login)) => {
                if login.admin {
                    self.binary_admin(index, message, msg_type, now_ns);
                } else {
                    self.binary_order(index, message, msg_type, login.account, now_ns);
                }
            }
        }
    }

    pub(super) fn binary_logon(&mut self, index: usize, logon: &crate::binary::messages::Logon) {
        let config = &self.settings.config;
        let username = logon.username().unwrap_or_default();
        let password = logon.password().unwrap_or_default();
        let refusal = self.settings.role.refusal();
        // Admins log on to any node: `status` and `promote` are for standbys too.
        let decision = if let Some(admin) = config.admin(username) {
            if admin.password == password {
                Ok((AccountId(0), true, CancelScope::None))
            } else {
                Err("bad username or password".to_owned())
            }
        } else if let Some(why) = refusal {
            Err(why)
        } else if let Some(user) = config.user(username) {
            if user.auth == AuthMode::None || user.password == password {
                let flag = (logon.cancel_on_disconnect != 0).then_some(logon.cancel_on_disconnect);
                // N, S and Y as in FIX 8013; 0 (or anything else) means the user's setting.
                Ok((
                    user.account,
                    false,
                    CancelScope::from_flag(flag, user.cancel_on_disconnect),
                ))
            } else {
                Err("bad username or password".to_owned())
            }
        } else {
            Err("bad username or password".to_owned())
        };
        match decision {
            Err(why) => {
                GatewayMetrics::bump(&self.metrics.logons_refused);
                tracing::warn!(username, why, "binary logon refused");
                self.binary_reject(index, RejectCode::LogonRefused, 0x01, &why);
                self.close_after_flush(index, "logon refused");
            }
            Ok((account, admin, cod)) => {
                let engine = self.settings.config.engine_config();
                let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                    return;
                };
                client.login = Some(Login {
                    account,
                    admin,
                    cancel_on_disconnect: cod,
                    orders: HashSet::new(),
                });
                ServerMessage::LogonAck(LogonAck::new(
                    account,
                    admin,
                    BINARY_HEARTBEAT.as_millis() as u32,
                ))
                .encode(&mut client.conn.outbound);
                for (i, spec) in engine.symbols.iter().enumerate() {
                    if let Some(info) = SymbolInfo::new(
                        SymbolId(i as u16),
                        &spec.name,
                        &spec.tick_size.to_string(),
                        &spec.lot_size.to_string(),
                    ) {
                        ServerMessage::SymbolInfo(info).encode(&mut client.conn.outbound);
                    }
                }
                if !admin {
                    self.by_account.entry(account).or_default().push(index);
                }
                tracing::info!(username, admin, account = account.0, "binary logon");
                GatewayMetrics::bump(&self.metrics.binary_sessions);
                self.mark_dirty(index);
            }
        }
    }

    pub(super) fn binary_order(
        &mut self,
        index: usize,
        message: &ClientMessage,
        msg_type: u8,
        account: AccountId,
        now_ns: u64,
    ) {
        let engine = self.settings.config.engine_config();
        let command = match crate::binary::orders::to_command(message, account, engine) {
            Ok(command) => command,
            Err(why) => {
                let code = if why.starts_with("not permitted") {
                    RejectCode::NotPermitted
                } else {
                    RejectCode::BadValue
                };
                self.binary_reject(index, code, msg_type, why);
                return;
            }
        };
        let client_id = self.client_id(index);
        if let Err(why) = self.publish_from(index, client_id, command.at(now_ns)) {
            self.binary_reject(index, RejectCode::Unavailable, msg_type, &why);
        }
    }
}
