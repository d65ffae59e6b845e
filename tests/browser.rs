//! End to end in headless Chromium against the real service on both backends: every role
//! logs in (changing its one-time password first), sees its pages, and is refused what it
//! may not do, on the page and in the JSON API; finance runs, reviews and approves a
//! settlement; the bureau uploads a ledger file with errors and sees them per line; the
//! village sees its own approved income only. The settlement's workbook and a village's PDF
//! statement are downloaded through the pages' links; the bureau assesses the last days;
//! the station page shows its gateway backlogged (a status sent over MQTT). Each page is saved as a PNG in
//! `<target>/screenshots/`.

mod common;

use common::webdriver::Driver;
use common::{
    TestApp, TestDb, eventually, example_dir, example_secret, mqtt_publish, unique, write_dir,
};
use pvledger::auth::accounts::add_user;
use pvledger::ledger::import_dir;

const STATION: &str = "PV149901101201-01";
const GATEWAY: &str = "GW-149901101201";
const VILLAGE: &str = "149901101201";

/// The example county, October's grid statements and use plans.
async fn county(db: &TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut grid = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        grid.push_str(&format!("{},2026-10,12000\n", s.code));
    }
    let mut plans = String::from("village_code,year,jobs,works,rewards\n");
    for v in ledger
        .areas
        .iter()
        .filter(|a| a.level == pvledger::ledger::model::AreaLevel::Village)
    {
        plans.push_str(&format!("{},2026,80,15,5\n", v.code));
    }
    let dir = write_dir(
        db.dir(),
        "inputs",
        &[
            ("grid.csv", grid.as_bytes()),
            ("plans.csv", plans.as_bytes()),
        ],
    );
    pvledger::settlement::grid::import_file(&db.store, &dir.join("grid.csv"), "test")
        .await
        .unwrap();
    let rules = pvledger::settlement::plan::PlanRules {
        jobs_floor_percent: rust_decimal::Decimal::from(80),
        other_allowed: false,
    };
    pvledger::settlement::plans::import_file(&db.store, &dir.join("plans.csv"), &rules, "test")
        .await
        .unwrap();
}

/// Three days of sun-shaped readings for one station (so that its charts have something
/// to draw), through the real ingest path; the service must start after the ledger import,
/// so that it knows the gateway.
async fn telemetry(app: &TestApp) {
    let secret = example_secret(GATEWAY);
    let now = chrono::Utc::now().timestamp_millis();
    let step = 15 * 60 * 1000;
    let start = now - 3 * 24 * 3600 * 1000;
    let mut counters = [1000.0_f64, 2000.0];
    let mut batch = Vec::new();
    let mut ts = start - start % step;
    while ts <= now {
        // Beijing hour of day: production from 6 to 18 h.
        let hour = ((ts / 1000 + 8 * 3600) % 86_400) as f64 / 3600.0;
        let sun = (std::f64::consts::PI * (hour - 6.0) / 12.0).sin().max(0.0);
        for (i, device) in ["INV-PV149901101201-01-1", "INV-PV149901101201-01-2"]
            .iter()
            .enumerate()
        {
            let w = sun * (80_000.0 - 10_000.0 * i as f64);
            counters[i] += w / 1000.0 * 0.25;
            batch.push(format!(
                r#"{{"device":"{device}","ts":{ts},"ac_power_w":{w:.1},"energy_total_kwh":{:.3},"status":"{}"}}"#,
                counters[i],
                if w > 0.0 { "running" } else { "standby" }
            ));
        }
        if batch.len() >= 200 || ts + step > now {
            let body = format!(
                r#"{{"gateway":"{GATEWAY}","readings":[{}]}}"#,
                batch.join(",")
            );
            let (status, answer) = app.ingest(GATEWAY, &secret, &body).await;
            assert_eq!(status, 200, "{answer}");
            batch.clear();
        }
        ts += step;
    }
}

