//! Replication: arbitrary bytes as the stream one node of a pair receives from the other, through
//! framing and decoding (see `hayate_adapters::fuzzing::replication_stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hayate_adapters::fuzzing::replication_stream(data);
});
