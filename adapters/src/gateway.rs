//! The whole exchange behind its ports: recovery, the pipeline, the FIX and binary event loop, and
//! the HTTP status page (with its availability history), started and stopped as one.
//!
//! ```no_run
//! use hayate_adapters::gateway::Gateway;
//! use hayate_adapters::config::ExchangeConfig;
//!
//! let gateway = Gateway::start(ExchangeConfig::demo())?;
//! println!("FIX on {}", gateway.addrs().fix);
//! let report = gateway.stop()?;
//! println!("stopped at sequence {}", report.durable_seq);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::{Poll, Waker};

use crate::config::{ExchangeConfig, Role};
use hayate_core::Engine;
use hayate_core::command::Command;
use hayate_core::market_data;
use hayate_core::pipeline::{
    self, EventReceiver, Monitor, Pipeline, PipelineError, ReplicaLink, StopReport,
};
use hayate_core::recovery::RecoveryReport;

use crate::alerts::{self, AlertCounters, Alerter, Sampler, Snapshot};
use crate::disk_guard::{DiskGuard, Thresholds, Watcher};
use crate::http::{HttpServer, PageSource};
use crate::market_data::{Feed, FeedMetrics};
use crate::metrics::{self, GatewayMetrics, MetricsExporter, MetricsSources, StatusContext};
use crate::net::server::{MarketDataHub, MarketSnapshots, Server, ServerSettings, Stopped, WAKER};
use crate::notices::NoticeBoard;
use crate::notices::follower::NoticeFollower;
use crate::replication::node::{self, NodeContext, ReplicationNode, ReplicationStatus};
use crate::replication::role::{NodeRole, Rejoin, RoleState};
use crate::status::history::{self, Recorder};
use crate::status::{IncidentSource, StatusSources};

/// Why the gateway could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Recovery or the pipeline failed (names the file or stage).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A port could not be bound, or the poller could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// The event loop thread panicked.
    #[error("the gateway thread panicked")]
    Panicked,
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> GatewayError {
    let what = what.into();
    move |source| GatewayError::Io { what, source }
}

/// Where a running gateway listens (the bound addresses, so port 0 in the config works).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayAddrs {
    /// FIX 4.4 acceptor.
    pub fix: SocketAddr,
    /// Binary order entry (and admin, unless `admin_listen` is set).
    pub binary: SocketAddr,
    /// Where admins log on, when `[gateway] admin_listen` is set.
    pub admin: Option<SocketAddr>,
    /// The status page `/`, `/status`, `/metrics`, `/book`, `/trades`.
    pub http: SocketAddr,
    /// The public WebSocket market-data feed, when `[market_data] ws_listen` is set.
    pub ws: Option<SocketAddr>,
}

