//! What the event loop knows of one connection: its socket, protocol session, rate limit and who
//! is logged on over it.

use std::collections::HashSet;
use std::time::Instant;

use hayate_core::units::{AccountId, OrderId};

use crate::fix::session::FixSession;
use crate::limits::TokenBucket;
use crate::net::connection::Conn;

/// What cancel-on-disconnect does when a session drops (FIX 8013).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelScope {
    /// Nothing.
    None,
    /// The orders this session placed.
    Session,
    /// Every order of the account.
    Account,
}

impl CancelScope {
    pub(super) fn from_flag(flag: Option<u8>, user_default: bool) -> CancelScope {
        match flag {
            Some(b'S') => CancelScope::Session,
            Some(b'Y') => CancelScope::Account,
            Some(b'N') => CancelScope::None,
            _ if user_default => CancelScope::Account,
            _ => CancelScope::None,
        }
    }
}

/// Who is logged on over a connection.
#[derive(Debug, Clone)]
pub(super) struct Login {
    pub(super) account: AccountId,
    pub(super) admin: bool,
    pub(super) cancel_on_disconnect: CancelScope,
    /// Orders this session placed that are still open (for cancel-on-disconnect `S`).
    pub(super) orders: HashSet<OrderId>,
}

#[derive(Debug)]
pub(super) enum Protocol {
    Fix(Box<FixSession>),
    Binary { last_sent: Instant },
}

#[derive(Debug)]
pub(super) struct Client {
    pub(super) conn: Conn,
    pub(super) protocol: Protocol,
    pub(super) bucket: TokenBucket,
    pub(super) login: Option<Login>,
    /// A unique number for this connection, never reused (tokens are).
    pub(super) id: u64,
    pub(super) opened: Instant,
    pub(super) last_received: Instant,
    /// Close once the outbound buffer is flushed.
    pub(super) closing: bool,
    /// Registered for writable events (the socket pushed back).
    pub(super) want_write: bool,
    /// Read budget spent: more input may be waiting.
    pub(super) more_input: bool,
    /// Why it is closing, for the log.
    pub(super) close_reason: Option<String>,
}
