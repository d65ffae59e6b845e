//! The evaluator task inside `pvledger serve`: every `alerts.interval_s` it reads a
//! snapshot, decides, writes the changes and hands them to the notifier.

use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::config::AlertsConfig;
use super::cycle::decide;
use super::faults::FaultTexts;
use super::notify::Notifier;
use super::store::{self, Applied};
use super::tracker::Tracker;
use crate::config::Config;
use crate::modbus::profile::ProfileLibrary;
use crate::store::Store;

/// The evaluator's state between cycles (pending timers, profile fault texts).
pub struct Evaluator {
    config: AlertsConfig,
    zone: chrono_tz::Tz,
    tracker: Tracker,
    texts: FaultTexts,
    notifier: Option<Notifier>,
}

impl Evaluator {
    pub fn new(config: &Config) -> Self {
        Evaluator {
            config: config.alerts.clone(),
            zone: config.time.zone,
            tracker: Tracker::default(),
            texts: FaultTexts::new(ProfileLibrary::new(config.modbus.profiles_dir.clone())),
            notifier: None,
        }
    }

    /// Sends the changes of every cycle to `notifier`.
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// One evaluation as of `now`.
    pub async fn cycle(
        &mut self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Applied, sqlx::Error> {
        let today = now.with_timezone(&self.zone).date_naive();
        let snap = store::snapshot(store, &self.config, now, today).await?;
        let texts = &mut self.texts;
        let decisions = decide(
            &snap,
            now,
            today,
            &self.config,
            &mut self.tracker,
            &mut |d, code| texts.text(d.profile.as_deref(), code),
        );
        let applied = store::apply(store, &decisions, now).await?;
        if let Some(n) = &self.notifier {
            for a in &applied.opened {
                n.send(a, true).await;
            }
            for a in &applied.resolved {
                n.send(a, false).await;
            }
        }
        Ok(applied)
    }
}

/// Runs cycles until `shutdown`; a failed cycle is logged and the next one tries again.
pub async fn run(mut evaluator: Evaluator, store: Store, shutdown: CancellationToken) {
    let mut tick =
        tokio::time::interval(std::time::Duration::from_secs(evaluator.config.interval_s));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        match evaluator.cycle(&store, Utc::now()).await {
            Ok(a) => tracing::debug!(
                opened = a.opened.len(),
                resolved = a.resolved.len(),
                ms = started.elapsed().as_millis() as u64,
                "alert cycle"
            ),
            Err(e) => tracing::warn!(error = %e, "alert cycle failed; trying again next interval"),
        }
    }
}
