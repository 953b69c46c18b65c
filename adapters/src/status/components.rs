//! The status page's components and how each one's state follows from what the gateway already
//! knows (BEHAVIOUR.md §7): nothing here is set by hand, so the page cannot say "operational"
//! while the node refuses orders.

use crate::metrics::ExchangeState;
use crate::replication::node::ReplicationStatus;

/// A standby this many sequences behind its primary (or a primary's standby this far behind)
/// counts as lagging: far more than a healthy link ever holds in flight, so a busy moment does
/// not flap the page, and still a few seconds of a heavy load at most.
pub const LAG_DEGRADED: u64 = 10_000;

/// A component's state, worst last (so `max` is the worse of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentState {
    /// Working as it should.
    Operational,
    /// Working, but not fully (some symbols halted, orders refused for a while, no standby).
    Degraded,
    /// Not working on this node.
    Down,
}

impl ComponentState {
    /// The name in `/status` and in the history file.
    pub fn name(self) -> &'static str {
        match self {
            ComponentState::Operational => "operational",
            ComponentState::Degraded => "degraded",
            ComponentState::Down => "down",
        }
    }

    /// What the page shows, in statuspage.io's words.
    pub fn label(self) -> &'static str {
        match self {
            ComponentState::Operational => "Operational",
            ComponentState::Degraded => "Degraded Performance",
            ComponentState::Down => "Major Outage",
        }
    }
}

/// The components a user of the exchange depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// FIX 4.4 order entry.
    FixOrderEntry,
    /// Binary order entry.
    BinaryOrderEntry,
    /// Market data (FIX market data and the WebSocket feed).
    MarketData,
    /// The matching engine.
    Matching,
    /// The journal and the disk it writes to.
    JournalAndDisk,
    /// The link between the two nodes of a pair.
    Replication,
}

impl Component {
    /// Every component, in the page's order.
    pub const ALL: [Component; 6] = [
        Component::FixOrderEntry,
        Component::BinaryOrderEntry,
        Component::MarketData,
        Component::Matching,
        Component::JournalAndDisk,
        Component::Replication,
    ];

    /// Its stable identifier (`/status` and the history file).
    pub fn id(self) -> &'static str {
        match self {
            Component::FixOrderEntry => "fix_order_entry",
            Component::BinaryOrderEntry => "binary_order_entry",
            Component::MarketData => "market_data",
            Component::Matching => "matching",
            Component::JournalAndDisk => "journal_and_disk",
            Component::Replication => "replication",
        }
    }

    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            Component::FixOrderEntry => "FIX order entry",
            Component::BinaryOrderEntry => "Binary order entry",
            Component::MarketData => "Market data",
            Component::Matching => "Matching",
            Component::JournalAndDisk => "Journal and disk",
            Component::Replication => "Replication",
        }
    }

    /// The component with this identifier.
    pub fn from_id(id: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.id() == id)
    }
}

/// One component's state now, with a short reason when it is not operational (or a note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentStatus {
    /// Which component.
    pub component: Component,
    /// Its state.
    pub state: ComponentState,
    /// Why, for people (empty when there is nothing to say).
    pub detail: String,
}

/// What the derivation reads: a snapshot of the gateway's live state.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The state `/status` reports (a standby reports `standby`).
    pub state: ExchangeState,
    /// Why the pipeline stopped taking commands, if a stage failed.
    pub pipeline_failure: Option<String>,
    /// How many symbols are halted.
    pub halted_symbols: usize,
    /// The disk guard refuses new orders and replaces.
    pub disk_tripped: bool,
    /// The pair's link, on a replicated pair.
    pub replication: Option<ReplicationStatus>,
    /// This node is the primary of its pair (or has no pair).
    pub primary: bool,
    /// The WebSocket feed runs (`[market_data] ws_listen`).
    pub ws_feed: bool,
}

fn status(component: Component, state: ComponentState, detail: &str) -> ComponentStatus {
    ComponentStatus {
        component,
        state,
        detail: detail.to_owned(),
    }
}

