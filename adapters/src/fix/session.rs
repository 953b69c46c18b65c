//! The FIX 4.4 session layer (acceptor side): logon, heartbeats and test requests, sequence
//! numbers with gap detection, resend requests answered by gap fill, sequence resets, rejects and
//! logout, as FIX 4.4 Volume 2 and its session test cases describe.
//!
//! A [`FixSession`] is pure: the server hands it each framed message and the current time, and
//! it appends its answers to [`FixSession::outbound`] and says what the server must do next
//! ([`Inbound`]). Authentication and "is this comp id already logged on" need the whole gateway,
//! so a Logon comes back as [`Inbound::Logon`] and the server answers with
//! [`FixSession::accept_logon`] or [`FixSession::refuse_logon`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::codec::{BEGIN_STRING, Encoder, FieldList, SessionRejectReason, parse_utc_timestamp};
use super::dictionary::{self, MsgClass};
use super::message_store::MessageStore;
use super::seq_store::SeqStore;

mod recovery;

use recovery::{Route, kept_for_resend};

/// How far a message's SendingTime may be from our clock (FIX: "within a reasonable time", 2 min).
pub const SENDING_TIME_TOLERANCE: Duration = Duration::from_secs(120);

/// Tags the session layer reads.
mod tag {
    pub const BEGIN_SEQ_NO: u32 = 7;
    pub const END_SEQ_NO: u32 = 16;
    pub const NEW_SEQ_NO: u32 = 36;
    pub const POSS_DUP_FLAG: u32 = 43;
    pub const REF_SEQ_NUM: u32 = 45;
    pub const SENDER_COMP_ID: u32 = 49;
    pub const SENDING_TIME: u32 = 52;
    pub const TARGET_COMP_ID: u32 = 56;
    pub const TEXT: u32 = 58;
    pub const ENCRYPT_METHOD: u32 = 98;
    pub const HEART_BT_INT: u32 = 108;
    pub const TEST_REQ_ID: u32 = 112;
    pub const ORIG_SENDING_TIME: u32 = 122;
    pub const GAP_FILL_FLAG: u32 = 123;
    pub const RESET_SEQ_NUM_FLAG: u32 = 141;
    pub const REF_TAG_ID: u32 = 371;
    pub const REF_MSG_TYPE: u32 = 372;
    pub const SESSION_REJECT_REASON: u32 = 373;
    pub const BUSINESS_REJECT_REASON: u32 = 380;
    pub const USERNAME: u32 = 553;
    pub const PASSWORD: u32 = 554;
    pub const CANCEL_ORDERS_ON_DISCONNECT: u32 = 8013;
}

/// What the server must do after [`FixSession::on_message`].
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Nothing more (an answer, if any, is in the outbound buffer).
    Nothing,
    /// A well-formed Logon: authenticate it, then call `accept_logon` or `refuse_logon`.
    Logon(LogonRequest),
    /// An application message in sequence and valid against the dictionary; read it from
    /// [`FixSession::fields`].
    Application,
    /// Flush the outbound buffer and close the connection.
    Close,
}

/// A Logon's credentials and options, for the server to check.
#[derive(Clone, PartialEq, Eq)]
pub struct LogonRequest {
    /// SenderCompID (49): who the client says it is.
    pub sender_comp_id: String,
    /// TargetCompID (56): who the client thinks we are.
    pub target_comp_id: String,
    /// Username (553), if given.
    pub username: Option<String>,
    /// Password (554), if given.
    pub password: Option<String>,
    /// HeartBtInt (108), seconds.
    pub heartbeat_s: u32,
    /// ResetSeqNumFlag (141) = Y.
    pub reset_seq_num: bool,
    /// The Logon's MsgSeqNum.
    pub msg_seq_num: u64,
    /// CancelOrdersOnDisconnect (8013): `S`, `Y` or `N`.
    pub cancel_on_disconnect: Option<u8>,
}

