//! The edge gateway (`pvledger gateway`): runs at the village station, reads its inverters
//! and meter over Modbus, keeps every reading on its own disk and forwards it to the
//! central broker when the link allows. The same binary as the service, another mode.
//!
//! ```text
//!  modbus::spawn_pollers ─▶ channel ─▶ modbus::feed ─▶ outbox (SQLite WAL, fsync)
//!                                                         │  oldest first; deleted on PUBACK
//!  clock (HTTP Date of the service) ─┐                    ▼
//!  poll stats, outbox summary ───────┴─▶ status ─▶ forwarder ─▶ MQTT QoS 1 ─▶ central broker
//! ```
//!
//! - [`config`]: `gateway.toml` and `--from-ledger`.
//! - [`outbox`]: the bounded disk queue and its thinning; [`forwarder`]: sessions, lanes,
//!   acknowledgements; [`pacing`]: backlog rate and start delay (pure).
//! - [`clock`]: skew against the service; [`status`]: the status message and its task.
//!
//! Documented for operators in `docs/GATEWAY.md`.

pub mod clock;
pub mod config;
pub mod forwarder;
pub mod outbox;
pub mod pacing;
pub mod status;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ledger::model::Device;
use crate::modbus::feed::{Batching, ReadingSink, SinkClosed, forward_batches};
use crate::modbus::spawn_pollers_with_stats;
use crate::modbus::stats::PollStats;
use crate::reading::DeviceReading;
pub use config::GatewayConfig;
use outbox::Outbox;

/// A running gateway.
pub struct Gateway {
    pub outbox: Arc<Outbox>,
    pub polls: Arc<PollStats>,
    pub link: Arc<forwarder::LinkStats>,
    pub clock: Arc<clock::Clock>,
    tasks: Vec<JoinHandle<()>>,
    pollers: Vec<JoinHandle<()>>,
    feed: JoinHandle<()>,
}

/// Polled readings go to the outbox; thinning is logged and reported at once.
struct OutboxSink {
    outbox: Arc<Outbox>,
    appended: Arc<Notify>,
    thinned: Arc<Notify>,
}

impl ReadingSink for OutboxSink {
    async fn accept(&mut self, batch: Vec<DeviceReading>) -> Result<(), SinkClosed> {
        match self.outbox.append(&batch).await {
            Ok(thinned) => {
                self.appended.notify_one();
                if let Some(t) = thinned {
                    tracing::warn!(
                        removed_raw = t.raw,
                        removed_hourly = t.hourly,
                        max_readings = self.outbox.max_readings(),
                        "本地缓存已满，已抽稀最旧的数据（保留每小时电量读数）/ outbox full: oldest readings thinned, hourly energy readings kept"
                    );
                    self.thinned.notify_one();
                }
            }
            // Nothing can hold these readings: say so loudly, and keep polling.
            Err(e) => {
                tracing::error!(error = %e, readings = batch.len(), "readings could not be stored in the outbox and are lost")
            }
        }
        Ok(())
    }
}