/// Logs in through the form; a one-time password leads to the change page, which is done.
async fn login(d: &Driver, base: &str, name: &str, one_time: &str, shot: &str) {
    d.goto(&format!("{base}/login")).await;
    d.type_into("#name", name).await;
    d.type_into("#password", one_time).await;
    d.click_and_wait("#login").await;
    let at = d.current_url().await;
    assert!(
        at.ends_with("/password"),
        "{name}: one-time password must be changed first, at {at}: {}",
        d.source().await
    );
    assert!(d.text("#must-change").await.contains("一次性密码"));
    if !shot.is_empty() {
        d.screenshot(shot).await;
    }
    let new = format!("{name}-Pv-2026-long");
    d.type_into("#current", one_time).await;
    d.type_into("#new", &new).await;
    d.type_into("#repeat", &new).await;
    d.click_and_wait("#change").await;
    assert!(
        !d.current_url().await.ends_with("/password"),
        "{}",
        d.source().await
    );
}

async fn logout(d: &Driver) {
    d.click_and_wait("#logout").await;
    assert!(d.current_url().await.contains("/login"));
}

/// The status of a fetch() from the page (the session cookie and, for POST, the CSRF
/// token of the page's logout form go along, as the pages' own scripts do).
async fn fetch_status(d: &Driver, method: &str, path: &str) -> u16 {
    let script = format!(
        "var done = arguments[arguments.length - 1];\
         var t = document.querySelector('input[name=csrf]');\
         fetch('{path}', {{method: '{method}', credentials: 'same-origin',\
           headers: {{'content-type': 'application/json', 'x-csrf-token': t ? t.value : ''}},\
           body: '{method}' === 'POST' ? JSON.stringify({{period: '2026-10'}}) : undefined}})\
         .then(function (r) {{ done(r.status); }}, function (e) {{ done(-1); }});"
    );
    d.run_async(&script).await.as_u64().unwrap() as u16
}

/// Fetches `href` as the page's link would (the browser session's cookie goes along):
/// (status, content type, body).
async fn download(d: &Driver, href: &str) -> (u16, String, Vec<u8>) {
    use base64::Engine;
    let script = format!(
        "var done = arguments[arguments.length - 1];\
         fetch('{href}', {{credentials: 'same-origin'}}).then(function (r) {{\
           return r.blob().then(function (b) {{\
             var f = new FileReader();\
             f.onload = function () {{ done([r.status, r.headers.get('content-type') || '', String(f.result).split(',')[1] || '']); }};\
             f.readAsDataURL(b);\
           }});\
         }}, function (e) {{ done([-1, String(e), '']); }});"
    );
    let v = d.run_async(&script).await;
    let body = base64::engine::general_purpose::STANDARD
        .decode(v[2].as_str().unwrap())
        .unwrap();
    (
        v[0].as_i64().unwrap() as u16,
        v[1].as_str().unwrap().to_owned(),
        body,
    )
}

/// Downloads the PDF a page links with `css` and returns its text (pdftotext).
async fn linked_pdf_text(d: &Driver, css: &str, dir: &std::path::Path, name: &str) -> String {
    let href = d.attr(css, "href").await.expect("the page links the PDF");
    let (status, kind, bytes) = download(d, &href).await;
    assert_eq!(status, 200, "{href}: {}", String::from_utf8_lossy(&bytes));
    assert_eq!(kind, "application/pdf", "{href}");
    assert!(bytes.starts_with(b"%PDF-"), "{href} is a PDF");
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(out.status.success(), "pdftotext read {href}");
    String::from_utf8(out.stdout).unwrap()
}

