//! Incident notices and scheduled maintenance (issue 15): what operators tell users on the
//! status page, kept as journaled commands so that a restart and a failover keep them.
//!
//! The admin's `notice` and `maintenance` commands become [`Notice`] parts in the journal
//! (`hayate_core::command::notice`). A [`follower::NoticeFollower`] thread reads them back from
//! the journal — on the primary and on the standby alike, each from its own journal — into the
//! [`NoticeBoard`] the status page and `/status` show, and keeps the board in
//! `DATA/status/notices.json` so that a restart reads only the journal written since.

pub mod follower;

use hayate_core::command::{Notice, NoticeAction, NoticeSeverity};
use serde::{Deserialize, Serialize};

use crate::status::{IncidentStatus, IncidentView, Severity};

/// How long resolved incidents and past maintenance stay on the page: two weeks.
pub const PAST_S: u64 = 14 * 86_400;

/// The status page's components, in the order of the notice's component bits: (the name the
/// admin client takes, the name users read).
pub const COMPONENTS: [(&str, &str); 6] = [
    ("fix", "FIX order entry"),
    ("binary", "Binary order entry"),
    ("market-data", "Market data"),
    ("matching", "Matching"),
    ("journal", "Journal and disk"),
    ("replication", "Replication"),
];

/// The component bits of `names` (admin client names, as in [`COMPONENTS`]); an error names
/// the first unknown one.
pub fn component_bits<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<u32, String> {
    let mut bits = 0;
    for name in names {
        let Some(i) = COMPONENTS.iter().position(|(key, _)| *key == name) else {
            let known: Vec<&str> = COMPONENTS.iter().map(|(key, _)| *key).collect();
            return Err(format!(
                "unknown component {name:?} (known: {})",
                known.join(", ")
            ));
        };
        bits |= 1 << i;
    }
    Ok(bits)
}

/// The user-facing names of the components in `bits`.
fn component_names(bits: u32) -> Vec<String> {
    COMPONENTS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, (_, name))| (*name).to_owned())
        .collect()
}

/// One update of an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    /// When it was posted (the command's receive time), ns since the Unix epoch.
    pub at_ns: u64,
    /// `investigating` (the opening), `update` or `resolved`.
    pub status: String,
    /// What it says.
    pub text: String,
}

/// An incident, open or resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Its id: the journal sequence of the command that opened it.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// `minor`, `major` or `critical`.
    pub severity: String,
    /// The components it concerns (user-facing names).
    pub components: Vec<String>,
    /// When it was resolved, ns since the Unix epoch.
    pub resolved_ns: Option<u64>,
    /// Its updates, oldest first (the first is the opening).
    pub updates: Vec<IncidentUpdate>,
}

/// A scheduled maintenance window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Its id: the journal sequence of the command that announced it.
    pub id: u64,
    /// Start, Unix seconds.
    pub from_s: u64,
    /// End, Unix seconds.
    pub to_s: u64,
    /// What it is about.
    pub text: String,
    /// The components it concerns (user-facing names).
    pub components: Vec<String>,
}

/// Incidents kept (open ones always; the oldest resolved ones go first) and maintenance
/// windows kept (the longest past ones go first): enough for the page, bounded for the file.
const KEEP: usize = 100;

/// Every notice, as of journal sequence `seq`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBoard {
    /// The last journal sequence read into it.
    pub seq: u64,
    /// Counts the notices applied, so readers (the WebSocket feed) see that it changed.
    #[serde(default)]
    pub revision: u64,
    /// Incidents, oldest first.
    pub incidents: Vec<Incident>,
    /// Maintenance windows, in announcement order.
    pub maintenance: Vec<Maintenance>,
}

