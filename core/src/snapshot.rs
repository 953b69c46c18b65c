//! Engine snapshots (skeleton).

/// Why snapshot bytes could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes end early.
    #[error("snapshot truncated at byte {offset}")]
    Truncated {
        /// Where the read ran out.
        offset: usize,
    },
}
