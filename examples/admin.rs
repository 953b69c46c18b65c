//! The operator's client (BEHAVIOUR.md §7): talks to the gateway's binary port as an `[[admins]]` user.
//!
//! ```text
//! cargo run --release --example admin -- --addr 127.0.0.1:9000 --user admin --password-file F COMMAND
//!
//!   (the password: --password, --password-file FILE, or the HAYATE_ADMIN_PASSWORD variable;
//!    --addr is `[gateway] admin_listen` when the gateway has one)
//! cargo run --release --example admin -- --tls --ca server.crt --addr localhost:9000 … COMMAND
//!   (a port with TLS on: the server's certificate is checked against --ca)
//!
//!   deposit ACCOUNT ASSET AMOUNT     credit an account (AMOUNT in asset units, e.g. 1000.5)
//!   withdraw ACCOUNT ASSET AMOUNT    debit an account's available balance
//!   halt SYMBOL|all                  halt one symbol or the whole exchange
//!   resume SYMBOL|all                resume it
//!   block ACCOUNT                    kill switch: cancel the account's orders, refuse new ones
//!   unblock ACCOUNT                  let the account trade again
//!   notice open TITLE --severity minor|major|critical [--body TEXT] [--component NAME...]
//!                                    open an incident on the status page (components: fix,
//!                                    binary, market-data, matching, journal, replication)
//!   notice update ID TEXT            post an update to incident ID
//!   notice resolve ID [TEXT]         resolve incident ID
//!   maintenance FROM TO TEXT [--component NAME...]
//!                                    announce maintenance (FROM, TO: RFC 3339, e.g.
//!                                    2026-12-24T22:00:00Z)
//!   snapshot                         write a snapshot of the state now
//!   status                           print the exchange's status (the /status JSON)
//!   promote                          make a standby the primary
//!   hash-password                    read a password on stdin, print its argon2id hash for the
//!                                    configuration (no gateway needed)
//! ```
//!
//! Every command that changes state is a journaled command, and every command is checked against
//! the admin's role (`viewer`: status; `operator`: halt, resume, block, unblock, notice,
//! maintenance, snapshot;
//! `treasury`: deposit, withdraw; `root`: all, promote too). Exits 0 on success, non-zero with a one-line reason
//! otherwise (a command the role lacks included).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hayate::AccountId;
use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{
    AccountTarget, CancelOnDisconnect, ClientMessage, Funds, HaltTarget, Logon, NoticeHead,
    ServerMessage, encode_notice,
};
use hayate::command::{Notice, NoticeAction, NoticeSeverity};

#[derive(Parser)]
#[command(about = "Operate a running Hayate gateway over its binary port")]
struct Cli {
    /// The gateway's binary address.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// An `[[admins]]` username.
    #[arg(long, default_value = "")]
    user: String,
    /// Its password (visible to other users in the process list: prefer --password-file or
    /// HAYATE_ADMIN_PASSWORD).
    #[arg(long)]
    password: Option<String>,
    /// A file whose first line is the password.
    #[arg(long)]
    password_file: Option<std::path::PathBuf>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Connect through TLS (a binary port with `[tls] binary = true`), trusting `--ca`.
    #[arg(long, requires = "ca")]
    tls: bool,
    /// PEM file of the CA (or the self-signed certificate) the gateway's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// The name the gateway's certificate must carry (default: the host part of `--addr`).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum NoticeCommand {
    /// Open an incident.
    Open {
        title: String,
        /// minor, major or critical.
        #[arg(long)]
        severity: String,
        /// What users should know (the first update).
        #[arg(long)]
        body: Option<String>,
        /// Components it concerns (fix, binary, market-data, matching, journal, replication).
        #[arg(long = "component", num_args = 1..)]
        components: Vec<String>,
    },
    /// Post an update to incident ID.
    Update { id: u64, text: String },
    /// Resolve incident ID, with an optional last word.
    Resolve { id: u64, text: Option<String> },
}