impl Gateway {
    /// Opens the outbox and starts polling, forwarding, the clock check and the status.
    pub async fn start(
        config: &GatewayConfig,
        devices: &[Device],
        shutdown: CancellationToken,
    ) -> anyhow::Result<Gateway> {
        let targets = config
            .targets(devices)
            .map_err(anyhow::Error::msg)
            .context("gateway devices")?;
        let outbox = Arc::new(Outbox::open(&config.outbox.path, config.outbox.max_readings).await?);
        let broker = config.link().map_err(anyhow::Error::msg)?;
        let polls = Arc::new(PollStats::default());
        let link = Arc::new(forwarder::LinkStats::default());
        let clock = Arc::new(clock::Clock::default());
        let appended = Arc::new(Notify::new());
        let thinned = Arc::new(Notify::new());
        tracing::info!(
            gateway = %config.gateway.code,
            devices = targets.len(),
            outbox = %config.outbox.path.display(),
            waiting = outbox.depth(),
            "gateway starting"
        );

        // Polling: the service's pollers, feeding the outbox instead of ingest.
        let (tx, rx) = mpsc::channel(1024);
        let pollers = spawn_pollers_with_stats(targets, tx, polls.clone(), shutdown.clone());
        let sink = OutboxSink {
            outbox: outbox.clone(),
            appended: appended.clone(),
            thinned: thinned.clone(),
        };
        let batching = Batching {
            max: 500,
            linger: Duration::from_millis(50),
        };
        let feed = tokio::spawn(forward_batches(rx, sink, batching));

        let (status_tx, status_rx) = mpsc::channel(2);
        let settings = forwarder::Settings {
            gateway: config.gateway.code.clone(),
            credential: config.gateway.credential.clone(),
            link: broker,
            client_id: config.broker.client_id.clone(),
            topic_prefix: config.broker.topic_prefix.clone(),
            keep_alive: Duration::from_secs(config.broker.keep_alive_s.max(5)),
            batch: config.forward.batch_readings,
            rate_per_s: config.forward.backlog_rate_per_s,
            start_delay_max: Duration::from_secs_f64(config.forward.start_delay_max_s),
            inflight: config.forward.inflight_messages,
        };
        let mut tasks = vec![tokio::spawn(forwarder::run(
            settings,
            outbox.clone(),
            appended,
            status_rx,
            link.clone(),
            shutdown.clone(),
        ))];
        if !config.clock.check_url.is_empty() {
            tasks.push(tokio::spawn(clock::run(
                config.clock.check_url.clone(),
                Duration::from_secs(config.clock.check_interval_s.max(1)),
                Duration::from_secs(config.clock.warn_skew_s),
                clock.clone(),
                shutdown.clone(),
            )));
        }
        let sources = status::Sources {
            gateway: config.gateway.code.clone(),
            started_at: chrono::Utc::now(),
            outbox: outbox.clone(),
            polls: polls.clone(),
            clock: clock.clone(),
            link: link.clone(),
        };
        tasks.push(tokio::spawn(status::run(
            sources,
            Duration::from_secs_f64(config.status.interval_s),
            thinned,
            status_tx,
            shutdown,
        )));
        Ok(Gateway {
            outbox,
            polls,
            link,
            clock,
            tasks,
            pollers,
            feed,
        })
    }

    /// Waits for every task to end (after the shutdown token), then closes the outbox.
    pub async fn wait(self) {
        for p in self.pollers {
            let _ = p.await;
        }
        // Pollers gone: the feed stores what they handed over, then ends.
        let _ = self.feed.await;
        for t in self.tasks {
            let _ = t.await;
        }
        self.outbox.close().await;
    }
}

/// `pvledger gateway --config FILE [--from-ledger DIR]`: runs until SIGINT/SIGTERM.
pub async fn command(
    config_file: Option<&Path>,
    from_ledger: Option<&Path>,
) -> anyhow::Result<i32> {
    let Some(file) = config_file else {
        eprintln!(
            "pvledger gateway 需要 --config gateway.toml / needs --config gateway.toml (see docs/GATEWAY.md)"
        );
        return Ok(crate::cli::EXIT_BAD_INPUT);
    };
    let config = match GatewayConfig::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("网关配置错误 / invalid gateway configuration: {e}");
            return Ok(crate::cli::EXIT_BAD_INPUT);
        }
    };
    crate::logging::init(&config.log);
    let devices = match from_ledger {
        Some(dir) => config::devices_from_ledger(dir, &config.gateway.code),
        None if config.devices.is_empty() => Err(format!(
            "{}: no [[devices]] and no --from-ledger DIR",
            file.display()
        )),
        None => Ok(config.listed_devices()),
    };
    let devices = match devices.and_then(|d| config.targets(&d).map(|_| d)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("网关设备配置错误 / gateway devices: {e}");
            return Ok(crate::cli::EXIT_BAD_INPUT);
        }
    };
    let shutdown = CancellationToken::new();
    crate::app::cancel_on_signal(shutdown.clone());
    let gateway = Gateway::start(&config, &devices, shutdown).await?;
    gateway.wait().await;
    tracing::info!("gateway stopped");
    Ok(0)
}
