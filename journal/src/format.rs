//! The on-disk format, byte by byte. Operators and the replication code rely on it; change it
//! only with a new format version. All integers are little-endian.
//!
//! # Directory
//!
//! A journal is a directory of segment files named `{first_seq:020}.seg` (the sequence of the
//! segment's first record, zero-padded so names sort in order), plus `journal.lock` (the
//! writer's `flock`). A `*.seg.tmp` file is a segment not yet installed: `spare.seg.tmp`, the next
//! segment the writer's background thread prepares ahead of a roll-over (sized and zero, no header
//! yet), or `{first_seq:020}.seg.tmp`, one being created inline. It is never read; the writer
//! renames it to its `.seg` name only once its length and header are in place, deletes an unused
//! spare when it closes, and the next writer deletes (and reports) any left by a crash. Snapshot
//! files (`snapshot-{seq:020}.snap`) are described
//! in [`crate::snapshot_file`].
//!
//! # Segment header (64 bytes, at offset 0)
//!
//! | bytes  | field                                              |
//! |--------|----------------------------------------------------|
//! | 0..8   | magic `HYJRNSEG`                                   |
//! | 8..12  | format version, `1`                                |
//! | 12..16 | header length, `64` (the first frame's offset)     |
//! | 16..24 | `first_seq`: sequence of the first record          |
//! | 24..32 | `segment_size`: the file's length in bytes         |
//! | 32..60 | reserved, zero                                     |
//! | 60..64 | CRC32C of bytes 0..60                              |
//!
//! The file is preallocated to `segment_size` when created; the bytes after the last frame are
//! zero.
//!
//! # Frames (from offset 64, each 8-byte aligned)
//!
//! | bytes         | field                                                          |
//! |---------------|----------------------------------------------------------------|
//! | 0..4          | tagged length: bit 31 = record, bit 30 = end of segment, bits 0..30 = payload length |
//! | 4..8          | CRC32C of bytes 0..4, then 8..16, then the payload              |
//! | 8..16         | sequence (for an end-of-segment marker: the next segment's `first_seq`) |
//! | 16..16+len    | payload                                                        |
//! | …             | zero padding to a multiple of 8                                 |
//!
//! A frame occupies `16 + round_up(len, 8)` bytes. Bytes 0..8 form the *commit word*: the writer
//! stores it last, as one 8-byte `Release` store, after the sequence and payload; a zero commit
//! word means "no frame here (yet)". The tagged length is never zero for a real frame, so even an
//! empty payload is distinguishable from zeros.
//!
//! Records carry consecutive sequences: the first frame of a segment has `first_seq`, each next
//! one the previous plus one, and the next segment starts where this one ended. A record that
//! does not fit in the rest of a segment goes to the next segment, and the writer closes the old
//! one with an end-of-segment marker (tagged length `0x4000_0000`, no payload) unless fewer than
//! 16 bytes are left. So a non-last segment always ends with a marker or is full, and zeros
//! before that are an error, never a guess.
//!
//! # What `Journal::open` accepts
//!
//! Only the end of the *last* segment may be damaged: a frame that fails its checks (or a zero
//! commit word) followed by bytes that contain no further valid frame is a torn tail. It is
//! zeroed and reported in [`crate::OpenReport::torn_tail`]. Anything else — a bad frame followed
//! by a valid one, a bad frame in an earlier segment, a sequence gap between segments, a file
//! whose length differs from its header, a bad header — is a [`crate::JournalError`] naming the
//! file, offset and sequence; [`crate::repair::truncate_after`] is the operator's tool for it.
