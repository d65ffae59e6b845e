//! MQTT ingest: connects over the link built at start-up (plain text or TLS,
//! [`crate::mqtt_tls`]) and subscribes to `{prefix}/+/telemetry` with QoS 1 on a
//! persistent session (stable client id, clean_session = false) and manual acks. A message is acknowledged
//! only after the readings it carries are committed, so a crash between receipt and commit
//! makes the broker deliver it again; the idempotent writer stores it once. With
//! `mqtt.shared_group` set, several pvledger processes share the subscription
//! (`$share/{group}/...`) and the broker hands each message to one of them.
//!
//! Edge gateways also publish their status on `{prefix}/+/status`; the latest per gateway
//! is stored (crate::ingest::gateway_status) and acknowledged like telemetry.
//!
//! Three stages: the event loop hands publishes to a processor, which submits them to
//! ingest and queues the pending confirmation; an acker awaits confirmations in arrival
//! order and sends the PUBACKs (MQTT requires acks in the order the publishes came).
//!
//! The event loop is never held up by the stages behind it: rumqttc sends PUBACKs and
//! keep-alive pings only while it is polled, so an event loop waiting for room in a full
//! pipeline waits for acks that it alone can send, a deadlock (found by the ingest
//! benchmark: a 20,000-message flood stopped after about 1,400). Instead, received
//! messages wait in memory up to `mqtt.max_pending_mb`; beyond that a message is shed:
//! not acknowledged, so the broker keeps it, and once the backlog is down to an eighth the
//! receiver reconnects and the broker delivers the shed messages again. Nothing is lost and memory
//! stays bounded even when the broker pushes a whole county's backlog at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, Event, EventLoop, Packet, Publish, QoS};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Ingest, NotStored, PayloadOutcome};
use crate::config::MqttConfig;
use crate::mqtt_tls::Link;

/// A message's outcome: committed, refused by the database, or never answered (stopping).
type Outcome = oneshot::Receiver<Result<PayloadOutcome, NotStored>>;

/// The receiver's connection state and backlog, for /readyz and /metrics.
#[derive(Debug, Default)]
pub struct MqttState {
    state: AtomicU8,
    /// Bumped on every (re)connection: an ack belongs to the connection its publish came on.
    epoch: AtomicU64,
    pending_bytes: AtomicUsize,
    pending_messages: AtomicUsize,
    shed: AtomicU64,
    reconnects: AtomicU64,
    /// Acknowledgements that found the client's request queue full and waited for room.
    ack_waits: AtomicU64,
    /// Set when a message could not be committed: only a new connection makes the broker
    /// send an unacknowledged message again.
    redeliver: std::sync::atomic::AtomicBool,
    /// The last connection the receiver closed on purpose (to be sent shed or uncommitted
    /// messages again): the broker resends everything it had not been acknowledged on it,
    /// so what is still waiting from it is dropped unprocessed (0: none).
    abandoned: AtomicU64,
}

impl MqttState {
    const OFF: u8 = 0;
    const CONNECTING: u8 = 1;
    const CONNECTED: u8 = 2;
    const SUBSCRIBED: u8 = 3;

    fn set(&self, v: u8) {
        self.state.store(v, Ordering::Relaxed);
    }

