//! Secrets the gateway holds: kept out of logs and `{:?}`, and checked for strength when loaded.
//!
//! Passwords ([`Password`]) may be written in the configuration as an argon2id hash (a PHC string,
//! `$argon2id$v=19$m=19456,t=2,p=1$…`, printed by `cargo run --example admin -- hash-password`) or
//! in clear text (still accepted; the gateway warns at start-up). Either is compared in constant
//! time: argon2's own comparison of the derived keys, or SHA-256 digests of both sides compared
//! with `subtle` (so neither the content nor the length of the stored password leaks through
//! timing).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The shortest pair secret accepted, in bytes: a pair secret is generated, not remembered.
pub const MIN_SECRET_LEN: usize = 16;

/// A replicated pair's shared secret (`[replication] secret` or `secret_file`): both nodes prove
/// they hold it on every replication connection (`replication::auth`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PairSecret(Vec<u8>);

impl std::fmt::Debug for PairSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairSecret(<redacted>)")
    }
}

impl PairSecret {
    /// A secret of at least [`MIN_SECRET_LEN`] bytes (surrounding whitespace, as a secret file's
    /// final newline, is not part of it).
    pub fn new(secret: &[u8]) -> Result<PairSecret, String> {
        let secret = secret.trim_ascii();
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "must be at least {MIN_SECRET_LEN} bytes (it has {}); e.g. `openssl rand -hex 32`",
                secret.len()
            ));
        }
        Ok(PairSecret(secret.to_vec()))
    }

    /// The bytes, for the MAC that proves them.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether two secrets are the same (constant time: a configuration check, but a secret
    /// is compared no other way).
    pub(crate) fn same_as(&self, other: &PairSecret) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

/// A user's or an admin's password as the configuration holds it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// Written in clear text (the gateway warns at start-up).
    Clear(String),
    /// An argon2 hash in PHC string format, checked on the first use to parse.
    Hashed(String),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Password::Clear(_) => f.write_str("Password::Clear(<redacted>)"),
            Password::Hashed(_) => f.write_str("Password::Hashed(<redacted>)"),
        }
    }
}

/// What checking a candidate against a [`Password`] costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Decided at once (a clear-text password: two SHA-256 digests).
    Done(bool),
    /// Needs the slow hash (tens of milliseconds by design): do it off the event loop, with
    /// [`Password::verify`].
    Slow,
}

impl Password {
    /// Reads a configured password: a string starting with `$argon2` must be a valid argon2 PHC
    /// string (the error says what is wrong with it); anything else is a clear-text password.
    pub fn parse(text: &str) -> Result<Password, String> {
        if !text.starts_with("$argon2") {
            return Ok(Password::Clear(text.to_owned()));
        }
        let hash = PasswordHash::new(text)
            .map_err(|e| format!("is not a valid argon2 hash ({e}); make one with `cargo run --example admin -- hash-password`"))?;
        // Parameters the hash names are checked by building the hasher they describe.
        argon2::Algorithm::try_from(hash.algorithm)
            .map_err(|e| format!("names an unknown algorithm ({e})"))?;
        argon2::Params::try_from(&hash)
            .map_err(|e| format!("has unusable argon2 parameters ({e})"))?;
        Ok(Password::Hashed(text.to_owned()))
    }

    /// Whether it is stored as a hash.
    pub fn is_hashed(&self) -> bool {
        matches!(self, Password::Hashed(_))
    }

    /// Whether it is empty (a clear-text password that was left out).
    pub fn is_empty(&self) -> bool {
        matches!(self, Password::Clear(p) if p.is_empty())
    }

    /// Checks `candidate` now if that is cheap, else says it needs [`Password::verify`].
    pub fn check(&self, candidate: &str) -> Check {
        match self {
            Password::Clear(_) => Check::Done(self.verify(candidate)),
            Password::Hashed(_) => Check::Slow,
        }
    }

    /// Whether `candidate` is the password, compared in constant time. Slow for a hash.
    pub fn verify(&self, candidate: &str) -> bool {
        match self {
            Password::Clear(stored) => {
                let stored = Sha256::digest(stored.as_bytes());
                let candidate = Sha256::digest(candidate.as_bytes());
                stored.ct_eq(&candidate).into()
            }
            Password::Hashed(phc) => match PasswordHash::new(phc) {
                // argon2 compares the derived keys in constant time.
                Ok(hash) => Argon2::default()
                    .verify_password(candidate.as_bytes(), &hash)
                    .is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// Hashes a password with argon2id (the crate's defaults, OWASP's recommended 19 MiB, 2 passes,
/// 1 lane) and a random 16-byte salt, as a PHC string for the configuration file.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_slowly_and_only_the_right_one() {
        let phc = hash_password("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let password = Password::parse(&phc).expect("parses");
        assert!(password.is_hashed());
        assert_eq!(password.check("correct horse"), Check::Slow);
        assert!(password.verify("correct horse"));
        assert!(!password.verify("correct horse "));
        assert!(!password.verify(""));
        // Two hashes of one password differ (fresh salts) and both verify.
        let again = hash_password("correct horse").expect("hash");
        assert_ne!(again, phc);
        assert!(
            Password::parse(&again)
                .expect("parses")
                .verify("correct horse")
        );
        assert!(format!("{password:?}").contains("redacted"));
    }

    #[test]
    fn a_clear_password_is_checked_at_once() {
        let password = Password::parse("change-me").expect("clear");
        assert!(!password.is_hashed());
        assert_eq!(password.check("change-me"), Check::Done(true));
        assert_eq!(password.check("change-m"), Check::Done(false));
        assert_eq!(password.check("change-me!"), Check::Done(false));
        assert!(!format!("{password:?}").contains("change"));
    }

    #[test]
    fn a_broken_hash_is_refused_at_load() {
        let error = Password::parse("$argon2id$v=19$m=19456,t=2,p=1$bad").expect_err("refused");
        assert!(error.contains("not a valid argon2 hash"), "{error}");
        assert!(
            Password::parse("$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
                .is_err()
        );
    }

    #[test]
    fn short_secrets_are_refused_and_none_is_printed() {
        assert!(PairSecret::new(b"too short").is_err());
        assert!(PairSecret::new(b"   0123456789abcde   \n").is_err());
        let secret = PairSecret::new(b"0123456789abcdef\n").expect("16 bytes");
        assert_eq!(secret.expose(), b"0123456789abcdef");
        assert!(format!("{secret:?}").contains("redacted"));
    }
}
