//! The status page at `/`: a view in, HTML out, in the conventions of the status pages users
//! know (statuspage.io's): a banner with the overall state, the components with their states and
//! 90 daily bars each, then halts, incidents and maintenance. Server-rendered, inline CSS, no
//! script and nothing fetched from elsewhere; it reloads itself every [`REFRESH_S`] seconds.
//! Every string from outside this file goes through [`escape`].

use std::fmt::Write as _;

use crate::status::components::{self, Component, ComponentState, ComponentStatus, Overall};
use crate::status::history::{self, DayTally, History};
use crate::status::{IncidentStatus, IncidentView};

/// Seconds between the page's own reloads.
pub const REFRESH_S: u32 = 15;

/// Something that cannot trade, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halt {
    /// What: a symbol, "All symbols", "New orders".
    pub subject: String,
    /// Why, for people.
    pub reason: String,
}

/// What the page shows.
#[derive(Clone, Copy, Debug)]
pub struct PageView<'a> {
    /// Now, Unix seconds (the page's date, and which day is today for the bars).
    pub now_s: u64,
    /// The components and their states, in order.
    pub components: &'a [ComponentStatus],
    /// The halted symbols.
    pub halts: &'a [Halt],
    /// Trading blocked otherwise (the whole exchange halted, orders refused).
    pub blocks: &'a [Halt],
    /// Incidents and maintenance windows.
    pub incidents: &'a [IncidentView],
    /// The availability history.
    pub history: &'a History,
}

