//! Hayate's edges: FIX 4.4 and binary order-entry codecs, servers, replication and HTTP status.
//! (The gateway and replication issues fill this crate.)
