//! Secrets the gateway holds: kept out of logs and `{:?}`, and checked for strength when loaded.

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_and_none_is_printed() {
        assert!(PairSecret::new(b"too short").is_err());
        assert!(PairSecret::new(b"   0123456789abcde   \n").is_err());
        let secret = PairSecret::new(b"0123456789abcdef\n").expect("16 bytes");
        assert_eq!(secret.expose(), b"0123456789abcdef");
        assert!(format!("{secret:?}").contains("redacted"));
    }
}