/// The components and their states (Replication only on a pair), in the page's order.
pub fn derive(inputs: &Inputs) -> Vec<ComponentStatus> {
    use ComponentState::{Degraded, Down, Operational};
    let failed = inputs.pipeline_failure.is_some();
    let stopping = inputs.state == ExchangeState::Stopping;
    let recovering = inputs.state == ExchangeState::Recovering;
    let halted = inputs.state == ExchangeState::Halted;
    // Order entry: the same verdict for both protocols, which share the event loop and refusals.
    let (entry, entry_detail) = if !inputs.primary {
        (Down, "this node is the standby: orders go to the primary")
    } else if stopping {
        (Down, "the node is stopping")
    } else if failed {
        (
            Down,
            "the exchange stopped taking orders after an internal failure",
        )
    } else if recovering {
        (Down, "recovering from the journal")
    } else if halted {
        (Degraded, "the exchange is halted: new orders are refused")
    } else if inputs.disk_tripped {
        (
            Degraded,
            "the journal's disk is nearly full: new orders and replaces are refused, cancels go through",
        )
    } else {
        (Operational, "")
    };
    let (market, market_detail) = if !inputs.primary {
        (
            Down,
            "this node is the standby: market data comes from the primary",
        )
    } else if stopping {
        (Down, "the node is stopping")
    } else if failed {
        (
            Degraded,
            "no new updates: the exchange stopped after an internal failure",
        )
    } else if inputs.ws_feed {
        (Operational, "FIX and WebSocket")
    } else {
        (Operational, "FIX only")
    };
    let (matching, matching_detail) = if failed {
        (Down, "stopped after an internal failure")
    } else if stopping {
        (Down, "the node is stopping")
    } else if halted {
        (Degraded, "the exchange is halted")
    } else if inputs.halted_symbols > 0 {
        (Degraded, "some symbols are halted")
    } else {
        (Operational, "")
    };
    let (journal, journal_detail) = if failed {
        (Down, "the journal stopped after an error")
    } else if inputs.disk_tripped {
        (Degraded, "the disk is nearly full")
    } else {
        (Operational, "")
    };
    let mut out = vec![
        status(Component::FixOrderEntry, entry, entry_detail),
        status(Component::BinaryOrderEntry, entry, entry_detail),
        status(Component::MarketData, market, market_detail),
        status(Component::Matching, matching, matching_detail),
        status(Component::JournalAndDisk, journal, journal_detail),
    ];
    if let Some(link) = &inputs.replication {
        let peer = if inputs.primary { "standby" } else { "primary" };
        let (state, detail) = if let Some(why) = &link.refused {
            (Down, format!("the {peer} was refused: {why}"))
        } else if !link.connected {
            (Degraded, format!("the {peer} is not connected"))
        } else if link.degraded {
            (
                Degraded,
                "trading on without the standby's acknowledgements".to_owned(),
            )
        } else if link.lag > LAG_DEGRADED {
            (
                Degraded,
                format!("the {peer} is {} sequences behind", link.lag),
            )
        } else {
            (Operational, format!("{} replication", link.mode))
        };
        out.push(ComponentStatus {
            component: Component::Replication,
            state,
            detail,
        });
    }
    out
}

/// The overall state the page's banner shows, in statuspage.io's words and colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overall {
    /// Every component operational (green).
    AllOperational,
    /// Some component degraded, none down (yellow).
    Degraded,
    /// Some component down, but orders still matched somewhere (orange).
    PartialOutage,
    /// Matching down, or both order-entry protocols down (red).
    MajorOutage,
}

impl Overall {
    /// The banner's text.
    pub fn label(self) -> &'static str {
        match self {
            Overall::AllOperational => "All Systems Operational",
            Overall::Degraded => "Degraded Performance",
            Overall::PartialOutage => "Partial Outage",
            Overall::MajorOutage => "Major Outage",
        }
    }

    /// Its name in `/status`.
    pub fn name(self) -> &'static str {
        match self {
            Overall::AllOperational => "operational",
            Overall::Degraded => "degraded",
            Overall::PartialOutage => "partial_outage",
            Overall::MajorOutage => "major_outage",
        }
    }
}

