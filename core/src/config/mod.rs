//! The configuration file's core part (BEHAVIOUR.md §1, §4, §5, §8): the market (`[[assets]]`,
//! `[[symbols]]`, `[engine]`, `[[deposits]]`) and the data path (`[journal]`, `[pipeline]`), read,
//! checked against every rule and turned into the integer [`EngineConfig`] the engine runs on and
//! the settings the pipeline starts with. The gateway's sections (ports, users, limits, market
//! data, replication) are its own: `hayate_adapters::config` reads them and assembles the whole
//! file with [`CoreSections`], checking with the same [`Checker`] so every error names the file,
//! the key and, for parse errors, the line.
//!
//! Decimals exist only here: every size and amount in the file is in asset units (`"0.0001"` BTC)
//! and leaves this module as an integer of ticks, lots or minor units, or the load fails with a
//! message naming the file and the key.
//!
//! ```
//! use hayate_core::config::CoreConfig;
//! use hayate_journal::FlushPolicy;
//!
//! let config = CoreConfig::from_toml_str(
//!     r#"
//!     [journal]
//!     fsync = "interval"
//!     fsync_interval_ms = 5
//!
//!     [[assets]]
//!     name = "BTC"
//!     decimals = 8
//!     [[assets]]
//!     name = "JPY"
//!     decimals = 0
//!
//!     [[symbols]]
//!     name = "BTC-JPY"
//!     base = "BTC"
//!     quote = "JPY"
//!     tick_size = "1000"
//!     lot_size = "0.001"
//!     "#,
//!     "market.toml",
//! )?;
//! assert_eq!(config.journal.fsync, FlushPolicy::Interval { ms: 5 });
//! let btc_jpy = &config.engine.symbols[0];
//! assert_eq!((btc_jpy.unit_notional, btc_jpy.lot_base_minor), (1, 100_000));
//!
//! let error = CoreConfig::from_toml_str("[[assets]]\nname = \"JPY\"\ndecimals = 40\n", "x.toml")
//!     .unwrap_err();
//! assert_eq!(error.to_string(), "x.toml: assets[0] (JPY).decimals: 40 is above the maximum of 18");
//! # Ok::<(), hayate_core::ConfigError>(())
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::command::Command;
use crate::engine::EngineConfig;
use crate::pipeline::{JournalConfig, PipelineBuilder, PipelineConfig};
use crate::units::AccountId;

mod data_path;
mod decimal;
mod demo;
mod market;

pub use data_path::{JournalSection, MIN_SEGMENT_SIZE, PipelineSection};
pub use demo::DEMO_TOML;
pub use market::{
    AssetEntry, DepositEntry, EngineSection, MAX_ASSETS, MAX_DECIMALS, MAX_SYMBOLS, SymbolEntry,
};

/// Why a configuration was refused. Its message names the file, the key and the problem, so the
/// operator can fix the file without reading code.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or a value has the wrong type, or a key is unknown or missing.
    #[error("{origin}:{line}:{column}: {}", match key {
        Some(key) => format!("{key}: {message}"),
        None => message.clone(),
    })]
    Parse {
        /// The file name.
        origin: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// The key path (`symbols[0] (BTC-JPY).tick_size`), when the text parsed far enough to
        /// tell.
        key: Option<String>,
        /// What is wrong, as the TOML parser or the field's reader put it.
        message: String,
    },
    /// Every value parsed, but one breaks a rule of BEHAVIOUR.md §1, §5, §7 or §8.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// The file name.
        origin: String,
        /// The key path (`symbols[0] (BTC-JPY).tick_size`).
        key: String,
        /// What is wrong and, where it helps, what would be right.
        message: String,
    },
}

