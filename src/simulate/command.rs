//! `pvledger simulate`: runs the simulated gateways against a running service's broker.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use super::publish::{Login, Target};
use super::{Fault, World};
use crate::config::Config;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Days of history to back-fill first (through MQTT, like a gateway coming back online).
    #[arg(long, default_value_t = 0)]
    pub history: u32,
    /// Seconds between live readings.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// Minutes between back-filled readings.
    #[arg(long, default_value_t = 5)]
    pub history_step: u64,
    /// Weather seed: the same seed gives the same clouds.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Faults to inject, repeatable: trip:DEV, string:DEV:0.3, silent:DEV, glitch:DEV,
    /// dark:STATION, outage:TOWNSHIP.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Do not serve the ledger's modbus devices as simulated Modbus TCP servers.
    #[arg(long)]
    pub no_modbus: bool,
    /// The gateways.csv with plain credentials (as imported) to log in as each gateway;
    /// without it the simulator connects anonymously.
    #[arg(long, value_name = "FILE")]
    pub gateways: Option<PathBuf>,
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(config: Config, args: SimulateArgs) -> anyhow::Result<()> {
    let faults = args
        .faults
        .iter()
        .map(|f| Fault::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let store = Store::connect(&config.database).await?;
    let ledger = store.load_ledger().await.context("reading the ledger")?;
    if ledger.stations.is_empty() {
        bail!("the ledger has no stations: import one first (pvledger registry import DIR)");
    }
    let link = if config.mqtt.url.is_empty() {
        let addr: std::net::SocketAddr = config
            .mqtt
            .embedded_listen
            .parse()
            .context("mqtt.embedded_listen")?;
        crate::mqtt_tls::Link {
            host: addr.ip().to_string(),
            port: addr.port(),
            tls: None,
        }
    } else {
        // The same link (and TLS files) as the service's receiver.
        config
            .mqtt
            .link()
            .map_err(|(key, e)| anyhow::anyhow!("configuration key `{key}`: {e}"))?
    };
    let login = match &args.gateways {
        Some(file) => Login::PerGateway(read_credentials(file)?),
        None => Login::Shared {
            user: String::new(),
            password: String::new(),
        },
    };
    let world = World::from_ledger(&ledger, args.seed, faults, chrono::Utc::now());
    let farm = if args.no_modbus {
        None
    } else {
        Some(super::modbus::ModbusFarm::start(&ledger, &config.modbus.profiles_dir).await)
    };
    let target = Target {
        link: link.clone(),
        topic_prefix: config.mqtt.topic_prefix.clone(),
        login,
    };
    let token = tokio_util::sync::CancellationToken::new();
    crate::app::cancel_on_signal(token.clone());
    println!(
        "simulating {} stations to {link} (Ctrl-C to stop)",
        ledger.stations.len()
    );
    super::publish::run(
        world,
        target,
        args.history,
        Duration::from_secs(args.history_step * 60),
        Duration::from_secs(args.interval.max(1)),
        farm,
        token,
    )
    .await;
    Ok(())
}

/// Gateway code -> plain credential, from a gateways.csv as imported.
fn read_credentials(file: &PathBuf) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let (text, _) = crate::ledger::encoding::decode(&bytes).map_err(anyhow::Error::msg)?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{} has no {name} column", file.display()))
    };
    let (code, cred) = (col("code")?, col("credential")?);
    let mut out = std::collections::HashMap::new();
    for r in reader.records() {
        let r = r?;
        out.insert(r[code].trim().to_owned(), r[cred].trim().to_owned());
    }
    Ok(out)
}