impl NoticeBoard {
    /// The incident `id`, if the board has it.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.incidents.iter().find(|i| i.id == id)
    }

    /// Applies the notice journaled from `id` on, received at `at_ns`. An update or resolve of
    /// an incident the board does not have (or has resolved) changes nothing.
    pub fn apply(&mut self, id: u64, at_ns: u64, notice: &Notice) {
        let text = String::from_utf8_lossy(&notice.text).into_owned();
        match notice.action {
            NoticeAction::Open => {
                let (title, body) = match text.split_once('\0') {
                    Some((title, body)) => (title.to_owned(), body.to_owned()),
                    None => (text.clone(), String::new()),
                };
                let opening = if body.is_empty() { title.clone() } else { body };
                let severity = match notice.severity {
                    NoticeSeverity::None => NoticeSeverity::Minor,
                    s => s,
                };
                self.incidents.push(Incident {
                    id,
                    title,
                    severity: severity.name().to_owned(),
                    components: component_names(notice.components),
                    resolved_ns: None,
                    updates: vec![IncidentUpdate {
                        at_ns,
                        status: "investigating".to_owned(),
                        text: opening,
                    }],
                });
            }
            NoticeAction::Update | NoticeAction::Resolve => {
                let Some(incident) = self
                    .incidents
                    .iter_mut()
                    .find(|i| i.id == notice.target && i.resolved_ns.is_none())
                else {
                    return;
                };
                let resolving = notice.action == NoticeAction::Resolve;
                let text = match (resolving, text.is_empty()) {
                    (true, true) => "This incident has been resolved.".to_owned(),
                    _ => text,
                };
                incident.updates.push(IncidentUpdate {
                    at_ns,
                    status: if resolving { "resolved" } else { "update" }.to_owned(),
                    text,
                });
                if resolving {
                    incident.resolved_ns = Some(at_ns);
                }
            }
            NoticeAction::Maintenance => self.maintenance.push(Maintenance {
                id,
                from_s: notice.window.0,
                to_s: notice.window.1,
                text,
                components: component_names(notice.components),
            }),
        }
        self.revision += 1;
        self.trim();
    }

    fn trim(&mut self) {
        while self.incidents.len() > KEEP {
            match self.incidents.iter().position(|i| i.resolved_ns.is_some()) {
                Some(oldest_resolved) => {
                    self.incidents.remove(oldest_resolved);
                }
                None => break,
            }
        }
        if self.maintenance.len() > KEEP {
            self.maintenance.sort_by_key(|m| m.to_s);
            let excess = self.maintenance.len() - KEEP;
            self.maintenance.drain(..excess);
        }
    }

    /// What the status page and `/status` show at `now_s`: every open incident, incidents
    /// resolved in the last [`PAST_S`] seconds, and maintenance windows that have not been over
    /// that long.
    pub fn views(&self, now_s: u64) -> Vec<IncidentView> {
        let since = now_s.saturating_sub(PAST_S);
        let seconds = |ns: u64| ns / 1_000_000_000;
        let incidents = self
            .incidents
            .iter()
            .filter(|i| i.resolved_ns.is_none_or(|at| seconds(at) >= since))
            .map(|i| IncidentView {
                id: i.id,
                title: i.title.clone(),
                severity: match i.severity.as_str() {
                    "critical" => Severity::Critical,
                    "major" => Severity::Major,
                    _ => Severity::Minor,
                },
                status: if i.resolved_ns.is_some() {
                    IncidentStatus::Resolved
                } else {
                    IncidentStatus::Investigating
                },
                components: i.components.clone(),
                updates: i
                    .updates
                    .iter()
                    .map(|u| (seconds(u.at_ns), u.text.clone()))
                    .collect(),
                window: None,
            });
        let maintenance = self
            .maintenance
            .iter()
            .filter(|m| m.to_s >= since)
            .map(|m| IncidentView {
                id: m.id,
                title: m.text.clone(),
                severity: Severity::Minor,
                status: if m.to_s <= now_s {
                    IncidentStatus::Resolved
                } else {
                    IncidentStatus::Scheduled
                },
                components: m.components.clone(),
                updates: Vec::new(),
                window: Some((m.from_s, m.to_s)),
            });
        incidents.chain(maintenance).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(action: NoticeAction, target: u64, text: &str) -> Notice {
        Notice {
            action,
            severity: NoticeSeverity::Major,
            target,
            components: component_bits(["fix", "matching"]).unwrap(),
            window: (0, 0),
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn components_by_name() {
        assert_eq!(component_bits(["fix", "replication"]).unwrap(), 0b100001);
        assert!(
            component_bits(["fixx"])
                .unwrap_err()
                .contains("unknown component \"fixx\"")
        );
        assert_eq!(
            component_names(0b1001),
            ["FIX order entry", "Matching"].map(String::from)
        );
    }

    #[test]
    fn an_incident_opens_updates_and_resolves() {
        let mut board = NoticeBoard::default();
        board.apply(
            7,
            1_000,
            &notice(
                NoticeAction::Open,
                0,
                "Order entry slow\0We are looking into it.",
            ),
        );
        // An update of an incident the board does not have changes nothing.
        let before = board.clone();
        board.apply(8, 1_500, &notice(NoticeAction::Update, 99, "x"));
        assert_eq!(board.incidents, before.incidents);
        board.apply(
            9,
            2_000,
            &notice(NoticeAction::Update, 7, "A fix is deployed."),
        );
        let views = board.views(0);
        assert_eq!(views.len(), 1);
        let view = &views[0];
        assert_eq!(
            (view.id, view.title.as_str(), view.severity, view.status),
            (
                7,
                "Order entry slow",
                Severity::Major,
                IncidentStatus::Investigating
            )
        );
        assert_eq!(
            view.components,
            ["FIX order entry", "Matching"].map(String::from)
        );
        assert_eq!(
            view.updates
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>(),
            ["We are looking into it.", "A fix is deployed."]
        );
        board.apply(11, 3_000, &notice(NoticeAction::Resolve, 7, ""));
        let incident = board.incident(7).unwrap();
        assert_eq!(incident.resolved_ns, Some(3_000));
        assert_eq!(incident.updates.len(), 3);
        assert_eq!(incident.updates[2].status, "resolved");
        // Nor does an update of a resolved one.
        board.apply(12, 4_000, &notice(NoticeAction::Update, 7, "late"));
        assert_eq!(board.incident(7).map(|i| i.updates.len()), Some(3));
        // A resolved incident stays on the page for two weeks, then leaves it.
        assert_eq!(board.views(0)[0].status, IncidentStatus::Resolved);
        assert!(board.views(PAST_S + 1).is_empty());
    }

    #[test]
    fn maintenance_is_scheduled_until_it_ends_then_kept_two_weeks() {
        let mut board = NoticeBoard::default();
        let mut m = notice(NoticeAction::Maintenance, 0, "Upgrade");
        m.window = (1_000, 2_000);
        board.apply(3, 0, &m);
        let view = &board.views(500)[0];
        assert_eq!(
            (view.title.as_str(), view.status, view.window),
            ("Upgrade", IncidentStatus::Scheduled, Some((1_000, 2_000)))
        );
        assert_eq!(board.views(2_000)[0].status, IncidentStatus::Resolved);
        assert!(board.views(2_000 + PAST_S + 1).is_empty());
    }

    #[test]
    fn the_board_stays_bounded_and_keeps_open_incidents() {
        let mut board = NoticeBoard::default();
        board.apply(1, 0, &notice(NoticeAction::Open, 0, "still open"));
        for i in 0..(KEEP as u64 + 20) {
            let id = 10 + 2 * i;
            board.apply(id, 0, &notice(NoticeAction::Open, 0, "t"));
            board.apply(id + 1, 0, &notice(NoticeAction::Resolve, id, ""));
        }
        assert!(board.incidents.len() <= KEEP);
        assert!(board.incident(1).is_some());
    }
}
