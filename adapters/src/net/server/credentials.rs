//! Checking a logon's credentials, the same way for FIX and binary: the logon guard first (an
//! address or username that keeps failing is refused unchecked), then the password — at once if
//! stored in clear text, on the verifier's thread if hashed, with the connection's input paused
//! until the verdict comes back — then the protocol's own conclusion.

use std::time::Instant;

use super::Server;
use super::client::{AfterCheck, PendingLogon};
use crate::metrics::GatewayMetrics;
use crate::secrets::{Check, Password};

impl Server {
    /// Checks `candidate` against `password` (`None`: no such login, which fails like a wrong
    /// password) for the logon on connection `index`, then goes on with `then`.
    pub(super) fn check_credentials(
        &mut self,
        index: usize,
        username: Option<String>,
        password: Option<&Password>,
        candidate: &str,
        then: AfterCheck,
    ) {
        let Some(client) = self.clients.get(index).and_then(Option::as_ref) else {
            return;
        };
        let peer = client.conn.peer;
        let ticket = (index, client.id);
        if let Err(refusal) = self
            .logon_guard
            .admit(username.as_deref(), peer.ip(), Instant::now())
        {
            GatewayMetrics::bump(&self.metrics.logons_backed_off);
            let why = refusal.text();
            tracing::warn!(%peer, username, why, "logon refused unchecked");
            self.conclude_logon(index, then, Err(why));
            return;
        }
        // No such login: with hashed passwords configured, a decoy hash is checked instead, so
        // an unknown name takes as long to refuse as a known one (no enumeration by timing).
        // (Copied out of `self`, which the verdict's handling borrows mutably; only then.)
        let decoy = password.is_none().then(|| self.decoy.clone()).flatten();
        let password = password.or(decoy.as_ref());
        match password.map(|p| (p, p.check(candidate))) {
            None => self.credentials_checked(index, username, then, false),
            Some((_, Check::Done(ok))) => self.credentials_checked(index, username, then, ok),
            Some((password, Check::Slow)) => {
                if self.verifier.submit(ticket, password, candidate) {
                    let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                        return;
                    };
                    client.pending_logon = Some(PendingLogon { username, then });
                } else {
                    let why = "too many logons being checked: retry".to_owned();
                    tracing::warn!(%peer, username, "logon refused: the verifier's queue is full");
                    self.conclude_logon(index, then, Err(why));
                }
            }
        }
    }

    /// Verdicts from the verifier: each paused logon concludes, and its connection's input
    /// (anything sent behind the Logon) is read and handled. True if there was one.
    pub(super) fn take_verdicts(&mut self) -> bool {
        let mut any = false;
        while let Some(verdict) = self.verifier.next_verdict() {
            any = true;
            let (index, id) = verdict.ticket;
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            // A connection closed meanwhile (its slot may be someone else's now).
            if client.id != id {
                continue;
            }
            let Some(pending) = client.pending_logon.take() else {
                continue;
            };
            self.credentials_checked(index, pending.username, pending.then, verdict.ok);
            self.on_readable(index);
        }
        any
    }

    /// Counts the outcome with the guard and the metrics, then concludes the logon.
    fn credentials_checked(
        &mut self,
        index: usize,
        username: Option<String>,
        then: AfterCheck,
        ok: bool,
    ) {
        let Some(client) = self.clients.get(index).and_then(Option::as_ref) else {
            return;
        };
        let peer = client.conn.peer;
        if ok {
            if let Some(name) = &username {
                self.logon_guard.succeeded(name, peer.ip());
            }
            self.conclude_logon(index, then, Ok(()));
            return;
        }
        GatewayMetrics::bump(&self.metrics.logon_failures);
        let failure = self
            .logon_guard
            .failed(username.as_deref(), peer.ip(), Instant::now());
        if failure.address_locked {
            GatewayMetrics::bump(&self.metrics.logon_lockouts);
            tracing::warn!(%peer, "logon lockout: this address failed too often");
        }
        if failure.username_locked {
            GatewayMetrics::bump(&self.metrics.logon_lockouts);
            tracing::warn!(%peer, username, "logon lockout: this username failed too often (addresses it never logged on from are refused)");
        }
        let why = then.bad_credentials().to_owned();
        self.conclude_logon(index, then, Err(why));
    }

    fn conclude_logon(&mut self, index: usize, then: AfterCheck, checked: Result<(), String>) {
        match then {
            AfterCheck::Fix(request) => self.fix_logon_checked(index, &request, checked),
            AfterCheck::Binary {
                username,
                cancel_flag,
            } => self.binary_logon_checked(index, &username, cancel_flag, checked),
        }
    }
}
