//! FIX 4.4 tag=value wire format: framing a receive buffer into messages,
//! splitting a message into fields, encoding outgoing messages, and the
//! UTCTimestamp and float formats the session and dictionary layers share.
//!
//! Everything here works on untrusted bytes, so nothing indexes blindly:
//! malformed input yields `Garbled`, `Incomplete`, `None` or a
//! [`ParseError`], never a panic.

use rust_decimal::Decimal;

/// The field delimiter, ASCII SOH.
pub const SOH: u8 = 1;

/// The BeginString (8) value this gateway speaks.
pub const BEGIN_STRING: &str = "FIX.4.4";

/// The longest "8=...<SOH>" field accepted before giving up on a buffer;
/// real BeginStrings are about ten bytes, and without a bound a buffer of
/// garbage starting with "8=" would stay `Incomplete` forever.
const MAX_BEGIN_STRING_FIELD: usize = 32;

/// BodyLength digits accepted; seven digits already exceed any sane
/// `max_message_size`, and the bound keeps the arithmetic far from overflow.
const MAX_BODY_LENGTH_DIGITS: usize = 7;

/// "10=nnn<SOH>".
const CHECKSUM_FIELD_LEN: usize = 7;

/// What a resynchronising reader looks for after garbage.
const MESSAGE_START: &[u8] = b"8=FIX";

/// What `frame` found at the start of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A whole message of `len` bytes (from "8=" through the checksum's
    /// SOH) whose BodyLength and CheckSum are right.
    Complete {
        /// Bytes the message occupies at the start of the buffer.
        len: usize,
    },
    /// Need more bytes.
    Incomplete,
    /// Broken framing, bad BodyLength, bad CheckSum or not starting with
    /// "8=": drop `skip` bytes (to the next "8=FIX" that could start a
    /// message, or the whole buffer except a possible partial "8=FIX" prefix
    /// at its end) and try again. Garbled messages are ignored without
    /// consuming a sequence number.
    Garbled {
        /// Bytes to discard; always at least 1.
        skip: usize,
        /// What was wrong, for the log.
        why: &'static str,
    },
    /// The declared BodyLength makes the message longer than
    /// `max_message_size`: the caller closes the connection before
    /// buffering it.
    TooLarge {
        /// The BodyLength (9) value the peer declared.
        declared: usize,
    },
}

/// Finds the first message at the start of `buf`.
///
/// `max_message_size` bounds the whole message, header and trailer
/// included; it is enforced as soon as BodyLength is known.
pub fn frame(buf: &[u8], max_message_size: usize) -> Framing {
    let garbled = |why| Framing::Garbled {
        skip: resync_skip(buf),
        why,
    };

    // 8=<BeginString><SOH>
    if !starts_with_partial(buf, b"8=") {
        return garbled("message does not start with 8=");
    }
    let Some(begin_soh) = find_soh(buf, 2, MAX_BEGIN_STRING_FIELD) else {
        return if buf.len() >= MAX_BEGIN_STRING_FIELD {
            garbled("BeginString field too long")
        } else {
            Framing::Incomplete
        };
    };
    if begin_soh == 2 {
        return garbled("empty BeginString");
    }

    // 9=<digits><SOH>
    let length_start = begin_soh + 1;
    let rest = buf.get(length_start..).unwrap_or_default();
    if !starts_with_partial(rest, b"9=") {
        return garbled("second field is not BodyLength (9)");
    }
    let digits_start = length_start + 2;
    let mut declared: usize = 0;
    let mut pos = digits_start;
    loop {
        let Some(&byte) = buf.get(pos) else {
            return Framing::Incomplete;
        };
        if byte == SOH {
            break;
        }
        if !byte.is_ascii_digit() {
            return garbled("BodyLength is not a number");
        }
        if pos - digits_start >= MAX_BODY_LENGTH_DIGITS {
            // A length past any message size we take: the connection closes (BEHAVIOUR.md §6) rather
            // than waiting for a body that large.
            return Framing::TooLarge {
                declared: usize::MAX,
            };
        }
        declared = declared * 10 + usize::from(byte - b'0');
        pos += 1;
    }
    if pos == digits_start {
        return garbled("empty BodyLength");
    }
    let body_start = pos + 1;
    let checksum_start = body_start + declared;
    let total = checksum_start + CHECKSUM_FIELD_LEN;
    if total > max_message_size {
        return Framing::TooLarge { declared };
    }
    let Some(message) = buf.get(..total) else {
        return Framing::Incomplete;
    };

    // The body ends with a SOH unless it is empty, in which case the byte
    // before the checksum is 9's own SOH; either way it must be SOH.
    if message.get(checksum_start - 1) != Some(&SOH) {
        return garbled("BodyLength does not end on a field boundary");
    }
    let Some(trailer) = message.get(checksum_start..) else {
        return garbled("BodyLength does not match");
    };
    // FIX: the first three fields are 8, 9, 35; a message whose third is not MsgType is garbled
    // (ignored without consuming its sequence number), not rejected.
    if !message
        .get(body_start..)
        .unwrap_or_default()
        .starts_with(b"35=")
    {
        return garbled("MsgType (35) is not the third field");
    }
    let [b'1', b'0', b'=', d0, d1, d2, SOH] = *trailer else {
        return garbled("CheckSum (10) does not follow the body");
    };
    if !(d0.is_ascii_digit() && d1.is_ascii_digit() && d2.is_ascii_digit()) {
        return garbled("CheckSum is not three digits");
    }
    let declared_sum =
        u32::from(d0 - b'0') * 100 + u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
    let actual = checksum(message.get(..checksum_start).unwrap_or_default());
    if declared_sum != u32::from(actual) {
        return garbled("CheckSum mismatch");
    }
    Framing::Complete { len: total }
}

