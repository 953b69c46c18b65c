//! Proving, on every replication connection, that both ends hold the pair's secret — before a
//! journal record is sent or an acknowledgement believed.
//!
//! ```text
//!  standby                                   primary
//!  Hello { position, nonce_s }        ──▶
//!                                      ◀──   Challenge { nonce_p, HMAC(secret, "primary" ‖ Hello ‖ nonce_p) }
//!  (checks the primary's proof)
//!  Proof { HMAC(secret, "standby" ‖ Hello ‖ nonce_p) } ──▶
//!                                            (checks the standby's proof, in constant time)
//!                                      ◀──   Welcome / Truncate / Refuse …
//! ```
//!
//! The standby's nonce makes the primary's proof fresh; the primary's nonce makes the standby's
//! proof fresh, so a recorded handshake replayed on a new connection proves nothing. The labels
//! keep one side's proof from being reflected as the other's. Everything after the handshake
//! rides the same TCP connection, which only an authenticated peer holds (TLS, when configured,
//! also keeps others from reading or injecting into it). The MAC is `hmac` + `sha2`; the nonces
//! come from the operating system (`getrandom`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::peer::Peer;
use super::protocol::{Challenge, Hello, Message, NONCE_LEN, ObserverHello, Proof, RefuseCode};
use crate::secrets::PairSecret;

/// Which side a proof speaks for. An observer's handshake has labels of its own, so a proof made
/// on an observer's connection can never pass for a standby's (and the observers' secret is
/// another secret anyway).
#[derive(Clone, Copy)]
enum Side {
    Primary,
    Standby,
    PrimaryToObserver,
    Observer,
}

impl PairSecret {
    fn mac(&self, side: Side, hello: &[u8], nonce: &[u8; NONCE_LEN]) -> Hmac<Sha256> {
        // Any key length is valid for HMAC: `new_from_slice` cannot fail here.
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.expose()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(match side {
            Side::Primary => b"hayate replication primary\0",
            Side::Standby => b"hayate replication standby\0",
            Side::PrimaryToObserver => b"hayate replication primary to observer\0",
            Side::Observer => b"hayate replication observer\0",
        });
        mac.update(hello);
        mac.update(nonce);
        mac
    }

    fn prove(&self, side: Side, hello: &[u8], nonce: &[u8; NONCE_LEN]) -> [u8; NONCE_LEN] {
        self.mac(side, hello, nonce).finalize().into_bytes().into()
    }

    /// Constant-time check of `proof` (`hmac`'s `verify_slice`).
    fn verify(&self, side: Side, hello: &[u8], nonce: &[u8; NONCE_LEN], proof: &[u8]) -> bool {
        self.mac(side, hello, nonce).verify_slice(proof).is_ok()
    }

    /// Primary: the Challenge answering `hello`, with a fresh nonce.
    pub(crate) fn challenge(&self, hello: &Hello) -> std::io::Result<Challenge> {
        let nonce = fresh_nonce()?;
        Ok(Challenge {
            nonce,
            proof: self.prove(Side::Primary, bytemuck::bytes_of(hello), &nonce),
        })
    }

    /// Primary: whether `proof` answers the `challenge` it sent for `hello`.
    pub(crate) fn standby_proved(
        &self,
        hello: &Hello,
        challenge: &Challenge,
        proof: &Proof,
    ) -> bool {
        self.verify(
            Side::Standby,
            bytemuck::bytes_of(hello),
            &challenge.nonce,
            &proof.proof,
        )
    }

    /// Standby: whether the primary's `challenge` proves the secret for our `hello`; if so, our
    /// proof to send back.
    pub(crate) fn answer(&self, hello: &Hello, challenge: &Challenge) -> Option<Proof> {
        let hello = bytemuck::bytes_of(hello);
        self.verify(Side::Primary, hello, &challenge.nonce, &challenge.proof)
            .then(|| Proof {
                proof: self.prove(Side::Standby, hello, &challenge.nonce),
            })
    }

    /// Primary, with the observers' secret: the Challenge answering an observer's `hello`.
    pub(crate) fn observer_challenge(&self, hello: &ObserverHello) -> std::io::Result<Challenge> {
        let nonce = fresh_nonce()?;
        Ok(Challenge {
            nonce,
            proof: self.prove(Side::PrimaryToObserver, bytemuck::bytes_of(hello), &nonce),
        })
    }

    /// Primary: whether an observer's `proof` answers the `challenge` sent for its `hello`.
    pub(crate) fn observer_proved(
        &self,
        hello: &ObserverHello,
        challenge: &Challenge,
        proof: &Proof,
    ) -> bool {
        self.verify(
            Side::Observer,
            bytemuck::bytes_of(hello),
            &challenge.nonce,
            &proof.proof,
        )
    }

    /// Observer: whether the primary's `challenge` proves the observers' secret for our
    /// `hello`; if so, our proof to send back.
    pub(crate) fn observer_answer(
        &self,
        hello: &ObserverHello,
        challenge: &Challenge,
    ) -> Option<Proof> {
        let hello = bytemuck::bytes_of(hello);
        self.verify(
            Side::PrimaryToObserver,
            hello,
            &challenge.nonce,
            &challenge.proof,
        )
        .then(|| Proof {
            proof: self.prove(Side::Observer, hello, &challenge.nonce),
        })
    }
}