// Hand-written so a password never reaches a log through `{:?}`.
impl std::fmt::Debug for LogonRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogonRequest")
            .field("sender_comp_id", &self.sender_comp_id)
            .field("target_comp_id", &self.target_comp_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("heartbeat_s", &self.heartbeat_s)
            .field("reset_seq_num", &self.reset_seq_num)
            .field("msg_seq_num", &self.msg_seq_num)
            .field("cancel_on_disconnect", &self.cancel_on_disconnect)
            .finish()
    }
}

/// What the server decided about a Logon.
#[derive(Debug)]
pub struct LogonGrant {
    /// The session's persisted sequence numbers.
    pub seqs: SeqStore,
    /// Reset both sides to 1 even without ResetSeqNumFlag (the user's `reset_on_logon`).
    pub reset_on_logon: bool,
    /// The application messages sent to this session, for resends; `None` keeps none (every
    /// resend is a gap fill).
    pub store: Option<MessageStore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Connected; the first message must be a Logon.
    AwaitingLogon,
    /// A Logon is with the server for authentication.
    Authenticating,
    /// Logged on.
    Active,
    /// Done: the connection closes once the outbound buffer is flushed.
    Closed,
}

/// One FIX session over one connection.
#[derive(Debug)]
pub struct FixSession {
    our_comp_id: String,
    client_comp_id: String,
    state: State,
    fields: FieldList,
    encoder: Encoder,
    outbound: Vec<u8>,
    seqs: Option<SeqStore>,
    store: Option<MessageStore>,
    /// Messages that arrived ahead of a gap, by MsgSeqNum, until the gap is filled.
    queued: BTreeMap<u64, Vec<u8>>,
    /// A stored message being resent, parsed.
    resent: FieldList,
    next_in: u64,
    next_out: u64,
    /// Inbound sequence number we asked to be resent up to; `None` when no gap is open.
    resend_until: Option<u64>,
    heartbeat: Duration,
    last_received: Instant,
    last_sent: Instant,
    test_request_sent: Option<Instant>,
    /// The time of the call being handled (for `last_sent`).
    clock: Instant,
    /// Why the session closed, for the log.
    close_reason: Option<String>,
}

impl FixSession {
    /// A new connection, waiting for its Logon. `our_comp_id` is our SenderCompID.
    pub fn new(our_comp_id: &str, now: Instant) -> FixSession {
        FixSession {
            our_comp_id: our_comp_id.to_owned(),
            client_comp_id: String::new(),
            state: State::AwaitingLogon,
            fields: FieldList::new(),
            encoder: Encoder::new(),
            outbound: Vec::with_capacity(4096),
            seqs: None,
            store: None,
            queued: BTreeMap::new(),
            resent: FieldList::new(),
            next_in: 1,
            next_out: 1,
            resend_until: None,
            heartbeat: Duration::from_secs(30),
            last_received: now,
            last_sent: now,
            test_request_sent: None,
            clock: now,
            close_reason: None,
        }
    }

    /// True once a Logon was accepted and until the session ends.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// True when the connection should close once the outbound buffer is written.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Why the session closed, if it did.
    pub fn close_reason(&self) -> Option<&str> {
        self.close_reason.as_deref()
    }

    /// The client's SenderCompID once logged on.
    pub fn client_comp_id(&self) -> &str {
        &self.client_comp_id
    }

    /// The last message handed to [`FixSession::on_message`], parsed.
    pub fn fields(&self) -> &FieldList {
        &self.fields
    }

    /// The heartbeat interval agreed at logon (zero: none).
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The next sequence number expected from the client.
    pub fn next_in(&self) -> u64 {
        self.next_in
    }

    /// The next sequence number we will send.
    pub fn next_out(&self) -> u64 {
        self.next_out
    }

    /// Bytes to write to the socket.
    pub fn outbound(&mut self) -> &mut Vec<u8> {
        &mut self.outbound
    }

