//! The configuration loader (BEHAVIOUR.md §1, §5, §7, §8): one test per rule, each checking that a refused
//! file's message names the key to fix.

use hayate::config::*;
use hayate::journal::FlushPolicy;
use hayate::pipeline::{JournalConfig, PipelineConfig, ReplicationMode};
use hayate::{AccountId, Amount, AssetId, BreakerSpec, CommandKind, Price, Qty, SymbolSpec};

const ASSETS: &str = r#"
[[assets]]
name = "BTC"
decimals = 8
[[assets]]
name = "JPY"
decimals = 4
"#;

/// The BEHAVIOUR.md §5 symbol's keys, in file order, as TOML values.
const SYMBOL: &[(&str, &str)] = &[
    ("name", r#""BTC-JPY""#),
    ("base", r#""BTC""#),
    ("quote", r#""JPY""#),
    ("tick_size", r#""1""#),
    ("lot_size", r#""0.0001""#),
    ("min_qty", r#""0.0001""#),
    ("max_qty", r#""1000""#),
    ("maker_fee_bps", "0"),
    ("taker_fee_bps", "10"),
    ("band_bps", "1000"),
    ("reference_price", r#""5000000""#),
];

/// The two assets and the BEHAVIOUR.md §5 symbol with some keys changed (`Some`) or removed (`None`).
fn market_with(changes: &[(&str, Option<&str>)]) -> String {
    let mut text = format!("{ASSETS}\n[[symbols]]\n");
    for &(key, value) in SYMBOL {
        let value = match changes.iter().find(|(k, _)| *k == key) {
            Some((_, changed)) => *changed,
            None => Some(value),
        };
        if let Some(value) = value {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text
}

fn parse(text: &str) -> ExchangeConfig {
    ExchangeConfig::from_toml_str(text, "test.toml")
        .unwrap_or_else(|e| panic!("expected a valid config, got: {e}"))
}

/// The first symbol of a valid `text`.
fn first_symbol(text: &str) -> SymbolSpec {
    parse(text).engine_config().symbols[0].clone()
}

fn refusal(text: &str) -> String {
    match ExchangeConfig::from_toml_str(text, "test.toml") {
        Ok(_) => panic!("expected the config to be refused:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts the refusal names the file and the key and says `what`.
fn assert_refused(text: &str, key: &str, what: &str) {
    let message = refusal(text);
    assert!(message.starts_with("test.toml"), "no origin in: {message}");
    assert!(message.contains(key), "key {key:?} not named in: {message}");
    assert!(message.contains(what), "{what:?} not said in: {message}");
}

// ---- The demo and defaults ----------------------------------------------------------------------

#[test]
fn demo_toml_parses() {
    ExchangeConfig::from_toml_str(DEMO_TOML, "demo.toml").unwrap();
}

#[test]
fn demo_symbol_has_spec_integer_sizes() {
    let config = ExchangeConfig::demo();
    let engine = config.engine_config();
    assert_eq!(engine.assets.len(), 2);
    assert_eq!(
        (engine.assets[0].name.as_str(), engine.assets[0].decimals),
        ("BTC", 8)
    );
    assert_eq!(
        (engine.assets[1].name.as_str(), engine.assets[1].decimals),
        ("JPY", 4)
    );
    let s = &engine.symbols[0];
    assert_eq!(s.name, "BTC-JPY");
    assert_eq!((s.base, s.quote), (AssetId(0), AssetId(1)));
    assert_eq!(s.unit_notional, 1, "1 JPY × 0.0001 BTC × 10^4");
    assert_eq!(s.lot_base_minor, 10_000, "0.0001 BTC × 10^8");
    assert_eq!(s.min_qty, Qty(1));
    assert_eq!(s.max_qty, Qty(10_000_000), "1000 BTC / 0.0001");
    assert_eq!(s.reference_price, Some(Price(5_000_000)));
    assert_eq!(s.band_bps, 1000);
    assert_eq!(s.taker_fee_bps, 10);
    assert_eq!(s.maker_fee_bps, 0);
}

#[test]
fn demo_has_two_traders_an_admin_and_their_deposits() {
    let config = ExchangeConfig::demo();
    let alice = config.user("alice").unwrap();
    assert!(alice.password.verify("change-me"));
    assert!(!alice.password.is_hashed());
    assert_eq!(alice.comp_id, "ALICE");
    assert_eq!(alice.account, AccountId(1));
    assert!(alice.cancel_on_disconnect);
    assert_eq!(alice.auth, AuthMode::Password);
    let bob = config.user_by_comp_id("BOB").unwrap();
    assert_eq!((bob.username.as_str(), bob.account), ("bob", AccountId(2)));
    assert!(bob.cancel_on_disconnect);
    assert_eq!(config.admins().len(), 1);
    let admin = config.admin("admin").unwrap();
    assert!(admin.password.verify("change-me"));
    assert_eq!(admin.role, AdminRole::Root);
    // The demo's clear-text passwords are loadable but warned about, each by name.
    assert_eq!(config.warnings().len(), 3, "{:?}", config.warnings());
    assert!(
        config.warnings()[2].starts_with("demo.toml: admins[0] (admin).password is in clear text"),
        "{:?}",
        config.warnings()
    );
    assert_eq!(
        config.engine_config().accounts,
        vec![AccountId(1), AccountId(2)]
    );
    assert_eq!(config.initial_deposits().len(), 4);
    assert_eq!(config.gateway(), &GatewayConfig::default());
    assert_eq!(config.journal(), &JournalConfig::default());
    assert_eq!(config.limits(), &LimitsConfig::default());
    assert!(config.replication().is_none());
}

#[test]
fn empty_file_is_valid_with_every_default() {
    let config = parse("");
    let gateway = config.gateway();
    assert_eq!(gateway.comp_id, "HAYATE");
    assert_eq!(gateway.fix_listen.to_string(), "127.0.0.1:9878");
    assert_eq!(gateway.binary_listen.to_string(), "127.0.0.1:9000");
    assert_eq!(gateway.http_listen.to_string(), "127.0.0.1:8080");
    assert_eq!(gateway.max_message_size, 4096);
    let journal = config.journal();
    assert_eq!(journal.dir, std::path::PathBuf::from("data"));
    assert_eq!(journal.fsync, FlushPolicy::Always);
    assert_eq!(journal.segment_size, 64 * 1024 * 1024);
    assert_eq!(journal.snapshot_every, 0);
    let limits = config.limits();
    assert_eq!(limits.max_open_orders, 10_000);
    assert_eq!(limits.messages_per_second, 100);
    assert_eq!(limits.burst, 200);
    assert_eq!(limits.max_connections, 1024);
    assert_eq!(limits.max_connections_per_address, 64);
    assert_eq!(limits.logon_timeout_s, 10);
    assert_eq!(limits.idle_timeout_s, 60);
    let engine = config.engine_config();
    assert!(engine.assets.is_empty() && engine.symbols.is_empty() && engine.accounts.is_empty());
    assert_eq!(engine.max_open_orders, 10_000);
    assert_eq!(engine.order_capacity, 65_536);
    assert_eq!(engine.level_capacity, 4096);
    assert!(config.users().is_empty() && config.admins().is_empty());
    assert!(config.initial_deposits().is_empty());
    assert!(config.replication().is_none());
}

#[test]
fn engine_section_and_limits_fill_engine_config() {
    let config = parse(
        "[engine]\norder_capacity = 10\nlevel_capacity = 20\n[limits]\nmax_open_orders = 5\n\
         [[users]]\nusername = \"c\"\npassword = \"p\"\ncomp_id = \"C\"\naccount = 7\n\
         [[users]]\nusername = \"a\"\npassword = \"p\"\ncomp_id = \"A\"\naccount = 3\n\
         [[users]]\nusername = \"b\"\npassword = \"p\"\ncomp_id = \"B\"\naccount = 7\n",
    );
    let engine = config.engine_config();
    assert_eq!((engine.order_capacity, engine.level_capacity), (10, 20));
    assert_eq!(engine.max_open_orders, 5);
    assert_eq!(
        engine.accounts,
        vec![AccountId(3), AccountId(7)],
        "sorted, deduplicated"
    );
}

#[test]
fn symbol_defaults_are_one_lot_no_max_no_fees_no_band() {
    let text = market_with(&[
        ("min_qty", None),
        ("max_qty", None),
        ("maker_fee_bps", None),
        ("taker_fee_bps", None),
        ("band_bps", None),
        ("reference_price", None),
    ]);
    let s = first_symbol(&text);
    assert_eq!(s.min_qty, Qty(1));
    assert_eq!(s.max_qty, Qty(u64::MAX));
    assert_eq!((s.maker_fee_bps, s.taker_fee_bps, s.band_bps), (0, 0, 0));
    assert_eq!(s.reference_price, None);
}

#[test]
fn integers_are_accepted_as_decimals() {
    let text = market_with(&[
        ("tick_size", Some("1")),
        ("reference_price", Some("5000000")),
    ]);
    let s = first_symbol(&text);
    assert_eq!(s.unit_notional, 1);
    assert_eq!(s.reference_price, Some(Price(5_000_000)));
}

// ---- Reading the file ---------------------------------------------------------------------------

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("hayate-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, DEMO_TOML).unwrap();
    assert_eq!(
        ExchangeConfig::load(&good).unwrap().engine_config(),
        ExchangeConfig::demo().engine_config()
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[gateway]\nfix_listen = \"nowhere\"\n").unwrap();
    let message = ExchangeConfig::load(&bad).unwrap_err().to_string();
    assert!(message.starts_with(&bad.display().to_string()), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_file_is_an_error_naming_the_path() {
    let path = std::path::Path::new("/nonexistent/hayate/gateway.toml");
    let error = ExchangeConfig::load(path).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(
        error
            .to_string()
            .contains("/nonexistent/hayate/gateway.toml"),
        "{error}"
    );
}

#[test]
fn syntax_error_gives_line_and_column() {
    let error = ExchangeConfig::from_toml_str("[gateway]\ncomp_id = \"X\"\n[journal\n", "g.toml")
        .unwrap_err();
    match &error {
        ConfigError::Parse { line, .. } => assert_eq!(*line, 3),
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(error.to_string().starts_with("g.toml:3:9: "), "{error}");
}

#[test]
fn unknown_key_is_refused_and_named() {
    assert_refused(
        "[gateway]\ncomp_id = \"X\"\nbogus = 1\n",
        "test.toml:3:1: gateway.bogus",
        "unknown field `bogus`",
    );
    assert_refused("colour = \"red\"\n", "colour", "unknown field `colour`");
    let text = format!("{}tick = \"1\"\n", market_with(&[]));
    assert_refused(&text, "symbols[0] (BTC-JPY).tick", "unknown field `tick`");
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:1\"\nport = 1\n",
        "replication.port",
        "unknown field",
    );
}

#[test]
fn wrong_type_is_refused_with_key_and_position() {
    assert_refused(
        "[limits]\nburst = \"many\"\n",
        "test.toml:2:9: limits.burst",
        "invalid type",
    );
    assert_refused(
        "[limits]\nmax_connections = -1\n",
        "limits.max_connections",
        "-1",
    );
}

#[test]
fn missing_required_key_is_named() {
    let text = market_with(&[("lot_size", None)]);
    assert_refused(&text, "symbols[0] (BTC-JPY)", "missing field `lot_size`");
}

#[test]
fn float_decimal_is_refused_with_a_hint_to_quote_it() {
    let text = market_with(&[("tick_size", Some("0.5"))]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).tick_size",
        "write the decimal as a string: \"0.5\"",
    );
    let deposit = format!("{ASSETS}[[deposits]]\naccount = 1\nasset = \"BTC\"\namount = 1.5\n");
    assert_refused(
        &deposit,
        "deposits[0].amount",
        "write the decimal as a string",
    );
}

#[test]
fn malformed_decimal_string_is_refused() {
    let text = market_with(&[("lot_size", Some("\"0,0001\""))]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).lot_size",
        "not a decimal number",
    );
}

#[test]
fn decimal_with_more_places_than_representable_is_refused_not_rounded() {
    let text = market_with(&[("lot_size", Some("\"0.00010000000000000000000000000001\""))]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).lot_size",
        "not a decimal number",
    );
}

// ---- [gateway], [journal], [limits], [replication] ---------------------------------------------

#[test]
fn listen_addresses_must_be_socket_addresses() {
    for key in ["fix_listen", "binary_listen", "http_listen"] {
        let text = format!("[gateway]\n{key} = \"localhost\"\n");
        assert_refused(&text, &format!("gateway.{key}"), "not a socket address");
    }
    let config = parse("[gateway]\nfix_listen = \"[::1]:0\"\n");
    assert_eq!(config.gateway().fix_listen.to_string(), "[::1]:0");
}

#[test]
fn gateway_comp_id_must_be_a_name() {
    assert_refused(
        "[gateway]\ncomp_id = \"\"\n",
        "gateway.comp_id",
        "must not be empty",
    );
    assert_refused(
        "[gateway]\ncomp_id = \"HA YATE\"\n",
        "gateway.comp_id",
        "whitespace",
    );
}

#[test]
fn max_message_size_must_fit_a_logon() {
    assert_refused(
        "[gateway]\nmax_message_size = 10\n",
        "gateway.max_message_size",
        "minimum",
    );
    assert_eq!(
        parse("[gateway]\nmax_message_size = 65536\n")
            .gateway()
            .max_message_size,
        65536
    );
}

#[test]
fn fsync_variants_parse() {
    assert_eq!(
        parse("[journal]\nfsync = \"always\"\n").journal().fsync,
        FlushPolicy::Always
    );
    assert_eq!(
        parse("[journal]\nfsync = \"never\"\n").journal().fsync,
        FlushPolicy::Never
    );
    assert_eq!(
        parse("[journal]\nfsync = \"interval\"\nfsync_interval_ms = 25\n")
            .journal()
            .fsync,
        FlushPolicy::Interval { ms: 25 }
    );
}

#[test]
fn fsync_interval_needs_its_period() {
    assert_refused(
        "[journal]\nfsync = \"interval\"\n",
        "journal.fsync_interval_ms",
        "required",
    );
    assert_refused(
        "[journal]\nfsync = \"interval\"\nfsync_interval_ms = 0\n",
        "journal.fsync_interval_ms",
        "positive",
    );
}

#[test]
fn fsync_interval_ms_without_interval_is_refused() {
    assert_refused(
        "[journal]\nfsync = \"always\"\nfsync_interval_ms = 5\n",
        "journal.fsync_interval_ms",
        "only meaningful",
    );
}

#[test]
fn unknown_fsync_policy_is_refused() {
    assert_refused(
        "[journal]\nfsync = \"sometimes\"\n",
        "journal.fsync",
        "unknown variant `sometimes`",
    );
}

#[test]
fn journal_settings_parse_and_segment_size_has_a_floor() {
    let journal = parse(
        "[journal]\ndir = \"/var/lib/hayate\"\nsegment_size = 1048576\nsnapshot_every = 100000\n",
    )
    .journal()
    .clone();
    assert_eq!(journal.dir, std::path::PathBuf::from("/var/lib/hayate"));
    assert_eq!(
        (journal.segment_size, journal.snapshot_every),
        (1 << 20, 100_000)
    );
    assert_refused(
        "[journal]\nsegment_size = 100\n",
        "journal.segment_size",
        "minimum",
    );
    assert_refused(
        "[journal]\ndir = \"\"\n",
        "journal.dir",
        "must not be empty",
    );
}

#[test]
fn the_disk_guard_defaults_to_a_gib_can_be_off_and_must_cover_two_segments() {
    assert_eq!(parse("").journal().min_free_mb, 1024);
    assert_eq!(parse(DEMO_TOML).journal().min_free_mb, 1024);
    assert_eq!(
        parse("[journal]\nmin_free_mb = 0\n").journal().min_free_mb,
        0
    );
    // 1 MiB segments: two of them is the least.
    let small = "[journal]\nsegment_size = 1048576\n";
    assert_eq!(
        parse(&format!("{small}min_free_mb = 2\n"))
            .journal()
            .min_free_mb,
        2
    );
    assert_refused(
        &format!("{small}min_free_mb = 1\n"),
        "journal.min_free_mb",
        "below two segments (2 MiB",
    );
    // The default GiB against 1 GiB segments is refused too: the guard could not act in time.
    assert_refused(
        "[journal]\nsegment_size = 1073741824\n",
        "journal.min_free_mb",
        "0 turns the disk guard off",
    );
}

#[test]
fn limits_parse_and_must_be_positive() {
    let limits = parse("[limits]\nmessages_per_second = 5\nburst = 7\nidle_timeout_s = 30\n")
        .limits()
        .clone();
    assert_eq!(
        (
            limits.messages_per_second,
            limits.burst,
            limits.idle_timeout_s
        ),
        (5, 7, 30)
    );
    assert_eq!(
        limits.max_connections, 1024,
        "unset keys keep their defaults"
    );
    assert_refused(
        "[limits]\nmessages_per_second = 0\n",
        "limits.messages_per_second",
        "positive",
    );
    assert_refused(
        "[limits]\nmax_open_orders = 0\n",
        "limits.max_open_orders",
        "positive",
    );
}

#[test]
fn replication_sections_parse() {
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\n",
    );
    let replication = config.replication().unwrap();
    assert_eq!(replication.role, Role::Primary);
    assert_eq!(replication.listen.unwrap().to_string(), "127.0.0.1:9100");
    assert_eq!(replication.mode, ReplicationMode::Sync, "sync by default");
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"10.0.0.1:9100\"\nmode = \"async\"\n",
    );
    let replication = config.replication().unwrap();
    assert_eq!(replication.role, Role::Standby);
    assert_eq!(replication.primary.unwrap().to_string(), "10.0.0.1:9100");
    assert_eq!(replication.mode, ReplicationMode::Async);
}

#[test]
fn replication_policies_have_defaults_and_are_checked() {
    use hayate::pipeline::StandbyLossPolicy;
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\n",
    );
    let replication = config.replication().unwrap();
    assert_eq!(replication.on_standby_loss, StandbyLossPolicy::Degrade);
    assert_eq!(
        (
            replication.ack_timeout_ms,
            replication.heartbeat_ms,
            replication.auto_promote_after
        ),
        (1000, 100, 0)
    );
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"127.0.0.1:9100\"\non_standby_loss = \"halt\"\nauto_promote_after = 15\n",
    );
    let replication = config.replication().unwrap();
    assert_eq!(replication.on_standby_loss, StandbyLossPolicy::Halt);
    assert_eq!(replication.auto_promote_after, 15);
    // Automatic promotion is refused where it could make two primaries.
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"127.0.0.1:9100\"\nauto_promote_after = 15\n",
        "replication.auto_promote_after",
        "on_standby_loss = \"halt\"",
    );
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"127.0.0.1:9100\"\nmode = \"async\"\non_standby_loss = \"halt\"\nauto_promote_after = 15\n",
        "replication.auto_promote_after",
        "mode = \"sync\"",
    );
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"127.0.0.1:9100\"\non_standby_loss = \"halt\"\nauto_promote_after = 5\n",
        "replication.auto_promote_after",
        "ack_timeout_ms",
    );
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\nack_timeout_ms = 0\n",
        "replication.ack_timeout_ms",
        "positive",
    );
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\non_standby_loss = \"panic\"\n",
        "replication.on_standby_loss",
        "unknown variant",
    );
}

#[test]
fn a_role_override_needs_the_address_of_that_role() {
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\nprimary = \"127.0.0.1:9200\"\n",
    );
    let standby = config
        .with_role(Role::Standby)
        .expect("both addresses given");
    assert_eq!(standby.replication().map(|r| r.role), Some(Role::Standby));
    let config = parse(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\n",
    );
    let err = config
        .with_role(Role::Standby)
        .expect_err("no primary address")
        .to_string();
    assert!(err.contains("replication.primary"), "{err}");
    let err = parse("")
        .with_role(Role::Primary)
        .expect_err("no pair")
        .to_string();
    assert!(err.contains("[replication]"), "{err}");
}

#[test]
fn a_pair_needs_a_secret_long_enough_from_the_file_or_a_file() {
    let section = "[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\n";
    assert_refused(section, "replication.secret", "is required");
    assert_refused(
        &format!("{section}secret = \"short\"\n"),
        "replication.secret",
        "at least 16 bytes",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pair.secret");
    std::fs::write(&file, "0123456789abcdef0123456789abcdef\n").expect("write");
    let path = file.display().to_string();
    let config = parse(&format!("{section}secret_file = {path:?}\n"));
    let from_file = config.replication().expect("a pair").secret.clone();
    let inline = parse(&format!(
        "{section}secret = \"0123456789abcdef0123456789abcdef\"\n"
    ));
    assert_eq!(
        Some(&from_file),
        inline.replication().map(|r| &r.secret),
        "the file's final newline is not part of the secret"
    );
    assert_refused(
        &format!(
            "{section}secret_file = {:?}\n",
            dir.path().join("missing").display().to_string()
        ),
        "replication.secret_file",
        "cannot read",
    );
    assert_refused(
        &format!("{section}secret = \"0123456789abcdef\"\nsecret_file = {path:?}\n"),
        "replication.secret",
        "not both",
    );
}

#[test]
fn observers_need_a_secret_of_their_own_and_a_sane_cap() {
    let section = "[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:9100\"\n\
                   secret = \"0123456789abcdef0123456789abcdef\"\n";
    let none = parse(section);
    let replication = none.replication().expect("a pair");
    assert!(
        replication.observer_secret.is_none(),
        "no observers unless asked for"
    );
    let some = parse(&format!(
        "{section}observer_secret = \"observers-0123456789abcdef\"\n"
    ));
    let replication = some.replication().expect("a pair");
    assert!(replication.observer_secret.is_some());
    assert_eq!(replication.max_observers, 8, "the default cap");
    assert_refused(
        &format!("{section}observer_secret = \"0123456789abcdef0123456789abcdef\"\n"),
        "replication.observer_secret",
        "must differ from the pair's secret",
    );
    assert_refused(
        &format!("{section}observer_secret = \"short\"\n"),
        "replication.observer_secret",
        "at least 16 bytes",
    );
    assert_refused(
        &format!("{section}observer_secret = \"observers-0123456789abcdef\"\nmax_observers = 0\n"),
        "replication.max_observers",
        "must be positive",
    );
    assert_refused(
        &format!(
            "{section}observer_secret = \"observers-0123456789abcdef\"\nmax_observers = 1000\n"
        ),
        "replication.max_observers",
        "at most 256",
    );
}

#[test]
fn standby_without_primary_is_refused() {
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\n",
        "replication.primary",
        "required",
    );
}

#[test]
fn primary_without_listen_is_refused() {
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"primary\"\n",
        "replication.listen",
        "required",
    );
}

#[test]
fn replication_addresses_and_role_are_checked() {
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"standby\"\nprimary = \"primary-host\"\n",
        "replication.primary",
        "not a socket address",
    );
    assert_refused(
        "[replication]\nsecret = \"pair-secret-0123456789\"\nrole = \"leader\"\n",
        "replication.role",
        "unknown variant",
    );
    assert_refused(
        "[replication]\nmode = \"sync\"\n",
        "replication",
        "missing field `role`",
    );
}

