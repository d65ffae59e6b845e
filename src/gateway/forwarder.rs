//! Sends the outbox to the central broker: payload v1, QoS 1, and an outbox entry is
//! deleted only when the broker's PUBACK for the message that carried it arrives.
//!
//! One MQTT session per connection. rumqttc reports each publish it writes as
//! `Outgoing::Publish(pkid)` in the order the publishes were queued, so a FIFO of what
//! was queued tells which outbox id range each packet id carries; `PubAck(pkid)` then
//! deletes exactly that range. When the link fails the whole session is dropped (no
//! half-remembered packet ids): everything not acknowledged is still in the outbox and
//! goes again on the next session. A message the broker got but whose PUBACK was lost is
//! sent twice; the service stores readings idempotently on (device, ts).
//!
//! Lanes: at connect, everything already in the outbox (ids up to `mark`) is backlog, sent
//! oldest first in batches paced by [`Pacer`] after a random start delay; readings
//! appended later are live and go at once, so current data keeps flowing during a
//! drain. The event loop runs in its own task and is never blocked by the outbox.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, Outgoing, Packet, QoS};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outbox::Outbox;
use super::pacing::{Pacer, start_delay};
use super::status::GatewayStatus;
use crate::ingest::payload;
use crate::mqtt_tls::Link;

/// Link counters for the status message.
#[derive(Debug, Default)]
pub struct LinkStats {
    acked: AtomicU64,
    reconnects: AtomicU64,
}

impl LinkStats {
    /// (readings acknowledged since start, sessions lost since start).
    pub fn totals(&self) -> (u64, u64) {
        (
            self.acked.load(Ordering::Relaxed),
            self.reconnects.load(Ordering::Relaxed),
        )
    }
}

/// What the forwarder needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub gateway: String,
    pub credential: String,
    /// The central broker (plaintext or TLS).
    pub link: Link,
    pub client_id: String,
    pub topic_prefix: String,
    pub keep_alive: Duration,
    pub batch: usize,
    pub rate_per_s: f64,
    pub start_delay_max: Duration,
    pub inflight: usize,
}

/// What one queued publish carries.
#[derive(Debug, Clone, Copy)]
enum Carried {
    Readings { first: i64, last: i64, count: usize },
    Status,
}

enum LinkEvent {
    Connected(ConnectReturnCode),
    Written(u16),
    Acked(u16),
    Lost(String),
}

