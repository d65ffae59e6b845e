//! GET /metrics: this process's ingest, MQTT, Modbus and alert figures in the Prometheus
//! text format, for a scraper on the county intranet. Like /healthz it needs no login and
//! names no station or device: only counts, by reason, class or severity.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::{Exposition, Histogram, Kind};
use crate::store::dispatch;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut e = Exposition::default();
    e.family("pvledger_build_info", Kind::Gauge, "The running version.")
        .sample(
            "pvledger_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", state.store.backend().name()),
            ],
            1.0,
        );
    ingest(&mut e, &state);
    mqtt(&mut e, &state);
    modbus(&mut e, &state);
    daylight(&mut e, &state);
    // A database that does not answer must not hide the rest: the figure is left out and
    // pvledger_metrics_database_up says why.
    let alerts = dispatch!(&state.store, alerts::unresolved_counts());
    e.family(
        "pvledger_metrics_database_up",
        Kind::Gauge,
        "1 when the database answered the queries behind these metrics.",
    )
    .sample(
        "pvledger_metrics_database_up",
        &[],
        f64::from(u8::from(alerts.is_ok())),
    );
    if let Ok(counts) = alerts {
        e.family(
            "pvledger_alerts_unresolved",
            Kind::Gauge,
            "Alerts not yet resolved, by severity and status (open, acknowledged).",
        );
        for (severity, status, n) in counts {
            e.sample(
                "pvledger_alerts_unresolved",
                &[("severity", &severity), ("status", &status)],
                n as f64,
            );
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        e.finish(),
    )
        .into_response()
}

fn ingest(e: &mut Exposition, state: &AppState) {
    let stats = &state.ingest.stats;
    let snap = stats.snapshot();
    e.family(
        "pvledger_ingest_readings_accepted_total",
        Kind::Counter,
        "Readings accepted and committed (MQTT, HTTP and Modbus).",
    )
    .sample(
        "pvledger_ingest_readings_accepted_total",
        &[],
        snap.accepted as f64,
    );
    e.family(
        "pvledger_ingest_readings_refused_total",
        Kind::Counter,
        "Readings or payloads refused, by reason (stored in rejections).",
    );
    for (reason, n) in &snap.refused {
        e.sample(
            "pvledger_ingest_readings_refused_total",
            &[("reason", reason.as_str())],
            *n as f64,
        );
    }
    e.family(
        "pvledger_ingest_queue_depth",
        Kind::Gauge,
        "Submissions waiting for the writer.",
    )
    .sample(
        "pvledger_ingest_queue_depth",
        &[],
        state.ingest.queue_depth() as f64,
    );
    e.family(
        "pvledger_ingest_batch_rows_total",
        Kind::Counter,
        "Readings in committed writer batches, resends included.",
    )
    .sample(
        "pvledger_ingest_batch_rows_total",
        &[],
        stats.batch_rows() as f64,
    );
    e.family(
        "pvledger_ingest_rollups_deferred_total",
        Kind::Counter,
        "Writer batches committed with their hourly and daily rollups left for a later batch (a backlog).",
    )
    .sample(
        "pvledger_ingest_rollups_deferred_total",
        &[],
        stats.deferred_batches() as f64,
    );
    e.family(
        "pvledger_ingest_batch_seconds",
        Kind::Histogram,
        "Time to commit one writer batch with its rollups, retries included.",
    )
    .histogram("pvledger_ingest_batch_seconds", &[], &stats.batch_latency());
}

fn daylight(e: &mut Exposition, state: &AppState) {
    use std::sync::atomic::Ordering::Relaxed;
    let progress = &state.daylight;
    e.family(
        "pvledger_daylight_stations_counted",
        Kind::Gauge,
        "Stations whose last year of daylight is counted ahead for the energy charts.",
    )
    .sample(
        "pvledger_daylight_stations_counted",
        &[],
        progress.stations.load(Relaxed) as f64,
    )
    .family(
        "pvledger_daylight_counting_done",
        Kind::Gauge,
        "1 once counting daylight ahead at start has finished.",
    )
    .sample(
        "pvledger_daylight_counting_done",
        &[],
        progress.done.load(Relaxed) as f64,
    );
}