/// An edge gateway's status through the real path (MQTT to the machine's Mosquitto): a
/// backlog of 240 readings whose oldest is two hours old, so the station page warns.
async fn backlogged_gateway_status(app: &TestApp, prefix: &str) {
    let now = chrono::Utc::now();
    let oldest = now - chrono::Duration::hours(2);
    let status = serde_json::json!({
        "gateway": GATEWAY, "version": "0.1.0",
        "sent_at": now.to_rfc3339(), "started_at": oldest.to_rfc3339(),
        "outbox": {"depth": 240, "max_readings": 1_000_000, "oldest_unsent": oldest.to_rfc3339(),
                   "appended_total": 900, "thinned_raw_total": 0, "thinned_hourly_total": 0,
                   "last_thinned_at": null},
        "clock_skew_ms": 1500, "clock_checked_at": now.to_rfc3339(),
        "devices": {"INV-PV149901101201-01-1": {"polls_ok": 6, "poll_failures": 3,
                    "consecutive_failures": 0, "last_ok": now.to_rfc3339(), "last_error": null}},
        "acked_readings": 660, "reconnects": 1
    });
    eventually(10, "the MQTT subscription", || async {
        let (_, ready) = app.get("/readyz").await;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
    mqtt_publish(
        &format!("{prefix}/{GATEWAY}/status"),
        status.to_string().as_bytes(),
    )
    .await;
    eventually(10, "the gateway's status", || async {
        let (_, v) = app.get(&format!("/api/v1/gateways/{GATEWAY}")).await;
        (v["status"]["outbox_depth"] == 240).then_some(())
    })
    .await;
}

/// An inverter fault as the evaluator opens it (its store function, the same transaction
/// and history event); the real path needs the fault to last its raise duration, which
/// this test does not wait for. Returns the alert's id.
async fn inverter_fault_alert(db: &TestDb) -> i64 {
    use pvledger::alerts::cycle::Decision;
    use pvledger::alerts::model::NewAlert;
    let device = "INV-PV149901101201-01-1";
    let alert = NewAlert {
        rule: "inverter_fault".into(),
        subject: format!("device:{device}"),
        station_code: Some(STATION.into()),
        device_code: Some(device.into()),
        gateway_code: Some(GATEWAY.into()),
        area_code: Some(VILLAGE.into()),
        om_body: Some("汾岭县光伏运维服务中心".into()),
        severity: "critical".into(),
        title: format!("逆变器故障：{device}（东川村电站）故障码 0x0004：电网过压"),
        detail:
            "逆变器报告故障码 0x0004：电网过压。请按厂家手册排查后复位。(Inverter reports a fault.)"
                .into(),
        evidence: serde_json::json!({"fault_code": "0x0004", "fault_text": "电网过压"}),
    };
    let applied = pvledger::alerts::store::apply(
        &db.store,
        &[Decision::Open(Box::new(alert))],
        chrono::Utc::now() - chrono::Duration::minutes(95),
    )
    .await
    .unwrap();
    applied.opened[0].id
}

/// The status of a form POST from the page (the CSRF token of the page goes along in the
/// `csrf` field, as a form of the page would send it).
async fn post_form_status(d: &Driver, path: &str, fields: &str) -> u16 {
    let script = format!(
        "var done = arguments[arguments.length - 1];\
         var t = document.querySelector('input[name=csrf]').value;\
         fetch('{path}', {{method: 'POST', credentials: 'same-origin', redirect: 'manual',\
           headers: {{'content-type': 'application/x-www-form-urlencoded'}},\
           body: '{fields}&csrf=' + encodeURIComponent(t)}})\
         .then(function (r) {{ done(r.status); }}, function (e) {{ done(-1); }});"
    );
    d.run_async(&script).await.as_u64().unwrap() as u16
}

/// The median time of five loads of `path` from the page, ms.
async fn median_load_ms(d: &Driver, path: &str) -> f64 {
    let script = format!(
        "var done = arguments[arguments.length - 1]; var times = []; var i = 0;\
         (function next() {{ var t = performance.now();\
           fetch('{path}', {{credentials: 'same-origin'}}).then(function (r) {{ return r.text(); }}).then(function () {{\
             times.push(performance.now() - t); if (++i < 5) {{ next(); }} else {{ times.sort(function (a, b) {{ return a - b; }}); done(times[2]); }} }}); }})();"
    );
    d.run_async(&script).await.as_f64().unwrap()
}

async fn every_role_uses_its_pages_and_is_refused_the_rest(db: TestDb) {
    // Arrange
    county(&db).await;
    let prefix = unique("pvpages");
    let app = TestApp::spawn_with(&db, |c| {
        c.mqtt.url = "mqtt://127.0.0.1:1883".into();
        c.mqtt.client_id = unique("pvledger-pages");
        c.mqtt.topic_prefix = prefix.clone();
        // The alert below is opened by hand; the evaluator would clear it (the inverter
        // reports no fault).
        c.alerts.enabled = false;
    })
    .await;
    telemetry(&app).await;
    let alert = inverter_fault_alert(&db).await;
    backlogged_gateway_status(&app, &prefix).await;
    let tag = match db.store.backend() {
        pvledger::store::Backend::Sqlite => "sqlite",
        pvledger::store::Backend::Postgres => "postgres",
    };
    let shot = |name: &str| format!("{tag}-{name}");
    let mut users = std::collections::HashMap::new();
    for (name, role, village) in [
        ("admin1", "admin", None),
        ("bureau1", "bureau", None),
        ("finance1", "finance", None),
        ("tech1", "technician", None),
        ("village1", "village", Some(VILLAGE)),
    ] {
        users.insert(
            name,
            add_user(&db.store, name, role, village, "test")
                .await
                .unwrap(),
        );
    }
    let d = Driver::start().await;
    let base = &app.base;

    // Admin: overview with county figures and the map, a station with drawn charts, audit.
    login(&d, base, "admin1", &users["admin1"], &shot("password")).await;
    assert!(d.current_url().await.ends_with('/'));
    assert_eq!(d.text("h1").await, "全县电站总览");
    assert_eq!(
        d.count("#stations tr").await,
        1 + 11,
        "a header and the 11 example stations"
    );
    assert_eq!(d.count("svg.map circle").await, 11);
    assert!(d.text("#energy-today").await.contains("kWh"));
    // The worst performers come from the 30-day assessment; the overview must stay fast
    // (the example county, 11 stations: measured, not assumed).
    assert!(d.text("#worst").await.contains("同组比"));
    let ms = median_load_ms(&d, "/").await;
    eprintln!("overview page with the 30-day assessment ({tag}): median of 5 loads {ms:.0} ms");
    assert!(ms < 2000.0, "the overview took {ms:.0} ms");
    d.screenshot(&shot("overview")).await;
    d.click_and_wait(&format!("#stations a[href='/stations/{STATION}']"))
        .await;
    assert!(
        d.current_url()
            .await
            .ends_with(&format!("/stations/{STATION}"))
    );
    d.wait_for(".chart[data-drawn]").await;
    for i in 1..=3 {
        d.wait_for(&format!(".charts > div:nth-child({i}) .chart[data-drawn]"))
            .await;
    }
    let drawn = d
        .attr(".charts > div:nth-child(1) .chart", "data-drawn")
        .await
        .unwrap();
    assert!(
        drawn.parse::<usize>().unwrap() > 10,
        "the power curve has points: {drawn}"
    );
    assert_eq!(d.count(".charts canvas").await, 3, "three uPlot charts");
    assert_eq!(d.count("#inverters tr").await, 1 + 3);
    assert!(
        d.text("#ledger")
            .await
            .contains("汾岭县扶贫开发投资有限公司")
    );
    // The gateway it reports through: backlogged (oldest unsent two hours ago), in warning style.
    let gateway = d
        .text(&format!("#gateways tr[data-gateway='{GATEWAY}']"))
        .await;
    assert!(
        gateway.contains("积压") && gateway.contains("240") && gateway.contains("2.0 小时"),
        "{gateway}"
    );
    assert_eq!(
        d.count(&format!("#gateways tr.gw-warn[data-gateway='{GATEWAY}']"))
            .await,
        1
    );
    d.screenshot(&shot("station")).await;
    d.goto(&format!("{base}/audit")).await;
    assert!(d.text("#audit").await.contains("password.change"));
    d.screenshot(&shot("audit")).await;
    // English on request.
    d.goto(&format!("{base}/?lang=en")).await;
    assert_eq!(d.text("h1").await, "County overview");
    d.goto(&format!("{base}/lang/zh?next=/")).await;
    logout(&d).await;

    // Bureau: the ledger with an upload whose errors are shown per line.
    login(&d, base, "bureau1", &users["bureau1"], "").await;
    d.goto(&format!("{base}/ledger")).await;
    assert_eq!(d.count("#ledger-stations tr").await, 12);
    let bad = write_dir(
        db.dir(),
        "bad-ledger",
        &[(
            "stations.csv",
            "code,name,kind,area_code,dc_capacity_kwp\nPVX-1,测试站,village,999999999999,abc\n"
                .as_bytes(),
        )],
    );
    d.type_into("#import-files", bad.join("stations.csv").to_str().unwrap())
        .await;
    d.click("#import").await;
    d.wait_for("#import-errors").await;
    let errors = d.text("#import-errors").await;
    assert!(
        errors.contains("stations.csv") && errors.contains("dc_capacity_kwp"),
        "{errors}"
    );
    d.screenshot(&shot("ledger-import-errors")).await;
    // The assessment of the last four days: every station ranked with a grade, the idle
    // ones flagged with a Chinese reason, the inverters of a flagged station compared.
    d.goto(&format!("{base}/assessment")).await;
    assert_eq!(d.text("h1").await, "电站成效评估");
    d.run_sync("document.querySelector('#kind').value = 'range';")
        .await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let from = (today - chrono::Duration::days(3)).to_string();
    d.run_sync(&format!(
        "document.querySelector('#from').value = '{from}'; document.querySelector('#to').value = '{today}';"
    ))
    .await;
    d.click_and_wait("#assess").await;
    assert!(
        d.text("#assess-period").await.contains(&from),
        "{}",
        d.source().await
    );
    assert_eq!(d.count("#ranking tr").await, 1 + 11);
    let grades = d.text("#ranking").await;
    assert!(
        ["优", "良", "中", "差"].iter().any(|g| grades.contains(g)),
        "{grades}"
    );
    assert!(d.count("#ranking .flag").await > 0, "{grades}");
    let first_flag = d.text("#ranking .flag").await;
    assert!(
        first_flag
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "flags read in Chinese first: {first_flag}"
    );
    let top = d.attr("#ranking tr[data-code]", "data-code").await;
    assert_eq!(
        top.as_deref(),
        Some(STATION),
        "the only producing station ranks first"
    );
    d.screenshot(&shot("assessment")).await;
    let bad = format!("{base}/assessment?kind=quarter&at=2026-Q5");
    d.goto(&bad).await;
    assert!(d.text("#assess-error").await.contains("YYYY-Qn"));
    // The bureau reads alerts but may not act on them: no buttons; page and API refuse.
    d.goto(&format!("{base}/alerts")).await;
    assert_eq!(d.text("h1").await, "告警处理");
    let card = d.text(&format!("#alert-{alert}")).await;
    assert!(
        card.contains("电网过压") && card.contains("待处理"),
        "{card}"
    );
    assert_eq!(d.count("#alerts form").await, 0, "no forms for the bureau");
    assert_eq!(
        d.count("#alerts button").await,
        0,
        "no buttons for the bureau"
    );
    assert_eq!(
        post_form_status(&d, &format!("/alerts/{alert}/ack"), "note=x").await,
        403
    );
    assert_eq!(
        fetch_status(&d, "POST", &format!("/api/v1/alerts/{alert}/ack")).await,
        403
    );
    d.screenshot(&shot("alerts-bureau")).await;
    // The bureau reads settlements but may not run one: no form, and the API says 403.
    d.goto(&format!("{base}/settlements")).await;
    assert_eq!(d.count("#run-form").await, 0);
    assert_eq!(fetch_status(&d, "POST", "/api/v1/settlements").await, 403);
    logout(&d).await;

    // Finance: run October, review, approve.
    login(&d, base, "finance1", &users["finance1"], "").await;
    d.goto(&format!("{base}/settlements")).await;
    d.type_into("#period", "2026-10").await;
    d.click_and_wait("#run").await;
    assert_eq!(
        d.attr("#settlement-status", "data-status").await.as_deref(),
        Some("draft")
    );
    assert_eq!(d.count("#settlement-stations tr").await, 12);
    d.screenshot(&shot("settlement-draft")).await;
    d.click_and_wait("#review").await;
    assert_eq!(
        d.attr("#settlement-status", "data-status").await.as_deref(),
        Some("reviewed")
    );
    d.click_and_wait("#approve").await;
    assert_eq!(
        d.attr("#settlement-status", "data-status").await.as_deref(),
        Some("approved")
    );
    assert!(d.text("#settlement-status").await.contains("已批准"));
    d.screenshot(&shot("settlement-approved")).await;
    // Downloads: the workbook, and the village's statement through its link.
    let workbook = d.attr("#workbook", "href").await.unwrap();
    let (status, kind, bytes) = download(&d, &workbook).await;
    assert_eq!(status, 200);
    assert!(kind.contains("spreadsheetml"), "{kind}");
    assert!(bytes.starts_with(b"PK"), "an XLSX is a zip");
    let text = linked_pdf_text(
        &d,
        &format!("#settlement-villages a.pdf[href$='/villages/{VILLAGE}.pdf']"),
        db.dir(),
        "finance-statement.pdf",
    )
    .await;
    assert!(
        text.contains("东川村") && text.contains(VILLAGE) && text.contains("2026"),
        "{text}"
    );
    // The assessment is not finance's: page and API refuse.
    d.goto(&format!("{base}/assessment")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    assert_eq!(fetch_status(&d, "GET", "/api/v1/assessments").await, 403);
    // Finance may not see the assessment: its overview ranks by kWh/kWp (the old way,
    // for comparison with the assessment's cost).
    d.goto(&format!("{base}/")).await;
    assert!(!d.text("#worst").await.contains("同组比"));
    assert_eq!(
        d.count("#open-alerts").await,
        0,
        "no alert figure for finance"
    );
    let ms = median_load_ms(&d, "/").await;
    eprintln!("overview page by kWh/kWp ({tag}): median of 5 loads {ms:.0} ms");
    // Alerts are not finance's: the page refuses.
    d.goto(&format!("{base}/alerts")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    // Finance may not import the ledger (no form; the upload route answers 403).
    d.goto(&format!("{base}/ledger")).await;
    assert_eq!(d.count("#import-form").await, 0);
    assert_eq!(fetch_status(&d, "POST", "/ledger/import").await, 403);
    logout(&d).await;

    // Technician: stations on a phone-sized screen; settlements are refused, page and API.
    login(&d, base, "tech1", &users["tech1"], "").await;
    d.window_size(390, 844).await;
    d.goto(&format!("{base}/")).await;
    d.screenshot(&shot("overview-phone")).await;
    d.goto(&format!("{base}/assessment")).await;
    assert_eq!(d.text("h1").await, "电站成效评估");
    d.screenshot(&shot("assessment-phone")).await;
    // The overview counts the open alert and links to the Alerts page.
    d.goto(&format!("{base}/")).await;
    assert_eq!(d.text("#open-alerts .value").await, "1");
    d.click_and_wait("#open-alerts").await;
    assert_eq!(d.text("h1").await, "告警处理");
    let sel = format!("#alert-{alert}");
    let card = d.text(&sel).await;
    for part in [
        "紧急",
        "逆变器故障",
        "INV-PV149901101201-01-1",
        STATION,
        "故障码 0x0004：电网过压",
        "汾岭县光伏运维服务中心",
        "1 小时前",
        "待处理",
    ] {
        assert!(card.contains(part), "{part} in {card}");
    }
    d.screenshot(&shot("alerts-phone")).await;
    // The card fits the phone's width (nothing to scroll sideways).
    let overflow = d
        .run_sync("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page wider than the phone: {overflow}"
    );
    // Resolving without a note is refused with the reason, in Chinese first.
    d.click_and_wait(&format!("{sel} button.resolve")).await;
    assert!(
        d.text("#alert-error").await.contains("销号须填写处理说明"),
        "{}",
        d.source().await
    );
    // Acknowledge with a note.
    d.type_into(
        &format!("{sel} textarea[name=note]"),
        "已派人前往现场，预计 14 时到达",
    )
    .await;
    d.click_and_wait(&format!("{sel} button.ack")).await;
    assert!(
        d.current_url()
            .await
            .contains(&format!("/alerts?station={STATION}"))
    );
    assert_eq!(
        d.attr(&sel, "data-status").await.as_deref(),
        Some("acknowledged")
    );
    let card = d.text(&sel).await;
    assert!(card.contains("处理中") && card.contains("tech1"), "{card}");
    assert_eq!(
        d.count(&format!("{sel} button.ack")).await,
        0,
        "acknowledged once"
    );
    d.screenshot(&shot("alerts-phone-acknowledged")).await;
    // Through the same store function as the API: the API shows who and the history.
    let (_, api) = app.get(&format!("/api/v1/alerts?station={STATION}")).await;
    assert_eq!(api["alerts"][0]["status"], "acknowledged", "{api}");
    assert_eq!(api["alerts"][0]["acknowledged_by"], "user:tech1", "{api}");
    // The station page lists it too.
    d.goto(&format!("{base}/stations/{STATION}")).await;
    assert!(d.text("#station-alerts").await.contains("电网过压"));
    d.window_size(1280, 900).await;
    d.goto(&format!("{base}/alerts")).await;
    d.screenshot(&shot("alerts-desktop")).await;
    d.window_size(390, 844).await;
    d.goto(&format!("{base}/settlements")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    d.screenshot(&shot("forbidden")).await;
    assert_eq!(fetch_status(&d, "GET", "/api/v1/settlements").await, 403);
    assert_eq!(fetch_status(&d, "GET", "/api/v1/stations").await, 200);
    d.window_size(1280, 900).await;
    logout(&d).await;

    // Village: its own approved income; stations and other villages are refused.
    login(&d, base, "village1", &users["village1"], "").await;
    assert!(d.current_url().await.ends_with("/village"));
    let page = d.text("main").await;
    assert!(
        page.contains("2026-10") && page.contains("公益岗位"),
        "{page}"
    );
    d.screenshot(&shot("village")).await;
    let text = linked_pdf_text(
        &d,
        ".village-period a.pdf",
        db.dir(),
        "village-statement.pdf",
    )
    .await;
    assert!(text.contains("东川村"), "{text}");
    d.goto(&format!("{base}/assessment")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    d.goto(&format!("{base}/stations/{STATION}")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    d.goto(&format!("{base}/alerts")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    d.goto(&format!("{base}/village?code=149901101202")).await;
    assert_eq!(d.text("h1").await, "无权访问");
    assert_eq!(fetch_status(&d, "GET", "/api/v1/stations").await, 403);
    assert_eq!(
        fetch_status(&d, "GET", "/api/v1/settlements/1/villages/149901101202").await,
        403
    );
    logout(&d).await;

    // Logged out: pages send to the login page, which is Chinese first.
    d.goto(&format!("{base}/settlements")).await;
    assert!(d.current_url().await.contains("/login"));
    assert_eq!(d.text("h1").await, "登录");
    d.screenshot(&shot("login")).await;
}

both_backends!(every_role_uses_its_pages_and_is_refused_the_rest);
