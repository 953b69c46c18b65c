//! What stands between a logon and a session, apart from the protocol: [`guard`] backs off and
//! locks out addresses and usernames that keep failing, before any password is checked;
//! [`verifier`] checks hashed passwords on a thread of its own, so the tens of milliseconds an
//! argon2 hash costs by design never stall the event loop and the order path behind it.

pub mod guard;
pub mod verifier;