/// Appends `text` with HTML's special characters escaped (safe in text and in quoted attributes).
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#333;background:#f6f7f9}\
main{max-width:52rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}\
h2{font-size:1.1rem;margin:2rem 0 .5rem}\
h3{font-size:1rem;margin:0}\
.banner{color:#fff;font-weight:600;font-size:1.2rem;padding:1rem 1.25rem;border-radius:6px}\
.card{background:#fff;border:1px solid #e0e3e8;border-radius:6px}\
.component{padding:.9rem 1.1rem;border-top:1px solid #e0e3e8}\
.component:first-child{border-top:0}\
.row{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}\
.name{font-weight:600}\
.detail,.legend,.meta,footer{font-size:.85rem;color:#6b7380}\
.bars{display:flex;gap:1px;height:2.1rem;margin:.5rem 0 .25rem}\
.bar{flex:1;border-radius:1px}\
.legend{display:flex;justify-content:space-between}\
.s-operational{color:#2fcc66}.s-degraded{color:#d4a20b}.s-partial{color:#e67e22}.s-down{color:#e74c3c}\
.bar.s-operational,.banner.s-operational{background:#2fcc66}\
.bar.s-degraded,.banner.s-degraded{background:#f1c40f}\
.banner.s-partial{background:#e67e22}\
.bar.s-down,.banner.s-down{background:#e74c3c}\
main .banner{color:#fff}main .banner.s-degraded{color:#3b2f00}\
.bar.s-none{background:#b3bac5}\
ul.list{list-style:none;margin:0;padding:0}\
ul.list li{padding:.75rem 1.1rem;border-top:1px solid #e0e3e8}\
ul.list li:first-child{border-top:0}\
.incident{padding:.9rem 1.1rem;border-top:1px solid #e0e3e8}\
.incident:first-child{border-top:0}\
.sev-minor h3{color:#d4a20b}.sev-major h3{color:#e67e22}.sev-critical h3{color:#e74c3c}\
.updates{list-style:none;margin:.5rem 0 0;padding:0}\
.updates li{margin:.35rem 0}\
.empty{padding:.9rem 1.1rem;color:#6b7380}\
footer{margin:2rem 0 1rem;text-align:center}\
";

/// The CSS class of a state's colour.
fn class(state: ComponentState) -> &'static str {
    match state {
        ComponentState::Operational => "s-operational",
        ComponentState::Degraded => "s-degraded",
        ComponentState::Down => "s-down",
    }
}

fn overall_class(overall: Overall) -> &'static str {
    match overall {
        Overall::AllOperational => "s-operational",
        Overall::Degraded => "s-degraded",
        Overall::PartialOutage => "s-partial",
        Overall::MajorOutage => "s-down",
    }
}

/// A ratio as a percentage with two decimals ("100" when whole).
fn percent(ratio: f64) -> String {
    let text = format!("{:.2}", ratio * 100.0);
    match text.as_str() {
        "100.00" => "100".to_owned(),
        _ => text,
    }
}

/// Seconds as a short duration: "45 s", "12 min", "3 h 5 min".
fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
    }
}

/// One day's bar: its colour is the worst state seen that day; its tooltip the date and figure.
fn bar(out: &mut String, day: u64, tally: DayTally) {
    let mut title = history::date(day);
    let class = match (tally.worst(), tally.uptime()) {
        (Some(worst), Some(uptime)) => {
            let _ = write!(title, ": {}% uptime", percent(uptime));
            let mut notes = Vec::new();
            if tally.down > 0 {
                notes.push(format!("down {}", duration(tally.down)));
            }
            if tally.degraded > 0 {
                notes.push(format!("degraded {}", duration(tally.degraded)));
            }
            if !notes.is_empty() {
                let _ = write!(title, " ({})", notes.join(", "));
            }
            class(worst)
        }
        _ => {
            title.push_str(": no data");
            "s-none"
        }
    };
    let _ = write!(out, "<span class=\"bar {class}\" title=\"");
    escape(out, &title);
    out.push_str("\"></span>");
}

fn component(out: &mut String, status: &ComponentStatus, history: &History, today: u64) {
    let c: Component = status.component;
    let _ = write!(
        out,
        "<div class=\"component\" id=\"component-{}\" data-state=\"{}\"><div class=\"row\">\
         <span class=\"name\">",
        c.id(),
        status.state.name()
    );
    escape(out, c.name());
    let _ = write!(
        out,
        "</span><span class=\"state {}\">{}</span></div>",
        class(status.state),
        status.state.label()
    );
    if !status.detail.is_empty() {
        out.push_str("<div class=\"detail\">");
        escape(out, &status.detail);
        out.push_str("</div>");
    }
    out.push_str("<div class=\"bars\">");
    for (day, tally) in history.bars(today, c) {
        bar(out, day, tally);
    }
    out.push_str("</div><div class=\"legend\"><span>90 days ago</span><span>");
    match history.uptime(today, c) {
        Some(uptime) => {
            let _ = write!(out, "{}% uptime", percent(uptime));
        }
        None => out.push_str("no data yet"),
    }
    out.push_str("</span><span>Today</span></div></div>");
}

fn halts(out: &mut String, id: &str, title: &str, list: &[Halt], empty: &str) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2><div class=\"card\">"
    );
    if list.is_empty() {
        let _ = write!(out, "<p class=\"empty\">{empty}</p>");
    } else {
        out.push_str("<ul class=\"list\">");
        for halt in list {
            out.push_str("<li><strong>");
            escape(out, &halt.subject);
            out.push_str("</strong> — ");
            escape(out, &halt.reason);
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    out.push_str("</div></section>");
}

fn incident(out: &mut String, incident: &IncidentView) {
    let _ = write!(
        out,
        "<article class=\"incident sev-{}\" id=\"incident-{}\"><h3>",
        incident.severity.name(),
        incident.id
    );
    escape(out, &incident.title);
    let _ = write!(
        out,
        "</h3><div class=\"meta\">{} · {}",
        incident.status.label(),
        incident.severity.name()
    );
    if let Some((from, to)) = incident.window {
        let _ = write!(
            out,
            " · scheduled {} – {}",
            history::date_time(from),
            history::date_time(to)
        );
    }
    if !incident.components.is_empty() {
        out.push_str(" · affects ");
        escape(out, &incident.components.join(", "));
    }
    out.push_str("</div>");
    let mut updates: Vec<&(u64, String)> = incident.updates.iter().collect();
    updates.sort_by_key(|u| std::cmp::Reverse(u.0));
    if !updates.is_empty() {
        out.push_str("<ol class=\"updates\">");
        for (at, text) in updates {
            let _ = write!(out, "<li><time>{}</time> — ", history::date_time(*at));
            escape(out, text);
            out.push_str("</li>");
        }
        out.push_str("</ol>");
    }
    out.push_str("</article>");
}

fn incidents(out: &mut String, id: &str, title: &str, list: &[&IncidentView], empty: &str) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title}</h2><div class=\"card\">"
    );
    if list.is_empty() {
        let _ = write!(out, "<p class=\"empty\">{empty}</p>");
    }
    for i in list {
        incident(out, i);
    }
    out.push_str("</div></section>");
}

/// The page.
pub fn render(view: &PageView<'_>) -> String {
    let today = view.now_s / 86_400;
    let overall = components::overall(view.components);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
         <title>Hayate status — {}</title><style>{STYLE}</style></head><body><main>\
         <h1>Hayate status</h1>\
         <div class=\"banner {}\" id=\"overall\" data-state=\"{}\">{}</div>",
        overall.label(),
        overall_class(overall),
        overall.name(),
        overall.label()
    );
    out.push_str("<section id=\"components\"><h2>Components</h2><div class=\"card\">");
    for status in view.components {
        component(&mut out, status, view.history, today);
    }
    out.push_str("</div></section>");
    halts(
        &mut out,
        "halts",
        "Halted symbols",
        view.halts,
        "Every symbol is trading.",
    );
    halts(
        &mut out,
        "blocks",
        "Blocked trading",
        view.blocks,
        "Nothing else blocks trading.",
    );
    let mut ordered: Vec<&IncidentView> = view.incidents.iter().collect();
    ordered.sort_by(|a, b| b.latest().cmp(&a.latest()).then(b.id.cmp(&a.id)));
    let (maintenance, reported): (Vec<&IncidentView>, Vec<&IncidentView>) = ordered
        .into_iter()
        .partition(|i| i.status == IncidentStatus::Scheduled || i.window.is_some());
    incidents(
        &mut out,
        "incidents",
        "Incidents",
        &reported,
        "No incidents reported.",
    );
    incidents(
        &mut out,
        "maintenance",
        "Scheduled maintenance",
        &maintenance,
        "No maintenance scheduled.",
    );
    let _ = writeln!(
        out,
        "<footer>Updated {} · refreshes every {REFRESH_S} s · machine-readable at \
         <a href=\"/status\">/status</a></footer></main></body></html>",
        history::date_time(view.now_s)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Severity;

    fn operational(component: Component) -> ComponentStatus {
        ComponentStatus {
            component,
            state: ComponentState::Operational,
            detail: String::new(),
        }
    }

    const NOW: u64 = 20_428 * 86_400 + 3_600;

    fn page(components: &[ComponentStatus], halts: &[Halt], incidents: &[IncidentView]) -> String {
        let mut history = History::default();
        history.record(NOW - 600, NOW, components);
        render(&PageView {
            now_s: NOW,
            components,
            halts,
            blocks: &[],
            incidents,
            history: &history,
        })
    }

    #[test]
    fn escape_covers_the_five_specials_and_leaves_the_rest() {
        let mut out = String::new();
        escape(&mut out, "<a href=\"x\">Tom & Jerry's</a> 日本");
        assert_eq!(
            out,
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt; 日本"
        );
    }

    #[test]
    fn an_all_green_page_has_the_banner_components_and_ninety_bars_each() {
        let components: Vec<ComponentStatus> = Component::ALL[..5]
            .iter()
            .map(|c| operational(*c))
            .collect();
        let html = page(&components, &[], &[]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"15\">"));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains(">All Systems Operational</div>"));
        assert!(html.contains("Every symbol is trading."));
        assert!(html.contains("No incidents reported."));
        assert_eq!(html.matches("class=\"bar ").count(), 5 * 90);
        assert_eq!(html.matches("class=\"component\"").count(), 5);
        assert!(html.contains("title=\"2025-12-06: 100% uptime\""), "{html}");
        assert!(html.contains("title=\"2025-12-05: no data\""));
        assert!(html.contains(">100% uptime</span>"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn halts_and_incidents_are_escaped_and_newest_first() {
        let mut components: Vec<ComponentStatus> = Component::ALL[..5]
            .iter()
            .map(|c| operational(*c))
            .collect();
        components[3].state = ComponentState::Degraded;
        components[3].detail = "some symbols are halted".into();
        let halts = [Halt {
            subject: "<BTC-JPY>".into(),
            reason: "halted by the exchange's operators".into(),
        }];
        let incidents = [
            IncidentView {
                id: 1,
                title: "Older".into(),
                severity: Severity::Minor,
                status: IncidentStatus::Resolved,
                components: vec![],
                updates: vec![(NOW - 7_200, "fixed".into())],
                window: None,
            },
            IncidentView {
                id: 2,
                title: "Slow <acks>".into(),
                severity: Severity::Major,
                status: IncidentStatus::Investigating,
                components: vec!["FIX order entry".into()],
                updates: vec![(NOW - 60, "first".into()), (NOW, "second".into())],
                window: None,
            },
            IncidentView {
                id: 3,
                title: "Upgrade".into(),
                severity: Severity::Minor,
                status: IncidentStatus::Scheduled,
                components: vec![],
                updates: vec![],
                window: Some((NOW + 86_400, NOW + 90_000)),
            },
        ];
        let html = page(&components, &halts, &incidents);
        assert!(html.contains(">Degraded Performance</div>"));
        assert!(
            html.contains(
                "<strong>&lt;BTC-JPY&gt;</strong> — halted by the exchange&#39;s operators"
            )
        );
        assert!(html.contains("Slow &lt;acks&gt;"));
        let newer = html.find("Slow &lt;acks&gt;").expect("newer");
        let older = html.find("Older").expect("older");
        assert!(newer < older);
        let second = html.find("second").expect("second");
        let first = html.find("first</li>").expect("first");
        assert!(second < first);
        let maintenance = html.find("id=\"maintenance\"").expect("section");
        assert!(html.find("Upgrade").expect("upgrade") > maintenance);
        assert!(html.contains("scheduled 2025-12-07 01:00 UTC – 2025-12-07 02:00 UTC"));
    }

    #[test]
    fn a_bar_is_coloured_by_the_worst_state_of_its_day() {
        let mut out = String::new();
        bar(
            &mut out,
            0,
            DayTally {
                operational: 3_540,
                degraded: 0,
                down: 60,
            },
        );
        assert_eq!(
            out,
            "<span class=\"bar s-down\" title=\"1970-01-01: 98.33% uptime (down 1 min)\"></span>"
        );
    }
}
