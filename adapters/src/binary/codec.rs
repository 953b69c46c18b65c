//! Framing: every message starts with a 4-byte header whose first field is the whole message's
//! length, so a receiver can cut a byte stream into messages without knowing any message type.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | `length` (u16 LE): the whole message, header included |
//! | 2 | 1 | `msg_type` |
//! | 3 | 1 | `version` ([`VERSION`]) |

/// The header's size in bytes.
pub const HEADER_LEN: usize = 4;

/// The protocol version every header carries.
pub const VERSION: u8 = 1;

pub use crate::framing::Framing;

/// Finds the first message in `buf`.
///
/// The length is judged as soon as its two bytes arrive, so an oversized message is refused before
/// any of its body is buffered.
pub fn frame(buf: &[u8], max_message_size: usize) -> Framing {
    let Some(&[lo, hi]) = buf.first_chunk::<2>() else {
        return Framing::Incomplete;
    };
    let declared = usize::from(u16::from_le_bytes([lo, hi]));
    crate::framing::judge(declared, buf.len(), HEADER_LEN, max_message_size)
}

/// A message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The whole message's length, header included.
    pub length: u16,
    /// The message type.
    pub msg_type: u8,
    /// The protocol version.
    pub version: u8,
}

impl Header {
    /// Reads the header at the start of `buf`, `None` if fewer than [`HEADER_LEN`] bytes.
    ///
    /// A server uses this to name the `ref_msg_type` of a Reject for a message it cannot decode.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let &[lo, hi, msg_type, version] = buf.first_chunk::<HEADER_LEN>()?;
        Some(Header {
            length: u16::from_le_bytes([lo, hi]),
            msg_type,
            version,
        })
    }

    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let [lo, hi] = self.length.to_le_bytes();
        [lo, hi, self.msg_type, self.version]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u16) -> Vec<u8> {
        let mut m = Header {
            length: len,
            msg_type: 3,
            version: VERSION,
        }
        .to_bytes()
        .to_vec();
        m.resize(usize::from(len).max(HEADER_LEN), 0xAB);
        m
    }

    #[test]
    fn complete_and_incomplete() {
        let m = message(10);
        assert_eq!(frame(&m, 4096), Framing::Complete { len: 10 });
        for cut in 0..m.len() {
            assert_eq!(frame(&m[..cut], 4096), Framing::Incomplete, "cut at {cut}");
        }
        let mut two = m.clone();
        two.extend_from_slice(&message(4));
        assert_eq!(frame(&two, 4096), Framing::Complete { len: 10 });
        assert_eq!(frame(&two[10..], 4096), Framing::Complete { len: 4 });
    }

    #[test]
    fn invalid_lengths() {
        for declared in 0..HEADER_LEN as u16 {
            let buf = declared.to_le_bytes();
            assert_eq!(
                frame(&buf, 4096),
                Framing::Invalid {
                    declared: usize::from(declared)
                }
            );
        }
        // Judged from the two length bytes alone: nothing of the body needs to be buffered.
        assert_eq!(
            frame(&4097u16.to_le_bytes(), 4096),
            Framing::Invalid { declared: 4097 }
        );
        assert_eq!(
            frame(&u16::MAX.to_le_bytes(), 4096),
            Framing::Invalid { declared: 65535 }
        );
        assert_eq!(frame(&message(4096), 4096), Framing::Complete { len: 4096 });
        assert_eq!(
            frame(&u16::MAX.to_le_bytes(), usize::MAX),
            Framing::Incomplete
        );
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            length: 0x1234,
            msg_type: 0x90,
            version: VERSION,
        };
        assert_eq!(h.to_bytes(), [0x34, 0x12, 0x90, 1]);
        assert_eq!(Header::parse(&h.to_bytes()), Some(h));
        assert_eq!(Header::parse(&[1, 2, 3]), None);
    }

    proptest::proptest! {
        #[test]
        fn frame_never_panics(buf in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), max in 0usize..100) {
            match frame(&buf, max) {
                Framing::Complete { len } => proptest::prop_assert!(len >= HEADER_LEN && len <= max && len <= buf.len()),
                Framing::Incomplete => {}
                Framing::Invalid { declared } => proptest::prop_assert!(declared < HEADER_LEN || declared > max),
            }
        }
    }
}
