//! MQTT ingest: connects over the link built at start-up (plain text or TLS,
//! [`crate::mqtt_tls`]) and subscribes to `{prefix}/+/telemetry` with QoS 1 on a
//! persistent session (stable client id, clean_session = false) and manual acks. A message is acknowledged
//! only after the readings it carries are committed, so a crash between receipt and commit
//! makes the broker deliver it again; the idempotent writer stores it once.
//!
//! Edge gateways also publish their status on `{prefix}/+/status`; the latest per gateway
//! is stored (crate::ingest::gateway_status) and acknowledged like telemetry.
//!
//! Three stages keep the event loop turning while the database works: the event loop
//! hands publishes to a processor, which submits them to ingest and queues the pending
//! confirmation; an acker awaits confirmations in arrival order and sends the PUBACKs
//! (MQTT requires acks in the order the publishes came).

use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, Event, EventLoop, Packet, Publish, QoS};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Ingest, PayloadOutcome};
use crate::config::MqttConfig;
use crate::mqtt_tls::Link;

/// The receiver's connection state, for /readyz and metrics.
#[derive(Debug, Default)]
pub struct MqttState(std::sync::atomic::AtomicU8);

impl MqttState {
    const OFF: u8 = 0;
    const CONNECTING: u8 = 1;
    const CONNECTED: u8 = 2;
    const SUBSCRIBED: u8 = 3;

    fn set(&self, v: u8) {
        self.0.store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// "off", "connecting", "connected" or "subscribed".
    pub fn name(&self) -> &'static str {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            Self::CONNECTING => "connecting",
            Self::CONNECTED => "connected",
            Self::SUBSCRIBED => "subscribed",
            _ => "off",
        }
    }
}

/// Publishes waiting to be processed, and confirmations waiting to be acked.
const PIPELINE: usize = 1024;

/// Runs MQTT ingest on `link` (the broker of `config.url`, TLS or not) until `shutdown`.
/// Reconnects with exponential backoff and jitter.
pub async fn run(
    config: MqttConfig,
    link: Link,
    ingest: Ingest,
    state: std::sync::Arc<MqttState>,
    shutdown: CancellationToken,
) {
    let mut options = link.options(&config.client_id);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(4 << 20, 4 << 20);
    if !config.username.is_empty() {
        options.set_credentials(&config.username, &config.password);
    }
    // The inflight window bounds how many unacked publishes the broker sends us.
    options.set_inflight(200);
    let (client, eventloop) = AsyncClient::new(options, 256);
    let filter = format!("{}/+/telemetry", config.topic_prefix);
    let status_filter = format!("{}/+/status", config.topic_prefix);

    let (pub_tx, pub_rx) = mpsc::channel::<Publish>(PIPELINE);
    let (ack_tx, ack_rx) = mpsc::channel::<(Publish, oneshot::Receiver<PayloadOutcome>)>(PIPELINE);
    let processor = tokio::spawn(process(pub_rx, ack_tx, ingest, config.topic_prefix.clone()));
    let acker = tokio::spawn(acknowledge(ack_rx, client.clone()));
    state.set(MqttState::CONNECTING);
    let broker = link.to_string();
    drive(
        eventloop,
        client.clone(),
        [filter, status_filter],
        pub_tx,
        &broker,
        &state,
        shutdown,
    )
    .await;
    state.set(MqttState::OFF);
    // Stop taking new messages; let what is in the pipeline commit and be acked.
    let _ = processor.await;
    let _ = acker.await;
    let _ = client.disconnect().await;
}

