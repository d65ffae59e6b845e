//! Sends the simulated county's readings as village gateways do: payload v1 over MQTT with
//! QoS 1, one message per gateway and step; history is back-filled first, oldest first, in
//! messages of bounded size, through the same ingest path as live data.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use rumqttc::{AsyncClient, QoS};
use tokio_util::sync::CancellationToken;

use super::World;
use crate::ingest::payload;
use crate::reading::DeviceReading;

/// Readings per back-fill message.
const HISTORY_CHUNK: usize = 500;

/// How the simulator logs in to the broker.
#[derive(Debug, Clone)]
pub enum Login {
    /// Each gateway with its own credential (gateway code -> credential).
    PerGateway(HashMap<String, String>),
    /// One account for all gateways (the demo's in-process account, or anonymous: "").
    Shared { user: String, password: String },
}

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct Target {
    /// The broker (plaintext or TLS).
    pub link: crate::mqtt_tls::Link,
    pub topic_prefix: String,
    pub login: Login,
}

/// MQTT clients, one per gateway (or one shared), each with its event loop driven.
struct Clients {
    by_gateway: HashMap<String, AsyncClient>,
    shared: Option<AsyncClient>,
    target: Target,
}

impl Clients {
    fn new(target: Target) -> Self {
        Clients {
            by_gateway: HashMap::new(),
            shared: None,
            target,
        }
    }

    fn client(&mut self, gateway: &str) -> AsyncClient {
        let t = &self.target;
        let connect = |id: String, user: &str, pass: &str| {
            let mut o = t.link.options(&id);
            o.set_keep_alive(Duration::from_secs(30))
                .set_max_packet_size(4 << 20, 4 << 20);
            if !user.is_empty() {
                o.set_credentials(user, pass);
            }
            let (client, mut el) = AsyncClient::new(o, 64);
            tokio::spawn(async move {
                loop {
                    if let Err(e) = el.poll().await {
                        tracing::debug!(error = %e, "simulator MQTT connection; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            });
            client
        };
        match &t.login {
            Login::Shared { user, password } => self
                .shared
                .get_or_insert_with(|| {
                    connect(
                        format!("pvledger-sim-{}", rand::random::<u32>()),
                        user,
                        password,
                    )
                })
                .clone(),
            Login::PerGateway(creds) => {
                let pass = creds.get(gateway).cloned().unwrap_or_default();
                self.by_gateway
                    .entry(gateway.to_owned())
                    .or_insert_with(|| connect(format!("sim-{gateway}"), gateway, &pass))
                    .clone()
            }
        }
    }

    async fn publish(&mut self, gateway: &str, readings: &[DeviceReading]) {
        let topic = format!("{}/{gateway}/telemetry", self.target.topic_prefix);
        let body = payload::encode(gateway, Utc::now(), readings);
        if let Err(e) = self
            .client(gateway)
            .publish(topic, QoS::AtLeastOnce, false, body)
            .await
        {
            tracing::warn!(gateway, error = %e, "simulator could not queue a message");
        }
    }
}

/// Groups readings by the gateway of their device (devices without one are skipped).
fn by_gateway(
    readings: Vec<DeviceReading>,
    gateways: &HashMap<String, String>,
) -> BTreeMap<String, Vec<DeviceReading>> {
    let mut out: BTreeMap<String, Vec<DeviceReading>> = BTreeMap::new();
    for r in readings {
        if let Some(g) = gateways.get(&r.device_code) {
            out.entry(g.clone()).or_default().push(r);
        }
    }
    out
}

/// Back-fills `days` of history at `step`, then publishes live every `interval` until
/// `shutdown`. Devices of `modbus` are served as Modbus registers instead of over MQTT
/// (their history still arrives through their gateway, as after an outage).
pub async fn run(
    mut world: World,
    target: Target,
    days: u32,
    step: Duration,
    interval: Duration,
    modbus: Option<super::modbus::ModbusFarm>,
    shutdown: CancellationToken,
) {
    let skip = modbus.as_ref().map(|m| m.served()).unwrap_or_default();
    let gateways = world.gateways();
    let mut clients = Clients::new(target);
    let now = Utc::now();
    if days > 0 {
        let mut t = now - chrono::Duration::days(i64::from(days));
        let mut pending: BTreeMap<String, Vec<DeviceReading>> = BTreeMap::new();
        let mut sent = 0usize;
        let step_c = chrono::Duration::from_std(step).unwrap_or(chrono::Duration::minutes(5));
        while t < now {
            for (g, rs) in by_gateway(world.step(t), &gateways) {
                let buf = pending.entry(g.clone()).or_default();
                buf.extend(rs);
                if buf.len() >= HISTORY_CHUNK {
                    clients.publish(&g, buf).await;
                    sent += buf.len();
                    buf.clear();
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
            t += step_c;
        }
        for (g, buf) in pending.iter().filter(|(_, b)| !b.is_empty()) {
            clients.publish(g, buf).await;
            sent += buf.len();
        }
        tracing::info!(days, readings = sent, "simulator history published");
    }
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let live: Vec<DeviceReading> = world
            .step(Utc::now())
            .into_iter()
            .filter(|r| !skip.contains(&r.device_code))
            .collect();
        for (g, rs) in by_gateway(live, &gateways) {
            clients.publish(&g, &rs).await;
        }
    }
}