/// Random bytes from the operating system.
pub(crate) fn fresh_nonce() -> std::io::Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(format!("getrandom: {e}")))?;
    Ok(nonce)
}

/// How a connecting node's side of the handshake ended, when it did not succeed.
#[derive(Debug)]
pub(crate) enum ConnectFailure {
    /// The connection failed or the answer was malformed: try again later.
    Io(std::io::Error),
    /// The other node did not prove the secret, or refused ours: the secrets differ (or it is not
    /// our primary). An operator must act.
    Unproven(String),
    /// The other node refused the Hello for another reason before the proofs (an older node).
    Refused {
        /// Its reason.
        code: RefuseCode,
        /// Its text.
        text: String,
    },
}

impl From<std::io::Error> for ConnectFailure {
    fn from(e: std::io::Error) -> ConnectFailure {
        ConnectFailure::Io(e)
    }
}

/// The connecting side (a standby, a promoted node's epoch notice): sends `hello` (its nonce
/// filled in here), checks the primary's proof and sends its own; the primary's answer to the
/// position comes next on `peer`.
pub(crate) fn connect(
    peer: &mut Peer,
    secret: &PairSecret,
    mut hello: Hello,
    patience: std::time::Duration,
) -> Result<(), ConnectFailure> {
    hello.nonce = fresh_nonce()?;
    peer.send(&Message::Hello(hello));
    let proof = exchange_proofs(peer, patience, |challenge| secret.answer(&hello, challenge))?;
    peer.send(&Message::Proof(proof));
    peer.flush_all(patience)?;
    Ok(())
}

/// The observer's side of the handshake: as [`connect`], with an [`ObserverHello`] and the
/// observers' secret.
pub(crate) fn connect_observer(
    peer: &mut Peer,
    secret: &PairSecret,
    mut hello: ObserverHello,
    patience: std::time::Duration,
) -> Result<(), ConnectFailure> {
    hello.nonce = fresh_nonce()?;
    peer.send(&Message::ObserverHello(hello));
    let proof = exchange_proofs(peer, patience, |challenge| {
        secret.observer_answer(&hello, challenge)
    })?;
    peer.send(&Message::Proof(proof));
    peer.flush_all(patience)?;
    Ok(())
}

/// Sends the queued hello, reads the primary's Challenge and returns the proof `answer` makes
/// from it (`None`: the primary did not prove the secret).
fn exchange_proofs(
    peer: &mut Peer,
    patience: std::time::Duration,
    answer: impl FnOnce(&Challenge) -> Option<Proof>,
) -> Result<Proof, ConnectFailure> {
    peer.flush_all(patience)?;
    let frame = peer.wait_frame(patience)?;
    let challenge = match Message::decode(&frame) {
        Ok(Message::Challenge(challenge)) => challenge,
        Ok(Message::Refuse { code, text }) => {
            return Err(ConnectFailure::Refused {
                code,
                text: text.to_owned(),
            });
        }
        Ok(_) => return Err(std::io::Error::other("unexpected answer to Hello").into()),
        Err(e) => return Err(std::io::Error::other(e.to_string()).into()),
    };
    answer(&challenge).ok_or_else(|| {
        ConnectFailure::Unproven(
            "the primary did not prove the shared secret (are the [replication] secrets the \
             same?)"
                .to_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> PairSecret {
        PairSecret::new(s.as_bytes()).expect("secret")
    }

    fn hello() -> Hello {
        Hello {
            epoch: 2,
            last_seq: 40,
            last_epoch_start: 31,
            config_digest: 7,
            nonce: [9; NONCE_LEN],
        }
    }

    #[test]
    fn both_sides_with_the_same_secret_prove_it_to_each_other() {
        let (primary, standby) = (secret("0123456789abcdef"), secret("0123456789abcdef\n"));
        let challenge = primary.challenge(&hello()).expect("challenge");
        let proof = standby
            .answer(&hello(), &challenge)
            .expect("the primary proved it");
        assert!(primary.standby_proved(&hello(), &challenge, &proof));
    }

    #[test]
    fn a_different_secret_proves_nothing_either_way() {
        let (primary, standby) = (secret("0123456789abcdef"), secret("0123456789abcdeF"));
        let challenge = primary.challenge(&hello()).expect("challenge");
        assert!(standby.answer(&hello(), &challenge).is_none());
        let forged = standby.answer(&hello(), &standby.challenge(&hello()).expect("c"));
        let forged = forged.expect("its own challenge");
        assert!(!primary.standby_proved(&hello(), &challenge, &forged));
    }

    #[test]
    fn a_proof_is_good_for_one_challenge_and_one_hello_only() {
        let s = secret("0123456789abcdef");
        let first = s.challenge(&hello()).expect("challenge");
        let proof = s.answer(&hello(), &first).expect("proof");
        // Replayed against a new challenge (a new connection): refused.
        let second = s.challenge(&hello()).expect("challenge");
        assert_ne!(first.nonce, second.nonce);
        assert!(!s.standby_proved(&hello(), &second, &proof));
        // Against another position (a replayed proof with an edited Hello): refused.
        let edited = Hello {
            epoch: 99,
            ..hello()
        };
        assert!(!s.standby_proved(&edited, &first, &proof));
        // The primary's own proof reflected back as the standby's: refused.
        let reflected = Proof { proof: first.proof };
        assert!(!s.standby_proved(&hello(), &first, &reflected));
    }
}
