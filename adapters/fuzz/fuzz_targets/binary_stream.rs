//! Binary order entry: arbitrary bytes as one connection's stream, through framing, client and
//! server decoding and the command mapping (see `hayate_adapters::fuzzing::binary_stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hayate_adapters::fuzzing::binary_stream(data);
});