/// Raises the stop flag of a running gateway from anywhere (a signal handler's thread, a test).
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl StopHandle {
    /// Asks the gateway to stop; [`Gateway::wait`] then returns.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }

    /// True once a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A running exchange.
pub struct Gateway {
    pipeline: Option<Pipeline>,
    replication: Option<Arc<ReplicationNode>>,
    role: Arc<NodeRole>,
    io_thread: Option<JoinHandle<Stopped>>,
    http: Option<HttpServer>,
    stop: StopHandle,
    addrs: GatewayAddrs,
    recovery: RecoveryReport,
    metrics: Arc<GatewayMetrics>,
    feed_metrics: Arc<FeedMetrics>,
    monitor: Monitor,
    engine: hayate_core::EngineConfig,
    disk: Arc<DiskGuard>,
    /// Probes the journal's file system until the gateway is dropped.
    _disk_watcher: Watcher,
    /// Watches for changes of state and posts them to `[alerts] webhook`; stopped first.
    alerter: Option<Alerter>,
    alert_counters: Arc<AlertCounters>,
    notices: Arc<Mutex<NoticeBoard>>,
    /// Reads notices from the journal until the gateway is dropped.
    _notice_follower: NoticeFollower,
    /// Samples the components into the availability history; stopped (and its file written)
    /// before the node starts stopping, so a clean stop does not count as an outage.
    status_recorder: Option<Recorder>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Recovers the exchange from its journal, binds the ports and starts serving.
    pub fn start(config: ExchangeConfig) -> Result<Gateway, GatewayError> {
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        let poll = Poll::new().map_err(io_error("cannot create the poller"))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), WAKER).map_err(io_error("cannot create the waker"))?,
        );
        let metrics = Arc::new(GatewayMetrics::new());
        let wake = Arc::clone(&waker);
        let initial_role = node::initial_role(config.replication());
        let standby = initial_role == RoleState::Standby;
        let link = config.replication().map(|r| {
            let link = ReplicaLink::new(
                r.mode,
                r.on_standby_loss,
                Duration::from_millis(r.ack_timeout_ms),
            );
            // A standby's replicator must not wait for a standby of its own.
            link.set_active(!standby);
            link
        });
        let mut builder = config.core().pipeline_builder().output_wakeup(move || {
            let _ = wake.wake();
        });
        if standby {
            // Everything a standby journals comes from its primary, the deposits included.
            builder = builder.initial_commands(Vec::new());
        }
        if let Some(link) = &link {
            builder = builder.replica(Arc::clone(link));
        }
        let (pipeline, receiver, recovery) = builder.start()?;
        // The guard watches the data directory once recovery has made it.
        let disk = Arc::new(DiskGuard::new(Thresholds::from_mb(
            config.journal().min_free_mb,
        )));
        let disk_watcher = match disk.watch(config.journal().dir.clone()) {
            Ok(watcher) => watcher,
            Err(source) => {
                let _ = stop_pipeline(pipeline, None, None, None);
                return Err(GatewayError::Io {
                    what: "cannot start the disk guard".to_owned(),
                    source,
                });
            }
        };
        // Notices are read back from the journal, which recovery has just opened.
        let notices = Arc::new(Mutex::new(NoticeBoard::default()));
        let notice_follower = match NoticeFollower::start(
            pipeline::journal_dir(&config.journal().dir),
            &config.journal().dir,
            Arc::clone(&notices),
        ) {
            Ok(follower) => follower,
            Err(source) => {
                let _ = stop_pipeline(pipeline, None, None, None);
                return Err(GatewayError::Io {
                    what: "cannot read the notices from the journal".to_owned(),
                    source,
                });
            }
        };
        // Market data resumes where the journal ends (its sequences included). Before anything
        // else is published: the replay reads the journal up to the recovered sequence.
        let data_dir = &config.journal().dir;
        let market = match market_data::recover(config.engine_config(), data_dir, recovery.last_seq)
        {
            Ok((market, report)) => {
                if let Some(warning) = &report.warning {
                    tracing::warn!(warning, "market data");
                }
                market
            }
            Err(e) => {
                let _ = stop_pipeline(pipeline, None, None, None);
                return Err(GatewayError::Pipeline(e.into()));
            }
        };
        let feed_metrics = Arc::new(FeedMetrics::default());
        let feed = Feed::start_with_tls(
            config.market_data(),
            config.engine_config().clone(),
            market.clone(),
            Arc::clone(&feed_metrics),
            config.tls().ws_server(),
        );
        let feed = match feed {
            Ok(feed) => feed,
            Err(source) => {
                let _ = stop_pipeline(pipeline, None, None, None);
                return Err(GatewayError::Io {
                    what: format!(
                        "cannot start the market-data feed (ws_listen {:?})",
                        config.market_data().ws_listen
                    ),
                    source,
                });
            }
        };
        feed.show_notices(Arc::clone(&notices));
        let ws = feed.ws_addr();
        let queries = feed.queries();
        let hub = MarketDataHub::new(
            market,
            Some(feed),
            MarketSnapshots {
                dir: market_data::snapshot_dir(data_dir),
                keep: config.journal().keep_snapshots,
                every: config.journal().snapshot_every,
            },
            Arc::clone(&metrics),
        );
        let publisher = pipeline.publisher();
        let monitor = pipeline.monitor();
        let stop = StopHandle {
            stop: Arc::new(AtomicBool::new(false)),
            waker: Arc::clone(&waker),
        };
        let role = Arc::new(NodeRole::new(initial_role, recovery.epochs.clone()));
        let replication = match (config.replication(), link) {
            (Some(replication), Some(link)) => {
                let context = NodeContext {
                    config: replication.clone(),
                    journal_dir: pipeline::journal_dir(&config.journal().dir),
                    config_digest: Engine::new(config.engine_config().clone()).digest(),
                    link,
                    role: Arc::clone(&role),
                    monitor: monitor.clone(),
                    stop_gateway: {
                        let stop = stop.clone();
                        Arc::new(move || stop.stop())
                    },
                    wait: config.pipeline().wait,
                };
                match ReplicationNode::start(context, pipeline.publisher(), recovery.last_seq) {
                    Ok(node) => Some(Arc::new(node)),
                    Err(source) => {
                        let _ = stop_pipeline(pipeline, None, None, Some(hub));
                        return Err(GatewayError::Io {
                            what: format!(
                                "cannot start replication (listen {:?})",
                                replication.listen
                            ),
                            source,
                        });
                    }
                }
            }
            _ => None,
        };
        let settings = ServerSettings {
            sessions_dir: config.journal().dir.join("sessions"),
            role: Arc::clone(&role),
            config: config.clone(),
            disk: Arc::clone(&disk),
            notices: Arc::clone(&notices),
        };
        let halts = (recovery.exchange_halted, recovery.halted_symbols.clone());
        let server = Server::bind(
            settings,
            poll,
            publisher,
            receiver,
            Arc::clone(&metrics),
            Arc::clone(&stop.stop),
            halts,
            hub,
            waker,
        );
        let mut server = match server {
            Ok(server) => server,
            Err(source) => {
                let _ = stop_pipeline(pipeline, None, replication, None);
                return Err(GatewayError::Io {
                    what: format!(
                        "cannot listen on {} / {}",
                        config.gateway().fix_listen,
                        config.gateway().binary_listen
                    ),
                    source,
                });
            }
        };
        let (fix, binary) = server
            .local_addrs()
            .map_err(io_error("cannot read the bound addresses"))?;
        let admin = server
            .admin_addr()
            .map_err(io_error("cannot read the admin address"))?;
        let context: Arc<dyn Fn() -> StatusContext + Send + Sync> = {
            let role = Arc::clone(&role);
            let replication = replication.clone();
            let disk = Arc::clone(&disk);
            Arc::new(move || StatusContext {
                role: role.state().name(),
                epoch: role.epoch(),
                replication: replication.as_ref().map(|r| r.status()),
                disk: Arc::clone(&disk),
            })
        };
        let incidents: Arc<IncidentSource> = {
            let notices = Arc::clone(&notices);
            Arc::new(move || {
                let now_s = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                notices
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .views(now_s)
            })
        };
        let sources = StatusSources {
            metrics: Arc::clone(&metrics),
            monitor: monitor.clone(),
            context: Arc::clone(&context),
            ws_feed: ws.is_some(),
            incidents,
        };
        let status: Arc<dyn Fn() -> String + Send + Sync> = {
            let sources = sources.clone();
            Arc::new(move || sources.json())
        };
        // The history's own thread samples and writes its file: never the event loop.
        let recorder = {
            let sources = sources.clone();
            Recorder::start(
                history::path(data_dir),
                history::SAMPLE_EVERY,
                Arc::new(move || sources.components()),
            )
        };
        let recorder = match recorder {
            Ok(recorder) => recorder,
            Err(source) => {
                drop(server);
                let _ = stop_pipeline(pipeline, None, replication, None);
                return Err(GatewayError::Io {
                    what: "cannot start the status history".to_owned(),
                    source,
                });
            }
        };
        let history = recorder.history();
        server.set_blocked_accounts(&recovery.blocked_accounts);
        server.set_status_source(Arc::clone(&status));
        let alert_counters = Arc::new(AlertCounters::default());
        // Read at scrape time, on the HTTP thread (metrics/exposition.rs).
        let exporter = MetricsExporter::new(MetricsSources {
            gateway: Arc::clone(&metrics),
            feed: Arc::clone(&feed_metrics),
            pipeline: {
                let monitor = monitor.clone();
                Arc::new(move || monitor.stats())
            },
            context: Arc::clone(&context),
            journal_dir: Some(pipeline::journal_dir(&config.journal().dir)),
            alerts: Arc::clone(&alert_counters),
        });
        let pages: Arc<PageSource> = Arc::new(move |url: &str| {
            let path = url.split('?').next().unwrap_or_default();
            match path {
                "/" => Some((200, "text/html; charset=utf-8", sources.page(&history))),
                "/status" => Some((200, "application/json", status())),
                "/metrics" => Some(match exporter.prometheus_text() {
                    Ok(text) => (200, metrics::CONTENT_TYPE, text),
                    Err(_) => (500, "text/plain", "cannot encode the metrics\n".to_owned()),
                }),
                // /book/SYMBOL and /trades/SYMBOL: the feed's thread answers from its builder.
                _ => queries
                    .query(url)
                    .map(|(code, body)| (code, "application/json", body)),
            }
        });
        let http_listen = config.gateway().http_listen;
        let http = match config.tls().http_server() {
            None => HttpServer::start(http_listen, pages),
            Some(tls) => {
                let metrics = Arc::clone(&metrics);
                let on_failure = move || GatewayMetrics::bump(&metrics.tls_failures);
                HttpServer::start_tls(http_listen, pages, tls, Arc::new(on_failure))
            }
        };
        let http = match http {
            Ok(http) => http,
            Err(source) => {
                drop(server);
                let _ = stop_pipeline(pipeline, None, replication, None);
                return Err(GatewayError::Io {
                    what: format!("cannot listen on {}", config.gateway().http_listen),
                    source,
                });
            }
        };
        // Every session was lost with the last process: users with cancel-on-disconnect get
        // their orders cancelled now, as journaled commands (BEHAVIOUR.md §8). Only on a primary: a
        // standby's journal takes its primary's records alone (and gets these from it).
        let mut startup: Vec<Command> = Vec::new();
        let accounts = if standby {
            &[][..]
        } else {
            &recovery.accounts_with_orders[..]
        };
        for account in accounts {
            let cod = config
                .users()
                .iter()
                .any(|u| u.account == *account && u.cancel_on_disconnect);
            if cod {
                startup.push(Command::cancel_on_disconnect(*account));
            }
        }
        server.publish_startup(&startup);
        // The watcher reads what /status reads, on a thread of its own: the event loop never
        // learns that alerts exist.
        let sample: Sampler = {
            let metrics = Arc::clone(&metrics);
            let monitor = monitor.clone();
            let context = Arc::clone(&context);
            Box::new(move |before: &Snapshot| {
                alerts::read_snapshot(&metrics, &context(), monitor.failure(), before)
            })
        };
        let node_name = format!("{}@{}", config.gateway().comp_id, http.addr());
        let alerter = match Alerter::start(
            config.alerts(),
            node_name,
            sample,
            Arc::clone(&alert_counters),
        ) {
            Ok(alerter) => Some(alerter),
            Err(e) => {
                // Trading matters more than its alerts: the node serves on, saying so.
                tracing::error!("cannot start the alert threads, no alert will be sent: {e}");
                None
            }
        };
        let io_thread = std::thread::Builder::new()
            .name("hayate-gateway".into())
            .spawn(move || server.run())
            .map_err(io_error("cannot start the gateway thread"))?;
        Ok(Gateway {
            pipeline: Some(pipeline),
            replication,
            role,
            io_thread: Some(io_thread),
            addrs: GatewayAddrs {
                fix,
                binary,
                admin,
                http: http.addr(),
                ws,
            },
            http: Some(http),
            stop,
            recovery,
            metrics,
            feed_metrics,
            monitor,
            engine: config.engine_config().clone(),
            disk,
            _disk_watcher: disk_watcher,
            alerter,
            alert_counters,
            notices,
            _notice_follower: notice_follower,
            status_recorder: Some(recorder),
        })
    }

    /// Where it listens.
    pub fn addrs(&self) -> GatewayAddrs {
        self.addrs
    }

    /// What recovery found at start.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The gateway's counters.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.metrics
    }

    /// The WebSocket feed's counters.
    pub fn feed_metrics(&self) -> &FeedMetrics {
        &self.feed_metrics
    }

    /// The incident notices and maintenance windows, as read from the journal so far.
    pub fn notices(&self) -> NoticeBoard {
        self.notices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The disk guard's verdict and the free space it last saw.
    pub fn disk_guard(&self) -> &DiskGuard {
        &self.disk
    }

    /// What became of the alerts sent to `[alerts] webhook`.
    pub fn alert_counters(&self) -> &AlertCounters {
        &self.alert_counters
    }

    /// The pipeline's counters.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// What this node is in its pair now (a node without `[replication]` is a primary).
    pub fn role(&self) -> &Arc<NodeRole> {
        &self.role
    }

    /// The link to the other node of the pair, if there is one.
    pub fn replication_status(&self) -> Option<ReplicationStatus> {
        self.replication.as_ref().map(|r| r.status())
    }

    /// Where this node listens for its standby, if it is a primary with `[replication] listen`.
    pub fn replication_addr(&self) -> Option<SocketAddr> {
        self.replication.as_ref().and_then(|r| r.listen_addr())
    }

    /// True until a stop is asked for, the gateway thread ended, or a pipeline stage failed
    /// (a journal I/O error, or synchronous replication halting without its standby): a failed
    /// pipeline takes no more commands, so the node stops rather than serve refusals.
    pub fn is_serving(&self) -> bool {
        !self.stop.is_stopping()
            && self.io_thread.as_ref().is_some_and(|t| !t.is_finished())
            && self.monitor.failure().is_none()
    }

    /// A handle that can ask the gateway to stop from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Blocks until a stop is asked for (through a [`StopHandle`]) or the pipeline fails, then
    /// stops cleanly.
    pub fn wait(self) -> Result<StopReport, GatewayError> {
        while self.is_serving() {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop()
    }

    /// Logs every session out, stops accepting, drains the pipeline (every accepted command is
    /// journaled and processed), writes the stop snapshot and joins every thread.
    pub fn stop(mut self) -> Result<StopReport, GatewayError> {
        // First, so the stop itself (the link going down, the state stopping) sends no alerts;
        // bounded by one delivery's timeout.
        drop(self.alerter.take());
        drop(self.status_recorder.take());
        self.stop.stop();
        drop(self.http.take());
        let pipeline = self.pipeline.take();
        let io = self.io_thread.take().map(JoinHandle::join);
        let Some(Ok(stopped)) = io else {
            return Err(GatewayError::Panicked);
        };
        let Stopped {
            receiver,
            publisher,
            market_data,
        } = stopped;
        drop(publisher);
        match pipeline {
            Some(pipeline) => stop_pipeline(
                pipeline,
                Some((receiver, &self.engine)),
                self.replication.take(),
                Some(market_data),
            ),
            None => Err(GatewayError::Panicked),
        }
    }
}

/// Stops the replication side, then the pipeline, while draining the pipeline's output (a full
/// output ring would hold the matcher, and with it a standby's thread publishing records) into
/// market data, which then writes its snapshot at the last sequence.
fn stop_pipeline(
    pipeline: Pipeline,
    receiver: Option<(EventReceiver, &hayate_core::EngineConfig)>,
    replication: Option<Arc<ReplicationNode>>,
    mut market_data: Option<MarketDataHub>,
) -> Result<StopReport, GatewayError> {
    let stopper = std::thread::spawn(move || {
        if let Some(replication) = replication {
            replication.stop();
        }
        pipeline.stop()
    });
    if let Some((mut receiver, engine)) = receiver {
        loop {
            let polled = receiver.poll(|out| {
                if let Some(hub) = &mut market_data {
                    hub.on_output_unrouted(out, engine);
                }
            });
            match polled {
                Ok(0) => std::thread::sleep(Duration::from_millis(1)),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    if let Some(hub) = market_data {
        hub.finish();
    }
    match stopper.join() {
        Ok(result) => Ok(result?),
        Err(_) => Err(GatewayError::Panicked),
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        drop(self.alerter.take());
        drop(self.status_recorder.take());
        if self.io_thread.is_some() {
            self.stop.stop();
            if let Some(thread) = self.io_thread.take() {
                if let Ok(stopped) = thread.join() {
                    drop(stopped.publisher);
                    if let Some(pipeline) = self.pipeline.take() {
                        let _ = stop_pipeline(
                            pipeline,
                            Some((stopped.receiver, &self.engine)),
                            self.replication.take(),
                            Some(stopped.market_data),
                        );
                    }
                }
            }
        }
    }
}

/// Runs a node until `stop` is raised, and keeps it in its pair: when the gateway stops because
/// the node must rejoin as a standby (it stepped down after learning of a later epoch, or its
/// journal holds records its primary never had), it drops that unreplicated tail and starts
/// again as a standby. `on_start` sees each gateway started. Returns the last stop's report.
pub fn run_node(
    mut config: ExchangeConfig,
    stop: &AtomicBool,
    mut on_start: impl FnMut(&Gateway),
) -> Result<StopReport, GatewayError> {
    loop {
        let gateway = Gateway::start(config.clone())?;
        on_start(&gateway);
        while !stop.load(Ordering::Acquire) && gateway.is_serving() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let role = Arc::clone(gateway.role());
        let report = gateway.stop()?;
        if stop.load(Ordering::Acquire) {
            return Ok(report);
        }
        match role.rejoin() {
            Rejoin::No => return Ok(report),
            Rejoin::AsStandby => {}
            Rejoin::Truncating(keep_through) => {
                drop_unreplicated_tail(&config, keep_through, report.durable_seq)?;
            }
        }
        config = config
            .with_role(Role::Standby)
            .map_err(|e| GatewayError::Io {
                what: "cannot rejoin as a standby".to_owned(),
                source: io::Error::other(e.to_string()),
            })?;
        tracing::warn!("rejoining the pair as a standby");
    }
}

/// Drops every journal record and snapshot after `keep_through` from a stopped node whose
/// journal ends at `last_seq`.
fn drop_unreplicated_tail(
    config: &ExchangeConfig,
    keep_through: u64,
    last_seq: u64,
) -> Result<(), GatewayError> {
    let dropped = hayate_core::recovery::drop_after(&config.journal().dir, keep_through, last_seq)
        .map_err(|e| {
            io_error(format!("cannot drop the data after {keep_through}"))(io::Error::other(e))
        })?;
    if dropped.records > 0 || !dropped.snapshots.is_empty() {
        tracing::warn!(
            keep_through,
            dropped = dropped.records,
            deleted_segments = dropped.segments,
            deleted_snapshots = dropped.snapshots.len(),
            "dropped the journal tail the primary never had"
        );
    }
    Ok(())
}
