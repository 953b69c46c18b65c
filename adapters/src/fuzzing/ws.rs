//! The WebSocket feed target: a client's bytes after the handshake.

use super::*;

/// A client's bytes after the WebSocket handshake, as the feed reads them: tungstenite's framing
/// (with the feed's limits) and then our request parser on every text message. Panics only if
/// something panics; every refusal must be a reason the `error` message can carry.
pub fn ws_stream(data: &[u8]) {
    use tungstenite::protocol::{Role, WebSocketConfig};
    let limits = config().market_data();
    let socket = Replay {
        input: std::io::Cursor::new(data),
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let mut ws = tungstenite::WebSocket::from_raw_socket(socket, Role::Server, Some(ws_config));
    for _ in 0..1024 {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                match crate::market_data::request::parse(text.as_str(), config().engine_config()) {
                    Ok(request) => assert!(!request.pairs.is_empty()),
                    Err(why) => {
                        let mut out = String::new();
                        crate::market_data::json::error(&mut out, &why);
                        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out);
                        assert!(parsed.is_ok(), "our error message is not JSON: {out}");
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// A byte stream that reads `input` and swallows writes (the feed's answers).
struct Replay<'a> {
    input: std::io::Cursor<&'a [u8]>,
}

impl std::io::Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl std::io::Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Masked client frames (text, binary, ping, close) carrying real requests and junk.
pub fn ws_seeds() -> Vec<Vec<u8>> {
    let frame = |opcode: u8, payload: &[u8]| {
        let mut out = vec![0x80 | opcode];
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    };
    let subscribe = br#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker",{"name":"status","product_ids":["BTC-JPY"]}]}"#;
    let unsubscribe = br#"{"type":"unsubscribe","product_ids":["BTC-JPY"],"channels":["level2"]}"#;
    vec![
        frame(1, subscribe),
        [frame(1, subscribe), frame(1, unsubscribe)].concat(),
        frame(1, b"not json"),
        frame(
            1,
            br#"{"type":"subscribe","product_ids":["NOPE"],"channels":["level2"]}"#,
        ),
        frame(2, b"\x00\x01binary"),
        [frame(9, b"ping"), frame(1, subscribe)].concat(),
        frame(8, &[0x03, 0xe8]),
    ]
}
