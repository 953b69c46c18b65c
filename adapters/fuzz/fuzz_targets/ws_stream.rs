//! WebSocket market data: arbitrary bytes as a client's stream after the handshake, through
//! tungstenite's framing with the feed's limits and our request parser (see
//! `hayate_adapters::fuzzing::ws_stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hayate_adapters::fuzzing::ws_stream(data);
});
