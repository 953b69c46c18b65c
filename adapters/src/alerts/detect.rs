//! Change detection: a pure function from the previous and the current reading of the node's
//! states to the alerts that tell what changed, so what fires when is tested without threads.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Trading is at risk or refused: someone must act now.
    Critical,
    /// Something an operator should know about soon (a symbol halted).
    Warning,
}

impl Severity {
    /// The name in the JSON body.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// The disk guard's state as the watcher read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskReading {
    /// New orders and replaces are refused `DISK_FULL`.
    pub tripped: bool,
    /// Free bytes at the guard's last probe.
    pub free: u64,
    /// The threshold it trips below.
    pub min_free: u64,
    /// Free bytes it waits for before it clears.
    pub resume_at: u64,
}

/// The replication link as the watcher read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkReading {
    /// This node's role (`primary` or `standby`).
    pub role: &'static str,
    /// The other node's address, as `/status` shows it.
    pub peer: String,
    /// Whether the link to the other node is up.
    pub connected: bool,
    /// Synchronous replication trading on without its standby.
    pub degraded: bool,
    /// Sequences the other side is behind.
    pub lag: u64,
}

impl LinkReading {
    /// Whether the pair has lost its redundancy.
    fn in_trouble(&self) -> bool {
        !self.connected || self.degraded
    }
}

/// Every state an alert is raised on, read at one instant. The default is a healthy node: the
/// first reading is compared with it, so a node that starts in trouble (a full disk, no standby)
/// alerts at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The whole exchange is halted.
    pub exchange_halted: bool,
    /// Symbols halted (by an operator or a circuit breaker).
    pub halted_symbols: BTreeSet<String>,
    /// The disk guard, when it is on.
    pub disk: Option<DiskReading>,
    /// The link to the other node of a pair.
    pub replication: Option<LinkReading>,
    /// Why the pipeline failed, once it has.
    pub pipeline_failure: Option<String>,
}

/// One change of state, to be sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// What it is about: `replication`, `disk_guard`, `exchange_halted`, `symbol_halted` or
    /// `pipeline`.
    pub name: &'static str,
    /// True when the trouble starts (`firing`), false when it is over (`resolved`).
    pub firing: bool,
    /// How urgent it is.
    pub severity: Severity,
    /// One line for a person.
    pub summary: String,
    /// The figures behind it.
    pub details: Value,
}

impl Alert {
    fn new(
        name: &'static str,
        firing: bool,
        severity: Severity,
        summary: String,
        details: Value,
    ) -> Alert {
        Alert {
            name,
            firing,
            severity,
            summary,
            details,
        }
    }

    /// The JSON body (BEHAVIOUR.md §7): `node` names the gateway, `time` is RFC 3339 in UTC.
    pub fn to_json(&self, node: &str, time: &str) -> String {
        json!({
            "alert": self.name,
            "state": if self.firing { "firing" } else { "resolved" },
            "severity": self.severity.name(),
            "summary": self.summary,
            "node": node,
            "time": time,
            "details": self.details,
        })
        .to_string()
    }
}