// ---- [[assets]] ---------------------------------------------------------------------------------

#[test]
fn asset_names_are_unique() {
    let text = format!("{ASSETS}[[assets]]\nname = \"BTC\"\ndecimals = 2\n");
    assert_refused(&text, "assets[2] (BTC).name", "already assets[0]");
}

#[test]
fn asset_names_are_not_empty() {
    assert_refused(
        "[[assets]]\nname = \"\"\ndecimals = 2\n",
        "assets[0] ().name",
        "must not be empty",
    );
}

#[test]
fn asset_decimals_are_at_most_18() {
    assert_refused(
        "[[assets]]\nname = \"WEI\"\ndecimals = 19\n",
        "assets[0] (WEI).decimals",
        "maximum of 18",
    );
    assert_eq!(
        parse("[[assets]]\nname = \"WEI\"\ndecimals = 18\n")
            .engine_config()
            .assets[0]
            .decimals,
        18
    );
}

#[test]
fn at_most_65535_assets() {
    let text = "[[assets]]\nname = \"A\"\ndecimals = 0\n".repeat(65_536);
    assert_refused(&text, "assets", "at most 65535");
}

// ---- [[symbols]] --------------------------------------------------------------------------------

#[test]
fn symbol_names_are_unique() {
    let mut text = market_with(&[]);
    text.push_str("[[symbols]]\nname = \"BTC-JPY\"\nbase = \"BTC\"\nquote = \"JPY\"\ntick_size = \"1\"\nlot_size = \"1\"\n");
    assert_refused(&text, "symbols[1] (BTC-JPY).name", "already symbols[0]");
}

