//! Recovery of lost messages, both ways: what arrives ahead of a gap waits in a queue behind one
//! ResendRequest, and a ResendRequest of the client's is answered from the message store (stored
//! messages again with PossDupFlag and OrigSendingTime, gap fills for the rest). Also the reverse
//! route answers take.

use super::*;

impl FixSession {
    /// Keeps a message that arrived ahead of a gap, to be handled once the gap is filled. The
    /// queue is bounded: what it cannot hold comes again with the resend (we ask for
    /// everything from the gap on).
    pub(super) fn queue(&mut self, seq: u64) {
        if self.queued.len() < MAX_QUEUED && !self.queued.contains_key(&seq) {
            self.queued.insert(seq, self.fields.as_bytes().to_vec());
        }
    }

    /// The next queued message if the gap before it has been filled: handled as if it had just
    /// arrived. The server calls this after every message until it returns `None`.
    pub fn next_queued(&mut self, now: Instant, now_ns: u64) -> Option<Inbound> {
        if self.state != State::Active {
            self.queued.clear();
            return None;
        }
        // Drop what the gap fill has overtaken.
        while let Some(entry) = self.queued.first_entry() {
            if *entry.key() >= self.next_in {
                break;
            }
            entry.remove();
        }
        let message = self.queued.remove(&self.next_in)?;
        self.clock = now;
        Some(match self.fields.parse(&message) {
            Ok(()) => self.active_message(now_ns),
            Err(error) => self.unparseable(error.reason, error.ref_tag, error.text, now_ns),
        })
    }

    /// ResendRequest (2): the application messages still in the store go out again as they
    /// were, with PossDupFlag and OrigSendingTime; every run of numbers without one (session
    /// messages, market data, what retention dropped) becomes one SequenceReset-GapFill.
    pub(super) fn answer_resend_request(&mut self, now_ns: u64) {
        let number = |tag| self.fields.get_str(tag).and_then(|v| v.parse::<u64>().ok());
        let begin = number(tag::BEGIN_SEQ_NO).unwrap_or(1).max(1);
        let last_sent = self.next_out.saturating_sub(1);
        let end = match number(tag::END_SEQ_NO) {
            Some(end) if end != 0 && end < last_sent => end,
            _ => last_sent,
        };
        if begin > end {
            return;
        }
        let mut cursor = begin;
        if let Some(store) = self.store.take() {
            for stored in store.range(begin, end) {
                if stored.seq < cursor {
                    continue;
                }
                if stored.seq > cursor {
                    self.gap_fill(cursor, stored.seq, now_ns);
                }
                self.resend(stored.bytes, now_ns);
                cursor = stored.seq + 1;
            }
            self.store = Some(store);
        }
        if cursor <= end {
            self.gap_fill(cursor, end + 1, now_ns);
        }
    }

    /// A SequenceReset-GapFill numbered `seq` that moves the client's expectation to `new_seq`.
    fn gap_fill(&mut self, seq: u64, new_seq: u64, now_ns: u64) {
        let route = Route::reverse_of(&self.fields);
        self.encoder.start(
            b"4",
            self.our_comp_id.as_bytes(),
            self.client_comp_id.as_bytes(),
            seq,
            now_ns,
        );
        route.write(&mut self.encoder);
        self.encoder.field(tag::POSS_DUP_FLAG, b"Y");
        self.encoder.field_timestamp(tag::ORIG_SENDING_TIME, now_ns);
        self.encoder.field(tag::GAP_FILL_FLAG, b"Y");
        self.encoder.field_u64(tag::NEW_SEQ_NO, new_seq);
        let bytes = self.encoder.finish();
        self.outbound.extend_from_slice(bytes);
    }

    /// One stored message again: its own MsgType, MsgSeqNum and body, PossDupFlag = Y, its
    /// SendingTime as OrigSendingTime and now as SendingTime.
    fn resend(&mut self, original: &[u8], now_ns: u64) {
        if self.resent.parse(original).is_err() {
            return;
        }
        let (Some(msg_type), Some(seq), Some(sent)) = (
            self.resent.msg_type(),
            self.resent.msg_seq_num(),
            self.resent.get(tag::SENDING_TIME),
        ) else {
            return;
        };
        self.encoder.start(
            msg_type,
            self.our_comp_id.as_bytes(),
            self.client_comp_id.as_bytes(),
            seq,
            now_ns,
        );
        self.encoder.field(tag::POSS_DUP_FLAG, b"Y");
        self.encoder.field(tag::ORIG_SENDING_TIME, sent);
        for (tag, value) in self.resent.iter() {
            if !REWRITTEN_ON_RESEND.contains(&tag) {
                self.encoder.field(tag, value);
            }
        }
        let bytes = self.encoder.finish();
        self.outbound.extend_from_slice(bytes);
    }

    /// The client is ahead of us: ask once for everything from the next expected number.
    pub(super) fn request_resend(&mut self, received: u64, now_ns: u64) {
        let already_asked = self.resend_until.is_some();
        self.resend_until = Some(self.resend_until.unwrap_or(0).max(received));
        if !already_asked {
            let begin = self.next_in;
            self.send(b"2", now_ns, |e| {
                e.field_u64(tag::BEGIN_SEQ_NO, begin);
                e.field_u64(tag::END_SEQ_NO, 0);
            });
        }
    }
}

/// Messages held ahead of a gap, at most (beyond it they come again with the resend).
const MAX_QUEUED: usize = 1024;

/// Header and trailer fields a resend writes afresh rather than copies.
const REWRITTEN_ON_RESEND: [u32; 10] = [8, 9, 35, 49, 56, 34, 52, 43, 122, 10];

/// Whether a message we send is kept for resends: application messages except market data
/// (a snapshot or an update is stale by the time it could be resent; a subscriber that lost
/// some asks for a new snapshot), never session messages (FIX resends those as gap fills).
pub(super) fn kept_for_resend(msg_type: &[u8]) -> bool {
    !matches!(
        msg_type,
        b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A" | b"W" | b"X" | b"f"
    )
}

/// Where an answer goes when the message it answers was routed: FIX 4.4's reverse route
/// (OnBehalfOfCompID 115 ↔ DeliverToCompID 128, and the SubID and LocationID pairs 116 ↔ 129,
/// 144 ↔ 145). Values are copied, since the message they come from is reused.
#[derive(Default)]
pub(super) struct Route {
    fields: Vec<(u32, Vec<u8>)>,
}

impl Route {
    /// The reverse route of `message`: each routing field it carries, under its partner's tag.
    pub(super) fn reverse_of(message: &FieldList) -> Route {
        const PAIRS: [(u32, u32); 6] = [
            (115, 128),
            (128, 115),
            (116, 129),
            (129, 116),
            (144, 145),
            (145, 144),
        ];
        let mut route = Route::default();
        for (from, to) in PAIRS {
            if let Some(value) = message.get(from).filter(|v| !v.is_empty()) {
                route.fields.push((to, value.to_vec()));
            }
        }
        route
    }

    pub(super) fn write(&self, encoder: &mut Encoder) {
        for (tag, value) in &self.fields {
            encoder.field(*tag, value);
        }
    }
}
