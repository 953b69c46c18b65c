//! The FIX 4.4 side of a session: logging on, encoding the IOC orders (NewOrderSingle),
//! framing and parsing the replies, answering TestRequests so the gateway keeps the session,
//! and handing each order's ExecutionReports to the ledger (the engine's reason read back from
//! the Text).

use std::io::Write;

use hayate::adapters::clock::unix_ns;
use hayate::adapters::fix::codec::{Encoder, FieldList, Framing as FixFraming, frame as fix_frame};
use hayate::{EventKind, Reason};

use super::driver::Ledger;
use super::gateways::Credentials;
use super::session::{MAX_MESSAGE, Session, Wire, parse_digits};
use super::{OrderSpec, Target};

/// A FIX session's identity, sequence numbers, encoder and parsed fields, and what its orders
/// carry, as text.
pub(super) struct FixWire {
    comp_id: Vec<u8>,
    target: Vec<u8>,
    next_seq: u64,
    encoder: Encoder,
    fields: FieldList,
    symbol: Vec<u8>,
    buy: Vec<u8>,
    sell: Vec<u8>,
    qty: Vec<u8>,
}

impl FixWire {
    fn start(&mut self, msg_type: &[u8], unix_ns: u64) {
        self.encoder.start(
            msg_type,
            &self.comp_id,
            &self.target,
            self.next_seq,
            unix_ns,
        );
        self.next_seq += 1;
    }

    /// Appends the IOC NewOrderSingle whose ClOrdID is `id` to `out`: a buy at the buy price, a
    /// buy at the sell price (`cross`: it trades with the maker), or a sell at the sell price.
    #[inline]
    pub(super) fn encode_order(
        &mut self,
        id: &[u8],
        buy: bool,
        cross: bool,
        unix_ns: u64,
        out: &mut Vec<u8>,
    ) {
        self.start(b"D", unix_ns);
        let e = &mut self.encoder;
        e.field(11, id);
        e.field(55, &self.symbol);
        e.field(54, if buy { b"1" } else { b"2" });
        e.field_timestamp(60, unix_ns);
        e.field(38, &self.qty);
        e.field(40, b"2");
        e.field(44, if buy && !cross { &self.buy } else { &self.sell });
        e.field(59, b"3");
        out.extend_from_slice(e.finish());
    }

    pub(super) fn encode_logout(&mut self, unix_ns: u64, out: &mut Vec<u8>) {
        self.start(b"5", unix_ns);
        out.extend_from_slice(self.encoder.finish());
    }
}

impl Session {
    pub(super) fn fix_logon(
        &mut self,
        target: &Target,
        user: &Credentials,
        spec: &OrderSpec,
    ) -> Result<(), String> {
        let mut wire = FixWire {
            comp_id: user.comp_id.as_bytes().to_vec(),
            target: target.target_comp_id.as_bytes().to_vec(),
            next_seq: 1,
            encoder: Encoder::new(),
            fields: FieldList::new(),
            symbol: spec.symbol.as_bytes().to_vec(),
            buy: spec.buy.to_string().into_bytes(),
            sell: spec.sell.to_string().into_bytes(),
            qty: spec.qty.to_string().into_bytes(),
        };
        wire.start(b"A", unix_ns());
        wire.encoder.field(98, b"0");
        wire.encoder.field(108, b"30");
        // Both sides start at 1, so a gateway that kept this comp id's numbers from an earlier
        // run takes the session as it is.
        wire.encoder.field(141, b"Y");
        wire.encoder.field(553, user.username.as_bytes());
        wire.encoder.field(554, user.password.as_bytes());
        wire.encoder.field(8013, b"N");
        self.stream
            .write_all(wire.encoder.finish())
            .map_err(|e| format!("logon: {e}"))?;
        loop {
            let len = self.read_message_blocking(fix_complete)?;
            wire.fields
                .parse(&self.inbound[..len])
                .map_err(|e| format!("an unparsable reply to the logon: {e:?}"))?;
            self.consume(len);
            match wire.fields.msg_type() {
                Some(b"A") => break,
                Some(b"5") | Some(b"3") => {
                    return Err(format!(
                        "logon refused: {}",
                        wire.fields.get_str(58).unwrap_or("(no text)")
                    ));
                }
                _ => {}
            }
        }
        self.wire = Wire::Fix(Box::new(wire));
        Ok(())
    }
}