/// The banner's state for these components: a user cannot trade at all when matching is down or
/// neither order-entry protocol works (major); one component down is a partial outage.
pub fn overall(components: &[ComponentStatus]) -> Overall {
    let state_of = |c: Component| {
        components
            .iter()
            .find(|s| s.component == c)
            .map_or(ComponentState::Operational, |s| s.state)
    };
    let down = ComponentState::Down;
    if state_of(Component::Matching) == down
        || (state_of(Component::FixOrderEntry) == down
            && state_of(Component::BinaryOrderEntry) == down)
    {
        return Overall::MajorOutage;
    }
    match components.iter().map(|c| c.state).max() {
        Some(ComponentState::Down) => Overall::PartialOutage,
        Some(ComponentState::Degraded) => Overall::Degraded,
        _ => Overall::AllOperational,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Inputs {
        Inputs {
            state: ExchangeState::Running,
            pipeline_failure: None,
            halted_symbols: 0,
            disk_tripped: false,
            replication: None,
            primary: true,
            ws_feed: true,
        }
    }

    fn link(connected: bool) -> ReplicationStatus {
        ReplicationStatus {
            mode: "sync",
            peer: "127.0.0.1:9100".into(),
            lag: 0,
            connected,
            degraded: false,
            refused: None,
            unproven: 0,
            observers: Vec::new(),
        }
    }

    fn state(components: &[ComponentStatus], c: Component) -> Option<ComponentState> {
        components
            .iter()
            .find(|s| s.component == c)
            .map(|s| s.state)
    }

    #[test]
    fn a_healthy_single_node_is_all_operational_without_replication() {
        let components = derive(&healthy());
        assert_eq!(components.len(), 5);
        assert!(
            components
                .iter()
                .all(|c| c.state == ComponentState::Operational)
        );
        assert_eq!(state(&components, Component::Replication), None);
        assert_eq!(overall(&components), Overall::AllOperational);
    }

    #[test]
    fn a_halted_symbol_degrades_matching_only() {
        let components = derive(&Inputs {
            halted_symbols: 1,
            ..healthy()
        });
        assert_eq!(
            state(&components, Component::Matching),
            Some(ComponentState::Degraded)
        );
        assert_eq!(
            state(&components, Component::FixOrderEntry),
            Some(ComponentState::Operational)
        );
        assert_eq!(overall(&components), Overall::Degraded);
    }

    #[test]
    fn a_tripped_disk_guard_degrades_order_entry_and_the_journal() {
        let components = derive(&Inputs {
            disk_tripped: true,
            ..healthy()
        });
        for c in [
            Component::FixOrderEntry,
            Component::BinaryOrderEntry,
            Component::JournalAndDisk,
        ] {
            assert_eq!(
                state(&components, c),
                Some(ComponentState::Degraded),
                "{c:?}"
            );
        }
    }

    #[test]
    fn a_failed_pipeline_is_a_major_outage() {
        let components = derive(&Inputs {
            pipeline_failure: Some("journal write failed".into()),
            ..healthy()
        });
        assert_eq!(
            state(&components, Component::Matching),
            Some(ComponentState::Down)
        );
        assert_eq!(
            state(&components, Component::JournalAndDisk),
            Some(ComponentState::Down)
        );
        assert_eq!(overall(&components), Overall::MajorOutage);
        // The failure's text (paths, errors) is for operators, not for the public page.
        assert!(
            components
                .iter()
                .all(|c| !c.detail.contains("journal write"))
        );
    }

    #[test]
    fn replication_follows_the_link() {
        let on_pair = |replication| {
            derive(&Inputs {
                replication: Some(replication),
                ..healthy()
            })
        };
        let up = on_pair(link(true));
        assert_eq!(
            state(&up, Component::Replication),
            Some(ComponentState::Operational)
        );
        let lost = on_pair(link(false));
        assert_eq!(
            state(&lost, Component::Replication),
            Some(ComponentState::Degraded)
        );
        assert_eq!(overall(&lost), Overall::Degraded);
        let lagging = on_pair(ReplicationStatus {
            lag: LAG_DEGRADED + 1,
            ..link(true)
        });
        assert_eq!(
            state(&lagging, Component::Replication),
            Some(ComponentState::Degraded)
        );
        let refused = on_pair(ReplicationStatus {
            refused: Some("epoch".into()),
            ..link(false)
        });
        assert_eq!(
            state(&refused, Component::Replication),
            Some(ComponentState::Down)
        );
        assert_eq!(overall(&refused), Overall::PartialOutage);
    }

    #[test]
    fn a_standby_takes_no_orders() {
        let components = derive(&Inputs {
            state: ExchangeState::Standby,
            primary: false,
            replication: Some(link(true)),
            ..healthy()
        });
        assert_eq!(
            state(&components, Component::FixOrderEntry),
            Some(ComponentState::Down)
        );
        assert_eq!(
            state(&components, Component::Matching),
            Some(ComponentState::Operational)
        );
        assert_eq!(overall(&components), Overall::MajorOutage);
    }

    #[test]
    fn ids_round_trip() {
        for c in Component::ALL {
            assert_eq!(Component::from_id(c.id()), Some(c));
        }
        assert_eq!(Component::from_id("nope"), None);
    }
}
