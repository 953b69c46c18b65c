//! The replication target: the frames one node receives from its peer, and its seeds.

use super::*;

/// Feeds `data` to the replication protocol as the stream one node receives from its peer:
/// frames it as the replication peer does (stopping where the connection would be
/// dropped), decodes every frame, and checks that a decoded message encodes to one that decodes
/// equal and that records are numbered in order. Panics on a decoder panic or a broken
/// invariant.
pub fn replication_stream(data: &[u8]) {
    use crate::replication::protocol::{self, Framing, Message};
    let mut buf = data;
    loop {
        match protocol::frame(buf) {
            Framing::Incomplete => break,
            Framing::Invalid { declared } => {
                assert!(!(protocol::HEADER_LEN..=protocol::MAX_FRAME).contains(&declared));
                break;
            }
            Framing::Complete { len } => {
                assert!(len >= protocol::HEADER_LEN && len <= buf.len());
                let (bytes, rest) = buf.split_at(len);
                if let Ok(message) = Message::decode(bytes) {
                    let mut again = Vec::new();
                    message.encode(&mut again);
                    assert_eq!(
                        Message::decode(&again).as_ref(),
                        Ok(&message),
                        "a decoded message re-encodes to itself"
                    );
                    if let Message::Records(records) = message {
                        let mut n = 0u64;
                        for (seq, _command) in records.iter() {
                            assert_eq!(
                                Some(seq),
                                records.first_seq().checked_add(n),
                                "records are numbered in order"
                            );
                            n += 1;
                        }
                        assert_eq!(n, u64::from(records.count()));
                    }
                }
                buf = rest;
            }
        }
    }
}

/// Real replication traffic: a handshake each way, records, acknowledgements, heartbeats, an
/// epoch notice and the refusals.
pub fn replication_seeds() -> Vec<Vec<u8>> {
    use crate::replication::protocol::{
        Ack, Challenge, EpochNotice, Heartbeat, Hello, Message, NONCE_LEN, ObserverHello, Proof,
        RecordsWriter, RefuseCode, Truncate, Welcome,
    };
    let mut standby = Vec::new();
    Message::Hello(Hello {
        epoch: 1,
        last_seq: 40,
        last_epoch_start: 1,
        config_digest: 0x0123_4567_89ab_cdef,
        nonce: [0x5a; NONCE_LEN],
    })
    .encode(&mut standby);
    Message::Proof(Proof {
        proof: [0xa5; NONCE_LEN],
    })
    .encode(&mut standby);
    Message::Ack(Ack {
        durable_seq: 42,
        applied_seq: 41,
    })
    .encode(&mut standby);
    Message::Heartbeat(Heartbeat {
        epoch: 1,
        seq: 42,
        sent_ns: 7,
    })
    .encode(&mut standby);
    let mut primary = Vec::new();
    Message::Challenge(Challenge {
        nonce: [0x3c; NONCE_LEN],
        proof: [0xc3; NONCE_LEN],
    })
    .encode(&mut primary);
    Message::Welcome(Welcome {
        epoch: 2,
        resume_from: 41,
        primary_last_seq: 60,
    })
    .encode(&mut primary);
    let mut writer = RecordsWriter::begin(&mut primary, 41);
    for command in [
        Command::halt(None),
        Command::resume(None),
        Command::epoch(2, 43),
    ] {
        let _ = writer.push(&mut primary, &command);
    }
    writer.finish(&mut primary);
    Message::EpochNotice(EpochNotice {
        epoch: 3,
        epoch_start: 61,
    })
    .encode(&mut primary);
    let mut refusals = Vec::new();
    Message::Truncate(Truncate {
        keep_through: 16,
        epoch: 2,
    })
    .encode(&mut refusals);
    Message::Refuse {
        code: RefuseCode::StaleEpoch,
        text: "the standby has seen a later epoch",
    }
    .encode(&mut refusals);
    let mut observer = Vec::new();
    let mut hello = ObserverHello {
        epoch: 1,
        last_seq: 1_000,
        last_epoch_start: 0,
        config_digest: 0x0123_4567_89ab_cdef,
        nonce: [0x6b; NONCE_LEN],
        ..ObserverHello::default()
    };
    hello.set_name("bridge-1");
    Message::ObserverHello(hello).encode(&mut observer);
    Message::Proof(Proof {
        proof: [0xb6; NONCE_LEN],
    })
    .encode(&mut observer);
    Message::Refuse {
        code: RefuseCode::ObserversFull,
        text: "8 observers are connected",
    }
    .encode(&mut observer);
    vec![standby, primary, refusals, observer]
}
