//! Who gets in (issue 17): hashed passwords on both order-entry protocols, logon back-off and
//! lockout per address and per username, the admin listener and the admins' roles — over real
//! sockets on 127.0.0.x, with the admin client as an operator runs it.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command as Process;
use std::time::Duration;

use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{CancelOnDisconnect, ClientMessage, Logon, ServerMessage};
use hayate::adapters::secrets::hash_password;
use hayate_testkit::example::{example_binary, run_admin};
use hayate_testkit::gateway::*;

/// A connection to `addr` from the loopback address `from` (Linux routes all of 127/8 to lo).
fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let source = SocketAddr::new(IpAddr::from(from), 0);
    socket
        .bind(&source.into())
        .expect("bind the source address");
    socket.connect(&addr.into()).expect("connect");
    socket.into()
}

/// What a binary Logon as `user`/`password` from `from` gets: `Ok(is_admin)` or the refusal text.
fn binary_logon(
    from: [u8; 4],
    addr: SocketAddr,
    user: &str,
    password: &str,
) -> Result<bool, String> {
    let mut client = BinaryClient::over(connect_from(from, addr), WAIT).expect("client");
    let logon = Logon::new(user, password, CancelOnDisconnect::Configured).expect("short");
    client.send(&ClientMessage::Logon(logon)).expect("send");
    let answer = client.recv().expect("a logon answer");
    match ServerMessage::decode(&answer).expect("decode") {
        ServerMessage::LogonAck(ack) => Ok(ack.is_admin != 0),
        ServerMessage::Reject { text, .. } => Err(text.to_owned()),
        other => panic!("unexpected answer to a logon: {other:?}"),
    }
}

/// A counter's value on `/metrics`.
fn metric(gateway: &hayate::adapters::gateway::Gateway, name: &str) -> u64 {
    let (_, text) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not on /metrics:\n{text}"))
}

/// A FIX Logon's fields as carol with `password` (a refused one is answered by a disconnect, so
/// it is sent and the close awaited rather than `FixClient::logon`).
fn logon_fields(password: &str) -> [(u32, &str); 4] {
    [(98, "0"), (108, "30"), (553, "carol"), (554, password)]
}