    /// "off", "connecting", "connected" or "subscribed".
    pub fn name(&self) -> &'static str {
        match self.state.load(Ordering::Relaxed) {
            Self::CONNECTING => "connecting",
            Self::CONNECTED => "connected",
            Self::SUBSCRIBED => "subscribed",
            _ => "off",
        }
    }

    /// Messages received and not yet acknowledged (waiting, or being committed).
    pub fn pending_messages(&self) -> usize {
        self.pending_messages.load(Ordering::Relaxed)
    }

    /// Their payload bytes.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes.load(Ordering::Relaxed)
    }

    /// Messages left unacknowledged because the backlog was full (the broker sends them again).
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// Connections made after the first.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Acknowledgements that waited for room in the client's request queue.
    pub fn ack_waits(&self) -> u64 {
        self.ack_waits.load(Ordering::Relaxed)
    }

    fn hold(&self, size: usize) {
        self.pending_bytes.fetch_add(size, Ordering::Relaxed);
        self.pending_messages.fetch_add(1, Ordering::Relaxed);
    }

    fn release(&self, size: usize) {
        self.pending_bytes.fetch_sub(size, Ordering::Relaxed);
        self.pending_messages.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A publish, the connection it came on, and its share of the backlog.
struct Received {
    publish: Publish,
    epoch: u64,
    size: usize,
}

/// The shortest time between two reconnections made to have an uncommitted message resent.
const REDELIVER_EVERY: Duration = Duration::from_secs(10);

/// Confirmations waiting to be acked.
const PIPELINE: usize = 1024;

/// The subscription filters: telemetry and gateway status, shared when a group is set.
pub fn filters(config: &MqttConfig) -> [String; 2] {
    let share = if config.shared_group.is_empty() {
        String::new()
    } else {
        format!("$share/{}/", config.shared_group)
    };
    ["telemetry", "status"].map(|kind| format!("{share}{}/+/{kind}", config.topic_prefix))
}

/// Runs MQTT ingest on `link` (the broker of `config.url`, TLS or not) until `shutdown`.
/// Reconnects with exponential backoff and jitter.
pub async fn run(
    config: MqttConfig,
    link: Link,
    ingest: Ingest,
    state: Arc<MqttState>,
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
    options.set_inflight(200);
    let (client, eventloop) = AsyncClient::new(options, config.request_queue);

    let (pub_tx, pub_rx) = mpsc::unbounded_channel::<Received>();
    let (ack_tx, ack_rx) = mpsc::channel::<(Received, Outcome)>(PIPELINE);
    let processor = tokio::spawn(process(
        pub_rx,
        ack_tx,
        ingest,
        config.topic_prefix.clone(),
        state.clone(),
    ));
    let acker = tokio::spawn(acknowledge(ack_rx, client.clone(), state.clone()));
    state.set(MqttState::CONNECTING);
    let broker = link.to_string();
    let limit = config.max_pending_mb.max(1) << 20;
    drive(
        eventloop,
        client.clone(),
        filters(&config),
        Inbox {
            tx: pub_tx,
            limit,
            state: state.clone(),
        },
        &broker,
        shutdown,
    )
    .await;
    state.set(MqttState::OFF);
    // Stop taking new messages; let what is in the pipeline commit and be acked.
    let _ = processor.await;
    let _ = acker.await;
    let _ = client.disconnect().await;
}

/// Where the event loop leaves publishes, bounded by bytes.
struct Inbox {
    tx: mpsc::UnboundedSender<Received>,
    limit: usize,
    state: Arc<MqttState>,
}

async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    filters: [String; 2],
    inbox: Inbox,
    broker: &str,
    shutdown: CancellationToken,
) {
    let state = &inbox.state;
    let mut backoff = Duration::from_millis(500);
    let mut connected_once = false;
    // Set when messages were shed: reconnect once the backlog has room, to get them again.
    let mut shed_since_connect = 0u64;
    let mut last_forced: Option<tokio::time::Instant> = None;
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = shutdown.cancelled() => return,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
                backoff = Duration::from_millis(500);
                state.epoch.fetch_add(1, Ordering::SeqCst);
                if connected_once {
                    state.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                connected_once = true;
                shed_since_connect = 0;
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
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let size = publish.payload.len() + publish.topic.len();
                // One message is always taken, however large: the bound must not stop ingest.
                if state.pending_messages() > 0 && state.pending_bytes() + size > inbox.limit {
                    if shed_since_connect == 0 {
                        tracing::warn!(
                            pending_bytes = state.pending_bytes(),
                            limit = inbox.limit,
                            "MQTT backlog full: leaving messages unacknowledged for the broker to send again"
                        );
                    }
                    shed_since_connect += 1;
                    state.shed.fetch_add(1, Ordering::Relaxed);
                } else {
                    state.hold(size);
                    let epoch = state.epoch.load(Ordering::SeqCst);
                    if inbox
                        .tx
                        .send(Received {
                            publish,
                            epoch,
                            size,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                // Acks still queued belong to the lost connection: the broker redelivers
                // those messages, and an old ack could confirm a new message that reuses
                // the packet id before it is committed.
                state.epoch.fetch_add(1, Ordering::SeqCst);
                state.set(MqttState::CONNECTING);
                let jitter =
                    Duration::from_millis(rand::random_range(0..=backoff.as_millis() as u64 / 2));
                tracing::warn!(error = %e, retry_in_ms = (backoff + jitter).as_millis() as u64, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff + jitter) => {}
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        }
        // A message the writer could not commit is sent again only on a new connection; at
        // most every REDELIVER_EVERY, so that a message that always fails cannot make the
        // receiver reconnect in a loop.
        if state.redeliver.load(Ordering::Relaxed)
            && last_forced.is_none_or(|t| t.elapsed() >= REDELIVER_EVERY)
            && disconnect(state, &client)
        {
            state.redeliver.store(false, Ordering::Relaxed);
            last_forced = Some(tokio::time::Instant::now());
            tracing::warn!(
                "a message could not be stored; reconnecting so that the broker sends it again"
            );
            continue;
        }
        // Late rather than at half: what is still held then is abandoned and sent again
        // (session 8, 1,200,000 readings flooded: at a half 46,505 and 61,454 /s with
        // 69,000-75,000 sheds, at an eighth 64,099 and 66,841 /s with 46,000-58,000).
        if shed_since_connect > 0
            && state.pending_bytes() <= inbox.limit / 8
            && disconnect(state, &client)
        {
            tracing::info!(
                shed = shed_since_connect,
                "MQTT backlog has room again: reconnecting so that the broker resends the shed messages"
            );
            // The next poll fails on the closed connection and reconnects.
            shed_since_connect = 0;
        }
    }
}

/// Asks the event loop to close the connection (it then reconnects, and the broker sends
/// what was not acknowledged again). False when the request cannot be queued: the client's
/// request queue is full of acknowledgements under a flood. The caller then keeps its
/// reason to reconnect and asks again after the next event; forgetting it stranded the
/// shed messages in the broker until some other reconnection (seen once in the ingest
/// benchmark: 760 payloads not stored ten minutes after the flood).
///
/// Once asked, the connection's messages still waiting are abandoned: the broker sends them
/// again, and processing the copies it is about to resend doubled the work. Under a flood of
/// 1,200,000 readings (issue 7 benchmark) every reconnection had the writer commit the
/// whole backlog as well as its resent copies, the copies overflowed the backlog again, and
/// 120,000 messages were shed 245,126 times.
fn disconnect(state: &MqttState, client: &AsyncClient) -> bool {
    match client.try_disconnect() {
        Ok(()) => {
            state
                .abandoned
                .store(state.epoch.load(Ordering::SeqCst), Ordering::SeqCst);
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "cannot queue the disconnect yet; asking again after the next event");
            false
        }
    }
}

async fn process(
    mut rx: mpsc::UnboundedReceiver<Received>,
    acks: mpsc::Sender<(Received, Outcome)>,
    ingest: Ingest,
    prefix: String,
    state: Arc<MqttState>,
) {
    while let Some(r) = rx.recv().await {
        // From a connection closed on purpose: the broker sends it again.
        if r.epoch <= state.abandoned.load(Ordering::SeqCst) {
            state.release(r.size);
            continue;
        }
        let p = &r.publish;
        if let Some(gateway) = status_gateway_of(&p.topic, &prefix) {
            let (done_tx, done) = oneshot::channel();
            let stored = PayloadOutcome {
                accepted: 0,
                duplicates: 0,
                refused: Vec::new(),
            };
            match ingest.record_status(gateway, &p.payload).await {
                Ok(()) => {
                    let _ = done_tx.send(Ok(stored));
                }
                // Stored nowhere: acknowledged anyway, a bad status must not come back forever.
                Err(super::gateway_status::StatusError::Refused(e)) => {
                    tracing::warn!(topic = %p.topic, error = %e, "gateway status refused");
                    let _ = done_tx.send(Ok(stored));
                }
                // Not acknowledged: the broker delivers it again.
                Err(e) => tracing::warn!(topic = %p.topic, error = %e, "gateway status not stored"),
            }
            if acks.send((r, done)).await.is_err() {
                return;
            }
            continue;
        }
        let gateway = gateway_of(&p.topic, &prefix).unwrap_or_default().to_owned();
        let source = format!("mqtt:{}", p.topic);
        match ingest.submit_payload(&source, &gateway, &p.payload).await {
            Ok(done) => {
                if acks.send((r, done)).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

async fn acknowledge(
    mut rx: mpsc::Receiver<(Received, Outcome)>,
    client: AsyncClient,
    state: Arc<MqttState>,
) {
    while let Some((received, done)) = rx.recv().await {
        let committed = matches!(done.await, Ok(Ok(_)));
        state.release(received.size);
        // Refused by the database, or no outcome: the writer could not commit this message,
        // so it is not acked and the broker delivers it again to the next session. A message
        // from an earlier connection is not acked either: the broker has sent it again.
        if !committed {
            state.redeliver.store(true, Ordering::Relaxed);
            continue;
        }
        if received.epoch != state.epoch.load(Ordering::SeqCst) {
            continue;
        }
        // A full request queue (`mqtt.request_queue`) makes the acknowledgement wait for
        // room; the event loop drains the queue on its own, so the wait ends.
        let sent = match client.try_ack(&received.publish) {
            Err(rumqttc::ClientError::TryRequest(_)) => {
                state.ack_waits.fetch_add(1, Ordering::Relaxed);
                client.ack(&received.publish).await
            }
            other => other,
        };
        if let Err(e) = sent {
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

    /// Under a flood the client's request queue is full of acknowledgements and the
    /// disconnect cannot be queued: nothing may be abandoned then (the backlog would be
    /// dropped while the old connection goes on), and asking again once there is room works.
    #[test]
    fn a_disconnect_the_full_queue_refuses_abandons_nothing_and_is_asked_again() {
        let (requests, event_loop) = flume::bounded(1);
        let client = AsyncClient::from_senders(requests);
        let state = MqttState::default();
        state.epoch.store(7, Ordering::SeqCst);
        // An acknowledgement fills the queue.
        let mut publish = rumqttc::Publish::new("t", QoS::AtLeastOnce, "x");
        publish.pkid = 1;
        client.try_ack(&publish).unwrap();
        assert!(!disconnect(&state, &client));
        assert_eq!(state.abandoned.load(Ordering::SeqCst), 0);
        // The event loop takes the acknowledgement: now the disconnect goes in.
        assert!(matches!(event_loop.recv(), Ok(rumqttc::Request::PubAck(_))));
        assert!(disconnect(&state, &client));
        assert_eq!(state.abandoned.load(Ordering::SeqCst), 7);
        assert!(matches!(
            event_loop.recv(),
            Ok(rumqttc::Request::Disconnect(_))
        ));
    }

    #[test]
    fn a_shared_group_prefixes_both_filters() {
        let mut config = MqttConfig {
            url: "mqtt://127.0.0.1:1883".into(),
            embedded_listen: String::new(),
            allow_anonymous: false,
            client_id: "a".into(),
            topic_prefix: "pvledger/v1".into(),
            username: String::new(),
            password: String::new(),
            ca_file: String::new(),
            client_cert_file: String::new(),
            client_key_file: String::new(),
            shared_group: String::new(),
            max_pending_mb: 64,
            request_queue: 256,
        };
        assert_eq!(
            filters(&config),
            ["pvledger/v1/+/telemetry", "pvledger/v1/+/status"]
        );
        config.shared_group = "pvledger".into();
        assert_eq!(
            filters(&config),
            [
                "$share/pvledger/pvledger/v1/+/telemetry",
                "$share/pvledger/pvledger/v1/+/status"
            ]
        );
    }

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