    /// Handles one framed message received at `now` (`now_ns`: the same instant as Unix time).
    pub fn on_message(&mut self, message: &[u8], now: Instant, now_ns: u64) -> Inbound {
        if self.state == State::Closed {
            return Inbound::Close;
        }
        self.clock = now;
        self.last_received = now;
        self.test_request_sent = None;
        let parsed = self.fields.parse(message);
        match self.state {
            State::AwaitingLogon => self.first_message(parsed.is_ok(), now, now_ns),
            // A client must wait for the Logon reply; anything else now breaks the protocol.
            State::Authenticating => self.close_without_logout("message before the Logon reply"),
            State::Active => match parsed {
                Ok(()) => self.active_message(now_ns),
                Err(error) => self.unparseable(error.reason, error.ref_tag, error.text, now_ns),
            },
            State::Closed => Inbound::Close,
        }
    }

    /// Checks the first message on a connection: it must be a valid Logon.
    fn first_message(&mut self, parsed: bool, now: Instant, now_ns: u64) -> Inbound {
        // Answers before authentication (a refusing Logout) go to whoever the client says it is.
        self.client_comp_id = match self.fields.get_str(tag::SENDER_COMP_ID) {
            Some(comp_id) if !comp_id.is_empty() => comp_id.to_owned(),
            _ => "UNKNOWN".to_owned(),
        };
        let is_logon = self.fields.msg_type() == Some(b"A".as_slice());
        if !parsed || !is_logon {
            // FIX: the first message must be a Logon; otherwise disconnect without answering.
            return self.close_without_logout("first message was not a valid Logon");
        }
        if self.fields.get(8) != Some(BEGIN_STRING.as_bytes()) {
            return self.refuse_logon("BeginString must be FIX.4.4", now_ns);
        }
        let Some(msg_seq_num) = self.fields.msg_seq_num() else {
            return self.refuse_logon("MsgSeqNum missing or not a number", now_ns);
        };
        if let Err(violation) = dictionary::validate(&self.fields) {
            let text = format!(
                "invalid Logon: {} (tag {})",
                violation.text, violation.ref_tag
            );
            return self.refuse_logon(&text, now_ns);
        }
        if let Some(why) = self.sending_time_problem(now_ns) {
            return self.refuse_logon(why, now_ns);
        }
        if self.fields.get(tag::ENCRYPT_METHOD) != Some(b"0".as_slice()) {
            return self.refuse_logon("EncryptMethod must be 0 (none)", now_ns);
        }
        let heartbeat_s = match self
            .fields
            .get_str(tag::HEART_BT_INT)
            .map(str::parse::<u32>)
        {
            Some(Ok(s)) if s <= 3600 => s,
            _ => return self.refuse_logon("HeartBtInt must be 0 to 3600 seconds", now_ns),
        };
        let text = |tag| self.fields.get_str(tag).map(str::to_owned);
        let request = LogonRequest {
            sender_comp_id: text(tag::SENDER_COMP_ID).unwrap_or_default(),
            target_comp_id: text(tag::TARGET_COMP_ID).unwrap_or_default(),
            username: text(tag::USERNAME),
            password: text(tag::PASSWORD),
            heartbeat_s,
            reset_seq_num: self.fields.get(tag::RESET_SEQ_NUM_FLAG) == Some(b"Y".as_slice()),
            msg_seq_num,
            cancel_on_disconnect: self
                .fields
                .get(tag::CANCEL_ORDERS_ON_DISCONNECT)
                .and_then(|v| v.first().copied()),
        };
        self.last_received = now;
        self.state = State::Authenticating;
        Inbound::Logon(request)
    }

