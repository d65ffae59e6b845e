//! Notifications: every opened or resolved alert goes to each configured channel whose
//! O&M bodies match (assignment: a channel per 管护主体, or one for all). Each channel has
//! its own task and bounded queue, so a slow or failing channel never holds up another;
//! deliveries are spaced to the channel's rate limit and retried with exponential backoff.
//! Outcomes land in the alert's history (alert_events).

pub mod message;
pub mod smtp;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{ChannelConfig, ChannelKind, NotifyConfig};
use super::model::AlertRow;
use crate::store::Store;

/// Hands alerts to the channels' tasks.
#[derive(Clone)]
pub struct Notifier {
    channels: Vec<(ChannelConfig, mpsc::Sender<(AlertRow, bool)>)>,
}

impl Notifier {
    /// Starts one task per channel; they stop on `shutdown` (undelivered messages are
    /// dropped then, their alerts stay in the ledger).
    pub fn start(
        channels: &[ChannelConfig],
        c: &NotifyConfig,
        zone: chrono_tz::Tz,
        store: Store,
        shutdown: CancellationToken,
    ) -> (Notifier, Vec<tokio::task::JoinHandle<()>>) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with a timeout builds");
        let mut out = Vec::new();
        let mut tasks = Vec::new();
        for ch in channels {
            let (tx, rx) = mpsc::channel(c.queue);
            let worker = Worker {
                channel: ch.clone(),
                config: c.clone(),
                zone,
                client: client.clone(),
                store: store.clone(),
            };
            tasks.push(tokio::spawn(worker.run(rx, shutdown.clone())));
            out.push((ch.clone(), tx));
        }
        (Notifier { channels: out }, tasks)
    }

    /// Queues `alert` (opened or resolved) for every channel that takes it; a full queue
    /// drops the message with a warning rather than stalling the evaluator.
    pub async fn send(&self, alert: &AlertRow, opened: bool) {
        for (ch, tx) in &self.channels {
            if !takes(ch, alert) {
                continue;
            }
            if tx.try_send((alert.clone(), opened)).is_err() {
                tracing::warn!(channel = %ch.name, alert = alert.id, "notification queue full; message dropped");
            }
        }
    }
}

/// Assignment: a channel restricted to some O&M bodies takes only their stations' alerts.
pub fn takes(ch: &ChannelConfig, alert: &AlertRow) -> bool {
    ch.om_bodies.is_empty()
        || alert
            .om_body
            .as_ref()
            .is_some_and(|b| ch.om_bodies.contains(b))
}

/// The delay before retry `attempt` (1-based): base, 2 x base, 4 x base... at most 10 min.
pub fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let ms = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    Duration::from_millis(ms.min(600_000))
}

struct Worker {
    channel: ChannelConfig,
    config: NotifyConfig,
    zone: chrono_tz::Tz,
    client: reqwest::Client,
    store: Store,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<(AlertRow, bool)>, shutdown: CancellationToken) {
        let spacing = Duration::from_millis(60_000 / u64::from(self.config.per_minute));
        let mut next_slot = tokio::time::Instant::now();
        loop {
            let (alert, opened) = tokio::select! {
                _ = shutdown.cancelled() => return,
                m = rx.recv() => match m { Some(m) => m, None => return },
            };
            // Rate limit: messages are spaced evenly, at most per_minute a minute.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(next_slot) => {}
            }
            next_slot = tokio::time::Instant::now() + spacing;
            let mut attempt = 1;
            let outcome = loop {
                match self.deliver(&alert, opened).await {
                    Ok(()) => break Ok(attempt),
                    Err(e) if attempt >= self.config.max_attempts => break Err(e),
                    Err(e) => {
                        tracing::warn!(channel = %self.channel.name, alert = alert.id, attempt, error = %e, "notification failed; retrying");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(backoff(self.config.retry_base_ms, attempt)) => {}
                        }
                        attempt += 1;
                    }
                }
            };
            let (action, note) = match outcome {
                Ok(n) => (
                    "notified",
                    format!(
                        "{} ({:?}), {n} 次尝试",
                        self.channel.name, self.channel.kind
                    ),
                ),
                Err(e) => ("notify_failed", format!("{}: {e}", self.channel.name)),
            };
            if let Err(e) = super::store::note_event(&self.store, alert.id, action, &note).await {
                tracing::warn!(error = %e, "cannot record a notification outcome");
            }
        }
    }

    async fn deliver(&self, a: &AlertRow, opened: bool) -> Result<(), String> {
        let ch = &self.channel;
        let body = match ch.kind {
            ChannelKind::Webhook => message::webhook_body(a, opened, self.zone),
            ChannelKind::Wecom => message::wecom_body(a, opened, self.zone),
            ChannelKind::Dingtalk => message::dingtalk_body(a, opened, self.zone),
            ChannelKind::Email => {
                let subject = format!("{} {}", message::heading(a, opened), a.title);
                let body = message::plain(a, opened, self.zone);
                let mail = smtp::Mail {
                    from: &ch.from,
                    to: &ch.to,
                    subject: &subject,
                    body: &body,
                };
                return smtp::send(&ch.smtp, &ch.username, &ch.password, &mail).await;
            }
        };
        let url = match ch.kind {
            ChannelKind::Dingtalk => {
                message::dingtalk_url(&ch.url, &ch.secret, chrono::Utc::now().timestamp_millis())
            }
            _ => ch.url.clone(),
        };
        let r = self
            .client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        // The robots answer 200 with {"errcode": N} on refusal (bad key, rate limited).
        if matches!(ch.kind, ChannelKind::Wecom | ChannelKind::Dingtalk) {
            let code = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("errcode").and_then(|c| c.as_i64()))
                .unwrap_or(0);
            if code != 0 {
                return Err(format!(
                    "robot refused: {}",
                    text.chars().take(200).collect::<String>()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_ten_minutes() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 2), Duration::from_secs(2));
        assert_eq!(backoff(1000, 4), Duration::from_secs(8));
        assert_eq!(backoff(1000, 40), Duration::from_secs(600));
    }
}
