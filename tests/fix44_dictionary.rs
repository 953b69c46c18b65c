//! Every message the FIX port sends is valid FIX 4.4 by QuickFIX's own data dictionary
//! (`tests/quickfix/FIX44.xml`, the file a QuickFIX counterparty validates with): each tag is a
//! FIX 4.4 field, defined for that message type (header, body with its components and groups, or
//! trailer), required fields are present, enumerated fields carry one of their values and values
//! have their type's format.
//!
//! The traffic is a real session's: logon, orders that rest, fill, are replaced, queried, canceled
//! and mass-canceled, refusals of each kind, session rejects, market data, a resend of stored
//! messages and a logout.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use hayate::adapters::fix::codec::FieldList;
use hayate_testkit::gateway::{FixClient, config, field, start, subscribe_btc_jpy};

/// One field of the dictionary: its name, type and, when enumerated, its values.
struct FieldDef {
    name: String,
    kind: String,
    values: HashSet<String>,
}

/// A message (or the header, or the trailer): every tag it may carry, and the tags it must.
#[derive(Default)]
struct MessageDef {
    allowed: HashSet<u32>,
    required: HashSet<u32>,
}

struct Dictionary {
    fields: HashMap<u32, FieldDef>,
    header: MessageDef,
    trailer: MessageDef,
    messages: HashMap<String, MessageDef>,
}

impl Dictionary {
    fn load() -> Dictionary {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quickfix/FIX44.xml");
        let text = std::fs::read_to_string(path).expect("FIX44.xml is in the repository");
        let doc = roxmltree::Document::parse(&text).expect("FIX44.xml parses");
        let root = doc.root_element();
        let child = |name: &str| {
            root.children()
                .find(|n| n.has_tag_name(name))
                .unwrap_or_else(|| panic!("FIX44.xml has <{name}>"))
        };
        let mut fields = HashMap::new();
        let mut by_name = HashMap::new();
        for f in child("fields")
            .children()
            .filter(|n| n.has_tag_name("field"))
        {
            let number: u32 = f
                .attribute("number")
                .and_then(|n| n.parse().ok())
                .expect("number");
            let name = f.attribute("name").expect("name").to_owned();
            let values = f
                .children()
                .filter(|n| n.has_tag_name("value"))
                .filter_map(|v| v.attribute("enum").map(str::to_owned))
                .collect();
            by_name.insert(name.clone(), number);
            let kind = f.attribute("type").expect("type").to_owned();
            fields.insert(number, FieldDef { name, kind, values });
        }
        let components: HashMap<String, roxmltree::Node> = child("components")
            .children()
            .filter(|n| n.has_tag_name("component"))
            .map(|c| (c.attribute("name").expect("name").to_owned(), c))
            .collect();
        let collect = |node: roxmltree::Node| {
            let mut def = MessageDef::default();
            walk(node, true, &by_name, &components, &mut def);
            def
        };
        let messages = child("messages")
            .children()
            .filter(|n| n.has_tag_name("message"))
            .map(|m| {
                (
                    m.attribute("msgtype").expect("msgtype").to_owned(),
                    collect(m),
                )
            })
            .collect();
        Dictionary {
            fields,
            header: collect(child("header")),
            trailer: collect(child("trailer")),
            messages,
        }
    }

    /// What is wrong with `message`, if anything.
    fn problems(&self, message: &FieldList) -> Vec<String> {
        let msg_type = String::from_utf8_lossy(message.msg_type().unwrap_or_default()).into_owned();
        let Some(def) = self.messages.get(&msg_type) else {
            return vec![format!("MsgType {msg_type} is not a FIX 4.4 message")];
        };
        let mut problems = Vec::new();
        let mut present = HashSet::new();
        for (tag, value) in message.iter() {
            present.insert(tag);
            let Some(field) = self.fields.get(&tag) else {
                problems.push(format!("tag {tag} is not a FIX 4.4 field"));
                continue;
            };
            let allowed = self.header.allowed.contains(&tag)
                || self.trailer.allowed.contains(&tag)
                || def.allowed.contains(&tag);
            if !allowed {
                problems.push(format!(
                    "{} ({tag}) is not defined for MsgType {msg_type}",
                    field.name
                ));
            }
            let value = String::from_utf8_lossy(value);
            if !field.values.is_empty() {
                let multiple = field.kind.starts_with("MULTIPLE");
                let ok = if multiple {
                    value.split(' ').all(|v| field.values.contains(v))
                } else {
                    field.values.contains(value.as_ref())
                };
                if !ok {
                    problems.push(format!(
                        "{} ({tag}) = {value} is not one of its values",
                        field.name
                    ));
                }
            }
            if !well_formed(&field.kind, &value) {
                problems.push(format!(
                    "{} ({tag}) = {value} is not a {}",
                    field.name, field.kind
                ));
            }
        }
        for tag in self
            .header
            .required
            .iter()
            .chain(&def.required)
            .chain(&self.trailer.required)
        {
            if !present.contains(tag) {
                let name = self.fields.get(tag).map_or("?", |f| f.name.as_str());
                problems.push(format!("required {name} ({tag}) is missing"));
            }
        }
        problems
    }
}