#[test]
fn hashed_passwords_log_on_over_fix_and_binary_and_wrong_ones_do_not() {
    let hash = hash_password("carol's secret").expect("hash");
    let users = CAROL.replace("password = \"pw-carol\"", &format!("password = {hash:?}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None, &users);
    assert!(config.users()[2].password.is_hashed());
    let gateway = start(config);
    let addrs = gateway.addrs();

    // FIX: the Logon is answered once the verifier has checked the hash.
    let mut fix = FixClient::connect(addrs.fix, "CAROL");
    let answer = fix.logon("carol", "carol's secret", &[]);
    assert_eq!(field(&answer, 35), "A", "{answer:?}");
    // The session works: an order is accepted (the verdict did not lose what came after it).
    fix.new_order("c1", "1", "0.01", "5000000");
    let report = fix.recv_type("8");
    assert_eq!(field(&report, 150), "0", "{report:?}");
    let mut wrong = FixClient::connect(addrs.fix, "CAROL");
    wrong.send("A", &logon_fields("carol's secreT"));
    assert!(
        wrong.closed(),
        "a wrong password is disconnected without a Logon"
    );

    // Binary: right, wrong, and an unknown user all go through the same check.
    assert_eq!(
        binary_logon([127, 0, 0, 1], addrs.binary, "carol", "carol's secret"),
        Ok(false)
    );
    let refusal = binary_logon([127, 0, 0, 1], addrs.binary, "carol", "guess").unwrap_err();
    assert_eq!(refusal, "bad username or password");
    let refusal = binary_logon([127, 0, 0, 1], addrs.binary, "mallory", "guess").unwrap_err();
    assert_eq!(refusal, "bad username or password");
    assert_eq!(metric(&gateway, "hayate_logon_failures_total"), 3);
    gateway.stop().expect("stop");
}

#[test]
fn a_flood_of_wrong_passwords_locks_its_address_out_while_the_user_logs_on_from_hers() {
    let limits = "[limits]\nlogon_free_failures = 3\nlogon_backoff_ms = 5\n\
                  logon_lockout_after = 10\nlogon_lockout_s = 300";
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), Some(limits), CAROL));
    let binary = gateway.addrs().binary;
    // Carol works from 127.0.0.2.
    assert_eq!(
        binary_logon([127, 0, 0, 2], binary, "carol", "pw-carol"),
        Ok(false)
    );

    // 1,000 guesses at carol's password from 127.0.0.1, each answered before the next.
    let (mut checked, mut backed_off, mut locked) = (0, 0, 0);
    for i in 0..1000 {
        match binary_logon([127, 0, 0, 1], binary, "carol", &format!("guess{i}")) {
            Ok(_) => panic!("a guess got in"),
            Err(text) if text == "bad username or password" => checked += 1,
            Err(text)
                if text.starts_with("too many failed logons from this address: locked out") =>
            {
                locked += 1
            }
            Err(text)
                if text.starts_with("too many failed logons from this address: backing off") =>
            {
                backed_off += 1
            }
            Err(text) => panic!("unexpected refusal: {text}"),
        }
        // Past the back-offs (5, 10, …, 160 ms) the next guess is checked again, so the
        // lockout comes within the thousand.
        if checked < 10 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Only ten guesses were ever checked; the rest were refused unchecked, most as locked out.
    assert_eq!(checked, 10, "backed off {backed_off}, locked {locked}");
    assert_eq!(checked + backed_off + locked, 1000);
    // Backing off between the guesses (5, 10, …, 160 ms: a few hundred attempts at this pace),
    // then locked out for the rest.
    assert!(
        backed_off > 0 && locked >= 500,
        "locked {locked}, backed off {backed_off}"
    );
    assert_eq!(metric(&gateway, "hayate_logon_failures_total"), 10);
    assert_eq!(metric(&gateway, "hayate_logons_backed_off_total"), 990);
    // Both the address and the username reached the lockout.
    assert_eq!(metric(&gateway, "hayate_logon_lockouts_total"), 2);

    // A new address for carol is refused while her username is locked; she still logs on from
    // where she works; the attacker's address cannot, even with her password.
    let refusal = binary_logon([127, 0, 0, 3], binary, "carol", "pw-carol").unwrap_err();
    assert!(
        refusal.starts_with("too many failed logons for this username: locked out"),
        "{refusal}"
    );
    assert_eq!(
        binary_logon([127, 0, 0, 2], binary, "carol", "pw-carol"),
        Ok(false)
    );
    let refusal = binary_logon([127, 0, 0, 1], binary, "carol", "pw-carol").unwrap_err();
    assert!(
        refusal.starts_with("too many failed logons from this address"),
        "{refusal}"
    );
    // Her logon cleared the username's failures (the attacker's address stays locked).
    assert_eq!(
        binary_logon([127, 0, 0, 3], binary, "carol", "pw-carol"),
        Ok(false)
    );
    // Other users, from other addresses, are untouched.
    assert_eq!(
        binary_logon([127, 0, 0, 3], binary, "bob", "change-me"),
        Ok(false)
    );
    // FIX shares the guard: the locked-out address (FixClient connects from 127.0.0.1) gets no
    // session there either, right password or not.
    let mut fix = FixClient::connect(gateway.addrs().fix, "CAROL");
    fix.send("A", &logon_fields("pw-carol"));
    assert!(fix.closed(), "a locked-out address got a FIX session");
    assert_eq!(metric(&gateway, "hayate_logons_backed_off_total"), 993);
    gateway.stop().expect("stop");
}

/// The demo exchange with an admin listener and an admin per role besides the demo's `admin`
/// (root, password `change-me`): `viewer`, `operator`, `treasury`, with hashed passwords.
fn admin_config(dir: &std::path::Path) -> hayate::ExchangeConfig {
    let hash = hash_password("ops-secret").expect("hash");
    let mut extra = String::new();
    for role in ["viewer", "operator", "treasury"] {
        extra +=
            &format!("[[admins]]\nusername = \"{role}\"\npassword = {hash:?}\nrole = \"{role}\"\n");
    }
    let text = config_toml(dir, None, &extra).replacen(
        "[gateway]\n",
        "[gateway]\nadmin_listen = \"127.0.0.1:0\"\n",
        1,
    );
    hayate::ExchangeConfig::from_toml_str(&text, "test.toml").expect("valid")
}

