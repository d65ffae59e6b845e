//! `pvledger alerts list [--status S] [--station CODE]`: the problem ledger in a terminal.

use crate::config::Config;
use crate::store::Store;

use super::model::Status;

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List {
        /// open, acknowledged or resolved.
        #[arg(long)]
        status: Option<String>,
        /// Only alerts of this station (its code).
        #[arg(long)]
        station: Option<String>,
    },
}

/// Runs the command; returns the exit code (2 for bad arguments).
pub async fn run(config: &Config, command: AlertsCommand) -> anyhow::Result<i32> {
    let AlertsCommand::List { status, station } = command;
    let status = match status.as_deref().map(|s| (s, Status::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            eprintln!(
                "--status {s:?}: 须为 open、acknowledged 或 resolved (must be open, acknowledged or resolved)"
            );
            return Ok(2);
        }
    };
    let (store, _) = Store::open(&config.database, &config.storage).await?;
    let alerts = super::store::list(&store, status, station.as_deref(), None).await?;
    if alerts.is_empty() {
        println!("没有告警 (no alerts)");
    }
    for a in &alerts {
        let status = Status::parse(&a.status).map_or(a.status.as_str(), |s| s.zh());
        let at = a
            .opened_at
            .0
            .with_timezone(&config.time.zone)
            .format("%Y-%m-%d %H:%M");
        println!(
            "#{:<5} {at}  {status}  [{}] {}  {}",
            a.id,
            a.rule,
            a.title,
            a.om_body
                .as_deref()
                .map(|b| format!("管护主体：{b}"))
                .unwrap_or_default()
        );
    }
    store.close().await;
    Ok(0)
}
