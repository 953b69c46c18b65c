//! Alerts without Prometheus (`[alerts] webhook`, BEHAVIOUR.md §7): the gateway POSTs a JSON
//! alert when one of its components changes state.
//!
//! Two threads of their own, so the event loop never waits on a webhook: a *watcher* reads the
//! shared state (atomics and the status closures the HTTP page uses) every
//! [`SAMPLE_INTERVAL`], turns what changed into alerts ([`detect::changes`]) and queues their
//! JSON bodies on a bounded channel; a *sender* takes them one at a time and delivers each with
//! a timeout and retries ([`http_post`]). A webhook that hangs or refuses only delays the alerts
//! behind it; when the queue is full the oldest alert is dropped and counted.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::config::{AlertsConfig, WebhookUrl};
use crate::metrics::{ExchangeState, GatewayMetrics, StatusContext};

pub mod detect;
pub mod http_post;

pub use detect::{Alert, DiskReading, LinkReading, Severity, Snapshot, changes};

/// How often the watcher reads the node's state: the disk guard probes at the same pace, and a
/// change a person is paged for needs no finer grain.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// The first back-off after a failed delivery; it doubles with each retry.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What happened to the alerts, for `/metrics`.
#[derive(Debug, Default)]
pub struct AlertCounters {
    /// Alerts the webhook accepted (a 2xx answer).
    pub sent: AtomicU64,
    /// Alerts given up on after every retry failed.
    pub failed: AtomicU64,
    /// Alerts dropped unsent because the queue was full (the oldest go first).
    pub dropped: AtomicU64,
}

/// Reads the node's state now; called on the watcher thread with the previous reading.
pub type Sampler = Box<dyn FnMut(&Snapshot) -> Snapshot + Send>;

/// The node's states now, from what `/status` reads too: the gateway's counters, the status
/// context (role, replication, disk guard) and the pipeline's failure, if any. While the gateway
/// is recovering or stopping, the exchange's halt is carried over from `before`, so a stop does
/// not read as a resume.
pub fn read_snapshot(
    metrics: &GatewayMetrics,
    context: &StatusContext,
    pipeline_failure: Option<String>,
    before: &Snapshot,
) -> Snapshot {
    let exchange_halted = match metrics.state() {
        ExchangeState::Halted => true,
        ExchangeState::Recovering | ExchangeState::Stopping => before.exchange_halted,
        ExchangeState::Running | ExchangeState::Standby => false,
    };
    let disk = &context.disk;
    let thresholds = disk.thresholds();
    Snapshot {
        exchange_halted,
        halted_symbols: metrics.halted_symbols().into_iter().collect(),
        disk: disk.is_on().then(|| DiskReading {
            tripped: disk.is_tripped(),
            free: disk.free(),
            min_free: thresholds.min_free,
            resume_at: thresholds.resume_at,
        }),
        replication: context.replication.as_ref().map(|link| LinkReading {
            role: context.role,
            peer: link.peer.clone(),
            connected: link.connected,
            degraded: link.degraded,
            lag: link.lag,
        }),
        pipeline_failure,
    }
}

