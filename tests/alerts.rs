//! Alerts end to end on both backends: the simulator's faults (trip, lost string, silence,
//! dark station, township outage, counter glitch) fed through the real ingest path, the
//! evaluator run at simulated instants, alerts opening within their configured time and
//! clearing when the fault is repaired; the API lifecycle, notifications to a local HTTP
//! receiver and SMTP sink, the XLSX problem ledger and `pvledger alerts list`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use common::{TestApp, TestDb, eventually, example_dir, example_secret, mqtt_publish};
use pvledger::alerts::evaluator::Evaluator;
use pvledger::alerts::model::AlertRow;
use pvledger::config::Config;
use pvledger::ledger::import_dir;
use pvledger::ledger::model::Ledger;
use pvledger::simulate::{Fault, World};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The example county in the store and the service running with its own evaluator off
/// (the tests drive one at simulated instants).
async fn loaded(db: &TestDb, change: impl FnOnce(&mut Config)) -> (TestApp, Ledger, Config) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let mut config = db.config.clone();
    change(&mut config);
    config.alerts.enabled = false;
    let c = config.clone();
    let app = TestApp::spawn_with(db, move |x| *x = c).await;
    let ledger = db.store.load_ledger().await.unwrap();
    (app, ledger, config)
}

/// The simulated county, stepped minute by minute and posted per gateway like loggers do.
struct Feed {
    world: World,
    gateway_of: HashMap<String, String>,
    last: DateTime<Utc>,
}

impl Feed {
    fn new(ledger: &Ledger, start: DateTime<Utc>) -> Self {
        let mut world = World::from_ledger(ledger, 7, vec![], start);
        world.step(start);
        Feed {
            gateway_of: world.gateways(),
            world,
            last: start,
        }
    }

    /// Steps every `step` up to `to` and posts what the devices read.
    async fn advance(&mut self, app: &TestApp, to: DateTime<Utc>, step: Duration) {
        let mut batch: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        while self.last + step <= to {
            self.last += step;
            for r in self.world.step(self.last) {
                let mut v = serde_json::to_value(&r.reading).unwrap();
                v["device"] = json!(r.device_code);
                v["ts"] = json!(r.ts.to_rfc3339());
                let gw = self.gateway_of[&r.device_code].clone();
                batch.entry(gw).or_default().push(v);
            }
        }
        for (gw, readings) in batch {
            for chunk in readings.chunks(2000) {
                let body =
                    json!({"gateway": gw, "sent_at": Utc::now().to_rfc3339(), "readings": chunk});
                let (status, out) = app
                    .ingest(&gw, &example_secret(&gw), &body.to_string())
                    .await;
                assert_eq!(status, 200, "{out}");
                assert_eq!(out["refused"].as_array().map_or(0, Vec::len), 0, "{out}");
            }
        }
    }
}

async fn all_alerts(db: &TestDb) -> Vec<AlertRow> {
    pvledger::alerts::store::list(&db.store, None, None, None)
        .await
        .unwrap()
}

fn key(a: &AlertRow) -> (String, String) {
    (a.rule.clone(), a.subject.clone())
}

