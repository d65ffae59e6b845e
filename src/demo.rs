//! `pvledger demo`: one command, nothing else installed: embedded SQLite and MQTT broker,
//! the example county (examples/county, built into the binary), a month of simulated
//! history through the real ingest path, live simulated gateways, and the HTTP service.

use anyhow::Context;

use crate::app::{self, Application};
use crate::audit;
use crate::auth::accounts;
use crate::config::Config;
use crate::ledger;
use crate::simulate::{self, World};
use crate::store::Store;

/// The example ledger files as (file name, bytes).
pub fn example_county() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "villages.csv",
            include_bytes!("../examples/county/villages.csv").to_vec(),
        ),
        (
            "stations.csv",
            include_bytes!("../examples/county/stations.csv").to_vec(),
        ),
        (
            "tariffs.csv",
            include_bytes!("../examples/county/tariffs.csv").to_vec(),
        ),
        (
            "shares.csv",
            include_bytes!("../examples/county/shares.csv").to_vec(),
        ),
        (
            "gateways.csv",
            include_bytes!("../examples/county/gateways.csv").to_vec(),
        ),
        (
            "devices.csv",
            include_bytes!("../examples/county/devices.csv").to_vec(),
        ),
    ]
}

/// Stations whose inverters the demo reads through the real edge gateway (`pvledger
/// gateway`, in-process): simulated Modbus inverters -> gateway outbox -> MQTT -> service.
/// The service does not poll their devices itself (`modbus.skip_gateways`).
pub const EDGE_GATEWAYS: &[&str] = &["GW-149901101201", "GW-149901101202"];

/// The example credential of `gateway` (examples/county/gateways.csv, last column).
fn example_credential(gateway: &str) -> Option<String> {
    let text = std::str::from_utf8(include_bytes!("../examples/county/gateways.csv")).ok()?;
    text.lines()
        .find(|l| l.split(',').next() == Some(gateway))
        .and_then(|l| l.rsplit(',').next())
        .map(str::to_owned)
}

/// Starts the in-process edge gateways of [`EDGE_GATEWAYS`] against the embedded broker,
/// with the same code as `pvledger gateway`.
async fn start_edge_gateways(
    ledger: &crate::ledger::model::Ledger,
    broker: std::net::SocketAddr,
    prefix: &str,
    http_base: &str,
    interval_s: u64,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    for code in EDGE_GATEWAYS {
        let credential = example_credential(code).context("example gateway credential")?;
        let text = format!(
            "[gateway]\ncode = \"{code}\"\ncredential = \"{credential}\"\n\
             [broker]\nurl = \"mqtt://{broker}\"\ntopic_prefix = \"{prefix}\"\n\
             [outbox]\npath = \"data/demo-outbox-{code}.sqlite\"\n\
             [forward]\nstart_delay_max_s = 5\n\
             [poll]\ninterval_s = {interval_s}\n\
             [clock]\ncheck_url = \"{http_base}/healthz\"\n[status]\ninterval_s = 30\n"
        );
        let config = crate::gateway::GatewayConfig::parse(&text, "demo gateway")?;
        let devices: Vec<_> = ledger
            .devices
            .iter()
            .filter(|d| {
                d.gateway_code.as_deref() == Some(*code)
                    && d.protocol == crate::ledger::model::Protocol::Modbus
            })
            .cloned()
            .collect();
        let gateway = crate::gateway::Gateway::start(&config, &devices, shutdown.clone()).await?;
        tokio::spawn(gateway.wait());
    }
    Ok(())
}

/// Where the demo keeps its data unless told otherwise: apart from a real ledger.
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.sqlite";

