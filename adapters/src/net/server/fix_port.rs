//! The FIX port: a FIX connection's messages through its session layer, logon and authentication,
//! and the mapping of application messages to commands.

use std::collections::HashSet;
use std::time::Instant;

use crate::config::AuthMode;
use hayate_core::units::AccountId;

use super::Server;
use super::client::{AfterCheck, CancelScope, Client, Login, Protocol};
use crate::clock::unix_ns;
use crate::fix::message_store::MessageStore;
use crate::fix::orders::{self, RequestIds};
use crate::fix::seq_store::SeqStore;
use crate::fix::session::{Inbound, LogonGrant, LogonRequest};
use crate::limits::Admission;
use crate::metrics::GatewayMetrics;

impl Server {
    pub(super) fn on_fix_message(&mut self, index: usize, message: &[u8]) {
        let now = Instant::now();
        let now_ns = unix_ns();
        GatewayMetrics::bump(&self.metrics.messages_in);
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        client.last_received = now;
        let admission = client.bucket.admit(now);
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        if admission == Admission::Disconnect {
            session.logout("rate limit exceeded: disconnecting", now_ns);
            client.conn.outbound.append(session.outbound());
            GatewayMetrics::bump(&self.metrics.throttle_disconnects);
            self.close_after_flush(index, "rate limit abuse");
            return;
        }
        let mut inbound = session.on_message(message, now, now_ns);
        // Then the messages that were waiting for a gap this one filled, in order.
        loop {
            if !self.on_fix_inbound(index, inbound, admission, now_ns) {
                return;
            }
            let Some(Client {
                protocol: Protocol::Fix(session),
                ..
            }) = self.clients.get_mut(index).and_then(Option::as_mut)
            else {
                return;
            };
            match session.next_queued(now, now_ns) {
                Some(next) => inbound = next,
                None => break,
            }
        }
        self.collect_fix_output(index);
    }

