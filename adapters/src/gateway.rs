//! The whole exchange behind its ports: recovery, the pipeline, the FIX and binary event loop, and
//! the HTTP status page, started and stopped as one.
//!
//! ```no_run
//! use hayate_adapters::gateway::Gateway;
//! use hayate_core::ExchangeConfig;
//!
//! let gateway = Gateway::start(ExchangeConfig::demo())?;
//! println!("FIX on {}", gateway.addrs().fix);
//! let report = gateway.stop()?;
//! println!("stopped at sequence {}", report.durable_seq);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::{Poll, Waker};

use hayate_core::command::Command;
use hayate_core::config::{ExchangeConfig, Role};
use hayate_core::pipeline::{
    EventReceiver, Monitor, Pipeline, PipelineBuilder, PipelineError, Publisher, StopReport,
};
use hayate_core::recovery::RecoveryReport;

use crate::http::{HttpServer, PageSource};
use crate::metrics::{self, GatewayMetrics, StatusContext};
use crate::net::server::{Server, ServerSettings, WAKER};

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
    /// Binary order entry and admin.
    pub binary: SocketAddr,
    /// `/status` and `/metrics`.
    pub http: SocketAddr,
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
    io_thread: Option<JoinHandle<(EventReceiver, Publisher)>>,
    http: Option<HttpServer>,
    stop: StopHandle,
    addrs: GatewayAddrs,
    recovery: RecoveryReport,
    metrics: Arc<GatewayMetrics>,
    monitor: Monitor,
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
        let poll = Poll::new().map_err(io_error("cannot create the poller"))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), WAKER).map_err(io_error("cannot create the waker"))?,
        );
        let metrics = Arc::new(GatewayMetrics::new());
        let wake = Arc::clone(&waker);
        let (pipeline, receiver, recovery) = PipelineBuilder::configured(&config)
            .initial_commands(config.initial_deposits())
            .output_wakeup(move || {
                let _ = wake.wake();
            })
            .start()?;
        let publisher = pipeline.publisher();
        let monitor = pipeline.monitor();
        let stop = StopHandle {
            stop: Arc::new(AtomicBool::new(false)),
            waker,
        };
        let role = config.replication().map(|r| r.role);
        let settings = ServerSettings {
            sessions_dir: config.journal().dir.join("sessions"),
            refuse_logons: (role == Some(Role::Standby))
                .then(|| "this node is a standby: it accepts no orders".to_owned()),
            config: config.clone(),
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
        );
        let mut server = match server {
            Ok(server) => server,
            Err(source) => {
                let _ = stop_pipeline(pipeline, None);
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
        let context = StatusContext {
            role: match role {
                Some(Role::Standby) => "standby".to_owned(),
                _ => "primary".to_owned(),
            },
            epoch: 1,
            replication: None,
        };
        let status: Arc<dyn Fn() -> String + Send + Sync> = {
            let metrics = Arc::clone(&metrics);
            let monitor = monitor.clone();
            Arc::new(move || metrics::status_json(&metrics, &monitor.stats(), &context))
        };
        server.set_status_source(Arc::clone(&status));
        let pages: Arc<PageSource> = {
            let metrics = Arc::clone(&metrics);
            let monitor = monitor.clone();
            Arc::new(move |path: &str| {
                let stats = monitor.stats();
                match path {
                    "/status" => Some(("application/json", status())),
                    "/metrics" => Some((
                        "text/plain; version=0.0.4",
                        metrics::prometheus_text(&metrics, &stats),
                    )),
                    _ => None,
                }
            })
        };
        let http = match HttpServer::start(config.gateway().http_listen, pages) {
            Ok(http) => http,
            Err(source) => {
                drop(server);
                let _ = stop_pipeline(pipeline, None);
                return Err(GatewayError::Io {
                    what: format!("cannot listen on {}", config.gateway().http_listen),
                    source,
                });
            }
        };
        // Every session was lost with the last process: users with cancel-on-disconnect get
        // their orders cancelled now, as journaled commands (SPEC §8).
        let mut startup: Vec<Command> = Vec::new();
        for account in &recovery.accounts_with_orders {
            let cod = config
                .users()
                .iter()
                .any(|u| u.account == *account && u.cancel_on_disconnect);
            if cod {
                startup.push(Command::cancel_on_disconnect(*account));
            }
        }
        server.publish_startup(&startup);
        let io_thread = std::thread::Builder::new()
            .name("hayate-gateway".into())
            .spawn(move || server.run())
            .map_err(io_error("cannot start the gateway thread"))?;
        Ok(Gateway {
            pipeline: Some(pipeline),
            io_thread: Some(io_thread),
            addrs: GatewayAddrs {
                fix,
                binary,
                http: http.addr(),
            },
            http: Some(http),
            stop,
            recovery,
            metrics,
            monitor,
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

    /// The pipeline's counters.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// A handle that can ask the gateway to stop from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Blocks until a stop is asked for (through a [`StopHandle`]) or the pipeline fails, then
    /// stops cleanly.
    pub fn wait(self) -> Result<StopReport, GatewayError> {
        while !self.stop.is_stopping() && self.io_thread.as_ref().is_some_and(|t| !t.is_finished())
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop()
    }

    /// Logs every session out, stops accepting, drains the pipeline (every accepted command is
    /// journaled and processed), writes the stop snapshot and joins every thread.
    pub fn stop(mut self) -> Result<StopReport, GatewayError> {
        self.stop.stop();
        drop(self.http.take());
        let pipeline = self.pipeline.take();
        let io = self.io_thread.take().map(JoinHandle::join);
        let (receiver, publisher) = match io {
            Some(Ok(pair)) => pair,
            Some(Err(_)) => return Err(GatewayError::Panicked),
            None => return Err(GatewayError::Panicked),
        };
        drop(publisher);
        match pipeline {
            Some(pipeline) => stop_pipeline(pipeline, Some(receiver)),
            None => Err(GatewayError::Panicked),
        }
    }
}

/// Stops a pipeline while draining its output (a full output ring would hold the matcher).
fn stop_pipeline(
    pipeline: Pipeline,
    receiver: Option<EventReceiver>,
) -> Result<StopReport, GatewayError> {
    let stopper = std::thread::spawn(move || pipeline.stop());
    if let Some(mut receiver) = receiver {
        while receiver.poll(|_| {}).is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    match stopper.join() {
        Ok(result) => Ok(result?),
        Err(_) => Err(GatewayError::Panicked),
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.io_thread.is_some() {
            self.stop.stop();
            if let Some(thread) = self.io_thread.take() {
                if let Ok((receiver, publisher)) = thread.join() {
                    drop(publisher);
                    if let Some(pipeline) = self.pipeline.take() {
                        let _ = stop_pipeline(pipeline, Some(receiver));
                    }
                }
            }
        }
    }
}
