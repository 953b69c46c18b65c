//! Fuzz target bodies for the gateway's decoders, shared by the cargo-fuzz targets in
//! `adapters/fuzz` and the stable smoke run in `tests/fuzz_smoke.rs`.
//!
//! Each target takes arbitrary bytes as a client's byte stream, runs them through the same steps
//! the server does, and panics when a decoder panics or an invariant breaks: what the gateway
//! writes must frame and parse back, decoded messages must re-encode to what was read, and
//! commands built from them must survive the journal's encoding. [`fix_seeds`],
//! [`binary_seeds`] and [`replication_seeds`] are real traffic for a fuzzer to start from.
//!
//! Nothing here touches a file or a socket, so a target runs thousands of times a second.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::AuthMode;
use crate::config::ExchangeConfig;
use hayate_core::units::AccountId;
use hayate_core::{
    ClientOrderId, Command, Event, OrderId, OrderType, Price, Qty, Side, SymbolId, TimeInForce,
};

use crate::binary::codec::{self as binary_codec, Framing as BinaryFraming, HEADER_LEN};
use crate::binary::messages::{AccountTarget, OrderRequest, RejectCode, ServerMessage};
use crate::binary::messages::{
    CancelOnDisconnect, ClientMessage, DecodeError, Funds, HaltTarget, Logon, LogonAck, MassCancel,
    NewOrder, Replace, Report, SymbolInfo,
};
use crate::binary::orders as binary_orders;
use crate::fix::codec::{
    self as fix_codec, BEGIN_STRING, Encoder, FieldList, Framing as FixFraming, SOH,
    format_utc_timestamp, parse_decimal, parse_utc_timestamp,
};
use crate::fix::dictionary::{self, MsgClass};
use crate::fix::market_data::FixMarketData;
use crate::fix::message_store::MessageStore;
use crate::fix::orders::{self as fix_orders, RequestIds};
use crate::fix::seq_store::SeqStore;
use crate::fix::session::{FixSession, Inbound, LogonGrant, LogonRequest};

/// The gateway's clock as the targets see it (Unix ns): the seeds' SendingTime, so they pass the
/// session's SendingTime check.
pub const NOW_NS: u64 = 1_790_000_000_000_000_000;

/// Our FIX SenderCompID, as in the demo configuration.
const US: &str = "HAYATE";

/// The demo exchange, built once per process.
fn config() -> &'static ExchangeConfig {
    static CONFIG: OnceLock<ExchangeConfig> = OnceLock::new();
    CONFIG.get_or_init(ExchangeConfig::demo)
}

fn max_message_size() -> usize {
    config().gateway().max_message_size
}

/// A command the gateway publishes must read back from its bytes, as the journal reads it.
fn check_command(command: &Command) {
    assert_eq!(
        Command::from_bytes(command.as_bytes()).as_ref(),
        Ok(command),
        "a command does not survive its encoding"
    );
}

mod binary;
mod fix;
mod replication;
mod ws;

pub use binary::{binary_seeds, binary_stream};
pub use fix::{fix_seeds, fix_stream};
pub use replication::{replication_seeds, replication_stream};
pub use ws::{ws_seeds, ws_stream};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_run_clean() {
        for seed in fix_seeds() {
            fix_stream(&seed);
        }
        for seed in binary_seeds() {
            binary_stream(&seed);
        }
        for seed in replication_seeds() {
            replication_stream(&seed);
        }
    }

    /// Found by cargo-fuzz: records ending at the last sequence there is (the harness counted
    /// one past it and overflowed; the decoder was right).
    #[test]
    fn records_ending_at_the_largest_sequence() {
        use crate::replication::protocol::RecordsWriter;
        let mut frame = Vec::new();
        let mut writer = RecordsWriter::begin(&mut frame, u64::MAX);
        assert!(writer.push(&mut frame, &Command::halt(None)).is_ok());
        assert_eq!(writer.finish(&mut frame), 1);
        replication_stream(&frame);
    }

    #[test]
    fn fix_seeds_reach_the_application_layer() {
        let seed = fix_seeds().swap_remove(3);
        let t0 = Instant::now();
        let mut session = FixSession::new(US, t0);
        let mut buf = seed.as_slice();
        let mut applications = 0;
        while let FixFraming::Complete { len } = fix_codec::frame(buf, 4096) {
            let (message, rest) = buf.split_at(len);
            match session.on_message(message, t0, NOW_NS) {
                Inbound::Logon(request) => {
                    let grant = LogonGrant {
                        seqs: SeqStore::in_memory().expect("map"),
                        reset_on_logon: false,
                        store: Some(MessageStore::in_memory(1 << 16).expect("map")),
                    };
                    session.accept_logon(&request, grant, t0, NOW_NS);
                }
                Inbound::Application => applications += 1,
                other => assert_eq!(other, Inbound::Nothing),
            }
            buf = rest;
        }
        assert!(buf.is_empty());
        assert!(
            applications >= 6,
            "only {applications} application messages"
        );
    }
}
