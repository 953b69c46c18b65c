//! Length-prefixed framing, shared by the binary order-entry protocol and replication: each
//! frame's header starts with the whole frame's length, so a receiver cuts a byte stream into
//! frames without knowing any message type, and judges the length as soon as it arrives (an
//! oversized frame is refused before any of its body is buffered).

use std::io::{self, Write};

/// What the front of a receive buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// A whole frame of `len` bytes starts the buffer: `buf[..len]` is it.
    Complete {
        /// The frame's length, header included.
        len: usize,
    },
    /// More bytes are needed before a frame can be cut.
    Incomplete,
    /// The declared length is below the header or above the maximum: the caller closes the
    /// connection (nothing is buffered).
    Invalid {
        /// The length the header declared.
        declared: usize,
    },
}

/// Judges a buffer of `available` bytes whose header declares a frame of `declared` bytes, for
/// frames of `min..=max` bytes.
pub fn judge(declared: usize, available: usize, min: usize, max: usize) -> Framing {
    if !(min..=max).contains(&declared) {
        Framing::Invalid { declared }
    } else if available >= declared {
        Framing::Complete { len: declared }
    } else {
        Framing::Incomplete
    }
}

/// Writes `queue[*sent..]` to a non-blocking `stream` as far as it takes it; `Ok(true)` (and the
/// queue emptied) once everything went out, `Ok(false)` when the socket pushed back.
pub(crate) fn write_queued(
    stream: &mut impl Write,
    queue: &mut Vec<u8>,
    sent: &mut usize,
) -> io::Result<bool> {
    while *sent < queue.len() {
        match stream.write(&queue[*sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    queue.clear();
    *sent = 0;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_judged_before_the_body_arrives() {
        assert_eq!(judge(3, 100, 4, 64), Framing::Invalid { declared: 3 });
        assert_eq!(judge(65, 2, 4, 64), Framing::Invalid { declared: 65 });
        assert_eq!(judge(10, 9, 4, 64), Framing::Incomplete);
        assert_eq!(judge(10, 10, 4, 64), Framing::Complete { len: 10 });
    }

    /// A writer that takes at most `room` bytes, then pushes back.
    struct Tight {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for Tight {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_queue_is_written_across_push_back() -> io::Result<()> {
        let mut stream = Tight {
            room: 3,
            taken: Vec::new(),
        };
        let (mut queue, mut sent) = (b"hello".to_vec(), 0);
        assert!(!write_queued(&mut stream, &mut queue, &mut sent)?);
        assert_eq!(sent, 3);
        stream.room = 10;
        assert!(write_queued(&mut stream, &mut queue, &mut sent)?);
        assert_eq!(
            (stream.taken.as_slice(), queue.len(), sent),
            (&b"hello"[..], 0, 0)
        );
        Ok(())
    }
}
