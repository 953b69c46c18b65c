//! The binary target: one connection's bytes decoded as a client's and a server's messages, and
//! its seeds.

use super::*;

/// Feeds `data` to the binary protocol as one connection's byte stream: frames it as the server
/// does (stopping at an incomplete message or an out-of-bounds length), decodes each message as
/// a client's (mapped to an engine command for a trader and for an admin) and as a server's (the
/// client library's side), and checks that what decodes re-encodes to the same message. Panics
/// on a decoder panic or a broken invariant.
pub fn binary_stream(data: &[u8]) {
    let max = max_message_size();
    let mut buf = data;
    loop {
        match binary_codec::frame(buf, max) {
            BinaryFraming::Incomplete => {
                assert!(buf.len() < max, "Incomplete with {} bytes", buf.len());
                break;
            }
            BinaryFraming::Invalid { declared } => {
                assert!(declared < HEADER_LEN || declared > max);
                break;
            }
            BinaryFraming::Complete { len } => {
                assert!((HEADER_LEN..=max).contains(&len) && len <= buf.len());
                let (message, rest) = buf.split_at(len);
                check_client_message(message);
                check_server_message(message);
                buf = rest;
            }
        }
    }
}

fn check_client_message(message: &[u8]) {
    let decoded = match ClientMessage::decode(message) {
        Ok(decoded) => decoded,
        Err(error) => {
            check_decode_error(&error);
            return;
        }
    };
    // Padding is kept as read, so a client message re-encodes byte for byte.
    let mut encoded = Vec::new();
    decoded.encode(&mut encoded);
    assert_eq!(encoded, message, "{decoded:?} re-encodes differently");
    assert_eq!(ClientMessage::decode(&encoded), Ok(decoded));
    // Decoding refused bad text, so every text accessor succeeds.
    match &decoded {
        ClientMessage::Logon(logon) => {
            assert!(logon.username().is_some() && logon.password().is_some());
            let _ = logon.cancel_on_disconnect();
        }
        ClientMessage::NewOrder(order) => {
            let _ = (order.side(), order.order_type(), order.time_in_force());
            let _ = (order.stp(), order.post_only());
        }
        ClientMessage::Deposit(funds) | ClientMessage::Withdraw(funds) => {
            assert!(funds.asset().is_some() && funds.amount_text().is_some());
            let _ = funds.amount();
        }
        ClientMessage::Halt(target) | ClientMessage::Resume(target) => {
            assert!(target.target().is_some());
            let _ = target.is_all();
        }
        _ => {}
    }
    let engine = config().engine_config();
    match binary_orders::to_command(&decoded, AccountId(1), engine) {
        Ok(command) => check_command(&command),
        Err(why) => assert!(!why.is_empty()),
    }
    match binary_orders::admin_command(&decoded, engine) {
        Ok(Some(command)) => check_command(&command),
        Ok(None) => {}
        Err(why) => assert!(!why.is_empty()),
    }
    assert_eq!(decoded.is_admin(), decoded.msg_type() >= 0x20);
}

fn check_server_message(message: &[u8]) {
    let decoded = match ServerMessage::decode(message) {
        Ok(decoded) => decoded,
        Err(error) => {
            check_decode_error(&error);
            return;
        }
    };
    // Padding is written as zeros, so compare decoded values.
    let mut encoded = Vec::new();
    decoded.encode(&mut encoded);
    assert_eq!(encoded.len(), message.len());
    assert_eq!(ServerMessage::decode(&encoded), Ok(decoded));
    match decoded {
        ServerMessage::SymbolInfo(info) => {
            assert!(info.name().is_some());
            assert!(info.tick_size_text().is_some() && info.lot_size_text().is_some());
            let _ = (info.tick_size(), info.lot_size());
        }
        ServerMessage::Report(report) => {
            let _ = format!("{report:?}");
        }
        ServerMessage::Reject { code, .. } => {
            assert_eq!(RejectCode::from_u16(code as u16), Some(code));
        }
        _ => {}
    }
}