async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    filters: [String; 2],
    publishes: mpsc::Sender<Publish>,
    broker: &str,
    state: &MqttState,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = shutdown.cancelled() => return,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
                backoff = Duration::from_millis(500);
                tracing::info!(
                    broker,
                    session_present = ack.session_present,
                    "MQTT connected"
                );
                // A persistent session still holds the subscription.
                state.set(if ack.session_present {
                    MqttState::SUBSCRIBED
                } else {
                    MqttState::CONNECTED
                });
                if !ack.session_present {
                    // A new session has no subscription; the broker kept it otherwise.
                    let filters = filters
                        .iter()
                        .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                    if let Err(e) = client.try_subscribe_many(filters) {
                        tracing::error!(error = %e, "cannot queue the MQTT subscription");
                    }
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => state.set(MqttState::SUBSCRIBED),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if publishes.send(p).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                state.set(MqttState::CONNECTING);
                let jitter =
                    Duration::from_millis(rand::random_range(0..=backoff.as_millis() as u64 / 2));
                tracing::warn!(error = %e, retry_in_ms = (backoff + jitter).as_millis() as u64, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff + jitter) => {}
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

async fn process(
    mut rx: mpsc::Receiver<Publish>,
    acks: mpsc::Sender<(Publish, oneshot::Receiver<PayloadOutcome>)>,
    ingest: Ingest,
    prefix: String,
) {
    while let Some(p) = rx.recv().await {
        if let Some(gateway) = status_gateway_of(&p.topic, &prefix) {
            let (done_tx, done) = oneshot::channel();
            match ingest.record_status(gateway, &p.payload).await {
                Ok(()) => {
                    let _ = done_tx.send(PayloadOutcome {
                        accepted: 0,
                        duplicates: 0,
                        refused: Vec::new(),
                    });
                }
                // Stored nowhere: acknowledged anyway, a bad status must not come back forever.
                Err(super::gateway_status::StatusError::Refused(e)) => {
                    tracing::warn!(topic = %p.topic, error = %e, "gateway status refused");
                    let _ = done_tx.send(PayloadOutcome {
                        accepted: 0,
                        duplicates: 0,
                        refused: Vec::new(),
                    });
                }
                // Not acknowledged: the broker delivers it again.
                Err(e) => tracing::warn!(topic = %p.topic, error = %e, "gateway status not stored"),
            }
            if acks.send((p, done)).await.is_err() {
                return;
            }
            continue;
        }
        let gateway = gateway_of(&p.topic, &prefix).unwrap_or_default().to_owned();
        let source = format!("mqtt:{}", p.topic);
        match ingest.submit_payload(&source, &gateway, &p.payload).await {
            Ok(done) => {
                if acks.send((p, done)).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

async fn acknowledge(
    mut rx: mpsc::Receiver<(Publish, oneshot::Receiver<PayloadOutcome>)>,
    client: AsyncClient,
) {
    while let Some((publish, done)) = rx.recv().await {
        // No outcome means the writer could not commit this message: do not ack it, so
        // that the broker delivers it again to the next session.
        if done.await.is_err() {
            continue;
        }
        if let Err(e) = client.ack(&publish).await {
            tracing::warn!(error = %e, "could not acknowledge an MQTT message; the broker will redeliver it");
        }
    }
}

/// The gateway segment of `{prefix}/{gateway}/telemetry`.
pub fn gateway_of<'a>(topic: &'a str, prefix: &str) -> Option<&'a str> {
    topic
        .strip_prefix(prefix)?
        .strip_prefix('/')?
        .strip_suffix("/telemetry")
        .filter(|g| !g.is_empty() && !g.contains('/'))
}

/// The gateway segment of `{prefix}/{gateway}/status`.
pub fn status_gateway_of<'a>(topic: &'a str, prefix: &str) -> Option<&'a str> {
    topic
        .strip_prefix(prefix)?
        .strip_prefix('/')?
        .strip_suffix("/status")
        .filter(|g| !g.is_empty() && !g.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_the_topic_segment_between_prefix_and_telemetry() {
        assert_eq!(
            gateway_of("pvledger/v1/GW-001/telemetry", "pvledger/v1"),
            Some("GW-001")
        );
        assert_eq!(gateway_of("pvledger/v1/a/b/telemetry", "pvledger/v1"), None);
        assert_eq!(gateway_of("other/GW-001/telemetry", "pvledger/v1"), None);
    }
}