fn mqtt(e: &mut Exposition, state: &AppState) {
    let m = &state.mqtt;
    e.family(
        "pvledger_mqtt_connection_state",
        Kind::Gauge,
        "1 for the receiver's current state (off, connecting, connected, subscribed).",
    );
    for name in ["off", "connecting", "connected", "subscribed"] {
        e.sample(
            "pvledger_mqtt_connection_state",
            &[("state", name)],
            f64::from(u8::from(m.name() == name)),
        );
    }
    e.family(
        "pvledger_mqtt_pending_messages",
        Kind::Gauge,
        "Messages received and not yet acknowledged to the broker.",
    )
    .sample(
        "pvledger_mqtt_pending_messages",
        &[],
        m.pending_messages() as f64,
    );
    e.family(
        "pvledger_mqtt_pending_bytes",
        Kind::Gauge,
        "Their size (bounded by mqtt.max_pending_mb).",
    )
    .sample("pvledger_mqtt_pending_bytes", &[], m.pending_bytes() as f64);
    e.family(
        "pvledger_mqtt_shed_total",
        Kind::Counter,
        "Messages left unacknowledged because the backlog was full; the broker sends them again.",
    )
    .sample("pvledger_mqtt_shed_total", &[], m.shed() as f64);
    e.family(
        "pvledger_mqtt_reconnects_total",
        Kind::Counter,
        "Connections to the broker after the first.",
    )
    .sample("pvledger_mqtt_reconnects_total", &[], m.reconnects() as f64);
    e.family(
        "pvledger_mqtt_ack_waits_total",
        Kind::Counter,
        "Acknowledgements that waited for room in the MQTT client's request queue (mqtt.request_queue).",
    )
    .sample("pvledger_mqtt_ack_waits_total", &[], m.ack_waits() as f64);
}

/// Per device class: devices, devices failing now, good and failed polls, poll durations.
#[derive(Default)]
struct ClassFigures {
    devices: u64,
    failing: u64,
    polls_ok: u64,
    failures: u64,
}

/// A per-class metric: name, help, kind and how to read it off the figures.
type Figure = (&'static str, &'static str, Kind, fn(&ClassFigures) -> u64);

fn modbus(e: &mut Exposition, state: &AppState) {
    let mut classes: BTreeMap<String, ClassFigures> = BTreeMap::new();
    for c in state.polls.snapshot().values() {
        let f = classes.entry(c.class.clone()).or_default();
        f.devices += 1;
        f.failing += u64::from(c.consecutive_failures > 0);
        f.polls_ok += c.polls_ok;
        f.failures += c.poll_failures;
    }
    let latency = state.polls.latency();
    let figures: [Figure; 4] = [
        (
            "pvledger_modbus_devices",
            "Modbus devices this process polls, by class (sunspec or vendor profile).",
            Kind::Gauge,
            |f| f.devices,
        ),
        (
            "pvledger_modbus_devices_failing",
            "Of those, devices whose last poll failed.",
            Kind::Gauge,
            |f| f.failing,
        ),
        (
            "pvledger_modbus_polls_total",
            "Good polls, by class.",
            Kind::Counter,
            |f| f.polls_ok,
        ),
        (
            "pvledger_modbus_poll_failures_total",
            "Failed polls (timeouts, exceptions, lost connections), by class.",
            Kind::Counter,
            |f| f.failures,
        ),
    ];
    for (name, help, kind, value) in figures {
        e.family(name, kind, help);
        for (class, f) in &classes {
            e.sample(name, &[("class", class)], value(f) as f64);
        }
    }
    e.family(
        "pvledger_modbus_endpoints_held",
        Kind::Gauge,
        "Modbus endpoints (host:port) whose lease this process holds.",
    )
    .sample(
        "pvledger_modbus_endpoints_held",
        &[],
        state
            .modbus_units_held
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    e.family(
        "pvledger_modbus_poll_seconds",
        Kind::Histogram,
        "Duration of good polls, by class.",
    );
    for class in classes.keys() {
        let h = latency
            .get(class)
            .cloned()
            .unwrap_or_else(Histogram::default);
        e.histogram("pvledger_modbus_poll_seconds", &[("class", class)], &h);
    }
}