#[test]
fn symbol_base_and_quote_are_configured_assets() {
    assert_refused(
        &market_with(&[("base", Some("\"ETH\""))]),
        "symbols[0] (BTC-JPY).base",
        "\"ETH\" is not a configured asset",
    );
    assert_refused(
        &market_with(&[("quote", Some("\"USD\""))]),
        "symbols[0] (BTC-JPY).quote",
        "\"USD\" is not a configured asset",
    );
}

#[test]
fn symbol_base_and_quote_differ() {
    assert_refused(
        &market_with(&[("quote", Some("\"BTC\""))]),
        "symbols[0] (BTC-JPY).quote",
        "must differ",
    );
}

#[test]
fn tick_and_lot_sizes_are_positive() {
    assert_refused(
        &market_with(&[("tick_size", Some("\"0\""))]),
        "symbols[0] (BTC-JPY).tick_size",
        "must be positive",
    );
    assert_refused(
        &market_with(&[("lot_size", Some("\"-0.0001\""))]),
        "symbols[0] (BTC-JPY).lot_size",
        "must be positive",
    );
}

#[test]
fn tick_times_lot_must_be_whole_quote_minor_units() {
    let text = market_with(&[("tick_size", Some("\"0.3\"")), ("reference_price", None)]);
    assert_eq!(
        refusal(&text),
        "test.toml: symbols[0] (BTC-JPY).tick_size: 0.3 JPY × lot 0.0001 BTC is not a whole number \
         of JPY minor units (decimals 4)"
    );
    // 0.5 × 0.0002 × 10^4 = 1: fine even though neither factor alone is whole.
    let text = market_with(&[
        ("tick_size", Some("\"0.5\"")),
        ("lot_size", Some("\"0.0002\"")),
        ("min_qty", None),
        ("reference_price", None),
    ]);
    let s = first_symbol(&text);
    assert_eq!((s.unit_notional, s.lot_base_minor), (1, 20_000));
}