/// Runs until `shutdown`, reconnecting with exponential backoff and jitter.
pub async fn run(
    settings: Settings,
    outbox: Arc<Outbox>,
    appended: Arc<Notify>,
    mut statuses: mpsc::Receiver<GatewayStatus>,
    link: Arc<LinkStats>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    let mut down_since: Option<Instant> = None;
    loop {
        let session = Session {
            settings: &settings,
            outbox: &outbox,
            appended: &appended,
            link: &link,
        };
        let result = session
            .run(&mut statuses, &shutdown, &mut down_since, &mut backoff)
            .await;
        // Whatever was not acknowledged goes again in the next session.
        outbox.release_all().await;
        match result {
            Ok(()) => return,
            Err(e) => {
                link.reconnects.fetch_add(1, Ordering::Relaxed);
                let jitter = backoff.mul_f64(rand::random_range(0.0..0.5));
                if down_since.is_none() {
                    down_since = Some(Instant::now());
                    tracing::warn!(error = %e, depth = outbox.depth(), "与中心的连接中断，数据暂存本地 / link to the central broker lost; readings are kept in the outbox");
                } else {
                    tracing::debug!(error = %e, retry_in_ms = (backoff + jitter).as_millis() as u64, "broker still unreachable");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff + jitter) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

struct Session<'a> {
    settings: &'a Settings,
    outbox: &'a Outbox,
    appended: &'a Notify,
    link: &'a LinkStats,
}

impl Session<'_> {
    async fn run(
        &self,
        statuses: &mut mpsc::Receiver<GatewayStatus>,
        shutdown: &CancellationToken,
        down_since: &mut Option<Instant>,
        backoff: &mut Duration,
    ) -> Result<(), String> {
        let s = self.settings;
        let mut options = s.link.options(&s.client_id);
        options
            .set_keep_alive(s.keep_alive)
            .set_clean_session(true)
            .set_credentials(&s.gateway, &s.credential)
            .set_max_packet_size(4 << 20, 4 << 20)
            .set_inflight((s.inflight + 4).min(u16::MAX as usize) as u16);
        let (client, mut eventloop) = AsyncClient::new(options, s.inflight * 2 + 8);
        let (tx, mut events) = mpsc::channel::<LinkEvent>(1024);
        // The event loop turns on its own, whatever the outbox is doing.
        let driver = tokio::spawn(async move {
            loop {
                let event = match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(a))) => LinkEvent::Connected(a.code),
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => LinkEvent::Written(pkid),
                    Ok(Event::Incoming(Packet::PubAck(a))) => LinkEvent::Acked(a.pkid),
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = tx.send(LinkEvent::Lost(e.to_string())).await;
                        return;
                    }
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        let _abort = AbortOnDrop(driver);

        let connected = tokio::time::timeout(Duration::from_secs(15), events.recv());
        let connected = tokio::select! {
            r = connected => r,
            () = shutdown.cancelled() => return Ok(()),
        };
        match connected {
            Ok(Some(LinkEvent::Connected(ConnectReturnCode::Success))) => {}
            Ok(Some(LinkEvent::Connected(code))) => {
                return Err(format!("the broker refused the connection: {code:?}"));
            }
            Ok(Some(LinkEvent::Lost(e))) => return Err(e),
            Ok(_) => return Err("the MQTT event loop stopped".into()),
            Err(_) => return Err("no CONNACK within 15 s".into()),
        }
        *backoff = Duration::from_millis(500);

        let mark = self.outbox.max_id().await.map_err(|e| e.to_string())?;
        let backlog = self.outbox.depth();
        let delay = if backlog > 0 {
            start_delay(s.start_delay_max)
        } else {
            Duration::ZERO
        };
        match down_since.take() {
            Some(since) => {
                tracing::info!(down_for = ?since.elapsed(), backlog, start_in = ?delay, "连接已恢复 / link to the central broker restored; sending the backlog")
            }
            None => {
                tracing::info!(broker = %s.link, backlog, start_in = ?delay, "connected to the central broker")
            }
        }
        let topic = format!("{}/{}/telemetry", s.topic_prefix, s.gateway);
        let status_topic = format!("{}/{}/status", s.topic_prefix, s.gateway);
        let mut lanes = Lanes {
            mark,
            backlog_cursor: 0,
            live_cursor: mark,
            backlog_from: (backlog > 0).then(|| Instant::now() + delay),
            backlog_started: None,
            backlog_sent: 0,
            pacer: Pacer::new(s.rate_per_s, s.batch, Instant::now() + delay),
        };
        let mut queued: VecDeque<Carried> = VecDeque::new();
        let mut inflight: HashMap<u16, Carried> = HashMap::new();
        loop {
            // Fill the window: live readings first, then the paced backlog.
            let mut wake = Duration::from_secs(1);
            while queued.len() + inflight.len() < s.inflight {
                let batch = match lanes.next(self.outbox, s.batch).await? {
                    Turn::Send(batch) => batch,
                    Turn::Wait(wait) => {
                        wake = wake.min(wait.max(Duration::from_millis(5)));
                        break;
                    }
                    Turn::Idle => break,
                };
                let (first, last, count) = (batch[0].id, batch[batch.len() - 1].id, batch.len());
                self.outbox.claim(first, last).await;
                let readings: Vec<_> = batch.into_iter().map(|e| e.reading).collect();
                let body = payload::encode(&s.gateway, Utc::now(), &readings);
                client
                    .try_publish(&topic, QoS::AtLeastOnce, false, body)
                    .map_err(|e| e.to_string())?;
                queued.push_back(Carried::Readings { first, last, count });
            }
            tokio::select! {
                event = events.recv() => match event {
                    Some(LinkEvent::Written(pkid)) => {
                        if let Some(carried) = queued.pop_front() {
                            inflight.insert(pkid, carried);
                        }
                    }
                    Some(LinkEvent::Acked(pkid)) => {
                        if let Some(Carried::Readings { first, last, count }) = inflight.remove(&pkid) {
                            self.outbox.remove(first, last).await.map_err(|e| e.to_string())?;
                            self.link.acked.fetch_add(count as u64, Ordering::Relaxed);
                        }
                    }
                    Some(LinkEvent::Connected(_)) => {}
                    Some(LinkEvent::Lost(e)) => return Err(e),
                    None => return Err("the MQTT event loop stopped".into()),
                },
                Some(status) = statuses.recv() => {
                    let body = serde_json::to_vec(&status).expect("a status serialises");
                    if queued.len() + inflight.len() < s.inflight * 2 {
                        client
                            .try_publish(&status_topic, QoS::AtLeastOnce, true, body)
                            .map_err(|e| e.to_string())?;
                        queued.push_back(Carried::Status);
                    }
                }
                () = self.appended.notified() => {}
                () = tokio::time::sleep(wake) => {}
                () = shutdown.cancelled() => {
                    // Give acknowledgements on the way a moment; the rest stays in the outbox.
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while !inflight.is_empty() || !queued.is_empty() {
                            match events.recv().await {
                                Some(LinkEvent::Written(pkid)) => {
                                    if let Some(c) = queued.pop_front() { inflight.insert(pkid, c); }
                                }
                                Some(LinkEvent::Acked(pkid)) => {
                                    if let Some(Carried::Readings { first, last, .. }) = inflight.remove(&pkid) {
                                        let _ = self.outbox.remove(first, last).await;
                                    }
                                }
                                Some(_) => {}
                                None => break,
                            }
                        }
                    }).await;
                    let _ = client.try_disconnect();
                    return Ok(());
                }
            }
            if let Some((readings, took)) = lanes.backlog_finished() {
                let rate = readings as f64 / took.as_secs_f64().max(0.001);
                tracing::info!(readings, took = ?took, readings_per_s = rate.round(), "积压数据已全部发出 / backlog sent");
            }
        }
    }
}