    /// Acts on what the session made of a message; false once the connection is closing.
    fn on_fix_inbound(
        &mut self,
        index: usize,
        inbound: Inbound,
        admission: Admission,
        now_ns: u64,
    ) -> bool {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return false;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return false;
        };
        match inbound {
            Inbound::Nothing => {}
            Inbound::Close => {
                client.conn.outbound.append(session.outbound());
                let why = session
                    .close_reason()
                    .unwrap_or("session closed")
                    .to_owned();
                self.close_after_flush(index, &why);
                return false;
            }
            Inbound::Logon(request) => self.fix_logon(index, &request),
            Inbound::Application => {
                if admission == Admission::Throttle {
                    GatewayMetrics::bump(&self.metrics.throttled);
                    GatewayMetrics::bump(&self.metrics.business_rejects);
                    let seq = session.last_seq();
                    session.business_reject(
                        seq,
                        0,
                        "Throttled: message rate limit exceeded",
                        now_ns,
                    );
                } else {
                    self.fix_application(index, now_ns);
                }
            }
        }
        true
    }

    /// Moves a FIX session's answers to its socket's queue.
    pub(super) fn collect_fix_output(&mut self, index: usize) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        let wrote = !session.outbound().is_empty();
        if wrote {
            client.conn.outbound.append(session.outbound());
        }
        let closed = session.is_closed() && !client.closing;
        if wrote {
            self.mark_dirty(index);
        }
        if closed {
            self.close_after_flush(index, "session closed");
        }
    }

    /// A Logon the session found well formed: who it claims to be is checked here, its
    /// credentials by `check_credentials`, and the rest in `fix_logon_checked`.
    pub(super) fn fix_logon(&mut self, index: usize, request: &LogonRequest) {
        let config = &self.settings.config;
        let refusal = self.settings.role.refusal().or_else(|| {
            (request.target_comp_id != config.gateway().comp_id)
                .then(|| format!("TargetCompID must be {}", config.gateway().comp_id))
        });
        if let Some(why) = refusal {
            return self.fix_logon_checked(index, request, Err(why));
        }
        let then = AfterCheck::Fix(Box::new(request.clone()));
        let candidate = request.password.as_deref().unwrap_or_default();
        match config.user_by_comp_id(&request.sender_comp_id) {
            Some(user) if user.auth == AuthMode::None => {
                self.fix_logon_checked(index, request, Ok(()))
            }
            Some(user) => {
                let username = user.username.clone();
                // Username and password must both match; a wrong Username fails like a wrong
                // password (and counts against the comp id's user).
                let password = (request.username.as_deref() == Some(username.as_str()))
                    .then(|| user.password.clone());
                self.check_credentials(index, Some(username), password.as_ref(), candidate, then);
            }
            None => self.check_credentials(index, None, None, candidate, then),
        }
    }

    /// Answers a Logon once its credentials are checked (`checked` says why not, if not).
    pub(super) fn fix_logon_checked(
        &mut self,
        index: usize,
        request: &LogonRequest,
        checked: Result<(), String>,
    ) {
        let (now, now_ns) = (Instant::now(), unix_ns());
        let decision = checked.and_then(|()| self.grant_fix(request));
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        match decision {
            Err(why) => {
                GatewayMetrics::bump(&self.metrics.logons_refused);
                tracing::warn!(comp_id = %request.sender_comp_id, peer = %client.conn.peer, why, "FIX logon refused");
                if self.settings.role.refusal().is_some() {
                    session.refuse_logon_with_reason(&why, now_ns);
                } else {
                    session.refuse_logon(&why, now_ns);
                }
            }
            Ok((grant, account, cod)) => {
                session.accept_logon(request, grant, now, now_ns);
                if session.is_active() {
                    client.login = Some(Login {
                        account,
                        admin: None,
                        cancel_on_disconnect: cod,
                        orders: HashSet::new(),
                    });
                    self.fix_comp_ids
                        .insert(request.sender_comp_id.clone(), index);
                    self.by_account.entry(account).or_default().push(index);
                    GatewayMetrics::bump(&self.metrics.fix_sessions);
                    tracing::info!(comp_id = %request.sender_comp_id, peer = %client.conn.peer, account = account.0, next_in = session.next_in(), next_out = session.next_out(), "FIX logon");
                }
            }
        }
        self.collect_fix_output(index);
    }

    /// What an authenticated Logon gets: its stores, unless its comp id is already logged on.
    fn grant_fix(
        &self,
        request: &LogonRequest,
    ) -> Result<(LogonGrant, AccountId, CancelScope), String> {
        let config = &self.settings.config;
        let user = config
            .user_by_comp_id(&request.sender_comp_id)
            .ok_or_else(|| "unknown SenderCompID".to_owned())?;
        if self.fix_comp_ids.contains_key(&request.sender_comp_id) {
            return Err("a session for this SenderCompID is already logged on".to_owned());
        }
        let seqs = SeqStore::open(&self.settings.sessions_dir, &request.sender_comp_id)
            .map_err(|e| format!("sequence store unavailable: {e}"))?;
        let store_mb = config.gateway().fix_message_store_mb;
        let store = if store_mb == 0 {
            None
        } else {
            let bytes = store_mb as usize * 1024 * 1024;
            Some(
                MessageStore::open(&self.settings.sessions_dir, &request.sender_comp_id, bytes)
                    .map_err(|e| format!("message store unavailable: {e}"))?,
            )
        };
        let cod = CancelScope::from_flag(request.cancel_on_disconnect, user.cancel_on_disconnect);
        Ok((
            LogonGrant {
                seqs,
                reset_on_logon: user.reset_on_logon,
                store,
            },
            user.account,
            cod,
        ))
    }

    pub(super) fn fix_application(&mut self, index: usize, now_ns: u64) {
        let engine = self.settings.config.engine_config();
        let disk_full = self.settings.disk.is_tripped();
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Some(account) = client.login.as_ref().map(|l| l.account) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        if session.fields().msg_type() == Some(b"V") {
            let key = (index, client.id);
            self.market_data
                .on_fix_request(key, session, engine, now_ns);
            return;
        }
        // While the disk guard is tripped, new orders and replaces are refused here, as the
        // engine would refuse them, and never reach the journal (BEHAVIOUR.md §10).
        let verdict =
            orders::to_command(session.fields(), account, engine).and_then(
                |command| match disk_full.then(|| orders::Refusal::disk_full(&command)) {
                    Some(Some(refusal)) => Err(refusal),
                    _ => Ok(command),
                },
            );
        match verdict {
            Ok(command) => {
                let client_id = client.id;
                match self.publish_from(index, client_id, command.at(now_ns)) {
                    Ok(()) => {}
                    Err(why) => {
                        if let Some(Client {
                            protocol: Protocol::Fix(session),
                            ..
                        }) = self.clients.get_mut(index).and_then(Option::as_mut)
                        {
                            let seq = session.last_seq();
                            session.business_reject(seq, 0, &why, now_ns);
                            GatewayMetrics::bump(&self.metrics.business_rejects);
                        }
                    }
                }
            }
            Err(refusal) => {
                let ids = RequestIds::of(session.fields());
                self.local_exec_ids += 1;
                let exec_id = format!("L{}-{}", self.boot_ns, self.local_exec_ids);
                orders::write_refusal(session, &refusal, &ids, exec_id.as_bytes(), now_ns);
                let reason = match refusal {
                    orders::Refusal::Order { reason, .. }
                    | orders::Refusal::CancelReplace { reason, .. }
                    | orders::Refusal::MassCancel { reason, .. } => reason,
                };
                self.metrics.reject(reason);
            }
        }
    }
}