async fn simulated_faults_open_the_right_alerts_in_time_and_clear_when_repaired(db: TestDb) {
    // Defaults: silent 30 min (clear: data within 10), fault raise 5 / clear 15 min,
    // storm guard 3 stations and half a township, cleared after 10 min.
    let (app, ledger, config) = loaded(&db, |_| {}).await;
    let mut evaluator = Evaluator::new(&config);
    let start = at("2026-06-10T03:00:00Z"); // 11:00 in Shanxi
    let mut feed = Feed::new(&ledger, start);
    let minute = Duration::minutes(1);

    // Arrange: half an hour of healthy production.
    let mut now = start + Duration::minutes(30);
    feed.advance(&app, now, minute).await;
    evaluator.cycle(&db.store, now).await.unwrap();
    assert!(
        all_alerts(&db).await.is_empty(),
        "{:?}",
        all_alerts(&db).await
    );

    // Act: faults from 03:30; the evaluator runs every 5 minutes.
    let injected = at("2026-06-10T03:30:00Z");
    feed.world.set_faults(vec![
        Fault::Trip("INV-PV149901102201-01-1".into()),
        Fault::Silent("INV-PV149901103201-01-2".into()),
        Fault::Dark("PV149901102202-01".into()),
        Fault::Outage("149901101".into()),
    ]);
    let mut opened: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    let mut resolved: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    for _ in 0..12 {
        now += Duration::minutes(5);
        feed.advance(&app, now, minute).await;
        let a = evaluator.cycle(&db.store, now).await.unwrap();
        for row in a.opened {
            assert!(
                opened.insert(key(&row), now).is_none(),
                "opened twice: {row:?}"
            );
        }
    }
    let expected = [
        ("inverter_fault", "device:INV-PV149901102201-01-1"),
        ("silent", "device:INV-PV149901103201-01-2"),
        ("silent", "station:PV149901102202-01"),
        ("grid_outage", "township:149901101"),
    ];
    let mut keys: Vec<_> = opened
        .keys()
        .map(|(r, s)| (r.as_str(), s.as_str()))
        .collect();
    keys.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(
        keys, want,
        "exactly the injected faults, the outage as one grouped alert"
    );
    let when = |r: &str, s: &str| opened[&(r.to_owned(), s.to_owned())] - injected;
    // A fault needs 5 min of fault readings: the first cycle after 03:35.
    assert_eq!(
        when("inverter_fault", "device:INV-PV149901102201-01-1"),
        Duration::minutes(10)
    );
    // Silence needs 30 min without data: the cycle at 04:00 exactly.
    for (r, s) in &expected[1..] {
        assert_eq!(when(r, s), Duration::minutes(30), "{r} {s}");
    }

    // The fault carries its station's O&M body and the device's code.
    let alerts = all_alerts(&db).await;
    let trip = alerts.iter().find(|a| a.rule == "inverter_fault").unwrap();
    assert_eq!(trip.om_body.as_deref(), Some("汾岭县扶贫开发投资有限公司"));
    assert!(trip.title.contains("故障码 2001"), "{}", trip.title);
    let outage = alerts.iter().find(|a| a.rule == "grid_outage").unwrap();
    assert!(
        outage.title.contains("疑似电网停电") && outage.title.contains("3/3"),
        "{}",
        outage.title
    );

    // Act: every fault repaired at 04:30.
    let repaired = now;
    feed.world.set_faults(vec![]);
    for _ in 0..6 {
        now += Duration::minutes(5);
        feed.advance(&app, now, minute).await;
        let a = evaluator.cycle(&db.store, now).await.unwrap();
        assert!(
            a.opened.is_empty(),
            "nothing opens on repair: {:?}",
            a.opened
        );
        for row in a.resolved {
            resolved.insert(key(&row), now);
        }
    }
    let after = |r: &str, s: &str| {
        resolved
            .get(&(r.to_owned(), s.to_owned()))
            .map(|t| *t - repaired)
    };
    // Data is back at the next cycle; a fault must stay away 15 min, the storm 10 min.
    assert_eq!(
        after("silent", "device:INV-PV149901103201-01-2"),
        Some(Duration::minutes(5))
    );
    assert_eq!(
        after("silent", "station:PV149901102202-01"),
        Some(Duration::minutes(5))
    );
    assert_eq!(
        after("grid_outage", "township:149901101"),
        Some(Duration::minutes(15))
    );
    assert_eq!(
        after("inverter_fault", "device:INV-PV149901102201-01-1"),
        Some(Duration::minutes(20))
    );
    let alerts = all_alerts(&db).await;
    assert_eq!(alerts.len(), 4, "no flapping, no second alert: {alerts:?}");
    assert!(
        alerts
            .iter()
            .all(|a| a.status == "resolved" && a.resolved_by.as_deref() == Some("system:alerts"))
    );
}

