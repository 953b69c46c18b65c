//! Record frames: encoding, publishing and decoding (layout in [`crate::format`]).
//!
//! The first 8 bytes of a frame (tagged length + CRC) are the *commit word*. A writer fills the
//! sequence and payload first and stores the commit word last with `Release`; readers load it with
//! `Acquire`. So a reader that sees a non-zero commit word also sees the bytes it covers, and a
//! record that is still being written reads as zeros ("not yet"), never as half a record.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Defect;

/// Bytes before the payload: tagged length (4), CRC32C (4), sequence (8).
pub const FRAME_HEADER_LEN: usize = 16;
/// Frames start and end on this alignment.
pub const FRAME_ALIGN: usize = 8;
/// Kind bit of a record frame's tagged length.
pub const KIND_RECORD: u32 = 0x8000_0000;
/// Tagged length of an end-of-segment marker (kind bit, length 0).
pub const KIND_END_OF_SEGMENT: u32 = 0x4000_0000;
/// Mask of the kind bits.
const KIND_MASK: u32 = 0xC000_0000;
/// Largest payload the length field can express.
pub const MAX_PAYLOAD_FIELD: usize = !KIND_MASK as usize;

/// A record read back from the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's sequence number.
    pub seq: u64,
    /// The opaque payload, exactly as appended.
    pub payload: &'a [u8],
}

/// One decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A valid record occupying `frame_len` bytes.
    Record {
        record: Record<'a>,
        frame_len: usize,
    },
    /// A valid end-of-segment marker; the journal continues at `next_seq` in the next segment.
    EndOfSegment { next_seq: u64 },
    /// A zero commit word: nothing written here (yet).
    Empty,
}

/// Bytes a frame with a payload of `payload_len` bytes occupies, padding included.
pub const fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len.div_ceil(FRAME_ALIGN) * FRAME_ALIGN
}

fn frame_crc(tagged_len: u32, seq: u64, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&tagged_len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &seq.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

fn commit_word(tagged_len: u32, crc: u32) -> u64 {
    u64::from(tagged_len) | (u64::from(crc) << 32)
}

/// Loads the commit word at `offset` with `Acquire` (so the covered bytes are visible).
///
/// `offset` must be 8-aligned and `offset + 8 <= bytes.len()`; the caller checks both.
fn load_commit_word(bytes: &[u8], offset: usize) -> u64 {
    debug_assert!(offset % FRAME_ALIGN == 0 && offset + 8 <= bytes.len());
    let ptr = bytes[offset..offset + 8].as_ptr().cast::<u64>().cast_mut();
    debug_assert!(ptr.is_aligned());
    // SAFETY: the pointer is in bounds and 8-aligned (maps are page-aligned, offsets 8-aligned).
    // The word may be stored concurrently by a writer (another thread or process sharing the
    // mapping), which is why it is read atomically; this only loads, never stores.
    let word = unsafe { AtomicU64::from_ptr(ptr) }.load(Ordering::Acquire);
    u64::from_le(word)
}

/// Writes a record frame at `offset` and publishes it (commit word last). Returns its length.
///
/// The caller guarantees `offset + frame_len(payload.len()) <= map.len()`, 8-aligned `offset`, and
/// a payload no longer than [`MAX_PAYLOAD_FIELD`].
pub(crate) fn write_record(map: &mut [u8], offset: usize, seq: u64, payload: &[u8]) -> usize {
    let len = frame_len(payload.len());
    let body = &mut map[offset + 8..offset + len];
    body[..8].copy_from_slice(&seq.to_le_bytes());
    body[8..8 + payload.len()].copy_from_slice(payload);
    // Padding is normally already zero; clearing it keeps frames byte-for-byte deterministic.
    body[8 + payload.len()..].fill(0);
    // Cast is lossless: the caller bounds the payload by MAX_PAYLOAD_FIELD.
    let tagged_len = KIND_RECORD | payload.len() as u32;
    publish(
        map,
        offset,
        commit_word(tagged_len, frame_crc(tagged_len, seq, payload)),
    );
    len
}

/// Writes an end-of-segment marker at `offset` saying the journal continues at `next_seq`.
pub(crate) fn write_end_of_segment(map: &mut [u8], offset: usize, next_seq: u64) {
    map[offset + 8..offset + FRAME_HEADER_LEN].copy_from_slice(&next_seq.to_le_bytes());
    let crc = frame_crc(KIND_END_OF_SEGMENT, next_seq, &[]);
    publish(map, offset, commit_word(KIND_END_OF_SEGMENT, crc));
}

fn publish(map: &mut [u8], offset: usize, word: u64) {
    let ptr = map[offset..offset + 8].as_mut_ptr().cast::<u64>();
    debug_assert!(ptr.is_aligned());
    // SAFETY: in bounds, 8-aligned, and we hold the only mutable reference in this process;
    // readers in other threads/processes only load this word atomically.
    unsafe { AtomicU64::from_ptr(ptr) }.store(word.to_le(), Ordering::Release);
}

/// The cheap part of decoding: the fields, without the CRC check.
struct RawFrame {
    tagged_len: u32,
    stored_crc: u32,
    seq: u64,
}

fn raw_frame(bytes: &[u8], offset: usize) -> Option<RawFrame> {
    let word = load_commit_word(bytes, offset);
    if word == 0 {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[offset + 8..offset + 16]);
    Some(RawFrame {
        tagged_len: word as u32,
        stored_crc: (word >> 32) as u32,
        seq: u64::from_le_bytes(seq),
    })
}

/// Decodes the frame at `offset` (8-aligned, with at least [`FRAME_HEADER_LEN`] bytes left).
///
/// Checks kind, bounds and CRC; sequence continuity is the caller's business.
pub(crate) fn decode(bytes: &[u8], offset: usize) -> Result<Frame<'_>, Defect> {
    let Some(raw) = raw_frame(bytes, offset) else {
        return Ok(Frame::Empty);
    };
    let room = bytes.len() - offset;
    let (payload_len, frame_len) = match raw.tagged_len & KIND_MASK {
        KIND_RECORD => {
            let payload_len = (raw.tagged_len & !KIND_MASK) as usize;
            (payload_len, frame_len(payload_len))
        }
        KIND_END_OF_SEGMENT if raw.tagged_len == KIND_END_OF_SEGMENT => (0, FRAME_HEADER_LEN),
        _ => {
            return Err(Defect::UnknownKind {
                tagged_len: raw.tagged_len,
            });
        }
    };
    if frame_len > room {
        return Err(Defect::LengthOutOfBounds {
            frame_len: frame_len as u64,
            room: room as u64,
        });
    }
    let start = offset + FRAME_HEADER_LEN;
    let payload = &bytes[start..start + payload_len];
    let computed = frame_crc(raw.tagged_len, raw.seq, payload);
    if computed != raw.stored_crc {
        return Err(Defect::CrcMismatch {
            stored: raw.stored_crc,
            computed,
        });
    }
    Ok(if raw.tagged_len == KIND_END_OF_SEGMENT {
        Frame::EndOfSegment { next_seq: raw.seq }
    } else {
        Frame::Record {
            record: Record {
                seq: raw.seq,
                payload,
            },
            frame_len,
        }
    })
}