impl ConfigError {
    /// The key path the error is about, if known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { key, .. } => key.as_deref(),
            ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

/// The core's sections as written: a file of these alone (an engine or a pipeline embedded
/// without the gateway), or, field by field, part of a loader's file with more sections (the
/// gateway's). Each section keeps its own defaults and refuses keys it does not know.
#[derive(Deserialize, Default, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct CoreSections {
    /// `[journal]`.
    pub journal: JournalSection,
    /// `[pipeline]`.
    pub pipeline: PipelineSection,
    /// `[engine]`.
    pub engine: EngineSection,
    /// `[[assets]]`.
    pub assets: Vec<AssetEntry>,
    /// `[[symbols]]`.
    pub symbols: Vec<SymbolEntry>,
    /// `[[deposits]]`.
    pub deposits: Vec<DepositEntry>,
}

/// The core's part of the configuration, validated.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// The market in integer units, the accounts that may trade and the engine's capacities.
    pub engine: EngineConfig,
    /// `[journal]`.
    pub journal: JournalConfig,
    /// `[pipeline]`.
    pub pipeline: PipelineConfig,
    /// `[[deposits]]` as commands in file order, applied once on a fresh journal.
    pub deposits: Vec<Command>,
}

impl CoreSections {
    /// Checks every section. `accounts` are the accounts known from elsewhere in the file (the
    /// gateway's users), added to `[engine] accounts`; `max_open_orders` is the per-account cap
    /// (`[limits] max_open_orders` in the gateway's file).
    pub fn check(
        self,
        checker: Checker<'_>,
        accounts: &[AccountId],
        max_open_orders: u32,
    ) -> Result<CoreConfig, ConfigError> {
        let journal = checker.journal(self.journal)?;
        let pipeline = checker.pipeline(self.pipeline)?;
        let assets = checker.assets(&self.assets)?;
        let symbols = checker.symbols(&self.symbols, &assets)?;
        let deposits = checker.deposits(&self.deposits, &assets)?;
        let mut all_accounts = checker.engine_accounts(&self.engine)?;
        all_accounts.extend_from_slice(accounts);
        all_accounts.sort_unstable();
        all_accounts.dedup();
        let engine = EngineConfig {
            assets,
            symbols,
            accounts: all_accounts,
            max_open_orders,
            order_capacity: self.engine.order_capacity,
            level_capacity: self.engine.level_capacity,
        };
        Ok(CoreConfig {
            engine,
            journal,
            pipeline,
            deposits,
        })
    }
}

impl CoreConfig {
    /// The demo market ([`DEMO_TOML`]).
    pub fn demo() -> CoreConfig {
        CoreConfig::from_toml_str(DEMO_TOML, "demo.toml")
            .expect("the embedded demo configuration is valid")
    }

    /// Parses and validates a file of the core's sections only; `origin` (usually the file
    /// name) starts every error message. Accounts that may trade are `[engine] accounts`.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<CoreConfig, ConfigError> {
        let sections: CoreSections =
            toml::from_str(text).map_err(|e| ConfigError::parse(text, origin, &e))?;
        sections.check(
            Checker::new(origin),
            &[],
            EngineConfig::DEFAULT_MAX_OPEN_ORDERS,
        )
    }

    /// A pipeline builder set up from this configuration: the engine, `[journal]` (directory,
    /// segment size, flush policy, snapshots), `[pipeline]` (rings, wait strategy, pins, stop
    /// snapshot) and the `[[deposits]]` as initial commands.
    pub fn pipeline_builder(&self) -> PipelineBuilder {
        let journal = &self.journal;
        let pipeline = &self.pipeline;
        crate::pipeline::Pipeline::builder(self.engine.clone(), journal.dir.clone())
            .journal_options(hayate_journal::JournalOptions {
                segment_size: journal.segment_size,
                flush_policy: journal.fsync,
                first_seq: 1,
            })
            .input_ring(pipeline.input_ring)
            .output_ring(pipeline.output_ring)
            .wait(pipeline.wait)
            .pins(pipeline.pins)
            .snapshot_on_stop(pipeline.snapshot_on_stop)
            .snapshots(journal.snapshot_every, journal.keep_snapshots)
            .initial_commands(self.deposits.clone())
    }

    /// Reads and validates the file at `path` (see [`CoreConfig::from_toml_str`]).
    pub fn load(path: &Path) -> Result<CoreConfig, ConfigError> {
        let text = read(path)?;
        CoreConfig::from_toml_str(&text, &path.display().to_string())
    }
}