/// Whether `buf` starts with `prefix`, or is a (possibly empty) prefix of
/// it and so might still become a match.
fn starts_with_partial(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf.get(..n) == prefix.get(..n)
}

/// Position of the first SOH in `buf[from..limit]`.
fn find_soh(buf: &[u8], from: usize, limit: usize) -> Option<usize> {
    let end = buf.len().min(limit);
    buf.get(from..end)?
        .iter()
        .position(|&b| b == SOH)
        .map(|p| p + from)
}

/// How far to skip after garbage at the start of `buf`: to the next
/// "8=FIX" after the first byte, else everything but a trailing partial
/// "8=FIX" that more bytes could complete. Never 0, so the caller always
/// makes progress.
fn resync_skip(buf: &[u8]) -> usize {
    let rest = buf.get(1..).unwrap_or_default();
    if let Some(p) = rest
        .windows(MESSAGE_START.len())
        .position(|w| w == MESSAGE_START)
    {
        return p + 1;
    }
    let keep = (1..MESSAGE_START.len())
        .rev()
        .find(|&k| k < buf.len() && buf.ends_with(MESSAGE_START.get(..k).unwrap_or_default()))
        .unwrap_or(0);
    (buf.len() - keep).max(1)
}

/// FIX CheckSum: the byte sum modulo 256.
fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

/// FIX 4.4 SessionRejectReason (373).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionRejectReason {
    /// 0: Invalid tag number.
    InvalidTagNumber = 0,
    /// 1: Required tag missing.
    RequiredTagMissing = 1,
    /// 2: Tag not defined for this message type.
    TagNotDefinedForMessageType = 2,
    /// 3: Undefined tag.
    UndefinedTag = 3,
    /// 4: Tag specified without a value.
    TagSpecifiedWithoutAValue = 4,
    /// 5: Value is incorrect (out of range) for this tag.
    ValueIsIncorrect = 5,
    /// 6: Incorrect data format for value.
    IncorrectDataFormat = 6,
    /// 7: Decryption problem.
    DecryptionProblem = 7,
    /// 8: Signature problem.
    SignatureProblem = 8,
    /// 9: CompID problem.
    CompIdProblem = 9,
    /// 10: SendingTime accuracy problem.
    SendingTimeAccuracyProblem = 10,
    /// 11: Invalid MsgType.
    InvalidMsgType = 11,
    /// 13: Tag appears more than once.
    TagAppearsMoreThanOnce = 13,
    /// 14: Tag specified out of required order.
    TagSpecifiedOutOfRequiredOrder = 14,
    /// 15: Repeating group fields out of order.
    RepeatingGroupFieldsOutOfOrder = 15,
    /// 16: Incorrect NumInGroup count for repeating group.
    IncorrectNumInGroupCount = 16,
    /// 17: Non-data value includes field delimiter (SOH).
    NonDataValueIncludesFieldDelimiter = 17,
    /// 99: Other.
    Other = 99,
}