async fn lost_strings_and_counter_glitches_are_found_in_the_rollups_and_cleared(db: TestDb) {
    let (app, ledger, config) = loaded(&db, |c| {
        c.alerts.under_producing.days = 1;
        c.alerts.counter.window_hours = 24;
    })
    .await;
    let mut evaluator = Evaluator::new(&config);
    let step = Duration::minutes(10);
    // Local day 2026-06-09 runs from 06-08T16:00Z.
    let mut feed = Feed::new(&ledger, at("2026-06-08T16:00:00Z"));
    let lost = Fault::LostString("INV-PV149901101202-01-1".into(), 0.6);
    feed.world.set_faults(vec![lost.clone()]);
    // The counter glitches to 0 once at 10:00, mid-production.
    feed.advance(&app, at("2026-06-09T02:00:00Z"), step).await;
    feed.world
        .set_faults(vec![lost, Fault::Glitch("INV-PV149901102202-01-1".into())]);
    feed.advance(&app, at("2026-06-09T16:00:00Z"), step).await;

    // Act: evaluate just after local midnight (night: silence proves nothing).
    let a = evaluator
        .cycle(&db.store, at("2026-06-09T16:30:00Z"))
        .await
        .unwrap();
    let mut keys: Vec<_> = a.opened.iter().map(key).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "counter_anomaly".to_owned(),
                "device:INV-PV149901102202-01-1".to_owned()
            ),
            (
                "under_producing".to_owned(),
                "station:PV149901101202-01".to_owned()
            ),
        ]
    );
    let under = a
        .opened
        .iter()
        .find(|r| r.rule == "under_producing")
        .unwrap();
    assert!(under.title.contains("后沟村"), "{}", under.title);

    // A healthy day later both clear.
    feed.world.set_faults(vec![]);
    feed.advance(&app, at("2026-06-10T16:00:00Z"), step).await;
    let a = evaluator
        .cycle(&db.store, at("2026-06-10T16:30:00Z"))
        .await
        .unwrap();
    assert!(a.opened.is_empty(), "{:?}", a.opened);
    let mut cleared: Vec<_> = a.resolved.iter().map(|r| r.rule.as_str()).collect();
    cleared.sort();
    assert_eq!(cleared, ["counter_anomaly", "under_producing"]);
}

async fn a_flood_of_refused_payloads_from_one_gateway_raises_one_alert(db: TestDb) {
    let (app, _, config) = loaded(&db, |c| c.alerts.silent.minutes = 1_000_000).await;
    let gw = "GW-149901201201";
    for k in 0..21 {
        let body = json!({"gateway": gw, "sent_at": Utc::now().to_rfc3339(),
            "readings": [{"device": "INV-NOT-IN-LEDGER", "ts": Utc::now().to_rfc3339(), "ac_power_w": k}]});
        app.ingest(gw, &example_secret(gw), &body.to_string()).await;
    }
    let mut evaluator = Evaluator::new(&config);
    let now = Utc::now();
    let a = evaluator.cycle(&db.store, now).await.unwrap();
    let floods: Vec<_> = a
        .opened
        .iter()
        .filter(|r| r.rule == "rejection_flood")
        .collect();
    assert_eq!(floods.len(), 1, "{:?}", a.opened);
    assert_eq!(floods[0].subject, format!("gateway:{gw}"));
    // 20 minutes later the window is quiet: cleared.
    let a = evaluator
        .cycle(&db.store, now + Duration::minutes(20))
        .await
        .unwrap();
    assert!(
        a.resolved.iter().any(|r| r.rule == "rejection_flood"),
        "{:?}",
        a.resolved
    );
}

/// A gateway status message as `pvledger gateway` publishes it (docs/GATEWAY.md).
fn gateway_status(
    gw: &str,
    depth: u64,
    oldest: Option<DateTime<Utc>>,
    thinned: u64,
    skew_ms: i64,
) -> Vec<u8> {
    let now = Utc::now();
    json!({"gateway": gw, "version": "0.1.0", "sent_at": now, "started_at": now - Duration::hours(3),
        "outbox": {"depth": depth, "max_readings": 20000, "oldest_unsent": oldest,
                   "appended_total": 30000, "thinned_raw_total": thinned, "thinned_hourly_total": 0,
                   "last_thinned_at": (thinned > 0).then_some(now)},
        "clock_skew_ms": skew_ms, "clock_checked_at": now, "devices": {},
        "acked_readings": 10000, "reconnects": 1})
    .to_string()
    .into_bytes()
}