#[test]
fn tick_times_lot_check_is_exact_beyond_decimal_precision() {
    // 1.00000000000000000001 × 0.0000000001 = 0.0000000001000…0001 (30 places): rounded to 28
    // places it would look like 10^-10, i.e. whole in a 10-decimal quote asset.
    let text = "[[assets]]\nname = \"B\"\ndecimals = 10\n[[assets]]\nname = \"Q\"\ndecimals = 10\n\
        [[symbols]]\nname = \"B-Q\"\nbase = \"B\"\nquote = \"Q\"\n\
        tick_size = \"1.00000000000000000001\"\nlot_size = \"0.0000000001\"\n";
    assert_refused(
        text,
        "symbols[0] (B-Q).tick_size",
        "not a whole number of Q minor units",
    );
}

#[test]
fn lot_size_must_be_whole_base_minor_units() {
    let text = market_with(&[
        ("lot_size", Some("\"0.000000001\"")),
        ("tick_size", Some("\"10000\"")),
        ("min_qty", None),
        ("reference_price", None),
    ]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).lot_size",
        "0.000000001 BTC is not a whole number of BTC minor units (decimals 8)",
    );
}

#[test]
fn min_and_max_qty_are_whole_multiples_of_the_lot() {
    assert_refused(
        &market_with(&[("min_qty", Some("\"0.00015\""))]),
        "symbols[0] (BTC-JPY).min_qty",
        "not a whole number of lots",
    );
    assert_refused(
        &market_with(&[("max_qty", Some("\"1000.00005\""))]),
        "symbols[0] (BTC-JPY).max_qty",
        "not a whole number of lots",
    );
    assert_refused(
        &market_with(&[("min_qty", Some("\"0\""))]),
        "symbols[0] (BTC-JPY).min_qty",
        "must be positive",
    );
    let s = first_symbol(&market_with(&[("min_qty", Some("\"0.01\""))]));
    assert_eq!(s.min_qty, Qty(100));
}