/// Hands every whole message at the front of `inbound` to the ledger (answers queued on `out`);
/// returns the bytes used.
pub(super) fn handle_messages(
    wire: &mut FixWire,
    inbound: &[u8],
    out: &mut Vec<u8>,
    now: u64,
    session: usize,
    ledger: &mut Ledger,
) -> Result<usize, String> {
    let mut start = 0;
    loop {
        let buf = &inbound[start..];
        let len = match fix_frame(buf, MAX_MESSAGE) {
            FixFraming::Complete { len } => len,
            FixFraming::Incomplete => break,
            FixFraming::Garbled { skip, .. } => {
                ledger.stats.garbled += 1;
                start += skip;
                continue;
            }
            FixFraming::TooLarge { declared } => {
                return Err(format!("the gateway declared a {declared}-byte message"));
            }
        };
        if wire.fields.parse(&buf[..len]).is_ok() {
            on_fix(wire, out, now, session, ledger);
        } else {
            ledger.stats.garbled += 1;
        }
        start += len;
    }
    Ok(start)
}

/// The length of the FIX message at the front of `buf`, if whole.
fn fix_complete(buf: &[u8]) -> Result<Option<usize>, String> {
    match fix_frame(buf, MAX_MESSAGE) {
        FixFraming::Complete { len } => Ok(Some(len)),
        FixFraming::Incomplete => Ok(None),
        other => Err(format!("the gateway sent a bad frame: {other:?}")),
    }
}

fn on_fix(wire: &mut FixWire, out: &mut Vec<u8>, now: u64, session: usize, ledger: &mut Ledger) {
    let fields = &wire.fields;
    match fields.msg_type() {
        Some(b"8") => {
            let id = fields.get(11).and_then(parse_digits);
            let (kind, first) = match fields.get(150) {
                Some(b"0") => (EventKind::Accepted, true),
                Some(b"8") => (EventKind::Rejected, true),
                Some(b"4") => (EventKind::Canceled, false),
                Some(b"F") => (EventKind::Fill, false),
                Some(b"5") => (EventKind::Replaced, false),
                Some(b"D") => (EventKind::Restated, false),
                _ => (EventKind::OrderStatus, false),
            };
            let reason = fields.get(58).map_or(0, reason_of_text);
            ledger.on_reply(now, id, session, first, kind as u8, reason);
        }
        Some(b"1") => {
            // A TestRequest must be answered within the heartbeat interval, or the gateway
            // logs the session out.
            let test_id = fields.get(112).unwrap_or(b"?").to_vec();
            wire.start(b"0", unix_ns());
            wire.encoder.field(112, &test_id);
            out.extend_from_slice(wire.encoder.finish());
        }
        Some(b"3") | Some(b"j") => {
            let text = fields.get_str(58).unwrap_or("(no text)");
            ledger.on_protocol_reject(|| text.to_owned());
        }
        Some(b"5") => {
            let text = fields.get_str(58).unwrap_or("(no text)");
            ledger.on_protocol_reject(|| format!("Logout: {text}"));
        }
        _ => {}
    }
}

/// The engine reason whose code starts the gateway's Text (`PRICE_BAND: …`), else 0.
fn reason_of_text(text: &[u8]) -> u8 {
    (1..32u8)
        .find(|&r| {
            Reason::from_u8(r).is_some_and(|reason| {
                let code = reason.code().as_bytes();
                text.starts_with(code)
                    && matches!(text.get(code.len()), None | Some(b':') | Some(b' '))
            })
        })
        .unwrap_or(0)
}
