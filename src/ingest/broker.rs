//! The embedded MQTT broker (rumqttd) for zero set-up: with no `mqtt.url`, pvledger
//! listens on `mqtt.embedded_listen` itself. Gateways log in with their ledger credential
//! (user name = gateway code); pvledger's own receiver uses a random per-process account.
//!
//! Limits, stated plainly (README, operations): the broker keeps sessions in memory, so a
//! message it has acknowledged to a gateway but pvledger has not yet committed is lost if
//! the process dies; and it cannot restrict a gateway to its own topic. Production sites
//! should run Mosquitto or EMQX with persistence and ACLs and set `mqtt.url`.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::Directory;
use crate::auth;

/// User name of pvledger's own receiving client.
pub const INTERNAL_USER: &str = "pvledger-internal";

/// A running embedded broker and the account pvledger's receiver uses on it.
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    pub internal_password: String,
}

/// Starts the broker on `listen` (port 0 picks a free port).
pub fn start(
    listen: SocketAddr,
    directory: Directory,
    allow_anonymous: bool,
) -> anyhow::Result<EmbeddedBroker> {
    // rumqttd reports neither a busy port nor the port it chose for 0: find out first.
    let probe = TcpListener::bind(listen).with_context(|| {
        format!("mqtt.embedded_listen {listen} is not available (another broker there? then set mqtt.url to use it)")
    })?;
    let addr = probe.local_addr()?;
    drop(probe);

    let internal_password: String = (0..32)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect();
    let internal = internal_password.clone();
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 4 << 20,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    connections.set_auth_handler(move |_client: String, user: String, pass: String| {
        let directory = directory.clone();
        let internal = internal.clone();
        async move {
            if user == INTERNAL_USER {
                return pass == internal;
            }
            if user.is_empty() {
                return allow_anonymous;
            }
            let hash = directory.snapshot().gateways.get(&user).cloned();
            let ok = hash.is_some_and(|h| auth::verify_secret(&pass, &h));
            if !ok {
                tracing::warn!(gateway = %user, "MQTT login refused");
            }
            ok
        }
    });
    let server = ServerSettings {
        name: "v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 20_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 << 20,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("v4".to_owned(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            // start() blocks for the life of the process.
            if let Err(e) = Broker::new(config).start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .context("starting the embedded MQTT broker thread")?;
    // No readiness probe: a bare TCP probe makes rumqttd log an error, and the receiver
    // connects with backoff anyway.
    tracing::info!(%addr, "embedded MQTT broker listening");
    Ok(EmbeddedBroker {
        addr,
        internal_password,
    })
}