    /// The server accepted the Logon: answer it (repeating HeartBtInt), set up the sequence
    /// numbers, and ask for a resend if the client is ahead.
    pub fn accept_logon(
        &mut self,
        request: &LogonRequest,
        grant: LogonGrant,
        now: Instant,
        now_ns: u64,
    ) -> Inbound {
        let mut seqs = grant.seqs;
        let mut store = grant.store;
        let reset = request.reset_seq_num || grant.reset_on_logon;
        if reset {
            seqs.set(1, 1);
            if let Some(store) = &mut store {
                store.clear();
            }
        }
        self.store = store;
        self.client_comp_id = request.sender_comp_id.clone();
        self.next_in = seqs.next_in();
        self.next_out = seqs.next_out();
        self.seqs = Some(seqs);
        self.heartbeat = Duration::from_secs(u64::from(request.heartbeat_s));
        if request.msg_seq_num < self.next_in {
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {}",
                self.next_in, request.msg_seq_num
            );
            return self.logout_and_close(&text, now_ns);
        }
        self.state = State::Active;
        self.clock = now;
        self.last_received = now;
        // 141=Y answers the client's 141=Y only: a reset the user's configuration makes
        // (`reset_on_logon`) is not news to a client that logs on at 1 anyway.
        let echo_reset = request.reset_seq_num;
        self.send(b"A", now_ns, |e| {
            e.field(tag::ENCRYPT_METHOD, b"0");
            e.field_u64(tag::HEART_BT_INT, u64::from(request.heartbeat_s));
            if echo_reset {
                e.field(tag::RESET_SEQ_NUM_FLAG, b"Y");
            }
        });
        if request.msg_seq_num > self.next_in {
            self.request_resend(request.msg_seq_num, now_ns);
        } else {
            self.advance_in();
        }
        Inbound::Nothing
    }

    /// The Logon is refused (unknown or wrong CompIDs or credentials, a session already logged
    /// on, a bad SendingTime or BeginString): disconnect without a word, as FIX 4.4 Volume 2's
    /// test cases 1B–1D and QuickFIX do (a Logout would tell a prober what was wrong, and would
    /// consume a sequence number of a session that never started). `why` goes to the log.
    pub fn refuse_logon(&mut self, why: &str, _now_ns: u64) -> Inbound {
        self.close_without_logout(why)
    }

    /// The Logon is valid but this node takes no sessions now (a standby, a stepped-down
    /// primary): a Logout saying so, so a firm's engine shows the reason, then close.
    pub fn refuse_logon_with_reason(&mut self, text: &str, now_ns: u64) -> Inbound {
        self.logout_and_close(text, now_ns)
    }

    /// A message on an active session, checked in the order QuickFIX checks it (which FIX 4.4
    /// Volume 2's session test cases encode): BeginString, MsgType, the data dictionary, then
    /// SendingTime, CompIDs and MsgSeqNum. ResendRequest and Logout are answered whatever their
    /// sequence number; a message too high is queued until the gap before it is filled.
    fn active_message(&mut self, now_ns: u64) -> Inbound {
        let msg_type = self.msg_type_byte();
        if self.fields.get(8) != Some(BEGIN_STRING.as_bytes()) {
            return self.logout_and_close("Incorrect BeginString", now_ns);
        }
        let seq = self.fields.msg_seq_num();
        match dictionary::classify(self.fields.msg_type().unwrap_or_default()) {
            MsgClass::Invalid => {
                let seq = seq.unwrap_or(0);
                self.consume(seq);
                self.reject(
                    seq,
                    SessionRejectReason::InvalidMsgType,
                    MSG_TYPE,
                    "Invalid MsgType",
                    now_ns,
                );
                return Inbound::Nothing;
            }
            MsgClass::Unsupported => {
                let seq = seq.unwrap_or(0);
                self.consume(seq);
                self.business_reject(seq, 3, "Unsupported Message Type", now_ns);
                return Inbound::Nothing;
            }
            MsgClass::Session | MsgClass::Application => {}
        }
        let reset_mode = msg_type == MsgTypeByte::Single(b'4')
            && self.fields.get(tag::GAP_FILL_FLAG) != Some(b"Y".as_slice());
        if let Err(violation) = dictionary::validate(&self.fields) {
            let seq = seq.unwrap_or(0);
            // A SequenceReset in reset mode carries no number of its own to consume.
            if !reset_mode {
                self.consume(seq);
            }
            self.reject(
                seq,
                violation.reason,
                violation.ref_tag,
                violation.text,
                now_ns,
            );
            return Inbound::Nothing;
        }
        let Some(seq) = seq else {
            // The dictionary requires MsgSeqNum; this is only reached if it changes.
            return self.logout_and_close("MsgSeqNum missing or not a number", now_ns);
        };
        if let Some(inbound) = self.check_sender(seq, now_ns) {
            return inbound;
        }
        match msg_type {
            MsgTypeByte::Single(b'A') => return self.logon_while_active(seq, now_ns),
            MsgTypeByte::Single(b'4') if reset_mode => {
                return self.sequence_reset(seq, false, now_ns);
            }
            MsgTypeByte::Single(b'5') => {
                self.consume(seq);
                return self.logout_and_close("Logout acknowledged", now_ns);
            }
            MsgTypeByte::Single(b'2') => {
                self.answer_resend_request(now_ns);
                if seq > self.next_in {
                    // Answered first, so neither side waits for the other's resend.
                    self.request_resend(seq, now_ns);
                } else {
                    self.consume(seq);
                }
                return Inbound::Nothing;
            }
            _ => {}
        }
        if seq > self.next_in {
            self.queue(seq);
            self.request_resend(seq, now_ns);
            return Inbound::Nothing;
        }
        let poss_dup = self.fields.get(tag::POSS_DUP_FLAG) == Some(b"Y".as_slice());
        if poss_dup {
            if let Some(inbound) = self.check_orig_sending_time(seq, now_ns) {
                return inbound;
            }
        }
        if seq < self.next_in {
            if poss_dup {
                // A duplicate we have already processed: ignore it.
                return Inbound::Nothing;
            }
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {seq}",
                self.next_in
            );
            return self.logout_and_close(&text, now_ns);
        }
        // In sequence.
        match msg_type {
            MsgTypeByte::Single(b'4') => self.sequence_reset(seq, true, now_ns),
            MsgTypeByte::Single(b'0') | MsgTypeByte::Single(b'3') => {
                self.consume(seq);
                Inbound::Nothing
            }
            MsgTypeByte::Single(b'1') => {
                self.consume(seq);
                let id = self
                    .fields
                    .get(tag::TEST_REQ_ID)
                    .unwrap_or_default()
                    .to_vec();
                self.send(b"0", now_ns, |e| e.field(tag::TEST_REQ_ID, &id));
                Inbound::Nothing
            }
            _ => {
                self.consume(seq);
                Inbound::Application
            }
        }
    }

    /// SendingTime and CompIDs: a Reject, then a Logout, when either is wrong.
    fn check_sender(&mut self, seq: u64, now_ns: u64) -> Option<Inbound> {
        if let Some(why) = self.sending_time_problem(now_ns) {
            self.consume(seq);
            self.reject(
                seq,
                SessionRejectReason::SendingTimeAccuracyProblem,
                tag::SENDING_TIME,
                why,
                now_ns,
            );
            return Some(self.logout_and_close(why, now_ns));
        }
        let comp_ids_ok = self.fields.get(tag::SENDER_COMP_ID)
            == Some(self.client_comp_id.as_bytes())
            && self.fields.get(tag::TARGET_COMP_ID) == Some(self.our_comp_id.as_bytes());
        if !comp_ids_ok {
            self.consume(seq);
            self.reject(
                seq,
                SessionRejectReason::CompIdProblem,
                0,
                "CompID problem",
                now_ns,
            );
            return Some(self.logout_and_close("CompID problem", now_ns));
        }
        None
    }

    /// A Logon on a logged-on session: with ResetSeqNumFlag it restarts both sides' numbers
    /// (FIX 4.4 Volume 2: a sequence reset by Logon, the answer carrying 141=Y too); without it
    /// it breaks the protocol.
    fn logon_while_active(&mut self, seq: u64, now_ns: u64) -> Inbound {
        if self.fields.get(tag::RESET_SEQ_NUM_FLAG) != Some(b"Y".as_slice()) {
            return self.logout_and_close("Logon received on an active session", now_ns);
        }
        self.queued.clear();
        self.resend_until = None;
        self.next_out = 1;
        self.next_in = seq;
        if let Some(seqs) = &mut self.seqs {
            seqs.set(seq, 1);
        }
        if let Some(store) = &mut self.store {
            store.clear();
        }
        self.advance_in();
        let heartbeat_s = self.heartbeat.as_secs();
        self.send(b"A", now_ns, |e| {
            e.field(tag::ENCRYPT_METHOD, b"0");
            e.field_u64(tag::HEART_BT_INT, heartbeat_s);
            e.field(tag::RESET_SEQ_NUM_FLAG, b"Y");
        });
        Inbound::Nothing
    }

    /// A message that framed but could not be split into fields.
    fn unparseable(
        &mut self,
        reason: SessionRejectReason,
        ref_tag: Option<i64>,
        text: &'static str,
        now_ns: u64,
    ) -> Inbound {
        match self.fields.msg_seq_num() {
            Some(seq) if seq == self.next_in => {
                self.consume(seq);
                self.reject_tag(seq, reason, ref_tag, text, now_ns);
            }
            // Without a trustworthy sequence number the message is as good as garbled: ignore it.
            _ => {}
        }
        Inbound::Nothing
    }

    /// SequenceReset (4): gap fill moves the expected number forward past what the client
    /// skips; reset mode sets it outright. Neither may go backwards.
    fn sequence_reset(&mut self, seq: u64, gap_fill: bool, now_ns: u64) -> Inbound {
        let new_seq = self
            .fields
            .get_str(tag::NEW_SEQ_NO)
            .and_then(|v| v.parse::<u64>().ok());
        let backwards = match new_seq {
            Some(new_seq) if gap_fill => new_seq <= seq,
            Some(new_seq) => new_seq < self.next_in,
            None => true,
        };
        match new_seq {
            Some(new_seq) if !backwards => {
                if new_seq > self.next_in {
                    self.next_in = new_seq;
                    self.store_in();
                    if self.resend_until.is_some_and(|until| self.next_in > until) {
                        self.resend_until = None;
                    }
                }
            }
            _ => {
                if gap_fill {
                    self.consume(seq);
                }
                self.reject(
                    seq,
                    SessionRejectReason::ValueIsIncorrect,
                    tag::NEW_SEQ_NO,
                    "NewSeqNo may not go backwards",
                    now_ns,
                );
            }
        }
        Inbound::Nothing
    }

    /// PossDup checks: OrigSendingTime is required and may not be after SendingTime.
    fn check_orig_sending_time(&mut self, seq: u64, now_ns: u64) -> Option<Inbound> {
        let orig = self
            .fields
            .get(tag::ORIG_SENDING_TIME)
            .and_then(parse_utc_timestamp);
        let sending = self
            .fields
            .get(tag::SENDING_TIME)
            .and_then(parse_utc_timestamp);
        match (orig, sending) {
            (None, _) => {
                // A gap fill's PossDup may come without it; everything else must carry it.
                if self.fields.msg_type() == Some(b"4".as_slice()) {
                    return None;
                }
                if seq == self.next_in {
                    self.consume(seq);
                }
                self.reject(
                    seq,
                    SessionRejectReason::RequiredTagMissing,
                    tag::ORIG_SENDING_TIME,
                    "OrigSendingTime missing on a PossDup message",
                    now_ns,
                );
                Some(Inbound::Nothing)
            }
            (Some(orig), Some(sending)) if orig > sending => {
                if seq == self.next_in {
                    self.consume(seq);
                }
                self.reject(
                    seq,
                    SessionRejectReason::SendingTimeAccuracyProblem,
                    tag::ORIG_SENDING_TIME,
                    "OrigSendingTime is after SendingTime",
                    now_ns,
                );
                Some(self.logout_and_close("OrigSendingTime is after SendingTime", now_ns))
            }
            _ => None,
        }
    }

    /// Timers: heartbeats we owe, test requests when the client falls silent, and the logon
    /// deadline. Returns `Inbound::Close` when the session must end.
    pub fn on_timer(&mut self, now: Instant, now_ns: u64, logon_timeout: Duration) -> Inbound {
        self.clock = now;
        match self.state {
            State::Closed => return Inbound::Close,
            State::AwaitingLogon | State::Authenticating => {
                if now.saturating_duration_since(self.last_received) >= logon_timeout {
                    return self.close_without_logout("no Logon within the logon timeout");
                }
                return Inbound::Nothing;
            }
            State::Active => {}
        }
        if self.heartbeat.is_zero() {
            return Inbound::Nothing;
        }
        // FIX leaves "reasonable transmission time" to the parties: a fifth of the interval.
        let grace = self.heartbeat + self.heartbeat / 5;
        let silent = now.saturating_duration_since(self.last_received);
        match self.test_request_sent {
            Some(sent) if now.saturating_duration_since(sent) >= grace => {
                // FIX 4.4 Volume 2 (test case 6): the connection is lost; disconnect, since a
                // Logout would go unanswered too.
                return self.close_without_logout("no answer to TestRequest");
            }
            None if silent >= grace => {
                self.send(b"1", now_ns, |e| e.field(tag::TEST_REQ_ID, b"TEST"));
                self.test_request_sent = Some(now);
            }
            _ => {}
        }
        // No heartbeat while a TestRequest is out: the TestRequest is the sign of life, and the
        // next thing the client sees from us must not look like an answer (QuickFIX does the
        // same; FIX 4.4 Volume 2 test case 6).
        if self.test_request_sent.is_none()
            && now.saturating_duration_since(self.last_sent) >= self.heartbeat
        {
            self.send(b"0", now_ns, |_| {});
        }
        Inbound::Nothing
    }

    /// Sends a Logout (e.g. at shutdown) and marks the session closed.
    pub fn logout(&mut self, text: &str, now_ns: u64) {
        if self.state == State::Active {
            self.send(b"5", now_ns, |e| e.field(tag::TEXT, text.as_bytes()));
        }
        self.state = State::Closed;
        self.close_reason.get_or_insert_with(|| text.to_owned());
    }

    /// Sends an application message: header by us, body by `body`. Consumes an outbound number.
    pub fn send(&mut self, msg_type: &[u8], now_ns: u64, body: impl FnOnce(&mut Encoder)) {
        self.encoder.start(
            msg_type,
            self.our_comp_id.as_bytes(),
            self.client_comp_id.as_bytes(),
            self.next_out,
            now_ns,
        );
        body(&mut self.encoder);
        let bytes = self.encoder.finish();
        self.outbound.extend_from_slice(bytes);
        if let Some(store) = &mut self.store
            && kept_for_resend(msg_type)
        {
            store.append(self.next_out, now_ns, bytes);
        }
        self.next_out += 1;
        if let Some(seqs) = &mut self.seqs {
            seqs.set_next_out(self.next_out);
        }
        self.last_sent_now();
    }

    /// A session Reject (3) of message `seq` about tag `ref_tag` (0: no tag).
    pub fn reject(
        &mut self,
        seq: u64,
        reason: SessionRejectReason,
        ref_tag: u32,
        text: &str,
        now_ns: u64,
    ) {
        let ref_tag = (ref_tag != 0).then_some(i64::from(ref_tag));
        self.reject_tag(seq, reason, ref_tag, text, now_ns);
    }

    /// A session Reject whose RefTagID is the tag as the client wrote it (0 and negative tags
    /// are invalid tag numbers, and the Reject names them as written). Answers a routed message
    /// by the reverse route (FIX 4.4 Volume 2: OnBehalfOf ↔ DeliverTo).
    fn reject_tag(
        &mut self,
        seq: u64,
        reason: SessionRejectReason,
        ref_tag: Option<i64>,
        text: &str,
        now_ns: u64,
    ) {
        let ref_msg_type = self.fields.msg_type().unwrap_or_default().to_vec();
        let route = Route::reverse_of(&self.fields);
        self.send(b"3", now_ns, |e| {
            route.write(e);
            e.field_u64(tag::REF_SEQ_NUM, seq);
            if let Some(ref_tag) = ref_tag {
                e.field_i64(tag::REF_TAG_ID, ref_tag);
            }
            if !ref_msg_type.is_empty() {
                e.field(tag::REF_MSG_TYPE, &ref_msg_type);
            }
            e.field_u64(tag::SESSION_REJECT_REASON, u64::from(reason.code()));
            e.field(tag::TEXT, text.as_bytes());
        });
    }

    /// A BusinessMessageReject (j) of message `seq` (380: 3 unsupported type, 5 conditionally
    /// required field missing, 0 other…).
    pub fn business_reject(&mut self, seq: u64, reason: u32, text: &str, now_ns: u64) {
        let ref_msg_type = self.fields.msg_type().unwrap_or_default().to_vec();
        let route = Route::reverse_of(&self.fields);
        self.send(b"j", now_ns, |e| {
            route.write(e);
            e.field_u64(tag::REF_SEQ_NUM, seq);
            e.field(tag::REF_MSG_TYPE, &ref_msg_type);
            e.field_u64(tag::BUSINESS_REJECT_REASON, u64::from(reason));
            e.field(tag::TEXT, text.as_bytes());
        });
    }

    /// The MsgSeqNum of the last application message (for RefSeqNum in a business reject).
    pub fn last_seq(&self) -> u64 {
        self.fields.msg_seq_num().unwrap_or(0)
    }

    fn logout_and_close(&mut self, text: &str, now_ns: u64) -> Inbound {
        self.send(b"5", now_ns, |e| e.field(tag::TEXT, text.as_bytes()));
        self.state = State::Closed;
        self.close_reason.get_or_insert_with(|| text.to_owned());
        Inbound::Close
    }

    fn close_without_logout(&mut self, why: &str) -> Inbound {
        self.state = State::Closed;
        self.close_reason.get_or_insert_with(|| why.to_owned());
        Inbound::Close
    }

    fn sending_time_problem(&self, now_ns: u64) -> Option<&'static str> {
        let Some(sent) = self
            .fields
            .get(tag::SENDING_TIME)
            .and_then(parse_utc_timestamp)
        else {
            return Some("SendingTime missing or malformed");
        };
        let skew = sent.abs_diff(now_ns);
        (skew > SENDING_TIME_TOLERANCE.as_nanos() as u64)
            .then_some("SendingTime accuracy problem: more than 120 s from our clock")
    }

    /// Takes message `seq` as processed (it was the next expected).
    fn consume(&mut self, seq: u64) {
        if seq == self.next_in {
            self.advance_in();
        }
    }

    fn advance_in(&mut self) {
        self.next_in += 1;
        self.store_in();
        if self.resend_until.is_some_and(|until| self.next_in > until) {
            self.resend_until = None;
        }
    }

    fn store_in(&mut self) {
        if let Some(seqs) = &mut self.seqs {
            seqs.set_next_in(self.next_in);
        }
    }

    fn last_sent_now(&mut self) {
        self.last_sent = self.clock;
    }

    fn msg_type_byte(&self) -> MsgTypeByte {
        match self.fields.msg_type() {
            Some([b]) => MsgTypeByte::Single(*b),
            _ => MsgTypeByte::Other,
        }
    }
}

/// A MsgType of one character (every session message's) or anything else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MsgTypeByte {
    Single(u8),
    Other,
}

/// MsgType's tag, the RefTagID of an invalid MsgType.
const MSG_TYPE: u32 = 35;