/// What a Reject carries: a text and a code.
fn check_decode_error(error: &DecodeError) {
    assert!(!error.to_string().is_empty());
    let _ = error.reject_code();
}

/// Real binary traffic for fuzzers to start from: a trader's stream (logon, orders, cancel,
/// replace, mass cancel, query, heartbeat, logout), an admin's, and server messages.
pub fn binary_seeds() -> Vec<Vec<u8>> {
    let id = |text: &str| ClientOrderId::new(text).unwrap_or(ClientOrderId::EMPTY);
    let symbol = config()
        .engine_config()
        .symbol_id("BTC-JPY")
        .unwrap_or(SymbolId(0));
    let encode = |messages: &[ClientMessage]| {
        let mut out = Vec::new();
        for m in messages {
            m.encode(&mut out);
        }
        out
    };
    let mut seeds = Vec::new();
    if let Some(logon) = Logon::new("alice", "change-me", CancelOnDisconnect::Session) {
        let order = NewOrder::new(
            id("o1"),
            symbol,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            Price(5_000_000),
            Qty(10),
        );
        seeds.push(encode(&[
            ClientMessage::Logon(logon),
            ClientMessage::NewOrder(order),
            ClientMessage::Cancel(OrderRequest::new(id("c1"), id("o1"), OrderId(0))),
            ClientMessage::Replace(Replace::new(
                id("o2"),
                id("o1"),
                OrderId(7),
                Price(4_999_000),
                Qty(5),
            )),
            ClientMessage::MassCancel(MassCancel::new(id("m1"), Some(symbol))),
            ClientMessage::MassCancel(MassCancel::new(ClientOrderId::EMPTY, None)),
            ClientMessage::QueryOrder(OrderRequest::new(
                ClientOrderId::EMPTY,
                id("o2"),
                OrderId(0),
            )),
            ClientMessage::Heartbeat,
            ClientMessage::Logout,
        ]));
        seeds.push(encode(&[ClientMessage::NewOrder(NewOrder::new(
            id("o3"),
            symbol,
            Side::Sell,
            OrderType::Market,
            TimeInForce::Ioc,
            Price(0),
            Qty(1),
        ))]));
    }
    let mut admin = Vec::new();
    if let Some(logon) = Logon::new("admin", "change-me", CancelOnDisconnect::Configured) {
        admin.push(ClientMessage::Logon(logon));
    }
    if let Some(funds) = Funds::new(AccountId(1), "JPY", "1000.5") {
        admin.push(ClientMessage::Deposit(funds));
    }
    if let Some(funds) = Funds::new(AccountId(2), "BTC", "0.00000001") {
        admin.push(ClientMessage::Withdraw(funds));
    }
    if let Some(target) = HaltTarget::new("BTC-JPY") {
        admin.push(ClientMessage::Halt(target));
    }
    if let Some(target) = HaltTarget::new("*") {
        admin.push(ClientMessage::Resume(target));
    }
    admin.extend([
        ClientMessage::Block(AccountTarget::new(AccountId(1))),
        ClientMessage::Unblock(AccountTarget::new(AccountId(1))),
        ClientMessage::Snapshot,
        ClientMessage::Status,
        ClientMessage::Promote,
    ]);
    seeds.push(encode(&admin));

    let mut server = Vec::new();
    ServerMessage::LogonAck(LogonAck::new(AccountId(1), false, 30_000)).encode(&mut server);
    ServerMessage::Reject {
        code: RejectCode::Malformed,
        ref_msg_type: 0x10,
        text: "bad value: side",
    }
    .encode(&mut server);
    ServerMessage::Heartbeat.encode(&mut server);
    if let Some(info) = SymbolInfo::new(symbol, "BTC-JPY", "1", "0.0001") {
        ServerMessage::SymbolInfo(info).encode(&mut server);
    }
    let event: Event = bytemuck::Zeroable::zeroed();
    ServerMessage::Report(Report::new(1, NOW_NS, 0, &event)).encode(&mut server);
    ServerMessage::AdminResult {
        ok: true,
        status: 0,
        text: "{\"ok\":true}",
    }
    .encode(&mut server);
    seeds.push(server);
    seeds
}
