//! What the status page and `/status` show people: the components and their states
//! (`components.rs`), their 90-day availability (`history.rs`), incidents and maintenance
//! ([`IncidentView`]), all gathered from the gateway's live state by [`StatusSources`] on the
//! HTTP thread. The HTML is `http/status_page.rs`.

use std::sync::{Arc, Mutex};

use hayate_core::event::Reason;
use hayate_core::pipeline::Monitor;

use crate::http::status_page::{self, Halt, PageView};
use crate::metrics::{self, ExchangeState, GatewayMetrics, StatusContext};

pub mod components;
pub mod history;

use components::{ComponentStatus, Inputs};
use history::History;

/// How bad an incident is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Some users notice.
    Minor,
    /// Many users cannot do something.
    Major,
    /// Nobody can trade.
    Critical,
}

impl Severity {
    /// Its name in `/status`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// Where an incident stands, in statuspage.io's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentStatus {
    /// Looking for the cause.
    Investigating,
    /// The cause is known.
    Identified,
    /// Fixed; watching.
    Monitoring,
    /// Over.
    Resolved,
    /// Maintenance announced for a window.
    Scheduled,
}

impl IncidentStatus {
    /// Its name in `/status`.
    pub fn name(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Scheduled => "scheduled",
        }
    }

    /// What the page shows.
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Scheduled => "Scheduled",
        }
    }
}

/// An incident notice or a maintenance window, as the page and `/status` show it (the notices
/// themselves, and the admin commands that write them, live elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentView {
    /// Its number.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// Where it stands.
    pub status: IncidentStatus,
    /// The names of the components it touches.
    pub components: Vec<String>,
    /// Its updates: Unix seconds and text, in any order (shown newest first).
    pub updates: Vec<(u64, String)>,
    /// A maintenance window: from and to, Unix seconds.
    pub window: Option<(u64, u64)>,
}

impl IncidentView {
    /// When it last changed (its latest update, or its window's start): the page's order.
    pub fn latest(&self) -> u64 {
        let updated = self.updates.iter().map(|(at, _)| *at).max().unwrap_or(0);
        updated.max(self.window.map_or(0, |(from, _)| from))
    }
}

/// Produces the incidents and maintenance windows to show (the notice board's).
pub type IncidentSource = dyn Fn() -> Vec<IncidentView> + Send + Sync;

/// Everything the page and `/status` read, held by the HTTP thread and the history recorder.
#[derive(Clone)]
pub struct StatusSources {
    /// The gateway's counters and halts.
    pub metrics: Arc<GatewayMetrics>,
    /// The pipeline's progress and failure.
    pub monitor: Monitor,
    /// Role, replication and disk guard now.
    pub context: Arc<dyn Fn() -> StatusContext + Send + Sync>,
    /// The WebSocket feed runs.
    pub ws_feed: bool,
    /// The incidents and maintenance windows.
    pub incidents: Arc<IncidentSource>,
}

impl StatusSources {
    fn inputs(&self, context: &StatusContext) -> Inputs {
        Inputs {
            state: metrics::reported_state(&self.metrics, context),
            pipeline_failure: self.monitor.failure(),
            halted_symbols: self.metrics.halted_symbols().len(),
            disk_tripped: context.disk.is_tripped(),
            replication: context.replication.clone(),
            primary: context.role == "primary",
            ws_feed: self.ws_feed,
        }
    }

    /// The components and their states now.
    pub fn components(&self) -> Vec<ComponentStatus> {
        components::derive(&self.inputs(&(self.context)()))
    }

    /// The `/status` JSON (BEHAVIOUR.md §7).
    pub fn json(&self) -> String {
        let context = (self.context)();
        let components = components::derive(&self.inputs(&context));
        metrics::status_json(
            &self.metrics,
            &self.monitor.stats(),
            &context,
            &components,
            &(self.incidents)(),
        )
    }

    /// The status page (`/`), with the bars of `history`.
    pub fn page(&self, history: &Mutex<History>) -> String {
        let context = (self.context)();
        let inputs = self.inputs(&context);
        let components = components::derive(&inputs);
        let halts: Vec<Halt> = self
            .metrics
            .halted_symbols()
            .into_iter()
            .map(|symbol| Halt {
                reason: halt_reason(self.metrics.halt_cause(Some(&symbol))),
                subject: symbol,
            })
            .collect();
        let mut blocks = Vec::new();
        if inputs.state == ExchangeState::Halted {
            blocks.push(Halt {
                subject: "All symbols".to_owned(),
                reason: halt_reason(self.metrics.halt_cause(None)),
            });
        }
        if inputs.disk_tripped && inputs.primary {
            blocks.push(Halt {
                subject: "New orders and replaces".to_owned(),
                reason: "refused while the journal's disk is nearly full; cancels go through"
                    .to_owned(),
            });
        }
        if !inputs.primary {
            blocks.push(Halt {
                subject: "This node".to_owned(),
                reason: "is the standby of its pair: it takes no orders".to_owned(),
            });
        }
        let incidents = (self.incidents)();
        // A poisoned lock only means the recorder panicked: its history is still worth showing.
        let history = history.lock().unwrap_or_else(|e| e.into_inner()).clone();
        status_page::render(&PageView {
            now_s: history::unix_now(),
            components: &components,
            halts: &halts,
            blocks: &blocks,
            incidents: &incidents,
            history: &history,
        })
    }
}

/// Why a symbol (or, with `None`, the whole exchange) is halted, for people.
fn halt_reason(cause: Option<Reason>) -> String {
    match cause {
        Some(Reason::CircuitBreaker) => "circuit breaker: the price moved too far too fast; \
                                         trading resumes after a pause or when the operators \
                                         reopen it"
            .to_owned(),
        Some(_) => "halted by the exchange's operators".to_owned(),
        None => "halted (since before the node's last start)".to_owned(),
    }
}
