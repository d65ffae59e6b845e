//! The command line: `pvledger serve | migrate | registry | demo | settle | user | token | ...`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::{self, Application};
use crate::audit;
use crate::auth::accounts;
use crate::config::Config;
use crate::demo;
use crate::ledger::{self, ImportError};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "pvledger",
    version,
    about = "村级光伏扶贫电站监测与收益结算 — village PV station monitoring and revenue settlement"
)]
pub struct Cli {
    /// A TOML file layered over the built-in defaults (config/default.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (HTTP API) until SIGINT/SIGTERM.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Import or export the station ledger (台账) as CSV files.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Run the service on its own embedded database with the example county loaded.
    Demo {
        /// Database for the demo (default: sqlite://data/demo.sqlite, apart from a real ledger).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Days of simulated history to back-fill at the first start.
        #[arg(long, default_value_t = 30)]
        history: u32,
    },
    /// The grid company's monthly statements (settled on-grid energy per station).
    Grid {
        #[command(subcommand)]
        command: GridCommand,
    },
    /// Per-station deduction terms, effective-dated (运维费、租金、保险、税费).
    Deductions {
        #[command(subcommand)]
        command: DeductionsCommand,
    },
    /// Settle a month: each station's income, each village's share, each use (draft).
    Settle {
        /// The month, YYYY-MM.
        #[arg(long)]
        period: String,
        /// The county's code (needed when the ledger holds several counties).
        #[arg(long)]
        county: Option<String>,
        /// Also write settlement_stations.csv, settlement_villages.csv, settlement_uses.csv here.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Efficacy assessment (成效评估) of a county's stations over a period, ranked.
    Assess {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (included), YYYY-MM-DD.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// The county's code (needed when the ledger holds several counties).
        #[arg(long)]
        county: Option<String>,
        /// Also write the CSV files and assessment.xlsx here.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Move a settlement on: review (draft -> reviewed) or approve (reviewed -> approved).
    Settlement {
        #[command(subcommand)]
        command: SettlementCommand,
    },
    /// Subsidy money that reached the county (补贴资金到账).
    Subsidy {
        #[command(subcommand)]
        command: SubsidyCommand,
    },
    /// Import villages' yearly use plans (村级收益使用计划).
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Bring the ledger's stations to life: simulated gateways publishing payload v1.
    Simulate(crate::simulate::command::SimulateArgs),
    /// Run the edge gateway at a station: poll its devices, keep readings on disk, forward
    /// them to the central broker (docs/GATEWAY.md). `--config` names gateway.toml.
    Gateway {
        /// Take the devices from a ledger export (devices.csv of `pvledger registry export`).
        #[arg(long, value_name = "DIR")]
        from_ledger: Option<PathBuf>,
    },
    /// Modbus TCP tools for commissioning devices.
    Modbus {
        #[command(subcommand)]
        command: ModbusCommand,
    },
    /// A consistent copy of the database while the service runs (SQLite: VACUUM INTO;
    /// PostgreSQL: pg_dump --format=custom).
    Backup { file: PathBuf },
    /// People who use the pages and the API (用户).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Bearer tokens for scripts calling the API.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Alerts and the problem ledger (告警与问题台账).
    Alerts {
        #[command(subcommand)]
        command: crate::alerts::cli::AlertsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print their one-time password.
    Add {
        name: String,
        /// admin, bureau, finance, technician or village.
        #[arg(long)]
        role: String,
        /// The village a village user may see (its code in the ledger).
        #[arg(long)]
        village: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a user and print it (it is stored only hashed).
    Create {
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModbusCommand {
    /// Connect to HOST:PORT and print the SunSpec models or the vendor profile's values.
    Probe(crate::modbus::probe::ProbeArgs),
}

#[derive(Debug, Subcommand)]
pub enum SettlementCommand {
    /// draft -> reviewed
    Review { id: i64 },
    /// reviewed -> approved
    Approve { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum SubsidyCommand {
    /// Record a receipt; it pays the oldest outstanding subsidy first.
    Receive {
        /// 元, at most 2 decimals.
        #[arg(long)]
        amount: String,
        /// Date received, YYYY-MM-DD.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// The transfer letter (转付函件) or bank reference.
        #[arg(long)]
        reference: String,
        /// The county (needed when the ledger holds several).
        #[arg(long)]
        county: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Import FILE.csv: village_code, year, jobs, works, rewards [, other] (percent).
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum DeductionsCommand {
    /// Import FILE.csv: station_code, valid_from [, om_yuan_per_kwp_year | om_percent,
    /// land_rent_yuan_per_year, insurance_yuan_per_year, vat_rate, vat_refund_share, note];
    /// an empty cell means the county default.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum GridCommand {
    /// Import FILE.csv: station_code, period (YYYY-MM), export_kwh [, benchmark_paid, reference].
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Import villages.csv, stations.csv, tariffs.csv, shares.csv, gateways.csv, devices.csv
    /// (any subset) from DIR: all or nothing.
    Import { dir: PathBuf },
    /// Export the ledger as the same files into DIR.
    Export { dir: PathBuf },
}

/// Exit code for input the user must fix (as opposed to 1 for failures of the system).
pub const EXIT_BAD_INPUT: i32 = 2;

/// Prints a refused import's problems, one `file:line: column: reason` per line, and the
/// verdict, on stderr (shared by every CSV import command).
pub fn print_refused(errors: &[crate::ledger::LineError]) {
    for e in errors {
        eprintln!("{e}");
    }
    eprintln!(
        "导入失败：{} 处错误，未作任何修改 / import refused: {} problem(s), nothing was changed",
        errors.len(),
        errors.len()
    );
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    // The gateway has its own configuration file, not the service's.
    if let Command::Gateway { from_ledger } = &cli.command {
        return crate::gateway::command(cli.config.as_deref(), from_ledger.as_deref()).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    crate::logging::init(&config.log);
    match cli.command {
        Command::Serve => serve(config).await?,
        Command::Migrate => {
            let (store, mode) = Store::open(&config.database, &config.storage).await?;
            println!(
                "database is up to date ({}, time series: {mode:?})",
                store.backend().name()
            );
            store.close().await;
        }
        Command::Registry { command } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let code = registry(&store, command).await?;
            store.close().await;
            return Ok(code);
        }
        Command::Demo { database, history } => demo::run(config, database, history).await?,
        Command::Settle {
            period,
            county,
            export,
        } => {
            let store = Store::open(&config.database, &config.storage).await?.0;
            let code = crate::settlement::cli::settle(
                &store,
                &config,
                &period,
                county.as_deref(),
                export.as_deref(),
            )
            .await?;
            store.close().await;
            return Ok(code);
        }
        Command::Assess {
            from,
            to,
            county,
            export,
        } => {
            let store = Store::open(&config.database, &config.storage).await?.0;
            let code = crate::assess::cli::assess(
                &store,
                &config,
                from,
                to,
                county.as_deref(),
                export.as_deref(),
            )
            .await?;
            store.close().await;
            return Ok(code);
        }
        Command::Settlement { command } => {
            let store = Store::open(&config.database, &config.storage).await?.0;
            let (id, action) = match command {
                SettlementCommand::Review { id } => (id, "review"),
                SettlementCommand::Approve { id } => (id, "approve"),
            };
            let code = crate::settlement::cli::advance(&store, id, action).await?;
            store.close().await;
            return Ok(code);
        }
        Command::Subsidy {
            command:
                SubsidyCommand::Receive {
                    amount,
                    date,
                    reference,
                    county,
                },
        } => {
            let store = Store::open(&config.database, &config.storage).await?.0;
            let code = crate::settlement::cli::receive(
                &store,
                &amount,
                date,
                &reference,
                county.as_deref(),
            )
            .await?;
            store.close().await;
            return Ok(code);
        }
        Command::Plan {
            command: PlanCommand::Import { file },
        } => {
            let store = Store::open(&config.database, &config.storage).await?.0;
            let code = crate::settlement::cli::import_plans(&store, &config, &file).await?;
            store.close().await;
            return Ok(code);
        }
        Command::Grid {
            command: GridCommand::Import { file },
        } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let result =
                crate::settlement::grid::import_file(&store, &file, &audit::cli_actor()).await;
            store.close().await;
            return match result {
                Ok(r) => {
                    println!(
                        "上网电量结算单 / grid statements: {} new, {} changed, {} unchanged",
                        r.new, r.changed, r.unchanged
                    );
                    Ok(0)
                }
                Err(crate::settlement::grid::FileImportError::Invalid(errors)) => {
                    print_refused(&errors);
                    Ok(EXIT_BAD_INPUT)
                }
                Err(e) => Err(e.into()),
            };
        }
        Command::Deductions {
            command: DeductionsCommand::Import { file },
        } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let result =
                crate::settlement::terms::import_file(&store, &file, &audit::cli_actor()).await;
            store.close().await;
            return match result {
                Ok(r) => {
                    println!(
                        "扣除条款 / deduction terms: {} new, {} changed, {} unchanged",
                        r.new, r.changed, r.unchanged
                    );
                    Ok(0)
                }
                Err(crate::settlement::grid::FileImportError::Invalid(errors)) => {
                    print_refused(&errors);
                    Ok(EXIT_BAD_INPUT)
                }
                Err(e) => Err(e.into()),
            };
        }
        Command::Gateway { .. } => unreachable!("handled before the service configuration"),
        Command::Simulate(args) => crate::simulate::command::run(config, args).await?,
        Command::Modbus {
            command: ModbusCommand::Probe(args),
        } => return Ok(crate::modbus::probe::run(args).await),
        Command::Backup { file } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let result = crate::backup::backup(&store, &config.database.url, &file).await;
            store.close().await;
            return match result {
                Ok(bytes) => {
                    println!(
                        "备份完成 / backup written: {} ({bytes} bytes)",
                        file.display()
                    );
                    Ok(0)
                }
                Err(
                    e @ (crate::backup::BackupError::Exists(_)
                    | crate::backup::BackupError::NoDirectory(_)),
                ) => {
                    eprintln!("{e}");
                    Ok(EXIT_BAD_INPUT)
                }
                Err(e) => Err(e.into()),
            };
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    village,
                },
        } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let result = accounts::add_user(
                &store,
                &name,
                &role,
                village.as_deref(),
                &audit::cli_actor(),
            )
            .await;
            store.close().await;
            return account_outcome(result.map(|password| {
                println!(
                    "已创建用户 {name} ({role})，一次性密码 / user created, one-time password:"
                );
                println!("{password}");
            }));
        }
        Command::Alerts { command } => return crate::alerts::cli::run(&config, command).await,
        Command::Token {
            command: TokenCommand::Create { user },
        } => {
            let (store, _) = Store::open(&config.database, &config.storage).await?;
            let result = accounts::create_token(&store, &user, &audit::cli_actor()).await;
            store.close().await;
            return account_outcome(result.map(|token| {
                eprintln!(
                    "{user} 的 API 令牌（只显示这一次）/ API token for {user} (shown only once):"
                );
                println!("{token}");
            }));
        }
    }
    Ok(0)
}

/// Exit code of an account command: bad input is the user's to fix (2), not a failure.
fn account_outcome(result: Result<(), accounts::AccountError>) -> anyhow::Result<i32> {
    match result {
        Ok(()) => Ok(0),
        Err(accounts::AccountError::Store(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("{e}");
            Ok(EXIT_BAD_INPUT)
        }
    }
}

/// On the very first start there is no user: create the administrator and print its
/// one-time password (there is no default password to forget to change).
pub async fn announce_first_admin(store: &Store) -> anyhow::Result<()> {
    if let Some(password) = accounts::ensure_admin(store).await? {
        println!(
            "首次启动：已创建管理员 admin，一次性密码（只显示这一次）/ first start: administrator `admin` created; one-time password (shown only once):"
        );
        println!("{password}");
        println!(
            "请在浏览器打开 /login 登录，首次登录须修改此密码 / log in at /login in a browser; this password must be changed at the first login"
        );
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Before the database is opened: a missing TLS file stops start-up with nothing changed.
    config.check_mqtt_files()?;
    let app = Application::build(config).await?;
    announce_first_admin(app.store()).await?;
    app::cancel_on_signal(app.shutdown_token());
    app.run().await
}

async fn registry(store: &Store, command: RegistryCommand) -> anyhow::Result<i32> {
    match command {
        RegistryCommand::Import { dir } => {
            match ledger::import_dir(store, &dir, &audit::cli_actor(), true).await {
                Ok(report) => {
                    for (file, enc) in &report.encodings {
                        tracing::debug!(file, encoding = ?enc, "read");
                    }
                    println!(
                        "{:<14} {:>6} {:>8} {:>10}",
                        "file", "new", "changed", "unchanged"
                    );
                    for s in &report.summary {
                        println!(
                            "{:<14} {:>6} {:>8} {:>10}",
                            s.file, s.new, s.changed, s.unchanged
                        );
                    }
                    if !report.changed_anything() {
                        println!("台账无变化 / nothing changed");
                    }
                    Ok(0)
                }
                Err(ImportError::Invalid(errors)) => {
                    print_refused(&errors);
                    Ok(EXIT_BAD_INPUT)
                }
                Err(ImportError::NoFiles(dir)) => {
                    eprintln!("{}", ImportError::NoFiles(dir));
                    Ok(EXIT_BAD_INPUT)
                }
                Err(e) => Err(e.into()),
            }
        }
        RegistryCommand::Export { dir } => {
            let written = ledger::export_dir(store, &dir).await?;
            for (file, rows) in written {
                println!("{} {rows} rows", dir.join(file).display());
            }
            Ok(0)
        }
    }
}