#[test]
fn min_qty_is_at_most_max_qty() {
    let text = market_with(&[("min_qty", Some("\"2\"")), ("max_qty", Some("\"1\""))]);
    assert_refused(&text, "symbols[0] (BTC-JPY).min_qty", "above max_qty");
    let s = first_symbol(&market_with(&[
        ("min_qty", Some("\"1\"")),
        ("max_qty", Some("1")),
    ]));
    assert_eq!((s.min_qty, s.max_qty), (Qty(10_000), Qty(10_000)));
}

#[test]
fn fees_are_not_negative() {
    assert_refused(
        &market_with(&[("maker_fee_bps", Some("-1"))]),
        "symbols[0] (BTC-JPY).maker_fee_bps",
        "must not be negative",
    );
    assert_refused(
        &market_with(&[("taker_fee_bps", Some("-5"))]),
        "symbols[0] (BTC-JPY).taker_fee_bps",
        "must not be negative",
    );
}

#[test]
fn fees_are_integers() {
    assert_refused(
        &market_with(&[("taker_fee_bps", Some("2.5"))]),
        "symbols[0] (BTC-JPY).taker_fee_bps",
        "invalid type",
    );
}

#[test]
fn maker_fee_does_not_exceed_taker_fee() {
    let text = market_with(&[("maker_fee_bps", Some("20")), ("taker_fee_bps", Some("10"))]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).maker_fee_bps",
        "above taker_fee_bps (10)",
    );
}

#[test]
fn taker_fee_is_at_most_10000_bps() {
    assert_refused(
        &market_with(&[("taker_fee_bps", Some("10001"))]),
        "symbols[0] (BTC-JPY).taker_fee_bps",
        "maximum of 10000",
    );
}