impl SessionRejectReason {
    /// The value sent in SessionRejectReason (373).
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Why a framed message could not be split into fields; each maps to a
/// session Reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{text} (reason {}, tag {ref_tag:?})", reason.code())]
pub struct ParseError {
    /// SessionRejectReason (373) to answer with.
    pub reason: SessionRejectReason,
    /// RefTagID (371): the tag at fault as the client wrote it when it is a number at all (0 and
    /// negative numbers included, which are invalid tag numbers), `None` when it is not.
    pub ref_tag: Option<i64>,
    /// Text (58) to answer with.
    pub text: &'static str,
}

/// One field: its tag and the byte range of its value within the message.
#[derive(Debug, Clone, Copy)]
struct FieldPos {
    tag: u32,
    start: usize,
    end: usize,
}

/// A parsed message: a copy of its bytes and (tag, value range) per field,
/// in order. Reuse one per connection; `parse` clears it, keeping capacity.
#[derive(Debug, Clone, Default)]
pub struct FieldList {
    bytes: Vec<u8>,
    fields: Vec<FieldPos>,
}

impl FieldList {
    /// An empty list; buffers grow on first use and are then reused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits a framed message (the bytes `frame` accepted) into fields. On
    /// error nothing is trustworthy but the fields parsed before it.
    pub fn parse(&mut self, message: &[u8]) -> Result<(), ParseError> {
        self.bytes.clear();
        self.fields.clear();
        self.bytes.extend_from_slice(message);
        let mut pos = 0;
        while pos < message.len() {
            let rest = message.get(pos..).unwrap_or_default();
            let Some(eq) = rest.iter().position(|&b| b == b'=' || b == SOH) else {
                return Err(ParseError {
                    reason: SessionRejectReason::InvalidTagNumber,
                    ref_tag: None,
                    text: "field without '='",
                });
            };
            if rest.get(eq) != Some(&b'=') {
                return Err(ParseError {
                    reason: SessionRejectReason::InvalidTagNumber,
                    ref_tag: None,
                    text: "field without '='",
                });
            }
            let tag_text = rest.get(..eq).unwrap_or_default();
            let tag = parse_tag(tag_text).ok_or(ParseError {
                reason: SessionRejectReason::InvalidTagNumber,
                ref_tag: std::str::from_utf8(tag_text)
                    .ok()
                    .and_then(|t| t.parse().ok()),
                text: "Invalid tag number",
            })?;
            let value_start = pos + eq + 1;
            let value = message.get(value_start..).unwrap_or_default();
            let Some(value_len) = value.iter().position(|&b| b == SOH) else {
                return Err(ParseError {
                    reason: SessionRejectReason::Other,
                    ref_tag: Some(i64::from(tag)),
                    text: "field not terminated by SOH",
                });
            };
            if value_len == 0 {
                return Err(ParseError {
                    reason: SessionRejectReason::TagSpecifiedWithoutAValue,
                    ref_tag: Some(i64::from(tag)),
                    text: "tag specified without a value",
                });
            }
            self.fields.push(FieldPos {
                tag,
                start: value_start,
                end: value_start + value_len,
            });
            pos = value_start + value_len + 1;
        }
        Ok(())
    }

    /// Number of fields parsed.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field was parsed.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.fields.iter().map(|f| (f.tag, self.value(f)))
    }

    /// The value of the first occurrence of `tag`.
    pub fn get(&self, tag: u32) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.tag == tag)
            .map(|f| self.value(f))
    }

    /// The value of the first occurrence of `tag`; `None` if absent or not
    /// UTF-8.
    pub fn get_str(&self, tag: u32) -> Option<&str> {
        std::str::from_utf8(self.get(tag)?).ok()
    }

    /// MsgType (35).
    pub fn msg_type(&self) -> Option<&[u8]> {
        self.get(35)
    }

    /// MsgSeqNum (34) as a number; `None` if absent or not a plain decimal.
    pub fn msg_seq_num(&self) -> Option<u64> {
        parse_u64(self.get(34)?)
    }

    /// The field at position `index` in wire order.
    pub fn field_at(&self, index: usize) -> Option<(u32, &[u8])> {
        self.fields.get(index).map(|f| (f.tag, self.value(f)))
    }

    /// The raw message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn value(&self, f: &FieldPos) -> &[u8] {
        self.bytes.get(f.start..f.end).unwrap_or_default()
    }
}

/// A tag: a positive decimal without leading zeros that fits in u32.
fn parse_tag(text: &[u8]) -> Option<u32> {
    if text.first() == Some(&b'0') {
        return None;
    }
    let n = parse_u64(text)?;
    u32::try_from(n).ok().filter(|&n| n > 0)
}

/// Plain decimal digits (no sign) as u64; `None` when empty, non-digit or
/// overflowing.
pub(crate) fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

const NS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), using
/// 400-year eras so that leap rules fall out of whole-era arithmetic. Public for the other
/// tools that print UTC dates (the replay tool), so the calendar is written once.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so the leap day is the last day of the
    // "year" and month lengths from March on follow a fixed pattern.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`]; `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