/// Runs the admin client as `user` against `addr`; (exit status success, its output).
fn admin_client(addr: SocketAddr, user: &str, args: &[&str]) -> (bool, String) {
    let password = if user == "admin" {
        "change-me"
    } else {
        "ops-secret"
    };
    run_admin(&addr.to_string(), user, password, args)
}

#[test]
fn each_role_is_refused_what_it_lacks_and_admins_use_their_own_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(admin_config(dir.path()));
    let addrs = gateway.addrs();
    let admin = addrs.admin.expect("an admin listener");

    let allowed = [
        ("viewer", vec!["status"]),
        ("operator", vec!["status"]),
        ("operator", vec!["halt", "BTC-JPY"]),
        ("operator", vec!["resume", "BTC-JPY"]),
        ("operator", vec!["snapshot"]),
        ("operator", vec!["block", "2"]),
        ("operator", vec!["unblock", "2"]),
        ("treasury", vec!["deposit", "1", "JPY", "1000"]),
        ("treasury", vec!["withdraw", "1", "JPY", "1000"]),
        ("admin", vec!["halt", "all"]),
        ("admin", vec!["resume", "all"]),
        ("admin", vec!["deposit", "2", "BTC", "1"]),
    ];
    for (user, args) in &allowed {
        let (ok, text) = admin_client(admin, user, args);
        assert!(ok, "{user} {args:?} refused: {text}");
    }
    let refused = [
        ("viewer", vec!["halt", "all"], "halt", "viewer", "operator"),
        (
            "viewer",
            vec!["deposit", "1", "JPY", "1"],
            "deposit",
            "viewer",
            "treasury",
        ),
        (
            "operator",
            vec!["deposit", "1", "JPY", "1"],
            "deposit",
            "operator",
            "treasury",
        ),
        ("operator", vec!["promote"], "promote", "operator", "root"),
        (
            "treasury",
            vec!["halt", "BTC-JPY"],
            "halt",
            "treasury",
            "operator",
        ),
        (
            "treasury",
            vec!["snapshot"],
            "snapshot",
            "treasury",
            "operator",
        ),
        ("viewer", vec!["block", "1"], "block", "viewer", "operator"),
        (
            "treasury",
            vec!["unblock", "1"],
            "unblock",
            "treasury",
            "operator",
        ),
    ];
    for (user, args, command, role, needs) in &refused {
        let (ok, text) = admin_client(admin, user, args);
        assert!(!ok, "{user} {args:?} was allowed: {text}");
        assert_eq!(
            text.trim(),
            format!("admin: {command}: not permitted to role {role} (needs {needs})"),
        );
    }
    // Root may promote; this node is alone, which is the only reason it does not.
    let (ok, text) = admin_client(admin, "admin", &["promote"]);
    assert!(
        !ok && text.contains("not part of a replicated pair"),
        "{text}"
    );
    // Nothing refused happened: the only halt left is none, the funds moved only as allowed.
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(status.contains("\"halted_symbols\":[]"), "{status}");
    assert!(status.contains("\"blocked_accounts\":[]"), "{status}");

    // Admins only on the admin listener, users only on the order-entry ports.
    let (ok, text) = admin_client(addrs.binary, "admin", &["status"]);
    assert!(
        !ok && text.contains("admins log on at the admin port"),
        "{text}"
    );
    let refusal = binary_logon([127, 0, 0, 1], admin, "alice", "change-me").unwrap_err();
    assert_eq!(refusal, "only admins log on at the admin port");
    gateway.stop().expect("stop");
}

#[test]
fn hash_password_prints_a_hash_the_gateway_accepts() {
    use std::io::Write;
    let mut child = Process::new(example_binary("admin"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the admin client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"typed secret\n")
        .expect("write");
    let output = child.wait_with_output().expect("output");
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).expect("utf-8");
    let password = hayate::adapters::secrets::Password::parse(hash.trim()).expect("a hash");
    assert!(password.is_hashed() && password.verify("typed secret"));
}
