//! Read-path benchmark (issue 7): the two queries a county dashboard makes all day, on a
//! province-sized dataset, under 50 concurrent clients. Targets from the issue: the station
//! list with health (`GET /api/v1/stations`) p95 under 50 ms; a station's year of daily
//! energy (`GET /api/v1/stations/{code}/energy?interval=day&from=..&to=..`) p95 under 20 ms.
//! The list is measured as a dashboard asks for it (a page of 100 of the province, a page of
//! 100 through the county filter, one township) and, to keep the report honest, once as the
//! whole province in one unpaginated answer. Each row prints the 1-minute load average
//! before and after it: the machine may be shared.
//! Run with `cargo bench --bench queries`; `PVLEDGER_BENCH_BACKEND=postgres|sqlite` runs
//! one backend (PostgreSQL: the local server, or PVLEDGER_TEST_PG_URL).
//!
//! The dataset is what those endpoints read, loaded in bulk (COPY on PostgreSQL, multi-row
//! INSERTs in one transaction on SQLite) rather than through ingest: the ledger (stations
//! with coordinates, inverters), a year of daily rollups ending today, one fresh reading per
//! device (the health view reads the newest reading of the last two days and today's daily
//! row), and hourly rollups, which neither endpoint reads but which share the database's
//! cache with them. Knobs (defaults in brackets): PVLEDGER_BENCH_STATIONS [6000],
//! PVLEDGER_BENCH_INVERTERS per station [1], PVLEDGER_BENCH_HOURLY_DAYS of hourly rollups
//! [365], PVLEDGER_BENCH_CLIENTS [50], PVLEDGER_BENCH_SECONDS measured per endpoint [20],
//! PVLEDGER_BENCH_ONLY [all]: only the endpoints whose name contains it (`energy`, `list`).
//!
//! Clients run closed-loop (each sends its next request when the previous answer has been
//! read in full), in the same process as the service: on a small machine they compete with
//! it for the cores, as a busy dashboard's proxies would not. Latency is per request, from
//! send to the last byte of the body. One untimed request per client warms the caches.

// The tests' reader of /metrics; the bench needs only two of its functions.
#[allow(dead_code)]
#[path = "../tests/common/metrics.rs"]
mod metrics;
#[path = "support/pg.rs"]
mod pg;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use pvledger::app::Application;
use pvledger::config::Config;
use pvledger::store::Store;

const COUNTY: &str = "149700";
/// Stations per page of the paged list rows.
const PAGE: usize = 100;
/// Stations per township.
const PER_TOWNSHIP: usize = 60;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Size {
    stations: usize,
    inverters: usize,
    hourly_days: usize,
}

fn township(s: usize) -> String {
    format!("{COUNTY}{:03}", 100 + s / PER_TOWNSHIP)
}