#[derive(Subcommand)]
enum Command {
    /// Credit ACCOUNT with AMOUNT of ASSET.
    Deposit {
        account: u32,
        asset: String,
        amount: String,
    },
    /// Debit ACCOUNT by AMOUNT of ASSET.
    Withdraw {
        account: u32,
        asset: String,
        amount: String,
    },
    /// Halt a symbol, or `all`.
    Halt { target: String },
    /// Resume a symbol, or `all`.
    Resume { target: String },
    /// Block ACCOUNT (kill switch): cancel its open orders and refuse its new orders and
    /// replaces until it is unblocked.
    Block { account: u32 },
    /// Lift ACCOUNT's block.
    Unblock { account: u32 },
    /// Incident notices on the status page.
    Notice {
        #[command(subcommand)]
        action: NoticeCommand,
    },
    /// Announce scheduled maintenance from FROM to TO (RFC 3339, e.g. 2026-12-24T22:00:00Z).
    Maintenance {
        from: String,
        to: String,
        text: String,
        /// Components it concerns (fix, binary, market-data, matching, journal, replication).
        #[arg(long = "component", num_args = 1..)]
        components: Vec<String>,
    },
    /// Snapshot the state now.
    Snapshot,
    /// Print the status.
    Status,
    /// Promote a standby to primary.
    Promote,
    /// Print the argon2id hash of the password read from stdin, for `password = "..."`.
    HashPassword,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::HashPassword => hash_password(),
        _ => run(&cli),
    };
    match outcome {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("admin: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The request's bytes.
fn request(command: &Command) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let notice = match command {
        Command::Notice { action } => notice(action)?,
        Command::Maintenance {
            from,
            to,
            text,
            components,
        } => Notice {
            action: NoticeAction::Maintenance,
            severity: NoticeSeverity::None,
            target: 0,
            components: component_bits(components)?,
            window: (unix_seconds(from)?, unix_seconds(to)?),
            text: text.as_bytes().to_vec(),
        },
        other => {
            message(other)?.encode(&mut out);
            return Ok(out);
        }
    };
    // Checked here too, so a mistake is named before anything is sent.
    notice.to_commands()?;
    let text = String::from_utf8(notice.text.clone()).map_err(|_| "the text is not UTF-8")?;
    encode_notice(&mut out, &NoticeHead::of(&notice), &text);
    Ok(out)
}

fn notice(action: &NoticeCommand) -> Result<Notice, String> {
    let blank = Notice {
        action: NoticeAction::Open,
        severity: NoticeSeverity::None,
        target: 0,
        components: 0,
        window: (0, 0),
        text: Vec::new(),
    };
    Ok(match action {
        NoticeCommand::Open {
            title,
            severity,
            body,
            components,
        } => {
            if title.contains('\0') {
                return Err("a title may not hold a NUL".to_owned());
            }
            let mut text = title.clone().into_bytes();
            if let Some(body) = body {
                text.push(0);
                text.extend_from_slice(body.as_bytes());
            }
            Notice {
                severity: NoticeSeverity::parse(severity).ok_or_else(|| {
                    format!("--severity {severity:?}: one of minor, major, critical")
                })?,
                components: component_bits(components)?,
                text,
                ..blank
            }
        }
        NoticeCommand::Update { id, text } => Notice {
            action: NoticeAction::Update,
            target: *id,
            text: text.as_bytes().to_vec(),
            ..blank
        },
        NoticeCommand::Resolve { id, text } => Notice {
            action: NoticeAction::Resolve,
            target: *id,
            text: text.as_deref().unwrap_or_default().as_bytes().to_vec(),
            ..blank
        },
    })
}

fn component_bits(names: &[String]) -> Result<u32, String> {
    hayate::adapters::notices::component_bits(names.iter().map(String::as_str))
}

/// RFC 3339 (`2026-12-24T22:00:00Z`, an offset allowed) as Unix seconds.
fn unix_seconds(text: &str) -> Result<u64, String> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!("{text:?} is not an RFC 3339 time ({e}), e.g. 2026-12-24T22:00:00Z")
        })?;
    u64::try_from(at.unix_timestamp()).map_err(|_| format!("{text:?} is before 1970"))
}