/// The alerts that take the node from `before` to `now`, in a fixed order (pipeline, disk,
/// replication, exchange, symbols); none when nothing changed.
pub fn changes(before: &Snapshot, now: &Snapshot) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if before.pipeline_failure.is_none() != now.pipeline_failure.is_none() {
        alerts.push(match &now.pipeline_failure {
            Some(why) => Alert::new(
                "pipeline",
                true,
                Severity::Critical,
                format!("pipeline failed, the node takes no more commands: {why}"),
                json!({ "failure": why }),
            ),
            None => Alert::new(
                "pipeline",
                false,
                Severity::Critical,
                "pipeline running again".to_owned(),
                json!({}),
            ),
        });
    }
    let disk_before = before.disk.is_some_and(|d| d.tripped);
    if let Some(disk) = now.disk
        && disk.tripped != disk_before
    {
        let mib = |bytes: u64| bytes >> 20;
        let summary = if disk.tripped {
            format!(
                "disk guard tripped: {} MiB free, below {} MiB; new orders and replaces are \
                 refused DISK_FULL",
                mib(disk.free),
                mib(disk.min_free)
            )
        } else {
            format!(
                "disk guard cleared: {} MiB free; orders are taken again",
                mib(disk.free)
            )
        };
        alerts.push(Alert::new(
            "disk_guard",
            disk.tripped,
            Severity::Critical,
            summary,
            json!({
                "free_bytes": disk.free,
                "min_free_bytes": disk.min_free,
                "resume_at_bytes": disk.resume_at,
            }),
        ));
    }
    let link_before = before
        .replication
        .as_ref()
        .is_some_and(LinkReading::in_trouble);
    if let Some(link) = &now.replication
        && link.in_trouble() != link_before
    {
        let other = if link.role == "primary" {
            "standby"
        } else {
            "primary"
        };
        let summary = match (link.in_trouble(), link.degraded) {
            (true, true) => {
                format!("{other} lost: synchronous replication trades on without it (degraded)")
            }
            (true, false) => format!("{other} lost: the pair has no second copy"),
            (false, _) => format!("{other} back: the pair is replicating again"),
        };
        alerts.push(Alert::new(
            "replication",
            link.in_trouble(),
            Severity::Critical,
            summary,
            json!({
                "role": link.role,
                "peer": link.peer,
                "connected": link.connected,
                "degraded": link.degraded,
                "lag": link.lag,
            }),
        ));
    }
    if before.exchange_halted != now.exchange_halted {
        let summary = if now.exchange_halted {
            "exchange halted: every order is refused HALTED"
        } else {
            "exchange resumed"
        };
        alerts.push(Alert::new(
            "exchange_halted",
            now.exchange_halted,
            Severity::Critical,
            summary.to_owned(),
            json!({}),
        ));
    }
    for symbol in now.halted_symbols.difference(&before.halted_symbols) {
        alerts.push(Alert::new(
            "symbol_halted",
            true,
            Severity::Warning,
            format!("{symbol} halted"),
            json!({ "symbol": symbol }),
        ));
    }
    for symbol in before.halted_symbols.difference(&now.halted_symbols) {
        alerts.push(Alert::new(
            "symbol_halted",
            false,
            Severity::Warning,
            format!("{symbol} resumed"),
            json!({ "symbol": symbol }),
        ));
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(alerts: &[Alert]) -> Vec<(&'static str, bool)> {
        alerts.iter().map(|a| (a.name, a.firing)).collect()
    }

    fn disk(tripped: bool) -> Option<DiskReading> {
        Some(DiskReading {
            tripped,
            free: 100 << 20,
            min_free: 128 << 20,
            resume_at: 140 << 20,
        })
    }

    fn link(connected: bool, degraded: bool) -> Option<LinkReading> {
        Some(LinkReading {
            role: "primary",
            peer: "127.0.0.1:9100".to_owned(),
            connected,
            degraded,
            lag: 0,
        })
    }

    #[test]
    fn nothing_changed_nothing_sent() {
        let healthy = Snapshot {
            disk: disk(false),
            replication: link(true, false),
            ..Snapshot::default()
        };
        assert!(changes(&Snapshot::default(), &healthy).is_empty());
        assert!(changes(&healthy, &healthy).is_empty());
        let troubled = Snapshot {
            disk: disk(true),
            replication: link(false, true),
            exchange_halted: true,
            ..Snapshot::default()
        };
        assert!(changes(&troubled, &troubled).is_empty());
    }

    #[test]
    fn a_node_starting_in_trouble_alerts_at_once() {
        let now = Snapshot {
            disk: disk(true),
            replication: link(false, false),
            ..Snapshot::default()
        };
        let alerts = changes(&Snapshot::default(), &now);
        assert_eq!(
            names(&alerts),
            [("disk_guard", true), ("replication", true)]
        );
        assert_eq!(alerts[0].severity, Severity::Critical);
        assert_eq!(alerts[0].details["free_bytes"], 100 << 20);
        assert_eq!(
            alerts[1].summary,
            "standby lost: the pair has no second copy"
        );
    }

    #[test]
    fn firing_then_resolved() {
        let tripped = Snapshot {
            disk: disk(true),
            ..Snapshot::default()
        };
        let cleared = Snapshot {
            disk: disk(false),
            ..Snapshot::default()
        };
        assert_eq!(names(&changes(&cleared, &tripped)), [("disk_guard", true)]);
        assert_eq!(names(&changes(&tripped, &cleared)), [("disk_guard", false)]);

        let lost = Snapshot {
            replication: link(false, false),
            ..Snapshot::default()
        };
        let degraded = Snapshot {
            replication: link(false, true),
            ..Snapshot::default()
        };
        let back = Snapshot {
            replication: link(true, false),
            ..Snapshot::default()
        };
        assert_eq!(names(&changes(&back, &lost)), [("replication", true)]);
        // Lost, then degraded once the acknowledgement timeout passes: still the same trouble.
        assert!(changes(&lost, &degraded).is_empty());
        let resolved = changes(&degraded, &back);
        assert_eq!(names(&resolved), [("replication", false)]);
        assert_eq!(
            resolved[0].summary,
            "standby back: the pair is replicating again"
        );
    }

    #[test]
    fn halts_of_the_exchange_and_of_symbols() {
        let mut halted = Snapshot {
            exchange_halted: true,
            ..Snapshot::default()
        };
        halted.halted_symbols.insert("BTC-JPY".to_owned());
        let alerts = changes(&Snapshot::default(), &halted);
        assert_eq!(
            names(&alerts),
            [("exchange_halted", true), ("symbol_halted", true)]
        );
        assert_eq!(alerts[1].severity, Severity::Warning);
        assert_eq!(alerts[1].details["symbol"], "BTC-JPY");
        let alerts = changes(&halted, &Snapshot::default());
        assert_eq!(
            names(&alerts),
            [("exchange_halted", false), ("symbol_halted", false)]
        );
        assert_eq!(alerts[1].summary, "BTC-JPY resumed");
    }

    #[test]
    fn a_failed_pipeline_fires_once() {
        let failed = Snapshot {
            pipeline_failure: Some("journal: No space left on device".to_owned()),
            ..Snapshot::default()
        };
        let alerts = changes(&Snapshot::default(), &failed);
        assert_eq!(names(&alerts), [("pipeline", true)]);
        assert!(changes(&failed, &failed).is_empty());
    }

    #[test]
    fn the_json_body() {
        let alerts = changes(
            &Snapshot::default(),
            &Snapshot {
                disk: disk(true),
                ..Snapshot::default()
            },
        );
        let body = alerts[0].to_json("HAYATE@127.0.0.1:8080", "2026-01-02T03:04:05.006Z");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["alert"], "disk_guard");
        assert_eq!(value["state"], "firing");
        assert_eq!(value["severity"], "critical");
        assert_eq!(value["node"], "HAYATE@127.0.0.1:8080");
        assert_eq!(value["time"], "2026-01-02T03:04:05.006Z");
        assert_eq!(value["details"]["min_free_bytes"], 128 << 20);
        assert!(
            value["summary"]
                .as_str()
                .unwrap()
                .contains("disk guard tripped")
        );
    }
}
