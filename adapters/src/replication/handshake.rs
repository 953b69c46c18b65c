//! Where a standby's journal and its primary's part ways, and what the standby must do about it.
//!
//! Both journals are prefixes of one history only if every record the standby holds was written
//! in an epoch the primary also went through, before the primary moved on to the next epoch. An
//! old primary rejoining after a failover may hold a tail it wrote in its own epoch after the
//! standby was promoted: that tail was never acknowledged in synchronous mode (the standby never
//! had it) and must be dropped before it can follow the new primary.

/// The primary's answer to a standby's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Stream from this sequence on: the standby's journal is a prefix of ours.
    From(u64),
    /// The standby holds records we do not: it must drop everything after this sequence, then
    /// ask again.
    TruncateAfter(u64),
    /// The standby has seen a higher epoch than ours: we are the stale one and must step down.
    StaleEpoch,
}

/// Decides how a standby at (`standby_epoch`, `standby_last_seq`) joins a primary whose epoch
/// history (after epoch 1, as `(epoch, first sequence)`) is `history` and whose journal ends at
/// `primary_last_seq`.
pub fn resume_point(
    history: &[(u64, u64)],
    primary_last_seq: u64,
    standby_epoch: u64,
    standby_last_seq: u64,
) -> Resume {
    let primary_epoch = history.last().map_or(1, |&(epoch, _)| epoch);
    if standby_epoch > primary_epoch {
        return Resume::StaleEpoch;
    }
    // The standby's records are ours up to the start of the first epoch after its own.
    let valid_through = history
        .iter()
        .find(|&&(epoch, _)| epoch > standby_epoch)
        .map_or(primary_last_seq, |&(_, start)| start - 1)
        .min(primary_last_seq);
    if standby_last_seq > valid_through {
        Resume::TruncateAfter(valid_through)
    } else {
        Resume::From(standby_last_seq + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_behind_in_the_same_epoch_resumes_after_its_last_record() {
        assert_eq!(resume_point(&[], 100, 1, 40), Resume::From(41));
        assert_eq!(resume_point(&[], 100, 1, 100), Resume::From(101));
        assert_eq!(resume_point(&[], 100, 1, 0), Resume::From(1));
    }

    #[test]
    fn an_old_primary_drops_the_tail_it_wrote_after_the_promotion() {
        // Epoch 2 began at 51 on the new primary; the old one wrote up to 60 in epoch 1.
        assert_eq!(
            resume_point(&[(2, 51)], 80, 1, 60),
            Resume::TruncateAfter(50)
        );
        // It stopped before the promotion point: nothing to drop.
        assert_eq!(resume_point(&[(2, 51)], 80, 1, 50), Resume::From(51));
    }

    #[test]
    fn a_standby_ahead_of_its_primary_drops_what_the_primary_lost() {
        // A primary without fsync lost its unsynced tail in a crash; the standby has it.
        assert_eq!(resume_point(&[], 30, 1, 35), Resume::TruncateAfter(30));
    }

    #[test]
    fn a_standby_of_a_later_epoch_means_the_primary_is_stale() {
        assert_eq!(resume_point(&[], 30, 2, 10), Resume::StaleEpoch);
        assert_eq!(
            resume_point(&[(2, 11), (3, 20)], 30, 3, 25),
            Resume::From(26)
        );
    }
}