/// Collects the tags of a message, header or trailer definition; components are expanded and
/// groups walked (their count tag and members are allowed; only top-level requirements count).
fn walk(
    node: roxmltree::Node,
    top_level: bool,
    by_name: &HashMap<String, u32>,
    components: &HashMap<String, roxmltree::Node>,
    def: &mut MessageDef,
) {
    for item in node.children().filter(roxmltree::Node::is_element) {
        let name = item.attribute("name").unwrap_or_default();
        let required = top_level && item.attribute("required") == Some("Y");
        match item.tag_name().name() {
            "field" => {
                let tag = by_name[name];
                def.allowed.insert(tag);
                if required {
                    def.required.insert(tag);
                }
            }
            "group" => {
                let tag = by_name[name];
                def.allowed.insert(tag);
                if required {
                    def.required.insert(tag);
                }
                walk(item, false, by_name, components, def);
            }
            "component" => {
                let component = components[name];
                walk(component, required, by_name, components, def);
            }
            _ => {}
        }
    }
}

fn well_formed(kind: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match kind {
        "INT" | "LENGTH" | "NUMINGROUP" | "SEQNUM" | "DAYOFMONTH" => {
            digits(value.strip_prefix('-').unwrap_or(value))
        }
        "QTY" | "PRICE" | "PRICEOFFSET" | "AMT" | "FLOAT" | "PERCENTAGE" => {
            let unsigned = value.strip_prefix('-').unwrap_or(value);
            let mut parts = unsigned.splitn(2, '.');
            let int = parts.next().unwrap_or_default();
            let frac = parts.next();
            digits(int) && frac.is_none_or(|f| f.is_empty() || digits(f))
        }
        "CHAR" => value.len() == 1,
        "BOOLEAN" => value == "Y" || value == "N",
        "UTCTIMESTAMP" => {
            let b = value.as_bytes();
            b.len() >= 17
                && digits(&value[..8])
                && b[8] == b'-'
                && b[11] == b':'
                && b[14] == b':'
                && (b.len() == 17 || b[17] == b'.')
        }
        "UTCDATEONLY" | "LOCALMKTDATE" => value.len() == 8 && digits(value),
        "UTCTIMEONLY" => value.len() >= 8 && value.as_bytes()[2] == b':',
        _ => !value.is_empty(),
    }
}

/// Reads until a message of `msg_type`, keeping everything read in `seen`.
fn until(client: &mut FixClient, seen: &mut Vec<FieldList>, msg_type: &str) -> FieldList {
    loop {
        let m = client.try_recv().expect("a message from the gateway");
        seen.push(m.clone());
        if m.msg_type() == Some(msg_type.as_bytes()) {
            return m;
        }
    }
}

fn logon(addr: SocketAddr, comp_id: &str, user: &str, seen: &mut Vec<FieldList>) -> FixClient {
    let mut client = FixClient::connect(addr, comp_id);
    client.send(
        "A",
        &[(98, "0"), (108, "30"), (553, user), (554, "change-me")],
    );
    until(&mut client, seen, "A");
    client
}

