//! The binary port: logon and the mapping of binary messages to commands (admins go to `admin`).

use std::collections::HashSet;
use std::time::Instant;

use crate::config::AuthMode;
use hayate_core::event::Reason;
use hayate_core::units::{AccountId, SymbolId};

use super::client::{AdminLogin, AfterCheck, CancelScope, Login};
use super::{BINARY_HEARTBEAT, Server};
use crate::binary::messages::{
    ClientMessage, LogonAck, RejectCode, Report, ServerMessage, SymbolInfo,
};
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

    pub(super) fn on_binary_message(&mut self, index: usize, raw: &[u8]) {
        let message = raw;
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
        // Who is logged on, without cloning the session's set of open orders per message.
        let logged_on = client
            .login
            .as_ref()
            .map(|login| (login.account, login.admin.clone()));
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
            (message, Some((_, Some(admin)))) => {
                self.binary_admin(index, &admin, message, raw, now_ns);
            }
            (message, Some((account, None))) => {
                self.binary_order(index, message, msg_type, account, now_ns);
            }
        }
    }

    /// A binary Logon: which login it names is decided here, its credentials checked by
    /// `check_credentials`, and the session opened in `binary_logon_checked`.
    pub(super) fn binary_logon(&mut self, index: usize, logon: &crate::binary::messages::Logon) {
        let config = &self.settings.config;
        let username = logon.username().unwrap_or_default().to_owned();
        let candidate = logon.password().unwrap_or_default();
        let admin_port = self
            .clients
            .get(index)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.admin_port);
        let separate_admin_port = config.gateway().admin_listen.is_some();
        let then = AfterCheck::Binary {
            username: username.clone(),
            cancel_flag: logon.cancel_on_disconnect,
        };
        // Admins log on to any node: `status` and `promote` are for standbys too.
        if let Some(admin) = config.admin(&username) {
            if separate_admin_port && !admin_port {
                let why = "admins log on at the admin port".to_owned();
                return self.binary_logon_checked(index, &username, 0, Err(why));
            }
            let password = admin.password.clone();
            return self.check_credentials(index, Some(username), Some(&password), candidate, then);
        }
        let refusal = if admin_port {
            Some("only admins log on at the admin port".to_owned())
        } else {
            self.settings.role.refusal()
        };
        if let Some(why) = refusal {
            return self.binary_logon_checked(index, &username, 0, Err(why));
        }
        match config.user(&username) {
            Some(user) if user.auth == AuthMode::None => {
                self.binary_logon_checked(index, &username, logon.cancel_on_disconnect, Ok(()))
            }
            Some(user) => {
                let password = user.password.clone();
                self.check_credentials(index, Some(username), Some(&password), candidate, then)
            }
            None => self.check_credentials(index, None, None, candidate, then),
        }
    }

    /// Opens the session of a binary Logon whose credentials are checked (`checked` says why
    /// not, if not).
    pub(super) fn binary_logon_checked(
        &mut self,
        index: usize,
        username: &str,
        cancel_flag: u8,
        checked: Result<(), String>,
    ) {
        let config = &self.settings.config;
        let decision = checked.and_then(|()| {
            if let Some(admin) = config.admin(username) {
                let login = AdminLogin {
                    name: admin.username.clone(),
                    role: admin.role,
                };
                Ok((AccountId(0), Some(login), CancelScope::None))
            } else if let Some(user) = config.user(username) {
                let flag = (cancel_flag != 0).then_some(cancel_flag);
                // N, S and Y as in FIX 8013; 0 (or anything else) means the user's setting.
                Ok((
                    user.account,
                    None,
                    CancelScope::from_flag(flag, user.cancel_on_disconnect),
                ))
            } else {
                Err("bad username or password".to_owned())
            }
        });
        match decision {
            Err(why) => {
                GatewayMetrics::bump(&self.metrics.logons_refused);
                let peer = self
                    .clients
                    .get(index)
                    .and_then(Option::as_ref)
                    .map(|c| c.conn.peer);
                tracing::warn!(username, ?peer, why, "binary logon refused");
                self.binary_reject(index, RejectCode::LogonRefused, 0x01, &why);
                self.close_after_flush(index, "logon refused");
            }
            Ok((account, admin, cod)) => {
                let engine = self.settings.config.engine_config();
                let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                    return;
                };
                let is_admin = admin.is_some();
                let role = admin.as_ref().map(|a| a.role.name());
                client.login = Some(Login {
                    account,
                    admin,
                    cancel_on_disconnect: cod,
                    orders: HashSet::new(),
                });
                ServerMessage::LogonAck(LogonAck::new(
                    account,
                    is_admin,
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
                tracing::info!(username, peer = %client.conn.peer, role, account = account.0, "binary logon");
                if !is_admin {
                    self.by_account.entry(account).or_default().push(index);
                }
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
        // While the disk guard is tripped, new orders and replaces are refused here with the
        // Report the engine would have sent (sequence 0: the gateway's own, never journaled).
        if self.settings.disk.is_tripped()
            && let Some(event) = hayate_core::engine::refusal(&command, Reason::DiskFull)
        {
            self.metrics.reject(Reason::DiskFull);
            self.local_exec_ids += 1;
            let report = Report::new(0, now_ns, self.local_exec_ids as u32, &event);
            if let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) {
                ServerMessage::Report(report).encode(&mut client.conn.outbound);
                self.mark_dirty(index);
            }
            return;
        }
        let client_id = self.client_id(index);
        if let Err(why) = self.publish_from(index, client_id, command.at(now_ns)) {
            self.binary_reject(index, RejectCode::Unavailable, msg_type, &why);
        }
    }
}