async fn a_gateway_whose_backlog_grows_or_goes_silent_raises_alerts_that_clear(db: TestDb) {
    let prefix = common::unique("pvtest-gwalert");
    let p = prefix.clone();
    let (app, ledger, config) = loaded(&db, move |c| {
        c.mqtt.url = "mqtt://127.0.0.1:1883".into();
        c.mqtt.client_id = common::unique("pvledger-test");
        c.mqtt.topic_prefix = p;
        c.alerts.silent.minutes = 1_000_000;
        c.alerts.gateway_silent.minutes = 60;
        c.alerts.gateway_backlog.clear_minutes = 2;
        c.alerts.gateway_thinning.window_minutes = 5;
    })
    .await;
    eventually(10, "the MQTT subscription", || async {
        let (_, ready) = app.get("/readyz").await;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
    let gw = "GW-149901201201";
    let station = ledger
        .devices
        .iter()
        .find(|d| d.gateway_code.as_deref() == Some(gw))
        .map(|d| d.station_code.clone())
        .unwrap();
    let om_body = ledger
        .stations
        .iter()
        .find(|s| s.code == station)
        .and_then(|s| s.om_body.clone());
    let status_stored = |depth: i64| {
        let app = &app;
        async move {
            eventually(10, "the gateway status over MQTT", || async {
                let (_, v) = app.get(&format!("/api/v1/gateways/{gw}")).await;
                (v["status"]["outbox_depth"].as_i64() == Some(depth)).then_some(())
            })
            .await
        }
    };
    let topic = format!("{prefix}/{gw}/status");

    // Two hours of backlog, 3 readings already thinned, the clock 3 minutes fast.
    let t0 = Utc::now();
    mqtt_publish(
        &topic,
        &gateway_status(gw, 12_345, Some(t0 - Duration::hours(2)), 3, 180_000),
    )
    .await;
    status_stored(12_345).await;
    let rules_of = |rows: &[AlertRow]| {
        let mut r: Vec<String> = rows.iter().map(|a| a.rule.clone()).collect();
        r.sort();
        r
    };
    let gw_rules = |rows: &[AlertRow]| {
        let r: Vec<AlertRow> = rows
            .iter()
            .filter(|a| a.rule.starts_with("gateway_") || a.rule == "clock_skew")
            .cloned()
            .collect();
        rules_of(&r)
    };
    let mut evaluator = Evaluator::new(&config);
    let a = evaluator.cycle(&db.store, t0).await.unwrap();
    assert_eq!(
        gw_rules(&a.opened),
        ["gateway_thinning"],
        "thinning opens at once"
    );
    let thinning = &a
        .opened
        .iter()
        .find(|r| r.rule == "gateway_thinning")
        .unwrap();
    assert_eq!(thinning.severity, "critical");
    assert_eq!(thinning.subject, format!("gateway:{gw}"));
    assert_eq!(thinning.gateway_code.as_deref(), Some(gw));
    assert_eq!(thinning.station_code.as_deref(), Some(station.as_str()));
    assert_eq!(thinning.om_body, om_body);
    assert!(thinning.title.contains("已抽稀 3 条"), "{}", thinning.title);

    // Backlog and skew must hold for their 10 minutes; the thinning window (5 min) passes.
    let a = evaluator
        .cycle(&db.store, t0 + Duration::minutes(9))
        .await
        .unwrap();
    assert!(gw_rules(&a.opened).is_empty(), "{:?}", a.opened);
    assert_eq!(gw_rules(&a.resolved), ["gateway_thinning"]);
    let a = evaluator
        .cycle(&db.store, t0 + Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(gw_rules(&a.opened), ["clock_skew", "gateway_backlog"]);
    let backlog = a
        .opened
        .iter()
        .find(|r| r.rule == "gateway_backlog")
        .unwrap();
    assert_eq!(backlog.severity, "major");
    assert_eq!(backlog.om_body, om_body);
    assert!(backlog.title.contains("待发 12345 条"), "{}", backlog.title);

    // A fresh status with an empty outbox and a synchronised clock.
    mqtt_publish(&topic, &gateway_status(gw, 0, None, 3, 120)).await;
    status_stored(0).await;
    let a = evaluator
        .cycle(&db.store, t0 + Duration::minutes(11))
        .await
        .unwrap();
    assert!(
        gw_rules(&a.opened).is_empty(),
        "unchanged thinned total: {:?}",
        a.opened
    );
    assert_eq!(gw_rules(&a.resolved), ["clock_skew"], "skew clears at once");
    let a = evaluator
        .cycle(&db.store, t0 + Duration::minutes(13))
        .await
        .unwrap();
    assert_eq!(
        gw_rules(&a.resolved),
        ["gateway_backlog"],
        "after its 2 minutes"
    );

    // An hour without status: this gateway is silent, and only it: the others never sent one.
    let a = evaluator
        .cycle(&db.store, t0 + Duration::minutes(75))
        .await
        .unwrap();
    assert_eq!(gw_rules(&a.opened), ["gateway_silent"]);
    assert_eq!(a.opened[0].subject, format!("gateway:{gw}"));
    let all: Vec<AlertRow> = all_alerts(&db).await;
    assert_eq!(
        gw_rules(&all),
        [
            "clock_skew",
            "gateway_backlog",
            "gateway_silent",
            "gateway_thinning"
        ]
    );
    for a in all.iter().filter(|a| {
        ["gateway_backlog", "gateway_thinning", "clock_skew"].contains(&a.rule.as_str())
    }) {
        assert_eq!(
            (a.status.as_str(), a.resolved_by.as_deref()),
            ("resolved", Some("system:alerts")),
            "{a:?}"
        );
    }
}

/// What the local receivers got: (path with query, JSON body) and raw SMTP DATA.
#[derive(Default)]
struct Received {
    http: Vec<(String, Value)>,
    mail: Vec<String>,
    hook_calls: usize,
}

async fn http_receiver(got: Arc<Mutex<Received>>) -> String {
    use axum::extract::State;
    async fn take(
        State(got): State<Arc<Mutex<Received>>>,
        uri: axum::http::Uri,
        body: String,
    ) -> (axum::http::StatusCode, String) {
        let mut g = got.lock().unwrap();
        if uri.path() == "/hook" {
            g.hook_calls += 1;
            if g.hook_calls == 1 {
                // The first delivery fails: the notifier must retry.
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy".into());
            }
        }
        g.http
            .push((uri.to_string(), serde_json::from_str(&body).unwrap()));
        (
            axum::http::StatusCode::OK,
            r#"{"errcode":0,"errmsg":"ok"}"#.into(),
        )
    }
    let app = axum::Router::new()
        .fallback(axum::routing::post(take))
        .with_state(got);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Speaks just enough SMTP to take messages and keeps each DATA section.
async fn smtp_sink(got: Arc<Mutex<Received>>) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let got = got.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ready\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            got.lock().unwrap().mail.push(data.take().unwrap());
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let reply: &[u8] = match line.split_whitespace().next().unwrap_or("") {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    addr.to_string()
}

fn channel(name: &str, kind: &str, url: &str) -> pvledger::alerts::config::ChannelConfig {
    toml::from_str(&format!(
        "name = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\""
    ))
    .unwrap()
}

async fn the_service_raises_notifies_and_technicians_close_items_with_a_note(db: TestDb) {
    let got = Arc::new(Mutex::new(Received::default()));
    let base = http_receiver(got.clone()).await;
    let smtp = smtp_sink(got.clone()).await;
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let app = TestApp::spawn_with(&db, |c| {
        let a = &mut c.alerts;
        a.enabled = true;
        a.interval_s = 1;
        a.fault.raise_minutes = 0;
        // Only the injected fault may raise here: silence would need ~2 years.
        a.silent.minutes = 1_000_000;
        a.notify.retry_base_ms = 100;
        a.notify.per_minute = 600;
        let mut ding = channel(
            "ding",
            "dingtalk",
            &format!("{base}/robot/send?access_token=t"),
        );
        ding.secret = "SECtest".into();
        let mut mail = channel("mail", "email", "");
        mail.smtp = smtp.clone();
        mail.from = "pvledger@example.cn".into();
        mail.to = vec!["tech@example.cn".into()];
        let mut other = channel("other-body", "webhook", &format!("{base}/other"));
        other.om_bodies = vec!["汾岭县绿源光伏运维有限公司".into()];
        a.channels = vec![
            channel("hook", "webhook", &format!("{base}/hook")),
            channel(
                "wecom",
                "wecom",
                &format!("{base}/cgi-bin/webhook/send?key=k"),
            ),
            ding,
            mail,
            other,
        ];
    })
    .await;

    // Act: a Huawei inverter reports alarm bit 0 now.
    let gw = "GW-149901101201";
    let inv = "INV-PV149901101201-01-1";
    let body = json!({"gateway": gw, "sent_at": Utc::now().to_rfc3339(), "readings": [
        {"device": inv, "ts": Utc::now().to_rfc3339(), "ac_power_w": 0.0, "status": "fault", "fault_code": "0x0001"}]});
    assert_eq!(
        app.ingest(gw, &example_secret(gw), &body.to_string())
            .await
            .0,
        200
    );

    let alert = eventually(10, "the fault alert", || async {
        let (_, v) = app.get("/api/v1/alerts?status=open").await;
        v["alerts"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(alert["rule"], "inverter_fault");
    assert_eq!(alert["device_code"], inv);
    assert_eq!(alert["station_code"], "PV149901101201-01");
    assert_eq!(alert["om_body"], "汾岭县扶贫开发投资有限公司");
    let title = alert["title"].as_str().unwrap();
    assert!(
        title.contains("组串输入电压高 (2001)"),
        "the vendor's text: {title}"
    );
    let id = alert["id"].as_i64().unwrap();

    // Notifications: webhook (after one retry), WeCom, DingTalk (signed), e-mail; not the
    // channel of the other O&M body.
    eventually(15, "four deliveries", || async {
        let g = got.lock().unwrap();
        (g.http.len() >= 3 && !g.mail.is_empty()).then_some(())
    })
    .await;
    {
        let g = got.lock().unwrap();
        assert_eq!(g.hook_calls, 2, "one failure, one retry");
        let by_path = |p: &str| {
            g.http
                .iter()
                .find(|(u, _)| u.starts_with(p))
                .map(|(u, b)| (u.clone(), b.clone()))
        };
        let (_, hook) = by_path("/hook").unwrap();
        assert_eq!(hook["event"], "opened");
        assert_eq!(hook["alert"]["id"], id);
        let (_, wecom) = by_path("/cgi-bin/webhook/send").unwrap();
        assert_eq!(wecom["msgtype"], "markdown");
        assert!(
            wecom["markdown"]["content"]
                .as_str()
                .unwrap()
                .contains("逆变器故障")
        );
        let (url, ding) = by_path("/robot/send").unwrap();
        assert_eq!(ding["msgtype"], "markdown");
        let query: HashMap<&str, &str> = url
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let ts: i64 = query["timestamp"].parse().unwrap();
        assert_eq!(
            query["sign"],
            pvledger::alerts::notify::message::dingtalk_sign("SECtest", ts)
        );
        assert!(by_path("/other").is_none(), "assigned to another O&M body");
        let mail = &g.mail[0];
        assert!(mail.contains("Subject: =?UTF-8?B?"), "{mail}");
        assert!(mail.contains("To: <tech@example.cn>"), "{mail}");
    }

    // Lifecycle: a village user may not see alerts; a technician acknowledges and closes.
    let village = app
        .client_as(&db.store, "village", Some("149901101201"))
        .await;
    let r = village
        .get(format!("{}/api/v1/alerts", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let tech = app.client_as(&db.store, "technician", None).await;
    let post = |path: String, body: Value| {
        let tech = tech.clone();
        async move {
            let r = tech.post(path).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, acked) = post(
        format!("{}/api/v1/alerts/{id}/ack", app.base),
        json!({"note": "已派人前往"}),
    )
    .await;
    assert_eq!(s, 200, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    let (s, again) = post(format!("{}/api/v1/alerts/{id}/ack", app.base), json!({})).await;
    assert_eq!(s, 409, "{again}");
    let (s, refused) = post(
        format!("{}/api/v1/alerts/{id}/resolve", app.base),
        json!({"note": " "}),
    )
    .await;
    assert_eq!(s, 400, "a note is required: {refused}");
    let (s, done) = post(
        format!("{}/api/v1/alerts/{id}/resolve", app.base),
        json!({"note": "更换组串熔断器，已复位"}),
    )
    .await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolution_note"], "更换组串熔断器，已复位");
    assert!(
        done["resolved_by"]
            .as_str()
            .unwrap()
            .starts_with("user:test-technician")
    );
    let (_, audit) = app.get("/api/v1/audit").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"alert.resolve") && actions.contains(&"alert.acknowledge"),
        "{actions:?}"
    );

    // The problem ledger: each item with its rectification history.
    let r = app
        .client
        .get(format!("{}/api/v1/alerts/export.xlsx", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut strings = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/sharedStrings.xml").unwrap(),
        &mut strings,
    )
    .unwrap();
    for text in [
        "问题台账",
        "整改记录",
        "组串输入电压高 (2001)",
        "已派人前往",
        "更换组串熔断器，已复位",
        "销号",
        "已通知",
    ] {
        assert!(
            strings.contains(text) || workbook_has(&mut zip, text),
            "{text} missing from the workbook"
        );
    }

    // The command line lists it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args(["alerts", "list", "--status", "resolved"])
        .env("PVLEDGER__DATABASE__URL", &db.url)
        .env("PVLEDGER__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("#{id}")) && stdout.contains("已销号"),
        "{stdout}"
    );
}

/// Sheet names live in workbook.xml, not the shared strings.
fn workbook_has(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, text: &str) -> bool {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut s).unwrap();
    s.contains(text)
}

both_backends!(
    simulated_faults_open_the_right_alerts_in_time_and_clear_when_repaired,
    lost_strings_and_counter_glitches_are_found_in_the_rollups_and_cleared,
    a_flood_of_refused_payloads_from_one_gateway_raises_one_alert,
    a_gateway_whose_backlog_grows_or_goes_silent_raises_alerts_that_clear,
    the_service_raises_notifies_and_technicians_close_items_with_a_note,
);