/// Runs the demo until SIGINT/SIGTERM.
pub async fn run(
    mut config: Config,
    database: Option<String>,
    history_days: u32,
) -> anyhow::Result<()> {
    config.database.url = database.unwrap_or_else(|| DEMO_DATABASE_URL.to_owned());
    config.mqtt.url.clear();
    // The usual MQTT port may belong to a broker already running here: then take any.
    if std::net::TcpListener::bind(&config.mqtt.embedded_listen).is_err() {
        config.mqtt.embedded_listen = "127.0.0.1:0".into();
    }
    let (store, mode) = Store::open(&config.database, &config.storage).await?;
    let report = ledger::import_files(
        &store,
        example_county(),
        "examples/county",
        &audit::cli_actor(),
        false,
    )
    .await
    .context("loading the example county")?;
    if report.changed_anything() {
        println!(
            "示例县台账已导入 / example county loaded into {}",
            config.database.url
        );
    }
    let (_, plan_rules) = crate::settlement::run::rules(&config.settlement);
    let plans = include_bytes!("../examples/county/plans.csv");
    crate::settlement::plans::import_bytes(
        &store,
        "plans.csv",
        plans,
        "examples/county/plans.csv",
        &plan_rules,
        &audit::cli_actor(),
    )
    .await
    .context("loading the example county's use plans")?;
    let has_history = match &store {
        Store::Sqlite(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM readings")
                .fetch_one(p)
                .await?
        }
        Store::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM readings")
                .fetch_one(p)
                .await?
        }
    } > 0;
    let ledger = store.load_ledger().await?;
    let prefix = config.mqtt.topic_prefix.clone();
    let database_url = config.database.url.clone();
    // The simulated inverters listen before the service starts polling them.
    let farm =
        crate::simulate::modbus::ModbusFarm::start(&ledger, &config.modbus.profiles_dir).await;
    config.modbus.interval_s = config.modbus.interval_s.min(60);
    config.modbus.skip_gateways = EDGE_GATEWAYS.iter().map(|g| g.to_string()).collect();
    let edge_interval_s = config.modbus.interval_s;
    let app = Application::with_store(config, store, mode).await?;
    let receiver = app.receiver().cloned().context("the demo needs MQTT")?;
    let link = receiver
        .link()
        .map_err(|(key, e)| anyhow::anyhow!("{key}: {e}"))?;
    let days = if has_history { 0 } else { history_days };
    let world = World::from_ledger(&ledger, 2026, Vec::new(), chrono::Utc::now());
    let target = simulate::publish::Target {
        link,
        topic_prefix: prefix,
        login: simulate::publish::Login::Shared {
            user: receiver.username.clone(),
            password: receiver.password.clone(),
        },
    };
    let token = app.shutdown_token();
    let base = format!("http://{}", app.local_addr());
    crate::cli::announce_first_admin(app.store()).await?;
    // A fresh token each start, so that the demo's URLs can be tried with curl at once.
    let api_token = accounts::create_token(app.store(), "admin", "system:demo").await?;
    println!("API 令牌 / API token (admin): {api_token}");
    println!("  curl -H 'Authorization: Bearer {api_token}' {base}/api/v1/stations");
    let broker_addr = app.broker_addr();
    let edge_ledger = ledger.clone();
    let edge_prefix = target.topic_prefix.clone();
    println!("pvledger demo: {base}/api/v1/stations  (Ctrl-C 停止 / to stop)");
    println!("  电站 / a station:   {base}/api/v1/stations/PV149901101201-01");
    println!("  发电量 / energy:    {base}/api/v1/stations/PV149901101201-01/energy?interval=day");
    println!("  功率 / power today: {base}/api/v1/stations/PV149901101201-01/power");
    println!(
        "  MQTT broker:        mqtt://{}",
        app.broker_addr().map(|a| a.to_string()).unwrap_or_default()
    );
    println!(
        "  结算 / settle a month: PVLEDGER__DATABASE__URL={database_url} pvledger settle --period YYYY-MM"
    );
    if days > 0 {
        println!(
            "  正在补传 {days} 天历史数据 / back-filling {days} days of simulated history (about a minute)"
        );
    }
    app::cancel_on_signal(token.clone());
    let mqtt = app.mqtt_state();
    let server = tokio::spawn(app.run());
    // A message published before pvledger's receiver subscribes would go nowhere: the
    // simulated gateways start only once the subscription stands.
    for _ in 0..300 {
        if mqtt.name() == "subscribed" || token.is_cancelled() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if let Some(broker) = broker_addr {
        start_edge_gateways(
            &edge_ledger,
            broker,
            &edge_prefix,
            &base,
            edge_interval_s,
            token.clone(),
        )
        .await
        .context("starting the demo's edge gateways")?;
        println!(
            "  边缘网关 / edge gateways (Modbus -> outbox -> MQTT): {}  {base}/api/v1/gateways/{}",
            EDGE_GATEWAYS.join(", "),
            EDGE_GATEWAYS[0]
        );
    }
    tokio::spawn(simulate::publish::run(
        world,
        target,
        days,
        std::time::Duration::from_secs(300),
        std::time::Duration::from_secs(60),
        Some(farm),
        token,
    ));
    server.await.context("the service task failed")?
}