#[test]
fn band_is_0_to_10000_bps() {
    assert_refused(
        &market_with(&[("band_bps", Some("10001"))]),
        "symbols[0] (BTC-JPY).band_bps",
        "maximum of 10000",
    );
    assert_refused(
        &market_with(&[("band_bps", Some("-1"))]),
        "symbols[0] (BTC-JPY).band_bps",
        "must not be negative",
    );
    assert_eq!(
        parse(&market_with(&[("band_bps", Some("10000"))]))
            .engine_config()
            .symbols[0]
            .band_bps,
        10_000
    );
}

/// The symbol of BEHAVIOUR.md §5 with a `max_notional` line (the symbol's table is the file's last).
fn with_max_notional(value: &str) -> String {
    format!("{}max_notional = {value}\n", market_with(&[]))
}

#[test]
fn max_notional_is_in_quote_units_and_unset_means_none() {
    assert_eq!(
        first_symbol(&market_with(&[])).max_notional,
        SymbolSpec::NO_NOTIONAL_LIMIT
    );
    // 50 000 000 JPY at 4 decimals.
    assert_eq!(
        first_symbol(&with_max_notional(r#""50000000""#)).max_notional,
        Amount(500_000_000_000)
    );
    assert_eq!(
        first_symbol(&with_max_notional(r#""0.0001""#)).max_notional,
        Amount(1)
    );
    assert_eq!(
        first_symbol(&with_max_notional("7")).max_notional,
        Amount(70_000)
    );
}

#[test]
fn max_notional_is_a_positive_whole_number_of_quote_minor_units() {
    let key = "symbols[0] (BTC-JPY).max_notional";
    assert_refused(&with_max_notional(r#""0""#), key, "must be positive");
    assert_refused(&with_max_notional(r#""-5""#), key, "must be positive");
    assert_refused(
        &with_max_notional(r#""0.00001""#),
        key,
        "not a whole number of JPY minor units",
    );
    assert_refused(
        &with_max_notional(r#""1000000000000000000""#),
        key,
        "more than",
    );
    assert_refused(&with_max_notional("1.5"), "max_notional", "floating-point");
}

#[test]
fn reference_price_is_a_positive_multiple_of_the_tick() {
    let text = market_with(&[
        ("tick_size", Some("\"5\"")),
        ("reference_price", Some("\"5000001\"")),
    ]);
    assert_refused(
        &text,
        "symbols[0] (BTC-JPY).reference_price",
        "not a multiple of tick_size 5",
    );
    assert_refused(
        &market_with(&[("reference_price", Some("\"0\""))]),
        "symbols[0] (BTC-JPY).reference_price",
        "must be positive",
    );
    let text = market_with(&[
        ("tick_size", Some("\"5\"")),
        ("reference_price", Some("\"5000000\"")),
    ]);
    assert_eq!(
        parse(&text).engine_config().symbols[0].reference_price,
        Some(Price(1_000_000))
    );
}

#[test]
fn at_most_65535_symbols() {
    let one =
        "[[symbols]]\nname = \"S\"\nbase = \"B\"\nquote = \"Q\"\ntick_size = 1\nlot_size = 1\n";
    assert_refused(&one.repeat(65_536), "symbols", "at most 65535");
}

// ---- [[users]] and [[admins]] -------------------------------------------------------------------

fn user(username: &str, comp_id: &str, account: u32, extra: &str) -> String {
    format!(
        "[[users]]\nusername = \"{username}\"\npassword = \"pw\"\ncomp_id = \"{comp_id}\"\naccount = {account}\n{extra}"
    )
}

#[test]
fn user_settings_parse_with_defaults() {
    let text = user("carol", "CAROL", 9, "")
        + &user(
            "dave",
            "DAVE",
            10,
            "auth = \"none\"\nreset_on_logon = true\ncancel_on_disconnect = true\n",
        );
    let config = parse(&text);
    let carol = config.user("carol").unwrap();
    assert!(!carol.cancel_on_disconnect && !carol.reset_on_logon);
    assert_eq!(carol.auth, AuthMode::Password);
    let dave = config.user("dave").unwrap();
    assert!(dave.cancel_on_disconnect && dave.reset_on_logon);
    assert_eq!(dave.auth, AuthMode::None);
}

#[test]
fn usernames_are_unique() {
    let text = user("carol", "C1", 1, "") + &user("carol", "C2", 2, "");
    assert_refused(&text, "users[1] (carol).username", "already users[0]");
}

#[test]
fn comp_ids_are_unique() {
    let text = user("carol", "SAME", 1, "") + &user("dave", "SAME", 2, "");
    assert_refused(
        &text,
        "users[1] (dave).comp_id",
        "already the comp_id of users[0]",
    );
}

#[test]
fn user_comp_id_is_not_the_gateways() {
    assert_refused(
        &user("carol", "HAYATE", 1, ""),
        "users[0] (carol).comp_id",
        "gateway's own comp_id",
    );
}

#[test]
fn user_account_is_not_the_fee_account() {
    assert_refused(
        &user("carol", "C", 0, ""),
        "users[0] (carol).account",
        "fee account",
    );
}

#[test]
fn password_auth_needs_a_password() {
    let text = "[[users]]\nusername = \"carol\"\ncomp_id = \"C\"\naccount = 1\n";
    assert_refused(text, "users[0] (carol).password", "must not be empty");
    let text = "[[users]]\nusername = \"carol\"\ncomp_id = \"C\"\naccount = 1\nauth = \"none\"\n";
    assert!(parse(text).users()[0].password.is_empty());
    // A user without a password is no clear-text password to warn about.
    assert!(parse(text).warnings().is_empty());
}

#[test]
fn hashed_passwords_load_verify_and_are_not_warned_about() {
    let hash = hayate::adapters::secrets::hash_password("s3cret").unwrap();
    let text = format!(
        "[[users]]\nusername = \"carol\"\npassword = \"{hash}\"\ncomp_id = \"C\"\naccount = 1\n\
         [[admins]]\nusername = \"root\"\npassword = \"{hash}\"\nrole = \"viewer\"\n"
    );
    let config = parse(&text);
    let carol = &config.users()[0];
    assert!(carol.password.is_hashed());
    assert!(carol.password.verify("s3cret") && !carol.password.verify("s3cret!"));
    assert_eq!(config.admins()[0].role, AdminRole::Viewer);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    // A mangled hash is an error naming the key, not a clear-text password that never matches.
    let broken = text.replacen("$argon2id$v=19$", "$argon2id$v=19$m=x,", 1);
    assert_refused(&broken, "users[0] (carol).password", "argon2");
    let truncated = text.replacen(&hash, &hash[..hash.len() - 30], 1);
    assert_refused(&truncated, "users[0] (carol).password", "argon2");
}

#[test]
fn admins_need_a_known_role() {
    let text = "[[admins]]\nusername = \"root\"\npassword = \"x\"\n";
    assert_refused(text, "admins[0] (root).role", "is required");
    let text = "[[admins]]\nusername = \"root\"\npassword = \"x\"\nrole = \"god\"\n";
    let error = ExchangeConfig::from_toml_str(text, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `god`"), "{error}");
}

#[test]
fn logon_backoff_keys_are_checked() {
    let limits = parse("").limits().clone();
    assert_eq!(
        (
            limits.logon_free_failures,
            limits.logon_backoff_ms,
            limits.logon_lockout_after,
            limits.logon_lockout_s
        ),
        (3, 1000, 10, 300)
    );
    assert_refused(
        "[limits]\nlogon_lockout_s = 0\n",
        "limits.logon_lockout_s",
        "must be positive",
    );
    assert_refused(
        "[limits]\nlogon_free_failures = 5\nlogon_lockout_after = 5\n",
        "limits.logon_lockout_after",
        "must be above logon_free_failures",
    );
    assert_eq!(
        parse("[limits]\nlogon_free_failures = 0\n")
            .limits()
            .logon_free_failures,
        0
    );
}

#[test]
fn an_admin_listener_is_an_address() {
    let config = parse("[gateway]\nadmin_listen = \"127.0.0.1:9001\"\n");
    assert_eq!(
        config.gateway().admin_listen,
        Some("127.0.0.1:9001".parse().unwrap())
    );
    assert_refused(
        "[gateway]\nadmin_listen = \"nowhere\"\n",
        "gateway.admin_listen",
        "",
    );
}

#[test]
fn files_holding_secrets_that_others_can_read_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pair.secret");
    std::fs::write(&secret, "0123456789abcdef0123\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("gateway.toml");
    let text = format!(
        "[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:0\"\nsecret_file = {:?}\n",
        secret.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = ExchangeConfig::load(&path).unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with(&format!("{}: holds secrets", secret.display())))
    );
    assert!(warnings.iter().any(
        |w| w.starts_with(&format!("{}: holds secrets", path.display())) && w.contains("mode 644")
    ));
    // Owner-only files: no warning.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(ExchangeConfig::load(&path).unwrap().warnings().is_empty());
}

#[test]
fn admin_usernames_are_unique_and_passwords_set() {
    let admin = |name: &str, password: &str| {
        format!("[[admins]]\nusername = \"{name}\"\npassword = \"{password}\"\nrole = \"root\"\n")
    };
    assert_refused(
        &(admin("root", "a") + &admin("root", "b")),
        "admins[1] (root).username",
        "already admins[0]",
    );
    assert_refused(
        &admin("root", ""),
        "admins[0] (root).password",
        "must not be empty",
    );
    assert_refused(
        &(user("carol", "C", 1, "") + &admin("carol", "x")),
        "admins[0] (carol).username",
        "also a user",
    );
}

#[test]
fn passwords_stay_out_of_debug_output() {
    let config = ExchangeConfig::demo();
    let debug = format!("{config:?}");
    assert!(!debug.contains("change-me"), "{debug}");
}

// ---- [[deposits]] -------------------------------------------------------------------------------

fn deposit(account: u32, asset: &str, amount: &str) -> String {
    format!("[[deposits]]\naccount = {account}\nasset = \"{asset}\"\namount = {amount}\n")
}

#[test]
fn deposits_become_commands_in_minor_units_in_file_order() {
    let text = format!(
        "{ASSETS}{}{}{}",
        deposit(1, "JPY", "\"100000000\""),
        deposit(42, "BTC", "\"0.5\""),
        deposit(1, "BTC", "3"),
    );
    let commands = parse(&text).initial_deposits();
    let expected = [
        (1, 1, 1_000_000_000_000u64),
        (42, 0, 50_000_000),
        (1, 0, 300_000_000),
    ];
    assert_eq!(commands.len(), expected.len());
    for (command, (account, asset, amount)) in commands.iter().zip(expected) {
        let built = hayate::Command::deposit(AccountId(account), AssetId(asset), Amount(amount));
        assert_eq!(command.command_kind(), Some(CommandKind::Deposit));
        assert_eq!(command, &built);
    }
}

#[test]
fn demo_deposits_are_the_spec_amounts() {
    let jpy = 100_000_000 * 10_000u64;
    let btc = 10 * 100_000_000u64;
    let expected: Vec<_> = [(1, 1, jpy), (1, 0, btc), (2, 1, jpy), (2, 0, btc)]
        .into_iter()
        .map(|(a, s, n)| hayate::Command::deposit(AccountId(a), AssetId(s), Amount(n)))
        .collect();
    assert_eq!(ExchangeConfig::demo().initial_deposits(), expected);
}

#[test]
fn deposit_asset_is_configured() {
    let text = format!("{ASSETS}{}", deposit(1, "ETH", "\"1\""));
    assert_refused(
        &text,
        "deposits[0].asset",
        "\"ETH\" is not a configured asset",
    );
}

#[test]
fn deposit_amount_is_positive() {
    assert_refused(
        &format!("{ASSETS}{}", deposit(1, "JPY", "0")),
        "deposits[0].amount",
        "must be positive",
    );
    assert_refused(
        &format!("{ASSETS}{}", deposit(1, "JPY", "\"-5\"")),
        "deposits[0].amount",
        "must be positive",
    );
}

#[test]
fn deposit_amount_is_whole_minor_units() {
    let text = format!("{ASSETS}{}", deposit(1, "JPY", "\"0.00001\""));
    assert_refused(
        &text,
        "deposits[0].amount",
        "0.00001 JPY is not a whole number of JPY minor units (decimals 4)",
    );
}

#[test]
fn deposit_amount_is_at_most_i64_max_minor_units() {
    // i64::MAX minor units of a 0-decimal asset is fine; one more is not.
    let zero = "[[assets]]\nname = \"PT\"\ndecimals = 0\n";
    let max = i64::MAX.to_string();
    let commands = parse(&format!(
        "{zero}{}",
        deposit(1, "PT", &format!("\"{max}\""))
    ))
    .initial_deposits();
    assert_eq!(
        commands[0],
        hayate::Command::deposit(AccountId(1), AssetId(0), Amount(i64::MAX as u64))
    );
    let over = (i64::MAX as u64 + 1).to_string();
    assert_refused(
        &format!("{zero}{}", deposit(1, "PT", &format!("\"{over}\""))),
        "deposits[0].amount",
        "more than",
    );
}

#[test]
fn deposits_may_not_overflow_one_balance() {
    let zero = "[[assets]]\nname = \"PT\"\ndecimals = 0\n";
    let half = (i64::MAX / 2 + 1).to_string();
    let text = format!(
        "{zero}{}{}",
        deposit(5, "PT", &half),
        deposit(5, "PT", &half)
    );
    assert_refused(
        &text,
        "deposits[1].amount",
        "brings account 5's PT to more than",
    );
    // The same amounts into two accounts are fine.
    parse(&format!(
        "{zero}{}{}",
        deposit(5, "PT", &half),
        deposit(6, "PT", &half)
    ));
}

#[test]
fn deposit_may_name_an_account_no_user_names() {
    let text = format!("{ASSETS}{}", deposit(4_000_000_000, "JPY", "1"));
    let config = parse(&text);
    assert!(
        config.engine_config().accounts.is_empty(),
        "accounts lists users' accounts only"
    );
    assert_eq!(config.initial_deposits().len(), 1);
}

#[test]
fn pipeline_section_sets_rings_wait_and_pins() {
    let config = parse(
        "[pipeline]\ninput_ring = 1024\noutput_ring = 4096\nwait = \"busy-spin\"\npin_matcher = 1\nsnapshot_on_stop = false\n",
    );
    let p = config.pipeline();
    assert_eq!((p.input_ring, p.output_ring), (1024, 4096));
    assert_eq!(p.wait, hayate::pipeline::Wait::BusySpin);
    assert_eq!((p.pins.journaler, p.pins.matcher), (None, Some(1)));
    assert!(!p.snapshot_on_stop);
    assert_eq!(parse("").pipeline(), &PipelineConfig::default());
}

#[test]
fn pipeline_ring_sizes_and_wait_are_checked() {
    assert_refused(
        "[pipeline]\ninput_ring = 32\n",
        "pipeline.input_ring",
        "power of two ≥ 64",
    );
    assert_refused(
        "[pipeline]\noutput_ring = 1000\n",
        "pipeline.output_ring",
        "power of two",
    );
    assert_refused(
        "[pipeline]\nwait = \"spin\"\n",
        "pipeline.wait",
        "unknown wait strategy",
    );
}

// ---- Each layer reads its own sections ---------------------------------------------------------

#[test]
fn engine_accounts_join_the_users_accounts_and_never_name_the_fee_account() {
    let config = parse("[engine]\naccounts = [7, 3]\n");
    assert_eq!(
        config.engine_config().accounts,
        [AccountId(3), AccountId(7)]
    );
    let demo = parse(DEMO_TOML);
    assert_eq!(demo.engine_config().accounts, [AccountId(1), AccountId(2)]);
    assert_refused(
        "[engine]\naccounts = [0]\n",
        "engine.accounts",
        "fee account",
    );
}

#[test]
fn the_core_reads_its_sections_alone_and_refuses_the_gateways() {
    // The core's demo is the gateway demo's market, so the two engines are the same.
    let core = CoreConfig::demo();
    assert_eq!(&core.engine, parse(DEMO_TOML).engine_config());
    assert_eq!(
        core.deposits.len(),
        parse(DEMO_TOML).initial_deposits().len()
    );
    let error = CoreConfig::from_toml_str("[gateway]\ncomp_id = \"X\"\n", "core.toml")
        .expect_err("[gateway] is not the core's");
    assert!(
        error.to_string().contains("unknown field `gateway`"),
        "{error}"
    );
}

/// The symbol of BEHAVIOUR.md §5 with extra lines (the symbol's table is the file's last).
fn with_lines(lines: &[&str]) -> String {
    let mut text = market_with(&[]);
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[test]
fn breaker_is_off_unless_configured_and_reads_seconds() {
    assert_eq!(first_symbol(&market_with(&[])).breaker, None);
    let text = with_lines(&[
        "breaker_bps = 500",
        "breaker_window_s = 300",
        "breaker_halt_s = 120",
    ]);
    assert_eq!(
        first_symbol(&text).breaker,
        Some(BreakerSpec {
            bps: 500,
            window_ns: 300_000_000_000,
            halt_ns: 120_000_000_000,
        })
    );
}

/// BEHAVIOUR.md §10: all three keys or none, each in range; errors name the symbol and the key.
#[test]
fn breaker_needs_all_three_keys_in_range() {
    let key = |k: &str| format!("symbols[0] (BTC-JPY).{k}");
    assert_refused(
        &with_lines(&["breaker_bps = 500", "breaker_window_s = 300"]),
        &key("breaker_halt_s"),
        "is missing",
    );
    assert_refused(
        &with_lines(&["breaker_halt_s = 60"]),
        &key("breaker_bps"),
        "is missing",
    );
    for (line, k, message) in [
        ("breaker_bps = 0", "breaker_bps", "not between 1 and 9999"),
        (
            "breaker_bps = 10000",
            "breaker_bps",
            "not between 1 and 9999",
        ),
        ("breaker_bps = -3", "breaker_bps", "not between 1 and 9999"),
        (
            "breaker_window_s = 0",
            "breaker_window_s",
            "not between 1 and 86400",
        ),
        (
            "breaker_halt_s = 86401",
            "breaker_halt_s",
            "not between 1 and 86400",
        ),
    ] {
        let mut lines = vec![
            "breaker_bps = 500",
            "breaker_window_s = 300",
            "breaker_halt_s = 120",
        ];
        lines.retain(|l| !l.starts_with(k));
        lines.push(line);
        assert_refused(&with_lines(&lines), &key(k), message);
    }
}