/// The text of the file at `path`, or an error naming it.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: PathBuf::from(path),
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// TOML errors: keep the parser's position and add the key path.

// ---------------------------------------------------------------------------------------------
// TOML errors: keep the parser's position and add the key path.

impl ConfigError {
    /// A TOML or type error in `text` (the file `origin`), with its line, column and the path of
    /// the key it is about.
    pub fn parse(text: &str, origin: &str, error: &toml::de::Error) -> ConfigError {
        let position = error.span().map_or(0, |span| span.start).min(text.len());
        let before = &text[..position];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let key = error.span().and_then(|_| key_at(text, position));
        ConfigError::Parse {
            origin: origin.to_owned(),
            line,
            column,
            key,
            message: error.message().trim_end().to_owned(),
        }
    }
}

/// The path of the deepest key whose text covers byte `position`, found by parsing the document
/// again into a spanned tree (serde's error knows the position but not the path). `None` when the
/// text is not TOML at all.
fn key_at(text: &str, position: usize) -> Option<String> {
    let document = toml::de::DeTable::parse(text).ok()?;
    key_in_table(document.get_ref(), position, "")
}

fn key_in_table(table: &toml::de::DeTable<'_>, position: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        // Children first: an `[[array]]` element's span covers only its header, not its keys.
        key_in_value(value, position, &path).or_else(|| {
            (covers(key.span(), position) || covers(value.span(), position)).then_some(path)
        })
    })
}

fn key_in_value(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    position: usize,
    path: &str,
) -> Option<String> {
    match value.get_ref() {
        toml::de::DeValue::Table(table) => key_in_table(table, position, path),
        toml::de::DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]{}", entry_label(item.get_ref()));
            key_in_value(item, position, &path)
                .or_else(|| covers(item.span(), position).then_some(path))
        }),
        _ => None,
    }
}

/// ` (BTC-JPY)` for an array entry with a `name` or `username`, so paths read like the file.
fn entry_label(value: &toml::de::DeValue<'_>) -> String {
    let toml::de::DeValue::Table(table) = value else {
        return String::new();
    };
    table
        .iter()
        .find_map(|(key, value)| match value.get_ref() {
            toml::de::DeValue::String(name)
                if matches!(key.get_ref().as_ref(), "name" | "username") =>
            {
                Some(format!(" ({name})"))
            }
            _ => None,
        })
        .unwrap_or_default()
}

fn covers(span: std::ops::Range<usize>, position: usize) -> bool {
    span.contains(&position) || (span.is_empty() && span.start == position)
}

/// Turns sections as written into validated types; every error it makes starts with `origin`.
/// The gateway's loader checks its own sections with it, so all errors read alike.
#[derive(Clone, Copy, Debug)]
pub struct Checker<'a> {
    origin: &'a str,
}

impl<'a> Checker<'a> {
    /// A checker for the file (or other source) `origin`.
    pub fn new(origin: &'a str) -> Checker<'a> {
        Checker { origin }
    }

    /// The file (or other source) errors name.
    pub fn origin(&self) -> &'a str {
        self.origin
    }

    /// An error about `key` of the entry at `at` (`symbols[0] (BTC-JPY)`).
    pub fn field(&self, at: &str, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(format!("{at}.{key}"), message)
    }

    /// An error about `key`.
    pub fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// Names go into FIX fields, logs and status pages: no whitespace or control characters
    /// (a SOH would break FIX framing).
    pub fn name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(self.error(key, "must not be empty"));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                key,
                format!("{name:?} contains whitespace or a control character"),
            ));
        }
        Ok(())
    }
}