fn is_leap_year(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Writes `value` as exactly `out.len()` zero-padded digits.
fn write_padded(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes a UTCTimestamp with milliseconds, "YYYYMMDD-HH:MM:SS.sss", for
/// `ns` since the Unix epoch.
pub fn format_utc_timestamp(ns: u64, out: &mut [u8; 21]) {
    let secs = ns / NS_PER_SEC;
    let millis = (ns % NS_PER_SEC) / 1_000_000;
    let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
    let second_of_day = secs % SECS_PER_DAY;
    let (date, time) = out.split_at_mut(8);
    write_padded(date, year * 10_000 + month * 100 + day);
    let [dash, h0, h1, c0, m0, m1, c1, s0, s1, dot, f0, f1, f2] = time else {
        return;
    };
    *dash = b'-';
    *c0 = b':';
    *c1 = b':';
    *dot = b'.';
    let hour = second_of_day / 3_600;
    let minute = second_of_day / 60 % 60;
    let second = second_of_day % 60;
    for (slot, digit) in [
        (h0, hour / 10),
        (h1, hour % 10),
        (m0, minute / 10),
        (m1, minute % 10),
        (s0, second / 10),
        (s1, second % 10),
        (f0, millis / 100),
        (f1, millis / 10 % 10),
        (f2, millis % 10),
    ] {
        *slot = b'0' + digit as u8;
    }
}

/// Parses "YYYYMMDD-HH:MM:SS" or with ".sss" (also 1-9 fractional digits:
/// micro/nano), validating ranges (month 1-12, day valid for the month incl.
/// leap years, hour<24, min<60, sec<=60). Returns ns since the Unix epoch.
pub fn parse_utc_timestamp(text: &[u8]) -> Option<u64> {
    let (head, fraction) = match text.get(17..) {
        Some([]) => (text, &[][..]),
        Some([b'.', digits @ ..]) if (1..=9).contains(&digits.len()) => (text.get(..17)?, digits),
        _ => return None,
    };
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        b'-',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
    ] = *head
    else {
        return None;
    };
    let year = parse_u64(&[y0, y1, y2, y3])?;
    let month = parse_u64(&[mo0, mo1])?;
    let day = parse_u64(&[d0, d1])?;
    let hour = parse_u64(&[h0, h1])?;
    let minute = parse_u64(&[mi0, mi1])?;
    let second = parse_u64(&[s0, s1])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour >= 24
        || minute >= 60
        || second > 60
    {
        return None;
    }
    let mut nanos = parse_u64(fraction).unwrap_or(0);
    if fraction.iter().any(|b| !b.is_ascii_digit()) {
        return None;
    }
    for _ in fraction.len()..9 {
        nanos *= 10;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days * SECS_PER_DAY + hour * 3_600 + minute * 60 + second;
    secs.checked_mul(NS_PER_SEC)?.checked_add(nanos)
}

/// Parses a FIX float: optional '-', digits, optional '.' and digits, at
/// least one digit, no exponent, '+' or spaces, at most 28 significant
/// digits. Trailing zeros of the fraction are dropped, so "1.50" and "1.5"
/// give the same value and scale.
pub fn parse_decimal(text: &[u8]) -> Option<Decimal> {
    let (negative, unsigned) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let (int_part, frac_part) = match unsigned.iter().position(|&b| b == b'.') {
        Some(dot) => (
            unsigned.get(..dot)?,
            unsigned.get(dot + 1..).unwrap_or_default(),
        ),
        None => (unsigned, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.iter().chain(frac_part).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_len = frac_part
        .iter()
        .rposition(|&b| b != b'0')
        .map_or(0, |p| p + 1);
    let frac_part = frac_part.get(..frac_len).unwrap_or_default();
    let scale = u32::try_from(frac_part.len()).ok()?;
    if scale > Decimal::MAX_SCALE {
        return None;
    }
    let mut mantissa: i128 = 0;
    let mut significant = 0usize;
    for &b in int_part.iter().chain(frac_part) {
        if mantissa == 0 && b == b'0' {
            continue;
        }
        significant += 1;
        if significant > 28 {
            return None;
        }
        mantissa = mantissa * 10 + i128::from(b - b'0');
    }
    if negative {
        mantissa = -mantissa;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// Builds outgoing messages into reusable buffers, so the steady state
/// allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    body: Vec<u8>,
    message: Vec<u8>,
}

impl Encoder {
    /// An encoder with empty buffers; they grow on first use and are then
    /// reused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a message: writes 35, 49, 56, 34, 52 (SendingTime with ms).
    /// BeginString/BodyLength are prefixed by `finish`.
    pub fn start(
        &mut self,
        msg_type: &[u8],
        sender_comp_id: &[u8],
        target_comp_id: &[u8],
        msg_seq_num: u64,
        sending_time_ns: u64,
    ) {
        self.body.clear();
        self.message.clear();
        self.field(35, msg_type);
        self.field(49, sender_comp_id);
        self.field(56, target_comp_id);
        self.field_u64(34, msg_seq_num);
        self.field_timestamp(52, sending_time_ns);
    }

    /// Starts a fragment of fields with no header, for fields encoded once
    /// and copied into many messages ([`Encoder::raw`]); read it with
    /// [`Encoder::fragment`].
    pub fn start_fragment(&mut self) {
        self.body.clear();
    }

    /// The fields written since [`Encoder::start_fragment`].
    pub fn fragment(&self) -> &[u8] {
        &self.body
    }

    /// Appends fields encoded elsewhere (whole `tag=value<SOH>` fields).
    pub fn raw(&mut self, fields: &[u8]) {
        self.body.extend_from_slice(fields);
    }

    /// Appends `tag=value<SOH>`. The value must be non-empty and free of
    /// SOH; the encoder does not check, since values come from our own code.
    pub fn field(&mut self, tag: u32, value: &[u8]) {
        self.tag(tag);
        self.body.extend_from_slice(value);
        self.body.push(SOH);
    }

    /// Appends an unsigned integer field.
    pub fn field_u64(&mut self, tag: u32, value: u64) {
        self.tag(tag);
        self.body
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.body.push(SOH);
    }

    /// Appends a signed integer field.
    pub fn field_i64(&mut self, tag: u32, value: i64) {
        self.tag(tag);
        self.body
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.body.push(SOH);
    }

    /// Appends a single-character field.
    pub fn field_char(&mut self, tag: u32, value: u8) {
        self.field(tag, &[value]);
    }

    /// Appends a UTCTimestamp field with milliseconds.
    pub fn field_timestamp(&mut self, tag: u32, ns: u64) {
        let mut text = [0u8; 21];
        format_utc_timestamp(ns, &mut text);
        self.field(tag, &text);
    }

    /// A decimal `mantissa / 10^scale` written without exponent, trailing
    /// zeros of the fraction trimmed, e.g. (12345, 2) -> "123.45", (500, 2)
    /// -> "5", (-5, 1) -> "-0.5", (0, 3) -> "0".
    pub fn field_decimal(&mut self, tag: u32, mantissa: i128, scale: u32) {
        self.tag(tag);
        if mantissa == 0 {
            self.body.extend_from_slice(b"0\x01");
            return;
        }
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(mantissa.unsigned_abs()).as_bytes();
        // Fraction digits that are not trailing zeros: trimming them first
        // tells us whether a '.' is needed at all.
        let scale = usize::try_from(scale).unwrap_or(usize::MAX);
        let trailing_zeros = digits.iter().rev().take_while(|&&b| b == b'0').count();
        let kept_scale = scale.saturating_sub(trailing_zeros);
        if mantissa < 0 {
            self.body.push(b'-');
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            self.body.extend_from_slice(int);
            if kept_scale > 0 {
                self.body.push(b'.');
                self.body
                    .extend_from_slice(frac.get(..kept_scale).unwrap_or_default());
            }
        } else {
            self.body.push(b'0');
            if kept_scale > 0 {
                self.body.push(b'.');
                let zeros = scale - digits.len();
                self.body.extend(std::iter::repeat_n(b'0', zeros));
                self.body
                    .extend_from_slice(digits.get(..kept_scale - zeros).unwrap_or_default());
            }
        }
        self.body.push(SOH);
    }

    /// Prefixes 8=FIX.4.4|9=len| and appends 10=checksum|; returns the
    /// whole message. Valid until the next start.
    pub fn finish(&mut self) -> &[u8] {
        self.message.clear();
        self.message.extend_from_slice(b"8=");
        self.message.extend_from_slice(BEGIN_STRING.as_bytes());
        self.message.extend_from_slice(b"\x019=");
        self.message
            .extend_from_slice(itoa::Buffer::new().format(self.body.len()).as_bytes());
        self.message.push(SOH);
        self.message.extend_from_slice(&self.body);
        let mut sum = [0u8; 3];
        write_padded(&mut sum, u64::from(checksum(&self.message)));
        self.message.extend_from_slice(b"10=");
        self.message.extend_from_slice(&sum);
        self.message.push(SOH);
        &self.message
    }

    fn tag(&mut self, tag: u32) {
        self.body
            .extend_from_slice(itoa::Buffer::new().format(tag).as_bytes());
        self.body.push(b'=');
    }
}

#[cfg(test)]
mod tests;