fn message(command: &Command) -> Result<ClientMessage, String> {
    let funds = |account: u32, asset: &str, amount: &str| {
        Funds::new(AccountId(account), asset, amount)
            .ok_or_else(|| format!("asset {asset:?} or amount {amount:?} is too long"))
    };
    let target = |t: &str| HaltTarget::new(t).ok_or_else(|| format!("symbol {t:?} is too long"));
    Ok(match command {
        Command::Deposit {
            account,
            asset,
            amount,
        } => ClientMessage::Deposit(funds(*account, asset, amount)?),
        Command::Withdraw {
            account,
            asset,
            amount,
        } => ClientMessage::Withdraw(funds(*account, asset, amount)?),
        Command::Halt { target: t } => ClientMessage::Halt(target(t)?),
        Command::Resume { target: t } => ClientMessage::Resume(target(t)?),
        Command::Block { account } => ClientMessage::Block(AccountTarget::new(AccountId(*account))),
        Command::Unblock { account } => {
            ClientMessage::Unblock(AccountTarget::new(AccountId(*account)))
        }
        Command::Snapshot => ClientMessage::Snapshot,
        Command::Status => ClientMessage::Status,
        Command::Promote => ClientMessage::Promote,
        Command::Notice { .. } | Command::Maintenance { .. } => {
            return Err("a notice is sent with its text".to_owned());
        }
        Command::HashPassword => return Err("hash-password talks to no gateway".to_owned()),
    })
}

/// The first line of stdin (without its line ending), hashed.
fn hash_password() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as typed): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("no password on stdin".to_owned());
    }
    hayate::adapters::secrets::hash_password(password)
}

/// The password from --password, --password-file or HAYATE_ADMIN_PASSWORD, in that order.
fn password(cli: &Cli) -> Result<String, String> {
    if let Some(password) = &cli.password {
        return Ok(password.clone());
    }
    if let Some(path) = &cli.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --password-file {}: {e}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    std::env::var("HAYATE_ADMIN_PASSWORD").map_err(|_| {
        "no password: give --password, --password-file or HAYATE_ADMIN_PASSWORD".to_owned()
    })
}

fn run(cli: &Cli) -> Result<String, String> {
    let request = request(&cli.command)?;
    let addr: SocketAddr = cli
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("bad --addr {}: {e}", cli.addr))?
        .next()
        .ok_or_else(|| format!("--addr {} resolves to nothing", cli.addr))?;
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let tls = match (&cli.ca, cli.tls) {
        (Some(ca), true) => Some(hayate::adapters::tls::client_config(ca)?),
        _ => None,
    };
    let host = cli
        .addr
        .rsplit_once(':')
        .map_or(cli.addr.as_str(), |(h, _)| h);
    let name = cli.server_name.as_deref().unwrap_or(host);
    let mut client = BinaryClient::connect_with(addr, timeout, tls.as_ref().map(|c| (c, name)))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    if cli.user.is_empty() {
        return Err("--user is required".to_owned());
    }
    let logon = Logon::new(&cli.user, &password(cli)?, CancelOnDisconnect::None)
        .ok_or("username or password longer than 32 bytes")?;
    let io = |e: std::io::Error| format!("connection to {addr}: {e}");
    client.send(&ClientMessage::Logon(logon)).map_err(io)?;
    loop {
        let bytes = client.recv().map_err(io)?;
        match ServerMessage::decode(&bytes).map_err(|e| format!("bad answer: {e}"))? {
            ServerMessage::LogonAck(ack) if ack.is_admin != 0 => break,
            ServerMessage::LogonAck(_) => return Err(format!("{} is not an admin", cli.user)),
            ServerMessage::Reject { text, .. } => return Err(format!("logon refused: {text}")),
            _ => {}
        }
    }
    client.send_raw(&request).map_err(io)?;
    loop {
        let bytes = client.recv().map_err(io)?;
        match ServerMessage::decode(&bytes).map_err(|e| format!("bad answer: {e}"))? {
            ServerMessage::AdminResult { ok: true, text, .. } => return Ok(text.to_owned()),
            ServerMessage::AdminResult { text, .. } => return Err(text.to_owned()),
            ServerMessage::Reject { text, .. } => return Err(text.to_owned()),
            // Symbol list and heartbeats.
            _ => {}
        }
    }
}