#[test]
fn every_message_the_fix_port_sends_is_valid_fix_44() {
    let dictionary = Dictionary::load();
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().fix;
    let mut seen = Vec::new();
    let t = "20260101-00:00:00.000";

    let mut alice = logon(addr, "ALICE", "alice", &mut seen);
    let mut bob = logon(addr, "BOB", "bob", &mut seen);

    // Market data first, so the orders below produce incremental updates and trades.
    subscribe_btc_jpy(&mut alice, "md1", "1", "0");
    until(&mut alice, &mut seen, "W");
    alice.send(
        "V",
        &[
            (262, "md-bad"),
            (263, "1"),
            (264, "0"),
            (265, "1"),
            (267, "1"),
            (269, "0"),
            (146, "1"),
            (55, "NOPE-JPY"),
        ],
    );
    until(&mut alice, &mut seen, "Y");

    // An order rests, is partly filled, replaced, queried, canceled.
    alice.new_order("a1", "1", "1", "5000000");
    until(&mut alice, &mut seen, "8");
    bob.new_order("b1", "2", "0.25", "5000000");
    until(&mut bob, &mut seen, "8");
    let bob_fill = until(&mut bob, &mut seen, "8");
    let fill = until(&mut alice, &mut seen, "8");
    assert_eq!((field(&fill, 150), field(&bob_fill, 150)), ("F", "F"));
    assert_eq!(
        field(&fill, 527),
        field(&bob_fill, 527),
        "one trade id, both sides"
    );
    alice.send(
        "G",
        &[
            (41, "a1"),
            (11, "a2"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, t),
            (38, "2"),
            (40, "2"),
            (44, "4990000"),
        ],
    );
    until(&mut alice, &mut seen, "8");
    alice.send("H", &[(11, "a2"), (55, "BTC-JPY"), (54, "1")]);
    until(&mut alice, &mut seen, "8");
    alice.send(
        "F",
        &[(41, "a2"), (11, "c1"), (55, "BTC-JPY"), (54, "1"), (60, t)],
    );
    until(&mut alice, &mut seen, "8");
    // Refusals: a cancel of an ended order, an order on an unknown symbol, a bad price.
    alice.send(
        "F",
        &[(41, "a2"), (11, "c2"), (55, "BTC-JPY"), (54, "1"), (60, t)],
    );
    until(&mut alice, &mut seen, "9");
    alice.send(
        "D",
        &[
            (11, "x1"),
            (55, "NOPE-JPY"),
            (54, "1"),
            (60, t),
            (38, "1"),
            (40, "2"),
            (44, "1"),
        ],
    );
    until(&mut alice, &mut seen, "8");
    alice.new_order("x2", "1", "1", "5000000.5");
    until(&mut alice, &mut seen, "8");
    // A market order with nothing to take, and a mass cancel.
    alice.send(
        "D",
        &[
            (11, "m0"),
            (55, "BTC-JPY"),
            (54, "2"),
            (60, t),
            (38, "1"),
            (40, "1"),
        ],
    );
    until(&mut alice, &mut seen, "8");
    alice.new_order("m1", "1", "1", "4900000");
    until(&mut alice, &mut seen, "8");
    alice.send("q", &[(11, "mc"), (530, "7"), (60, t)]);
    until(&mut alice, &mut seen, "r");
    // Session-level answers: Reject, BusinessMessageReject, Heartbeat.
    alice.send("0", &[(999, "x")]);
    until(&mut alice, &mut seen, "3");
    alice.send("B", &[(148, "news"), (33, "1"), (58, "hello")]);
    until(&mut alice, &mut seen, "j");
    alice.send("1", &[(112, "ping")]);
    until(&mut alice, &mut seen, "0");
    // Everything again, as a resend: stored messages with PossDupFlag, gap fills for the rest.
    alice.send("2", &[(7, "1"), (16, "0")]);
    let resent_from = seen.len();
    loop {
        let m = until(&mut alice, &mut seen, "4");
        let new_seq: u64 = field(&m, 36).parse().expect("NewSeqNo");
        if new_seq >= alice_next_out(&seen) {
            break;
        }
    }
    let resent = &seen[resent_from..];
    assert!(
        resent
            .iter()
            .any(|m| field(m, 35) == "8" && field(m, 43) == "Y" && !field(m, 122).is_empty()),
        "execution reports come back from the store"
    );
    alice.send("5", &[]);
    until(&mut alice, &mut seen, "5");
    gateway.stop().expect("stop");

    let mut failures = Vec::new();
    let mut types = HashSet::new();
    for m in &seen {
        types.insert(field(m, 35).to_owned());
        for problem in dictionary.problems(m) {
            failures.push(format!(
                "{problem}: {}",
                String::from_utf8_lossy(m.as_bytes()).replace('\u{1}', "|")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mut types: Vec<_> = types.into_iter().collect();
    types.sort();
    assert_eq!(
        types,
        ["0", "3", "4", "5", "8", "9", "A", "W", "X", "Y", "j", "r"],
        "the message types checked"
    );
}

/// The highest MsgSeqNum the gateway has sent ALICE, plus one (from what was read so far).
fn alice_next_out(seen: &[FieldList]) -> u64 {
    seen.iter()
        .filter(|m| field(m, 56) == "ALICE" && field(m, 43) != "Y")
        .filter_map(|m| field(m, 34).parse::<u64>().ok())
        .max()
        .map_or(1, |s| s + 1)
}

#[test]
fn the_checker_finds_what_quickfix_would_reject() {
    let dictionary = Dictionary::load();
    let parse = |text: &str| {
        let mut m = FieldList::new();
        m.parse(text.replace('|', "\u{1}").as_bytes())
            .expect("well-formed");
        m
    };
    let good = "8=FIX.4.4|9=0|35=8|49=H|56=A|34=2|52=20260101-00:00:00.000|37=1|17=2|150=F|39=1|\
                54=1|55=BTC-JPY|151=1|14=1|6=5|32=1|31=5|527=7|10=000|";
    assert_eq!(dictionary.problems(&parse(good)), Vec::<String>::new());
    let trade_id = good.replace("527=7", "1003=7");
    assert!(dictionary.problems(&parse(&trade_id))[0].contains("tag 1003 is not a FIX 4.4 field"));
    let missing = good.replace("17=2|", "");
    assert!(dictionary.problems(&parse(&missing))[0].contains("ExecID (17) is missing"));
    let misplaced = good.replace("527=7", "112=x");
    assert!(dictionary.problems(&parse(&misplaced))[0].contains("TestReqID (112) is not defined"));
    let bad_enum = good.replace("150=F", "150=Z");
    assert!(dictionary.problems(&parse(&bad_enum))[0].contains("is not one of its values"));
    let bad_qty = good.replace("32=1", "32=one");
    assert!(dictionary.problems(&parse(&bad_qty))[0].contains("is not a QTY"));
}
