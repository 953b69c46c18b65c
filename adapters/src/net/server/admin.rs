//! Operator commands from admin sessions (on the binary port, or `admin_listen`): each checked
//! against the admin's role and logged with the admin's name, then journaled commands answered
//! when their event comes back, `status` and `promote` answered by the gateway itself.

use std::sync::Arc;

use hayate_core::command::NoticeAction;

use crate::binary::messages::{ClientMessage, NoticeHead, ServerMessage, notice_text};
use crate::config::AdminRole;

use super::Server;
use super::client::AdminLogin;

/// An admin command's name and the role it needs; `None` for what is no admin command.
fn command_role(message: &ClientMessage) -> Option<(&'static str, AdminRole)> {
    Some(match message {
        ClientMessage::Status => ("status", AdminRole::Viewer),
        ClientMessage::Halt(_) => ("halt", AdminRole::Operator),
        ClientMessage::Resume(_) => ("resume", AdminRole::Operator),
        ClientMessage::Snapshot => ("snapshot", AdminRole::Operator),
        ClientMessage::Block(_) => ("block", AdminRole::Operator),
        ClientMessage::Unblock(_) => ("unblock", AdminRole::Operator),
        ClientMessage::Notice(_) => ("notice", AdminRole::Operator),
        ClientMessage::Deposit(_) => ("deposit", AdminRole::Treasury),
        ClientMessage::Withdraw(_) => ("withdraw", AdminRole::Treasury),
        ClientMessage::Promote => ("promote", AdminRole::Root),
        _ => return None,
    })
}

/// An admin command's arguments as the admin client writes them, for the log.
fn arguments(message: &ClientMessage) -> String {
    match message {
        ClientMessage::Deposit(f) | ClientMessage::Withdraw(f) => format!(
            "{} {} {}",
            f.account.0,
            f.asset().unwrap_or("?"),
            f.amount_text().unwrap_or("?")
        ),
        ClientMessage::Halt(t) | ClientMessage::Resume(t) => t.target().unwrap_or("?").to_owned(),
        ClientMessage::Block(t) | ClientMessage::Unblock(t) => t.account.0.to_string(),
        ClientMessage::Notice(n) => format!(
            "action {} severity {} target {} components {:#b} window {}..{}",
            n.action, n.severity, n.target, n.components, n.from_s, n.to_s
        ),
        _ => String::new(),
    }
}

impl Server {
    pub(super) fn binary_admin(
        &mut self,
        index: usize,
        admin: &AdminLogin,
        message: &ClientMessage,
        raw: &[u8],
        now_ns: u64,
    ) {
        if let Some((name, needed)) = command_role(message) {
            if !admin.role.allows(needed) {
                let owner = (index, self.client_id(index));
                tracing::warn!(
                    admin = admin.name,
                    role = admin.role.name(),
                    command = name,
                    "admin command refused: role"
                );
                let text = format!(
                    "{name}: not permitted to role {} (needs {})",
                    admin.role.name(),
                    needed.name()
                );
                self.send_admin_result(owner, false, &text);
                return;
            }
            // Every operator action is on record with who did it (journaled ones also in the
            // journal, with their effect).
            tracing::info!(admin = admin.name, role = admin.role.name(), command = name, args = %arguments(message), "admin command");
        }
        if let ClientMessage::Notice(head) = message {
            self.publish_notice(index, head, notice_text(raw), now_ns);
            return;
        }
        let engine = self.settings.config.engine_config();
        let command = match crate::binary::orders::admin_command(message, engine) {
            Ok(Some(command)) => command,
            Ok(None) => {
                // Not a journaled command: answered by the gateway now.
                let owner = (index, self.client_id(index));
                if matches!(message, ClientMessage::Status) {
                    let text = self.status_text();
                    self.send_admin_result(owner, true, &text);
                    return;
                }
                if self.settings.config.replication().is_none() {
                    let text = "promote: this node is not part of a replicated pair";
                    self.send_admin_result(owner, false, text);
                    return;
                }
                // The replication thread promotes; the answer goes out when it is done
                // (see `answer_promotion`).
                match self.settings.role.request_promotion() {
                    Ok(()) => self.pending_promote = Some(owner),
                    Err(why) => self.send_admin_result(owner, false, &why),
                }
                return;
            }
            Err(why) => {
                let owner = (index, self.client_id(index));
                self.send_admin_result(owner, false, &why);
                return;
            }
        };
        let owner = (index, self.client_id(index));
        match self.publish(command.at(now_ns)) {
            Ok(()) => self.pending_admin.push_back(owner),
            Err(why) => self.send_admin_result(owner, false, &why),
        }
    }

    /// A notice goes into the journal as parts published back to back (nothing else publishes
    /// in between: the loop is the primary's only publisher); the admin is answered when the
    /// last part's acknowledgement comes back, with the notice's id.
    fn publish_notice(&mut self, index: usize, head: &NoticeHead, text: &str, now_ns: u64) {
        let owner = (index, self.client_id(index));
        let Some(notice) = head.notice(text) else {
            self.send_admin_result(owner, false, "notice: unknown action or severity");
            return;
        };
        let about_an_incident =
            matches!(notice.action, NoticeAction::Update | NoticeAction::Resolve);
        if about_an_incident && !self.open_incidents.contains(&notice.target) {
            let why = format!("notice: no open incident {}", notice.target);
            self.send_admin_result(owner, false, &why);
            return;
        }
        let commands = match notice.to_commands() {
            Ok(commands) => commands,
            Err(why) => {
                self.send_admin_result(owner, false, &format!("notice: {why}"));
                return;
            }
        };
        for command in commands {
            match self.publish(command.at(now_ns)) {
                Ok(()) => self.pending_admin.push_back(owner),
                Err(why) => {
                    // The parts already journaled make no notice: readers drop a notice whose
                    // last part never came.
                    self.send_admin_result(owner, false, &why);
                    return;
                }
            }
        }
    }

    pub(super) fn send_admin_result(&mut self, (index, id): (usize, u64), ok: bool, text: &str) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if client.id != id {
            return;
        }
        ServerMessage::AdminResult {
            ok,
            status: u8::from(!ok),
            text,
        }
        .encode(&mut client.conn.outbound);
        self.mark_dirty(index);
    }

    /// The `/status` JSON, for the admin client's `status`.
    pub(super) fn status_text(&self) -> String {
        match &self.status_source {
            Some(source) => source(),
            None => format!("{{\"state\":\"{}\"}}", self.metrics.state().name()),
        }
    }

    /// Where `status` answers come from (the same JSON as `/status`).
    pub fn set_status_source(&mut self, source: Arc<dyn Fn() -> String + Send + Sync>) {
        self.status_source = Some(source);
    }

    /// Tells the admin who asked for a promotion how it went, once it is over.
    pub(super) fn answer_promotion(&mut self) {
        if self.pending_promote.is_none() {
            return;
        }
        if let Some(outcome) = self.settings.role.take_promotion_outcome() {
            if let Some(owner) = self.pending_promote.take() {
                let (ok, text) = match outcome {
                    Ok(text) => (true, text),
                    Err(text) => (false, text),
                };
                self.send_admin_result(owner, ok, &text);
            }
        }
    }
}
