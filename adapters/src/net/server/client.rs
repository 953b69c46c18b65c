//! What the event loop knows of one connection: its socket, protocol session, rate limit and who
//! is logged on over it.

use std::collections::HashSet;
use std::time::Instant;

use hayate_core::units::{AccountId, OrderId};

use crate::config::AdminRole;
use crate::fix::session::{FixSession, LogonRequest};
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

/// An operator logged on, for the role check and the log of what each admin did.
#[derive(Debug, Clone)]
pub(super) struct AdminLogin {
    pub(super) name: String,
    pub(super) role: AdminRole,
}

/// Who is logged on over a connection.
#[derive(Debug, Clone)]
pub(super) struct Login {
    pub(super) account: AccountId,
    /// Set for an operator (who places no orders).
    pub(super) admin: Option<AdminLogin>,
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
    /// Accepted on `admin_listen` (admins only) rather than an order-entry port.
    pub(super) admin_port: bool,
    /// A logon whose hashed password is being verified: the connection's input waits for it.
    pub(super) pending_logon: Option<PendingLogon>,
}

/// A logon waiting for the verifier's verdict, and what to do with it then.
#[derive(Debug)]
pub(super) struct PendingLogon {
    /// The configured username it claims (what the logon guard counts).
    pub(super) username: Option<String>,
    pub(super) then: AfterCheck,
}

/// How a logon goes on once its credentials are checked.
#[derive(Debug)]
pub(super) enum AfterCheck {
    /// A FIX Logon, answered by its session.
    Fix(Box<LogonRequest>),
    /// A binary Logon, as `username` with its cancel-on-disconnect byte.
    Binary { username: String, cancel_flag: u8 },
}

impl AfterCheck {
    /// What a client with wrong credentials is told (no hint which part was wrong).
    pub(super) fn bad_credentials(&self) -> &'static str {
        match self {
            AfterCheck::Fix(_) => "unknown SenderCompID or bad Username/Password",
            AfterCheck::Binary { .. } => "bad username or password",
        }
    }
}