/// Which readings go next.
struct Lanes {
    /// The highest id at connect: ids up to it are backlog.
    mark: i64,
    backlog_cursor: i64,
    live_cursor: i64,
    /// When the backlog may start (None: no backlog, or all of it queued).
    backlog_from: Option<Instant>,
    backlog_started: Option<Instant>,
    backlog_sent: usize,
    pacer: Pacer,
}

/// The lanes' answer.
enum Turn {
    Send(Vec<super::outbox::Entry>),
    /// The backlog's next batch may go after this.
    Wait(Duration),
    Idle,
}

impl Lanes {
    /// The next batch to send: live readings first, then the paced backlog.
    async fn next(&mut self, outbox: &Outbox, batch: usize) -> Result<Turn, String> {
        let live = outbox
            .batch(self.live_cursor, None, batch)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(last) = live.last() {
            self.live_cursor = last.id;
            return Ok(Turn::Send(live));
        }
        let Some(from) = self.backlog_from else {
            return Ok(Turn::Idle);
        };
        let now = Instant::now();
        if now < from {
            return Ok(Turn::Wait(from - now));
        }
        if !self.pacer.ready(now) {
            return Ok(Turn::Wait(self.pacer.wait(now)));
        }
        let backlog = outbox
            .batch(self.backlog_cursor, Some(self.mark), batch)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = backlog.last() else {
            self.backlog_from = None;
            return Ok(Turn::Idle);
        };
        self.backlog_started.get_or_insert(now);
        self.backlog_cursor = last.id;
        self.backlog_sent += backlog.len();
        self.pacer.take(backlog.len());
        Ok(Turn::Send(backlog))
    }

    /// Once, when the whole backlog has been queued: (readings, time taken).
    fn backlog_finished(&mut self) -> Option<(usize, Duration)> {
        if self.backlog_from.is_some() {
            return None;
        }
        let started = self.backlog_started.take()?;
        Some((std::mem::take(&mut self.backlog_sent), started.elapsed()))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
