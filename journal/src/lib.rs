//! Hayate's journal: framed, checksummed records in memory-mapped segment files. It knows nothing of
//! orders: a record is opaque bytes with a sequence number. (The journal issue fills this crate.)
