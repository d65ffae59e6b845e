//! Start-up and shutdown of the service (the `spawn_app` seam for tests).
//!
//! Shutdown order matters for "no acknowledged reading is lost": the HTTP server and the
//! MQTT receiver stop taking input, the writer drains and commits what is queued (and
//! only then are those messages acknowledged), and the database closes last.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::{self, Ingest};
use crate::store::{self, Store, TimeSeriesMode};

/// A built service: the database is open and migrated, the port is bound, ingest runs.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
    /// Where the MQTT receiver connects (None: MQTT off), and its link (TLS or not).
    receiver: Option<(crate::config::MqttConfig, crate::mqtt_tls::Link)>,
    /// The embedded broker's address, when it runs.
    broker: Option<SocketAddr>,
    /// Forwards Modbus readings into ingest, when devices are polled.
    polled: Option<tokio::task::JoinHandle<()>>,
    /// The alert evaluator and its notification channels, when `alerts.enabled`.
    alerts: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Opens the database, applies migrations and binds `http.listen` (port 0 picks a free one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (store, mode) = Store::open(&config.database, &config.storage).await?;
        Self::with_store(config, store, mode).await
    }

    /// Like [`Application::build`] with an already opened store.
    pub async fn with_store(
        config: Config,
        store: Store,
        mode: TimeSeriesMode,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
        tracing::info!(
            database = %store::redact(&config.database.url),
            backend = store.backend().name(),
            timeseries = ?mode,
            "storage ready"
        );
        let shutdown = CancellationToken::new();
        let (ingest, writer) = Ingest::start(
            store.clone(),
            config.time.zone,
            &config.ingest,
            shutdown.clone(),
        )
        .await
        .context("starting ingest")?;
        let config_limit = config.http.login_attempts_per_minute;
        let state = AppState {
            store,
            config: Arc::new(config),
            mode,
            ingest,
            mqtt: Arc::default(),
            polls: Arc::default(),
            login_limiter: Arc::new(crate::auth::limiter::LoginLimiter::new(config_limit)),
            modbus_units_held: Arc::default(),
            ledger: Arc::default(),
            tokens: Arc::default(),
            daylight: Arc::default(),
        };
        let (receiver, broker) = receiver_config(&state)?;
        let polled = if state.config.modbus.enabled {
            ingest::polled::start(
                &state.store,
                &state.config.modbus,
                state.ingest.clone(),
                state.polls.clone(),
                state.modbus_units_held.clone(),
                shutdown.clone(),
            )
            .await?
        } else {
            None
        };
        let alerts = start_alerts(&state, &shutdown);
        Ok(Application {
            listener,
            state,
            writer,
            shutdown,
            receiver,
            broker,
            polled,
            alerts,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Where the MQTT receiver connects and with which account (None: MQTT off).
    pub fn receiver(&self) -> Option<&crate::config::MqttConfig> {
        self.receiver.as_ref().map(|(config, _)| config)
    }

    /// Ingest's counters, as GET /metrics shows them (readings in committed batches, ...).
    pub fn ingest_stats(&self) -> Arc<crate::ingest::Stats> {
        self.state.ingest.stats.clone()
    }

    /// The MQTT receiver's connection state.
    pub fn mqtt_state(&self) -> Arc<crate::ingest::mqtt::MqttState> {
        self.state.mqtt.clone()
    }

    /// Modbus endpoints (host:port) this process holds a lease on and polls now.
    pub fn modbus_units_held(&self) -> usize {
        self.state
            .modbus_units_held
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The embedded MQTT broker's address, when it runs.
    pub fn broker_addr(&self) -> Option<SocketAddr> {
        self.broker
    }

    /// The token that stops the service when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then drains and closes.
    pub async fn run(self) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let Application {
            listener,
            state,
            writer,
            shutdown,
            receiver,
            polled,
            alerts,
            ..
        } = self;
        let store = state.store.clone();
        let mqtt = receiver.map(|(config, link)| {
            tokio::spawn(ingest::mqtt::run(
                config,
                link,
                state.ingest.clone(),
                state.mqtt.clone(),
                shutdown.clone(),
            ))
        });
        let daylight = tokio::spawn(count_daylight_ahead(state.clone(), shutdown.clone()));
        tracing::info!(%addr, "serving HTTP");
        let served = axum::serve(
            listener,
            http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("HTTP server failed");
        shutdown.cancel();
        if let Some(mqtt) = mqtt {
            let _ = mqtt.await;
        }
        if let Some(polled) = polled {
            let _ = polled.await;
        }
        for task in alerts {
            let _ = task.await;
        }
        let _ = daylight.await;
        // Every Ingest handle is gone now: the writer drains its queue and exits.
        let _ = writer.await;
        store.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Counts each station's daylight of the last year before its first chart asks for it
/// (see [`crate::daylight_warmup`]); stops at shutdown.
async fn count_daylight_ahead(state: AppState, shutdown: CancellationToken) {
    let ledger = match state.ledger.get(&state.store).await {
        Ok(ledger) => ledger,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the ledger to count daylight ahead; charts count it on first view");
            state
                .daylight
                .done
                .store(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    };
    let sites = ledger.stations().iter().filter_map(|s| s.site()).collect();
    crate::daylight_warmup::run(
        sites,
        state.today(),
        state.config.time.zone,
        shutdown,
        state.daylight.clone(),
    )
    .await;
}

/// Starts the alert evaluator and one task per notification channel (none when
/// `alerts.enabled` is false). They stop with the shutdown token, before the store closes.
fn start_alerts(
    state: &AppState,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let config = &state.config;
    if !config.alerts.enabled {
        return Vec::new();
    }
    let (notifier, mut tasks) = crate::alerts::notify::Notifier::start(
        &config.alerts.channels,
        &config.alerts.notify,
        config.time.zone,
        state.store.clone(),
        shutdown.clone(),
    );
    let evaluator = crate::alerts::evaluator::Evaluator::new(config).with_notifier(notifier);
    tasks.push(tokio::spawn(crate::alerts::evaluator::run(
        evaluator,
        state.store.clone(),
        shutdown.clone(),
    )));
    tasks
}

/// Where the MQTT receiver connects: the external broker of `mqtt.url`, or the embedded
/// broker started here on `mqtt.embedded_listen`; None when MQTT is off.
type Receiver = (
    Option<(crate::config::MqttConfig, crate::mqtt_tls::Link)>,
    Option<SocketAddr>,
);

/// The receiver's link: TLS files are read here, so a bad one stops start-up.
fn receiver_link(mqtt: &crate::config::MqttConfig) -> anyhow::Result<crate::mqtt_tls::Link> {
    mqtt.link()
        .map_err(|(key, e)| anyhow::anyhow!("configuration key `{key}`: {e}"))
}

fn receiver_config(state: &AppState) -> anyhow::Result<Receiver> {
    let mut mqtt = state.config.mqtt.clone();
    if !mqtt.url.is_empty() {
        let link = receiver_link(&mqtt)?;
        return Ok((Some((mqtt, link)), None));
    }
    if mqtt.embedded_listen.is_empty() {
        return Ok((None, None));
    }
    let listen = mqtt
        .embedded_listen
        .parse()
        .context("mqtt.embedded_listen")?;
    let broker =
        ingest::broker::start(listen, state.ingest.directory.clone(), mqtt.allow_anonymous)?;
    mqtt.url = format!("mqtt://{}", broker.addr);
    mqtt.username = ingest::broker::INTERNAL_USER.into();
    mqtt.password = broker.internal_password;
    let link = receiver_link(&mqtt)?;
    Ok((Some((mqtt, link)), Some(broker.addr)))
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested; finishing in-flight work");
        token.cancel();
    });
}