/// One county of townships of 60 stations over 3° × 3° of Shanxi, as benches/assess.rs.
fn write_ledger(dir: &Path, size: &Size) {
    let mut villages = String::from("code,name,level,parent_code\n");
    writeln!(villages, "{COUNTY},基准县,county,").unwrap();
    for t in 0..size.stations.div_ceil(PER_TOWNSHIP) {
        writeln!(villages, "{COUNTY}{:03},乡镇{t},township,{COUNTY}", 100 + t).unwrap();
    }
    let mut stations = String::from(
        "code,name,kind,area_code,dc_capacity_kwp,ac_capacity_kw,latitude,longitude,tilt_deg,azimuth_deg\n",
    );
    let mut devices =
        String::from("code,station_code,kind,dc_kwp,protocol,host,port,unit_id,profile\n");
    for s in 0..size.stations {
        let code = format!("PV-{s:05}");
        let t = s / PER_TOWNSHIP;
        let lat = 36.0 + 0.3 * ((t / 10) % 10) as f64 + 0.004 * (s % 60) as f64;
        let lon = 110.5 + 0.3 * (t % 10) as f64 + 0.003 * (s % 37) as f64;
        writeln!(
            stations,
            "{code},站{s},village,{},284,250,{lat:.4},{lon:.4},{},{}",
            township(s),
            30 + s % 7,
            175 + s % 11
        )
        .unwrap();
        for i in 1..=size.inverters {
            writeln!(
                devices,
                "INV-{code}-{i},{code},inverter,{},modbus,10.{}.{}.1,502,{i},sunspec",
                284 / size.inverters,
                t % 250,
                s % 60
            )
            .unwrap();
        }
    }
    for (name, text) in [
        ("villages.csv", villages),
        ("stations.csv", stations),
        ("devices.csv", devices),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// A repeatable pseudo-random factor in [0.35, 1) shared by the county for one day.
fn cloud(day: NaiveDate) -> f64 {
    let doy = f64::from(day.ordinal());
    0.35 + 0.65 * ((doy * 12.9898).sin() * 43_758.545).fract().abs()
}

/// Rows in the backend's bulk format: CSV lines for COPY, `(..)` tuples for INSERT.
fn row(pg: bool, fields: &[String]) -> String {
    if pg {
        fields.join(",")
    } else {
        format!("({})", fields.join(","))
    }
}

/// An instant as the backend stores it: RFC 3339 for TIMESTAMPTZ, epoch ms on SQLite.
fn instant(pg: bool, t: DateTime<Utc>) -> String {
    if pg {
        t.to_rfc3339()
    } else {
        t.timestamp_millis().to_string()
    }
}

fn date(pg: bool, d: NaiveDate) -> String {
    if pg { d.to_string() } else { format!("'{d}'") }
}

/// Loads `rows` into `table`; returns rows per second.
async fn load(
    store: &Store,
    table: &str,
    columns: &str,
    count: usize,
    rows: impl Iterator<Item = String>,
) -> f64 {
    let t = Instant::now();
    match store {
        Store::Postgres(p) => {
            let mut conn = p.acquire().await.unwrap();
            let mut copy = conn
                .copy_in_raw(&format!(
                    "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
                ))
                .await
                .unwrap();
            let mut buf = String::with_capacity(8 << 20);
            for r in rows {
                buf.push_str(&r);
                buf.push('\n');
                if buf.len() > 7 << 20 {
                    copy.send(buf.as_bytes()).await.unwrap();
                    buf.clear();
                }
            }
            copy.send(buf.as_bytes()).await.unwrap();
            copy.finish().await.unwrap();
        }
        Store::Sqlite(p) => {
            let mut tx = p.begin().await.unwrap();
            let head = format!("INSERT INTO {table} ({columns}) VALUES ");
            let mut sql = head.clone();
            let mut n = 0;
            for r in rows {
                if n > 0 {
                    sql.push(',');
                }
                sql.push_str(&r);
                n += 1;
                if n == 2_000 {
                    sqlx::raw_sql(&sql).execute(&mut *tx).await.unwrap();
                    sql.clone_from(&head);
                    n = 0;
                }
            }
            if n > 0 {
                sqlx::raw_sql(&sql).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = count as f64 / secs;
    eprintln!("  {table}: {count} rows in {secs:.1} s ({rate:.0} rows/s)");
    rate
}

struct Dataset {
    devices: usize,
    daily_rows: usize,
    hourly_rows: usize,
    hourly_rate: f64,
}

/// The year of daily rollups ending `today`, hourly rollups of the last `hourly_days` days
/// up to the current hour, and one reading per device three minutes ago.
async fn load_dataset(store: &Store, size: &Size, today: NaiveDate, now: DateTime<Utc>) -> Dataset {
    let pg = matches!(store, Store::Postgres(_));
    let ids: Vec<i64> = match store {
        Store::Sqlite(p) => sqlx::query_scalar("SELECT id FROM devices ORDER BY id")
            .fetch_all(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar("SELECT id FROM devices ORDER BY id")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    let kw = 284.0 / size.inverters as f64;
    let first = today - chrono::Duration::days(364);
    let daily = ids.iter().flat_map(|&id| {
        first.iter_days().take(365).map(move |day| {
            let kwh = kw * 4.2 * cloud(day);
            row(
                pg,
                &[
                    id.to_string(),
                    date(pg, day),
                    format!("{kwh:.3}"),
                    format!("{:.1}", kw * 800.0 * cloud(day)),
                    "900".into(),
                    "0".into(),
                    "16777184".into(),
                    "2097120".into(),
                ],
            )
        })
    });
    let daily_rows = ids.len() * 365;
    load(
        store,
        "energy_daily",
        "device_id, day, energy_kwh, peak_power_w, samples, bad_intervals, data_hours, producing_hours",
        daily_rows,
        daily,
    )
    .await;

    let hours = size.hourly_days * 24;
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    let start = this_hour - chrono::Duration::hours(hours as i64);
    let hourly = ids.iter().flat_map(|&id| {
        (0..hours).map(move |h| {
            let hour = start + chrono::Duration::hours(h as i64);
            // Production between 06 and 18 local (UTC+8), a half sine.
            let local = (hour.hour() + 8) % 24;
            let sun = if (6..18).contains(&local) {
                (std::f64::consts::PI * (f64::from(local) - 5.5) / 12.0).sin()
            } else {
                0.0
            };
            row(
                pg,
                &[
                    id.to_string(),
                    instant(pg, hour),
                    format!("{:.3}", kw * 0.8 * sun),
                    format!("{:.1}", kw * 900.0 * sun),
                    "60".into(),
                    "0".into(),
                    if pg {
                        "counter".into()
                    } else {
                        "'counter'".into()
                    },
                ],
            )
        })
    });
    let hourly_rows = ids.len() * hours;
    let hourly_rate = load(
        store,
        "energy_hourly",
        "device_id, hour, energy_kwh, peak_power_w, samples, bad_intervals, source",
        hourly_rows,
        hourly,
    )
    .await;

    let ts = now - chrono::Duration::minutes(3);
    let readings = ids.iter().map(|&id| {
        row(
            pg,
            &[
                id.to_string(),
                instant(pg, ts),
                instant(pg, ts),
                format!("{:.1}", kw * 500.0),
                format!("{:.3}", 10_000.0 + id as f64),
                if pg {
                    "running".into()
                } else {
                    "'running'".into()
                },
                "0".into(),
            ],
        )
    });
    load(
        store,
        "readings",
        "device_id, ts, received_at, ac_power_w, energy_total_kwh, status, quality",
        ids.len(),
        readings,
    )
    .await;
    // What autovacuum would have done by now on PostgreSQL. The service never analyses
    // SQLite; an operator may, and that is the state that once cost a re-compile per request
    // (see .cargo/config.toml). Unanalysed, SQLite gave the same figures (session 12).
    match store {
        Store::Sqlite(p) => sqlx::raw_sql("ANALYZE").execute(p).await.map(|_| ()),
        Store::Postgres(p) => sqlx::raw_sql("VACUUM ANALYZE").execute(p).await.map(|_| ()),
    }
    .unwrap();
    let bytes: i64 = match store {
        Store::Sqlite(p) => sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(p)
        .await
        .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    eprintln!("  database: {:.2} GB", bytes as f64 / 1e9);
    Dataset {
        devices: ids.len(),
        daily_rows,
        hourly_rows,
        hourly_rate,
    }
}

/// The URL of a client's n-th request: `url(client, n)`.
type Url = Arc<dyn Fn(usize, usize) -> String + Send + Sync>;

/// Latencies of every timed request, and how long the run took.
struct Run {
    latencies: Vec<Duration>,
    secs: f64,
}

/// `clients` closed-loop clients for `secs` seconds; `url(client, n)` is the n-th request
/// of a client. Every answer must be 200.
async fn drive(clients: &[reqwest::Client], secs: u64, url: Url) -> Run {
    // Warm-up: one untimed request per client, all at once.
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let r = client.get(url(c, 0)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A mark on stderr so that a profiler can be started on the measured part alone.
    eprintln!("queries: measuring for {secs} s from now");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut n = 1;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client.get(url(c, n)).send().await.unwrap();
                let status = r.status();
                r.bytes().await.unwrap();
                out.push(t.elapsed());
                assert_eq!(status, 200, "{}", url(c, n));
                n += 1;
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        latencies,
        secs: started.elapsed().as_secs_f64(),
    }
}

struct Line {
    backend: &'static str,
    endpoint: &'static str,
    target_p95_ms: Option<f64>,
    /// The 1-minute load average before and after the run (the machine is shared).
    load: String,
    run: Run,
}

/// The 1-minute load average (`/proc/loadavg`), or "?" where there is none.
fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

async fn bench(
    backend: &'static str,
    url: &str,
    ledger: &Path,
    size: &Size,
    clients: usize,
    secs: u64,
) -> (Dataset, Vec<Line>) {
    let env = [
        ("PVLEDGER__DATABASE__URL", url.to_owned()),
        ("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0".to_owned()),
        ("PVLEDGER__MQTT__EMBEDDED_LISTEN", String::new()),
        ("PVLEDGER__MODBUS__ENABLED", "false".to_owned()),
        ("PVLEDGER__LOG__LEVEL", "warn".to_owned()),
    ];
    // The pool's size (PVLEDGER__DATABASE__MAX_CONNECTIONS) passes through, to tune it.
    let knobs = std::env::vars().filter(|(k, _)| k == "PVLEDGER__DATABASE__MAX_CONNECTIONS");
    let config = Config::load_from(
        None,
        env.map(|(k, v)| (k.to_owned(), v)).into_iter().chain(knobs),
    )
    .unwrap();
    let (store, mode) = Store::open(&config.database, &config.storage)
        .await
        .unwrap();
    let t = Instant::now();
    pvledger::ledger::import_dir(&store, ledger, "bench", false)
        .await
        .unwrap();
    eprintln!(
        "{backend}: ledger imported in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let now = Utc::now();
    let today = now.with_timezone(&config.time.zone).date_naive();
    let data = load_dataset(&store, size, today, now).await;
    // A running service has packed its days up to yesterday (ingest::packer): so has this.
    let t = Instant::now();
    let packed = pvledger::ingest::packer::pack_all(&store, today.pred_opt().unwrap())
        .await
        .unwrap();
    eprintln!(
        "{backend}: {} device-years of daily energy ({} devices) packed in {:.1} s",
        packed.packs,
        packed.devices,
        t.elapsed().as_secs_f64()
    );
    // After any change to areas, stations or devices, each API process reloads the ledger
    // into memory once, while its requests that need the ledger wait (ledger::cache).
    let mut reloads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let ledger = pvledger::ledger::cache::LedgerCache::default()
            .get(&store)
            .await
            .unwrap();
        reloads.push((t.elapsed().as_secs_f64() * 1e3, ledger.stations().len()));
    }
    let ms: Vec<f64> = reloads.iter().map(|r| r.0).collect();
    eprintln!(
        "{backend}: the ledger ({} stations) loaded into memory in {:.0}-{:.0} ms (5 loads)",
        reloads[0].1,
        ms.iter().copied().fold(f64::INFINITY, f64::min),
        ms.iter().copied().fold(0.0, f64::max)
    );
    pvledger::auth::accounts::add_user(&store, "bench-admin", "admin", None, "bench")
        .await
        .unwrap();
    let token = pvledger::auth::accounts::create_token(&store, "bench-admin", "bench")
        .await
        .unwrap();
    let app = Application::with_store(config.clone(), store.clone(), mode)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run());

    // One client (connection pool) per simulated user, as 50 browsers would have.
    let clients: Vec<reqwest::Client> = (0..clients)
        .map(|_| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
            reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap()
        })
        .collect();

    // A running service has counted its stations' daylight (daylight_warmup) long before
    // anyone opens a chart: wait for that, and say how long it took.
    let t = Instant::now();
    loop {
        let text = metrics::metrics_of(&base).await;
        if metrics::metric(&text, "pvledger_daylight_counting_done") == 1.0 {
            eprintln!(
                "{backend}: daylight of {} stations counted at start in {:.1} s",
                metrics::metric(&text, "pvledger_daylight_stations_counted"),
                t.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The answers are what the dataset says before anything is timed.
    let body = clients[0]
        .get(format!("{base}/api/v1/stations"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    eprintln!("{backend}: the station list is {} bytes", body.len());
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed = list["stations"].as_array().unwrap();
    assert_eq!(listed.len(), size.stations);
    assert!(listed[0]["health"].is_object(), "{}", listed[0]);
    let first = today - chrono::Duration::days(364);
    let energy_url = {
        let base = base.clone();
        move |s: usize| {
            format!("{base}/api/v1/stations/PV-{s:05}/energy?interval=day&from={first}&to={today}")
        }
    };
    let year: serde_json::Value = clients[0]
        .get(energy_url(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(year["points"].as_array().unwrap().len(), 365, "{year}");

    // A page of the list, as a dashboard asks for it.
    let page: serde_json::Value = clients[0]
        .get(format!("{base}/api/v1/stations?limit={PAGE}&offset={PAGE}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], size.stations);
    assert_eq!(
        page["stations"].as_array().unwrap().len(),
        PAGE.min(size.stations.saturating_sub(PAGE))
    );

    let mut lines = Vec::new();
    let stations = size.stations;
    let pages = stations.div_ceil(PAGE);
    let townships = stations.div_ceil(PER_TOWNSHIP);
    // The list rows: the whole province in one answer (what every call cost before paging),
    // a page of it, a page of the county (the same stations through the area filter) and
    // one township (60 stations, one page). Pages and townships vary per request.
    let list_rows: [(&str, Url); 4] = [
        ("station list: province, unpaginated", {
            let b = base.clone();
            Arc::new(move |_, _| format!("{b}/api/v1/stations"))
        }),
        ("station list: province, page of 100", {
            let b = base.clone();
            Arc::new(move |c, n| {
                let p = (c * 7919 + n) % pages;
                format!("{b}/api/v1/stations?limit={PAGE}&offset={}", p * PAGE)
            })
        }),
        ("station list: county filter, page of 100", {
            let b = base.clone();
            Arc::new(move |c, n| {
                let p = (c * 7919 + n) % pages;
                format!(
                    "{b}/api/v1/stations?area={COUNTY}&limit={PAGE}&offset={}",
                    p * PAGE
                )
            })
        }),
        ("station list: one township (60)", {
            let b = base.clone();
            Arc::new(move |c, n| {
                let t = (c * 7919 + n) % townships;
                format!(
                    "{b}/api/v1/stations?area={}&limit={PAGE}",
                    township(t * PER_TOWNSHIP)
                )
            })
        }),
    ];
    // PVLEDGER_BENCH_ONLY=text measures only the rows whose endpoint contains it.
    let only = std::env::var("PVLEDGER_BENCH_ONLY").unwrap_or_default();
    for (endpoint, url) in list_rows {
        if !endpoint.contains(&only) {
            continue;
        }
        let load = uptime();
        let run = drive(&clients, secs, url).await;
        lines.push(Line {
            backend,
            endpoint,
            target_p95_ms: Some(50.0),
            load: format!("{load} → {}", uptime()),
            run,
        });
    }
    let endpoint = "a station's year of daily energy";
    if endpoint.contains(&only) {
        let load = uptime();
        let run = drive(
            &clients,
            secs,
            Arc::new(move |c, n| energy_url((c * 7919 + n * 104_729) % stations)),
        )
        .await;
        lines.push(Line {
            backend,
            endpoint,
            target_p95_ms: Some(20.0),
            load: format!("{load} → {}", uptime()),
            run,
        });
    }
    stop.cancel();
    server.await.unwrap().unwrap();
    (data, lines)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let size = Size {
        stations: knob("PVLEDGER_BENCH_STATIONS", 6_000),
        inverters: knob("PVLEDGER_BENCH_INVERTERS", 1).max(1),
        hourly_days: knob("PVLEDGER_BENCH_HOURLY_DAYS", 365),
    };
    let clients = knob("PVLEDGER_BENCH_CLIENTS", 50).max(1);
    let secs = knob("PVLEDGER_BENCH_SECONDS", 20) as u64;
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    std::fs::create_dir_all(&ledger).unwrap();
    write_ledger(&ledger, &size);
    // PVLEDGER_BENCH_BACKEND=postgres or sqlite runs one backend only.
    let only = std::env::var("PVLEDGER_BENCH_BACKEND").unwrap_or_default();
    let mut results = Vec::new();
    if only != "sqlite"
        && let Some(db) = pg::scratch("queries").await
    {
        results.push(bench("postgres", &db.url, &ledger, &size, clients, secs).await);
        db.drop_database().await;
    }
    if only != "postgres" {
        let file = tmp.path().join("bench.sqlite");
        let url = format!("sqlite://{}", file.display());
        results.push(bench("sqlite", &url, &ledger, &size, clients, secs).await);
    }

    println!(
        "\nqueries: {} stations × {} inverter(s), {} clients closed-loop, {secs} s per endpoint",
        size.stations, size.inverters, clients
    );
    for (data, lines) in &results {
        println!(
            "  {} dataset: {} devices, {} daily rows (365 days), {} hourly rows ({} days, loaded at {:.0} rows/s), {} readings",
            lines[0].backend,
            data.devices,
            data.daily_rows,
            data.hourly_rows,
            size.hourly_days,
            data.hourly_rate,
            data.devices
        );
    }
    println!(
        "\n{:<9} {:<42} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12}  load (1 min) before → after",
        "backend",
        "endpoint",
        "requests",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "target p95",
    );
    for (_, lines) in &mut results {
        for l in lines.iter_mut() {
            l.run.latencies.sort();
            let lat = &l.run.latencies;
            let target = match l.target_p95_ms {
                Some(t) if percentile(lat, 0.95) <= t => format!("<{t:.0} met"),
                Some(t) => format!("<{t:.0} MISSED"),
                None => "-".into(),
            };
            println!(
                "{:<9} {:<42} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>12}  {}",
                l.backend,
                l.endpoint,
                lat.len(),
                percentile(lat, 0.50),
                percentile(lat, 0.95),
                percentile(lat, 0.99),
                lat.last().unwrap().as_secs_f64() * 1e3,
                lat.len() as f64 / l.run.secs,
                target,
                l.load
            );
        }
    }
}