/// `time` as RFC 3339 in UTC with milliseconds (`2026-12-06T05:58:33.123Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let rest = secs % 86_400;
    let (year, month, day) = crate::fix::codec::civil_from_days(secs / 86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The running watcher and sender; dropping it stops both (within one delivery's timeout).
#[derive(Debug)]
pub struct Alerter {
    threads: Option<(Sender<()>, Vec<JoinHandle<()>>)>,
}

impl Alerter {
    /// Starts watching with `sample` and sending to `config.webhook` as `node`; without a
    /// webhook, starts nothing.
    pub fn start(
        config: &AlertsConfig,
        node: String,
        sample: Sampler,
        counters: Arc<AlertCounters>,
    ) -> io::Result<Alerter> {
        let Some(webhook) = config.webhook.clone() else {
            return Ok(Alerter { threads: None });
        };
        let capacity = usize::try_from(config.queue).unwrap_or(usize::MAX).max(1);
        let (queue_in, queue_out) = channel::bounded::<String>(capacity);
        // Nothing is ever sent on `stop`: dropping its sender ends every wait on it at once.
        let (stop, stopped) = channel::bounded::<()>(1);
        let watcher = {
            let stopped = stopped.clone();
            let oldest = queue_out.clone();
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("hayate-alert-watch".into())
                .spawn(move || watch(sample, &node, &queue_in, &oldest, &stopped, &counters))?
        };
        let delivery = Delivery {
            target: format!("{}:{}", webhook.host, webhook.port),
            webhook,
            timeout: Duration::from_millis(config.timeout_ms),
            retries: config.retries,
        };
        let sender = std::thread::Builder::new()
            .name("hayate-alert-send".into())
            .spawn(move || delivery.run(&queue_out, &stopped, &counters));
        let sender = match sender {
            Ok(sender) => sender,
            Err(e) => {
                drop(stop);
                let _ = watcher.join();
                return Err(e);
            }
        };
        Ok(Alerter {
            threads: Some((stop, vec![watcher, sender])),
        })
    }

    /// Whether alerts are being watched for (a webhook is configured).
    pub fn is_on(&self) -> bool {
        self.threads.is_some()
    }
}

impl Drop for Alerter {
    fn drop(&mut self) {
        if let Some((stop, threads)) = self.threads.take() {
            drop(stop);
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

/// The watcher's loop: sample, compare, queue, until `stopped` is disconnected.
fn watch(
    mut sample: Sampler,
    node: &str,
    queue: &Sender<String>,
    oldest: &Receiver<String>,
    stopped: &Receiver<()>,
    counters: &AlertCounters,
) {
    let mut before = Snapshot::default();
    loop {
        let now = sample(&before);
        let alerts = changes(&before, &now);
        if !alerts.is_empty() {
            let time = rfc3339(SystemTime::now());
            for alert in alerts {
                tracing::info!(
                    alert = alert.name,
                    firing = alert.firing,
                    "{}",
                    alert.summary
                );
                enqueue(queue, oldest, alert.to_json(node, &time), counters);
            }
        }
        before = now;
        if let Err(RecvTimeoutError::Disconnected) = stopped.recv_timeout(SAMPLE_INTERVAL) {
            return;
        }
    }
}

/// Queues `body`; a full queue loses its oldest alert (counted) to make room, since the newest
/// state is what an operator needs.
fn enqueue(
    queue: &Sender<String>,
    oldest: &Receiver<String>,
    body: String,
    counters: &AlertCounters,
) {
    let mut body = body;
    loop {
        match queue.try_send(body) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(back)) => {
                body = back;
                if oldest.try_recv().is_ok() {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("alert queue full: the oldest alert was dropped unsent");
                }
            }
        }
    }
}

/// How the sender delivers.
struct Delivery {
    webhook: WebhookUrl,
    /// `host:port` for the log: the path may hold a token (many webhooks are keyed that way).
    target: String,
    timeout: Duration,
    retries: u32,
}

impl Delivery {
    /// Sends each queued alert in order until `stopped` is disconnected.
    fn run(&self, queue: &Receiver<String>, stopped: &Receiver<()>, counters: &AlertCounters) {
        loop {
            let body = channel::select! {
                recv(queue) -> body => match body {
                    Ok(body) => body,
                    Err(_) => return,
                },
                recv(stopped) -> _ => return,
            };
            match self.deliver(&body, stopped) {
                Some(true) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Some(false) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                None => return,
            }
        }
    }

    /// One alert: the first attempt and up to `retries` more, backing off in between. `None`
    /// if a stop came during a back-off (the alert is abandoned, not counted as failed).
    fn deliver(&self, body: &str, stopped: &Receiver<()>) -> Option<bool> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..=self.retries {
            match http_post::post_json(&self.webhook, body, self.timeout) {
                Ok(_) => return Some(true),
                Err(e) => tracing::warn!(
                    webhook = %self.target,
                    attempt = attempt + 1,
                    "alert not delivered: {e}"
                ),
            }
            if attempt == self.retries {
                break;
            }
            if let Err(RecvTimeoutError::Disconnected) = stopped.recv_timeout(backoff) {
                return None;
            }
            backoff = backoff.saturating_mul(2);
        }
        tracing::error!(webhook = %self.target, "alert given up after {} retries", self.retries);
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;
    use std::time::Instant;

    #[test]
    fn rfc3339_in_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let (tx, rx) = channel::bounded(2);
        let counters = AlertCounters::default();
        for body in ["a", "b", "c"] {
            enqueue(&tx, &rx, body.to_owned(), &counters);
        }
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["b", "c"]);
    }

    fn config(url: &str, timeout_ms: u64, retries: u32) -> AlertsConfig {
        AlertsConfig {
            webhook: Some(WebhookUrl::parse(url).unwrap()),
            timeout_ms,
            retries,
            queue: 8,
        }
    }

    /// A sampler reading a state the test sets.
    fn shared(state: &Arc<Mutex<Snapshot>>) -> Sampler {
        let state = Arc::clone(state);
        Box::new(move |_| state.lock().unwrap().clone())
    }

    #[test]
    fn a_change_is_posted_after_a_failure_and_a_retry() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (bodies_tx, bodies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().take(2).enumerate() {
                let mut stream = stream.unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                while !request.ends_with(b"}") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let answer = if i == 0 { "500 Oops" } else { "200 OK" };
                let _ = write!(stream, "HTTP/1.1 {answer}\r\nContent-Length: 0\r\n\r\n");
                let _ = bodies_tx.send(String::from_utf8_lossy(&request).to_string());
            }
        });
        let state = Arc::new(Mutex::new(Snapshot::default()));
        let counters = Arc::new(AlertCounters::default());
        let alerter = Alerter::start(
            &config(&format!("http://{addr}/"), 2000, 3),
            "TEST".to_owned(),
            shared(&state),
            Arc::clone(&counters),
        )
        .unwrap();
        assert!(alerter.is_on());
        state.lock().unwrap().exchange_halted = true;
        let first = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
        let second = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(first.contains("\"alert\":\"exchange_halted\""), "{first}");
        assert_eq!(first, second);
        let deadline = Instant::now() + Duration::from_secs(5);
        while counters.sent.load(Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(counters.failed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_hanging_webhook_does_not_hold_the_stop_past_its_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(Snapshot {
            exchange_halted: true,
            ..Snapshot::default()
        }));
        let alerter = Alerter::start(
            &config(&format!("http://{addr}/"), 500, 3),
            "TEST".to_owned(),
            shared(&state),
            Arc::new(AlertCounters::default()),
        )
        .unwrap();
        // Accepted by the kernel's backlog and never answered: the sender waits on its read.
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        drop(alerter);
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1500), "the stop took {took:?}");
        drop(listener);
    }

    #[test]
    fn without_a_webhook_nothing_runs() {
        let alerter = Alerter::start(
            &AlertsConfig::default(),
            "TEST".to_owned(),
            Box::new(|s: &Snapshot| s.clone()),
            Arc::new(AlertCounters::default()),
        )
        .unwrap();
        assert!(!alerter.is_on());
    }
}
