//! Start-up and shutdown of the service (the `spawn_app` seam for tests).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::store::{self, Store, TimeSeriesMode};

/// A built service: the database is open and migrated, the port is bound.
pub struct Application {
    listener: TcpListener,
    state: AppState,
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
        Ok(Application {
            listener,
            state: AppState {
                store,
                config: Arc::new(config),
                mode,
            },
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

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish and
    /// closes the database.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let store = self.state.store.clone();
        tracing::info!(%addr, "serving HTTP");
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("HTTP server failed")?;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
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
