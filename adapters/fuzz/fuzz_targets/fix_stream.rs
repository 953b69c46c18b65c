//! FIX 4.4: arbitrary bytes as one connection's stream, through framing, parsing, the
//! dictionary and the session layer (see `hayate_adapters::fuzzing::fix_stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hayate_adapters::fuzzing::fix_stream(data);
});