/// Finds the first valid frame after `offset` whose sequence is at least `min_seq`.
///
/// Used to tell a torn tail (nothing valid follows) from corruption in the middle. Candidates
/// are filtered on the cheap header fields (plausible sequence range) before any CRC is computed,
/// so scanning megabytes of garbage stays linear.
pub(crate) fn find_valid_frame_after(bytes: &[u8], offset: usize, min_seq: u64) -> Option<usize> {
    // No segment can hold more frames than this, so no valid later sequence can exceed it.
    let max_seq = min_seq.saturating_add((bytes.len() / FRAME_HEADER_LEN) as u64 + 1);
    let mut candidate = offset + FRAME_ALIGN;
    while candidate + FRAME_HEADER_LEN <= bytes.len() {
        let plausible =
            raw_frame(bytes, candidate).is_some_and(|raw| (min_seq..=max_seq).contains(&raw.seq));
        if plausible
            && matches!(
                decode(bytes, candidate),
                Ok(Frame::Record { .. } | Frame::EndOfSegment { .. })
            )
        {
            return Some(candidate);
        }
        candidate += FRAME_ALIGN;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(len: usize) -> Vec<u64> {
        vec![0u64; len / 8]
    }

    fn as_bytes(words: &mut [u64]) -> &mut [u8] {
        let len = words.len() * 8;
        // SAFETY: u64 has no padding and any byte pattern is valid for it.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
    }

    #[test]
    fn frames_are_8_aligned_and_include_the_header() {
        assert_eq!(frame_len(0), 16);
        assert_eq!(frame_len(1), 24);
        assert_eq!(frame_len(8), 24);
        assert_eq!(frame_len(9), 32);
    }

    #[test]
    fn a_written_record_decodes_to_the_same_seq_and_payload() {
        let mut words = aligned(128);
        let bytes = as_bytes(&mut words);
        let len = write_record(bytes, 8, 42, b"hello");
        assert_eq!(len, 24);
        let frame = decode(bytes, 8).unwrap();
        assert_eq!(
            frame,
            Frame::Record {
                record: Record {
                    seq: 42,
                    payload: b"hello"
                },
                frame_len: 24
            }
        );
    }

    #[test]
    fn an_empty_payload_record_is_not_mistaken_for_zeros() {
        let mut words = aligned(64);
        let bytes = as_bytes(&mut words);
        write_record(bytes, 0, 7, b"");
        assert!(matches!(
            decode(bytes, 0),
            Ok(Frame::Record {
                record: Record { seq: 7, .. },
                ..
            })
        ));
    }

    #[test]
    fn a_flipped_payload_bit_is_a_crc_mismatch() {
        let mut words = aligned(64);
        let bytes = as_bytes(&mut words);
        write_record(bytes, 0, 1, b"payload");
        bytes[17] ^= 0x10;
        assert!(matches!(decode(bytes, 0), Err(Defect::CrcMismatch { .. })));
    }

    #[test]
    fn a_length_past_the_end_is_out_of_bounds() {
        let mut words = aligned(32);
        let bytes = as_bytes(&mut words);
        write_record(bytes, 0, 1, b"0123456789abcdef");
        assert!(matches!(
            decode(&bytes[..24], 0),
            Err(Defect::LengthOutOfBounds { .. })
        ));
    }

    #[test]
    fn end_of_segment_markers_round_trip() {
        let mut words = aligned(32);
        let bytes = as_bytes(&mut words);
        write_end_of_segment(bytes, 16, 99);
        assert_eq!(
            decode(bytes, 16).unwrap(),
            Frame::EndOfSegment { next_seq: 99 }
        );
        assert_eq!(decode(bytes, 0).unwrap(), Frame::Empty);
    }

    #[test]
    fn find_valid_frame_after_skips_garbage_and_finds_the_next_record() {
        let mut words = aligned(256);
        let bytes = as_bytes(&mut words);
        write_record(bytes, 0, 1, b"first");
        bytes[0..16].fill(0xAB);
        let second = write_record(bytes, 64, 2, b"second");
        assert!(second > 0);
        assert_eq!(find_valid_frame_after(bytes, 0, 1), Some(64));
        assert_eq!(find_valid_frame_after(bytes, 64, 1), None);
    }
}
