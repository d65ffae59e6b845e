//! Layered configuration: the built-in `config/default.toml`, then an optional file given
//! with `--config`, then environment variables `PVLEDGER__SECTION__KEY`.
//!
//! Every key remembers where its value came from, so that an invalid value stops start-up
//! with a message that names the key, the source and the problem, something a county IT
//! person can act on without reading the code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The defaults shipped in the binary, so it runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of environment variables that override configuration keys.
const ENV_PREFIX: &str = "PVLEDGER__";

/// The whole validated configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub time: TimeConfig,
    pub storage: StorageConfig,
    pub mqtt: MqttConfig,
    pub modbus: ModbusConfig,
    pub ingest: IngestConfig,
    pub settlement: SettlementConfig,
    pub assessment: AssessmentConfig,
    pub alerts: AlertsConfig,
    pub log: LogConfig,
    pub report: ReportConfig,
    /// Where each key's value came from, to name it in errors found after loading.
    #[serde(skip)]
    origins: Origins,
}

/// Efficacy assessment (成效评估) thresholds, DOMAIN.md §3: no official national figures
/// exist, so every one is a local choice. Ratios are fractions (0.95 = 95 %).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentConfig {
    /// Stations compared with each other: "county" or "township".
    pub peer_group: String,
    /// Fewer complete peers than this on a day: that day gives no peer comparison.
    pub min_peers: usize,
    /// Sun elevation above which an hour (at its middle) is daylight for availability, °.
    pub daylight_elevation_deg: f64,
    /// A station-day with at least this data completeness counts in yield comparisons.
    pub complete_day: f64,
    /// Flag under-performing below this peer ratio.
    pub underperforming_peer_ratio: f64,
    /// Flag low availability below this.
    pub low_availability: f64,
    /// Flag data gaps when more than this share of expected readings is missing.
    pub max_missing: f64,
    /// Flag an inverter this much below the median of its siblings (0.2 = 20 %).
    pub inverter_shortfall: f64,
    /// Flag a zero-production spell of at least this many consecutive days with data.
    pub zero_spell_days: u32,
    /// Flag degradation worse than this, percent per year.
    pub max_degradation_percent_per_year: f64,
    /// Temperature coefficient of power γ, per °C (negative).
    pub gamma_per_c: f64,
    /// Grade rules: the first tier whose three conditions hold gives the grade, else 差.
    pub grade: GradeRules,
}

/// The tiers 优, 良, 中 (anything else is 差).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRules {
    pub excellent: GradeTier,
    pub good: GradeTier,
    pub fair: GradeTier,
}

/// What a tier requires. An unknown peer ratio or availability fails a tier whose minimum
/// is above 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeTier {
    pub min_peer_ratio: f64,
    pub min_availability: f64,
    pub max_flags: usize,
}

impl AssessmentConfig {
    /// The fraction-valued keys and their values, for validation.
    fn fractions(&self) -> Vec<(String, f64)> {
        let mut v = vec![
            ("complete_day".to_owned(), self.complete_day),
            ("low_availability".to_owned(), self.low_availability),
            ("max_missing".to_owned(), self.max_missing),
            ("inverter_shortfall".to_owned(), self.inverter_shortfall),
        ];
        for (name, t) in [
            ("excellent", &self.grade.excellent),
            ("good", &self.grade.good),
            ("fair", &self.grade.fair),
        ] {
            v.push((format!("grade.{name}.min_availability"), t.min_availability));
        }
        v
    }
}
pub use crate::alerts::config::AlertsConfig;

/// Settlement policy (DOMAIN.md §2); decimals as quoted strings, checked at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementConfig {
    pub income_mode: String,
    #[serde(deserialize_with = "decimal_text")]
    pub jobs_floor_percent: String,
    pub other_allowed: bool,
    #[serde(deserialize_with = "decimal_text")]
    pub om_yuan_per_kwp_year: String,
    #[serde(deserialize_with = "decimal_text")]
    pub land_rent_yuan_per_year: String,
    #[serde(deserialize_with = "decimal_text")]
    pub insurance_yuan_per_year: String,
    #[serde(deserialize_with = "decimal_text")]
    pub vat_rate: String,
    #[serde(deserialize_with = "decimal_text")]
    pub vat_refund_share: String,
    #[serde(deserialize_with = "decimal_text")]
    pub reconcile_threshold_percent: String,
    /// How many months back a settlement looks for reviewed or approved months whose
    /// inputs changed since (their corrections become adjustment lines).
    pub adjustment_lookback_months: u32,
}

impl SettlementConfig {
    /// The decimal settings by key, for validation and use.
    pub fn decimal(&self, key: &str) -> Option<rust_decimal::Decimal> {
        let v = match key {
            "jobs_floor_percent" => &self.jobs_floor_percent,
            "om_yuan_per_kwp_year" => &self.om_yuan_per_kwp_year,
            "land_rent_yuan_per_year" => &self.land_rent_yuan_per_year,
            "insurance_yuan_per_year" => &self.insurance_yuan_per_year,
            "vat_rate" => &self.vat_rate,
            "vat_refund_share" => &self.vat_refund_share,
            "reconcile_threshold_percent" => &self.reconcile_threshold_percent,
            _ => return None,
        };
        rust_decimal::Decimal::from_str_exact(v.trim())
            .ok()
            .filter(|d| !d.is_sign_negative())
    }

    pub const DECIMAL_KEYS: &'static [&'static str] = &[
        "jobs_floor_percent",
        "om_yuan_per_kwp_year",
        "land_rent_yuan_per_year",
        "insurance_yuan_per_year",
        "vat_rate",
        "vat_refund_share",
        "reconcile_threshold_percent",
    ];
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` (or `mqtts://host:port`, TLS) of an external broker; empty = the
    /// embedded broker.
    pub url: String,
    /// Listen address of the embedded broker; empty = no MQTT.
    pub embedded_listen: String,
    pub allow_anonymous: bool,
    pub client_id: String,
    pub topic_prefix: String,
    pub username: String,
    pub password: String,
    /// With `mqtts://`: PEM bundle of the CA(s) to trust; empty = the system trust store.
    pub ca_file: String,
    /// With `mqtts://`, for brokers that require client certificates (mutual TLS): the
    /// client certificate (PEM, chain after it) and its private key; both or neither.
    pub client_cert_file: String,
    pub client_key_file: String,
    /// Shared-subscription group: several processes split the messages between them.
    pub shared_group: String,
    /// Received messages held in memory at most (MiB); the rest waits at the broker.
    pub max_pending_mb: usize,
    /// Requests (acknowledgements above all) queued for the MQTT client's event loop; when
    /// the queue is full, acknowledging waits for room.
    pub request_queue: usize,
}

impl MqttConfig {
    /// (host, port) of `url`, or None when MQTT is off. Validated at load time.
    pub fn host_port(&self) -> Option<(String, u16)> {
        crate::mqtt_tls::BrokerUrl::parse(&self.url).map(|u| (u.host, u.port))
    }

    /// The TLS keys of this section.
    pub fn tls_files(&self) -> crate::mqtt_tls::TlsFiles<'_> {
        crate::mqtt_tls::TlsFiles {
            ca_file: &self.ca_file,
            client_cert_file: &self.client_cert_file,
            client_key_file: &self.client_key_file,
        }
    }

    /// The link to `url`, reading the TLS files for `mqtts://`. The error names the key
    /// (`mqtt.ca_file`...) and, in its message, the file.
    pub fn link(&self) -> Result<crate::mqtt_tls::Link, (String, crate::mqtt_tls::TlsError)> {
        crate::mqtt_tls::Link::open(&self.url, self.tls_files())
            .map_err(|e| (format!("mqtt.{}", e.key.name()), e))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusConfig {
    pub enabled: bool,
    pub interval_s: u64,
    pub profiles_dir: std::path::PathBuf,
    /// Gateways whose devices an edge gateway (`pvledger gateway`) polls in the village:
    /// their readings arrive over MQTT, so this process does not poll them too.
    #[serde(default)]
    pub skip_gateways: Vec<String>,
    /// This process's name in `modbus_leases.owner`; empty: host name and process id.
    /// Must differ between processes that share a database.
    pub node_id: String,
    /// Seconds a Modbus lease lasts without renewal: how long the devices of a process that
    /// died stay unpolled, at most (plus `lease_renew_s`).
    pub lease_ttl_s: u64,
    /// Seconds between two lease cycles (renew, rebalance, take over run-out leases).
    pub lease_renew_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub batch_max_rows: usize,
    pub batch_linger_ms: u64,
    /// Under a backlog, how long rollups may trail committed readings; 0: never.
    pub rollup_max_lag_ms: u64,
    pub queue: usize,
    pub expected_interval_s: u64,
    /// Seconds between two checks of the year packs of daily energy (ingest::packer); 0: never.
    pub pack_every_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Connections in the pool; 0: [`DatabaseConfig::pool_size`] picks two per core.
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// The pool's size: `max_connections`, or when it is 0 two connections per CPU core
    /// and at least 4. More connections than the cores can serve only make PostgreSQL's
    /// processes take turns: on this 2-core machine a year of daily energy answered 3,524
    /// requests/s (p95 20.9 ms) with 8 and 3,993-4,027 (p95 18.9-19.0 ms) with 4, while
    /// ingest was the same with either (issue 7, docs/BENCHMARKS.md).
    pub fn pool_size(&self) -> u32 {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        (2 * cores).max(4)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (set when pvledger is served behind TLS).
    pub secure_cookies: bool,
    /// A browser session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A browser session ends this many hours after login, however active.
    pub session_max_hours: u32,
    /// Consecutive failed logins after which an account is locked.
    pub login_max_failures: u32,
    /// How long a locked account stays locked, minutes.
    pub login_lockout_minutes: u32,
    /// Login attempts allowed per client address and minute (all user names together).
    pub login_attempts_per_minute: u32,
    /// The station page marks a gateway silent when its last status is older than this, s.
    pub gateway_silent_after_s: i64,
    /// The station page marks a gateway backlogged when its oldest unsent reading is older
    /// than this, s.
    pub gateway_backlog_after_s: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// The local time zone in which days and months are counted.
    #[serde(deserialize_with = "deserialize_tz")]
    pub zone: chrono_tz::Tz,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub compress_after_days: u32,
    pub raw_retention_days: u32,
}

/// Printed documents (PDF statements and reports).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The Chinese font file; empty = search the usual places (report::font::SEARCH_PATHS).
    pub font_path: String,
    /// Face in a font collection (.ttc); 2 is Simplified Chinese in NotoSansCJK-*.ttc.
    pub font_index: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A decimal setting as text: quoted in files (exact), but a bare number (as an
/// environment variable gives) is taken by its shortest exact spelling too.
fn decimal_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(match Text::deserialize(d)? {
        Text::S(s) => s,
        Text::I(i) => i.to_string(),
        Text::F(f) => f.to_string(),
    })
}

fn deserialize_tz<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {name:?} (expected an IANA name such as \"Asia/Shanghai\")"
        ))
    })
}

/// Why the configuration could not be loaded. The message is shown to the operator as is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {origin} is not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("configuration key `{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
}

/// Where a value came from, for error messages.
type Origins = BTreeMap<String, String>;

impl Config {
    /// Loads defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut origins = Origins::new();
        let mut merged = parse_toml(DEFAULT_TOML, "built-in defaults")?;
        record_origins(&merged, "", "built-in defaults", &mut origins);

        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let origin = path.display().to_string();
            let layer = parse_toml(&text, &origin)?;
            record_origins(&layer, "", &origin, &mut origins);
            merge(&mut merged, layer);
        }

        let mut env: Vec<_> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        env.sort();
        for (name, value) in env {
            let key = name[ENV_PREFIX.len()..].to_lowercase().replace("__", ".");
            set_dotted(&mut merged, &key, env_value(&value));
            origins.insert(key, format!("environment variable {name}"));
        }

        let mut config = deserialize(merged, &origins)?;
        config.origins = origins;
        config.validate()?;
        Ok(config)
    }

    /// Reads the MQTT TLS files (CA, client certificate and key) of an `mqtts://` broker URL
    /// and checks them: what `serve` needs before it starts, named by key and origin when
    /// one is missing or bad. Loading does not read them, so that commands that never talk
    /// to the broker (an import, a settlement) run where the files are not readable.
    pub fn check_mqtt_files(&self) -> Result<(), ConfigError> {
        if self.mqtt.url.is_empty() {
            return Ok(());
        }
        self.mqtt
            .link()
            .map(drop)
            .map_err(|(key, e)| self.invalid(&key, e.message))
    }

    /// An error for `key`, naming where its value came from.
    fn invalid(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            // A key inside an array (alerts.channels[0].url) comes from where the array did.
            origin: self
                .origins
                .get(key)
                .or_else(|| self.origins.get(key.split('[').next().unwrap_or(key)))
                .cloned()
                .unwrap_or_default(),
            message,
        }
    }

    /// Checks that go beyond types: values that parse but cannot work.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| self.invalid(key, message);
        let url = &self.database.url;
        if crate::store::Backend::from_url(url).is_none() {
            return Err(invalid(
                "database.url",
                format!("{url:?} is neither sqlite://PATH nor postgres://... "),
            ));
        }
        if self.mqtt.url.is_empty()
            && !self.mqtt.embedded_listen.is_empty()
            && self.mqtt.embedded_listen.parse::<SocketAddr>().is_err()
        {
            return Err(invalid(
                "mqtt.embedded_listen",
                format!("{:?} is not HOST:PORT", self.mqtt.embedded_listen),
            ));
        }
        if self.mqtt.url.is_empty() {
            // The embedded broker speaks plaintext: TLS keys would be silently ignored.
            if let Err(e) = self.mqtt.tls_files().check(false) {
                return Err(invalid(&format!("mqtt.{}", e.key.name()), e.message));
            }
        } else if let Err(e) = crate::mqtt_tls::Link::check(&self.mqtt.url, self.mqtt.tls_files()) {
            // The files themselves are read by the commands that connect (check_mqtt_files).
            return Err(invalid(&format!("mqtt.{}", e.key.name()), e.message));
        }
        if self.mqtt.shared_group.contains(['+', '#', '/']) {
            return Err(invalid(
                "mqtt.shared_group",
                format!(
                    "{:?} must not contain '/', '+' or '#'",
                    self.mqtt.shared_group
                ),
            ));
        }
        if self.mqtt.topic_prefix.is_empty() || self.mqtt.topic_prefix.contains(['+', '#']) {
            return Err(invalid(
                "mqtt.topic_prefix",
                "must be non-empty and free of MQTT wildcards".into(),
            ));
        }
        if self.mqtt.request_queue == 0 {
            return Err(invalid("mqtt.request_queue", "must be at least 1".into()));
        }
        for (key, v) in [
            ("http.session_idle_minutes", self.http.session_idle_minutes),
            ("http.session_max_hours", self.http.session_max_hours),
            ("http.login_max_failures", self.http.login_max_failures),
            (
                "http.login_lockout_minutes",
                self.http.login_lockout_minutes,
            ),
            (
                "http.login_attempts_per_minute",
                self.http.login_attempts_per_minute,
            ),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if self.modbus.interval_s == 0 {
            return Err(invalid(
                "modbus.interval_s",
                "must be at least 1 second".into(),
            ));
        }
        if self.modbus.lease_renew_s == 0 {
            return Err(invalid(
                "modbus.lease_renew_s",
                "must be at least 1 second".into(),
            ));
        }
        if self.modbus.lease_ttl_s < 2 * self.modbus.lease_renew_s {
            return Err(invalid(
                "modbus.lease_ttl_s",
                format!(
                    "{} s is less than twice modbus.lease_renew_s ({} s): one late renewal \
                     would hand the devices to another process (e.g. 45 and 15)",
                    self.modbus.lease_ttl_s, self.modbus.lease_renew_s
                ),
            ));
        }
        if self.ingest.batch_max_rows == 0 || self.ingest.queue == 0 {
            return Err(invalid(
                "ingest.batch_max_rows",
                "batch size and queue must be at least 1".into(),
            ));
        }
        for key in SettlementConfig::DECIMAL_KEYS {
            if self.settlement.decimal(key).is_none() {
                return Err(invalid(
                    &format!("settlement.{key}"),
                    "must be a non-negative decimal written in quotes, e.g. \"0.13\"".into(),
                ));
            }
        }
        if !["received", "accrued"].contains(&self.settlement.income_mode.as_str()) {
            return Err(invalid(
                "settlement.income_mode",
                "must be \"received\" or \"accrued\"".into(),
            ));
        }
        let a = &self.assessment;
        if !["county", "township"].contains(&a.peer_group.as_str()) {
            return Err(invalid(
                "assessment.peer_group",
                format!("{:?}: must be \"county\" or \"township\"", a.peer_group),
            ));
        }
        for (key, v) in a.fractions() {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    &format!("assessment.{key}"),
                    format!("{v} is not a fraction between 0 and 1 (e.g. 0.95 for 95 %)"),
                ));
            }
        }
        if !(0.0..=2.0).contains(&a.underperforming_peer_ratio) {
            return Err(invalid(
                "assessment.underperforming_peer_ratio",
                format!(
                    "{} is not a ratio between 0 and 2",
                    a.underperforming_peer_ratio
                ),
            ));
        }
        if !(-10.0..=60.0).contains(&a.daylight_elevation_deg) {
            return Err(invalid(
                "assessment.daylight_elevation_deg",
                "must be a sun elevation between -10 and 60 degrees".into(),
            ));
        }
        if !(-0.01..=0.0).contains(&a.gamma_per_c) {
            return Err(invalid(
                "assessment.gamma_per_c",
                "must be between -0.01 and 0 per °C (crystalline silicon: about -0.0035)".into(),
            ));
        }
        if a.min_peers == 0 || a.zero_spell_days == 0 {
            return Err(invalid(
                if a.min_peers == 0 {
                    "assessment.min_peers"
                } else {
                    "assessment.zero_spell_days"
                },
                "must be at least 1".into(),
            ));
        }
        if let Err((key, message)) = self.alerts.check() {
            return Err(invalid(&format!("alerts.{key}"), message));
        }
        if let Err(e) = self.log.level.parse::<tracing_subscriber::EnvFilter>() {
            return Err(invalid("log.level", format!("not a valid log filter: {e}")));
        }
        Ok(())
    }
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
}

/// Environment values are typed like TOML where they parse as such (numbers, booleans),
/// and taken as plain strings otherwise, so `PVLEDGER__HTTP__LISTEN=0.0.0.0:80` needs no quotes.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_str())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn record_origins(table: &toml::Table, prefix: &str, origin: &str, out: &mut Origins) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => record_origins(t, &key, origin, out),
            _ => {
                out.insert(key, origin.to_owned());
            }
        }
    }
}

fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (k, v) in layer {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) => merge(b, l),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = entry {
                set_dotted(t, rest, value);
            }
        }
    }
}

fn deserialize(merged: toml::Table, origins: &Origins) -> Result<Config, ConfigError> {
    let value = toml::Value::Table(merged);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde_path_to_error's path already ends with the unknown key's own name.
        let key = match inner.split('`').nth(1) {
            Some(field) if path == "." || path.is_empty() => field.to_owned(),
            _ => path,
        };
        let message = if inner.starts_with("unknown field") {
            "unknown key (check the spelling against config/default.toml)".to_owned()
        } else {
            inner
        };
        ConfigError::Invalid {
            origin: origins
                .get(&key)
                .cloned()
                .unwrap_or_else(|| "configuration".into()),
            key,
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn built_in_defaults_are_valid_and_embedded() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.database.url, "sqlite://data/pvledger.sqlite");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.time.zone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        std::fs::write(
            &file,
            "[http]\nlisten = \"0.0.0.0:9000\"\n[database]\nmax_connections = 3\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&file),
            env(&[("PVLEDGER__HTTP__LISTEN", "127.0.0.1:9100"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.database.max_connections, 3);
    }

    #[test]
    fn a_bad_value_names_the_key_and_the_environment_variable() {
        let err = Config::load_from(None, env(&[("PVLEDGER__TIME__ZONE", "Asia/Shangai")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`time.zone`"), "{err}");
        assert!(err.contains("PVLEDGER__TIME__ZONE"), "{err}");
        assert!(err.contains("Asia/Shangai"), "{err}");
    }

    #[test]
    fn an_unknown_key_in_a_file_is_refused_with_its_name_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        std::fs::write(&file, "[http]\nlisen = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::load_from(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`http.lisen`"), "{err}");
        assert!(err.contains("site.toml"), "{err}");
    }

    #[test]
    fn a_lease_ttl_shorter_than_two_renewals_is_refused_with_both_values() {
        let err = Config::load_from(
            None,
            env(&[
                ("PVLEDGER__MODBUS__LEASE_TTL_S", "20"),
                ("PVLEDGER__MODBUS__LEASE_RENEW_S", "15"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`modbus.lease_ttl_s`"), "{err}");
        assert!(err.contains("20 s") && err.contains("15 s"), "{err}");
        let ok = Config::load_from(None, env(&[])).unwrap();
        assert_eq!((ok.modbus.lease_ttl_s, ok.modbus.lease_renew_s), (45, 15));
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused() {
        let err = Config::load_from(None, env(&[("PVLEDGER__DATABASE__URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`database.url`"), "{err}");
    }

    #[test]
    fn a_listen_address_without_port_is_refused() {
        let err = Config::load_from(None, env(&[("PVLEDGER__HTTP__LISTEN", "localhost")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`http.listen`"), "{err}");
    }

    #[test]
    fn a_settlement_rate_from_the_environment_stays_exact_and_a_bad_one_is_named() {
        let c =
            Config::load_from(None, env(&[("PVLEDGER__SETTLEMENT__VAT_RATE", "0.13")])).unwrap();
        assert_eq!(
            c.settlement.decimal("vat_rate").unwrap().to_string(),
            "0.13"
        );
        let err = Config::load_from(None, env(&[("PVLEDGER__SETTLEMENT__VAT_RATE", "-1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`settlement.vat_rate`"), "{err}");
    }

    #[test]
    fn an_empty_mqtt_request_queue_is_refused_with_its_key() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.mqtt.request_queue, 256);
        let err = Config::load_from(None, env(&[("PVLEDGER__MQTT__REQUEST_QUEUE", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mqtt.request_queue`"), "{err}");
        assert!(err.contains("at least 1"), "{err}");
    }

    #[test]
    fn an_assessment_threshold_out_of_range_names_its_key() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.assessment.underperforming_peer_ratio, 0.85);
        assert_eq!(c.assessment.grade.excellent.max_flags, 0);
        let err = Config::load_from(
            None,
            env(&[("PVLEDGER__ASSESSMENT__GRADE__GOOD__MIN_AVAILABILITY", "97")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`assessment.grade.good.min_availability`"),
            "{err}"
        );
        assert!(
            err.contains("PVLEDGER__ASSESSMENT__GRADE__GOOD__MIN_AVAILABILITY"),
            "{err}"
        );
        let err = Config::load_from(None, env(&[("PVLEDGER__ASSESSMENT__PEER_GROUP", "city")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`assessment.peer_group`"), "{err}");
    }

    #[test]
    fn an_alert_threshold_out_of_range_is_named_with_its_source() {
        let c =
            Config::load_from(None, env(&[("PVLEDGER__ALERTS__SILENT__MINUTES", "20")])).unwrap();
        assert_eq!(c.alerts.silent.minutes, 20);
        let err = Config::load_from(
            None,
            env(&[("PVLEDGER__ALERTS__UNDER_PRODUCING__RATIO", "1.5")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`alerts.under_producing.ratio`"), "{err}");
        assert!(
            err.contains("PVLEDGER__ALERTS__UNDER_PRODUCING__RATIO"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_mqtt_ca_file_names_the_key_its_source_and_the_path() {
        // Loading reads no file: a command that never connects to the broker still runs.
        let config = Config::load_from(
            None,
            env(&[
                ("PVLEDGER__MQTT__URL", "mqtts://broker.example.cn"),
                ("PVLEDGER__MQTT__CA_FILE", "/nonexistent/ca.pem"),
            ]),
        )
        .unwrap();
        let err = config.check_mqtt_files().unwrap_err().to_string();
        assert!(err.contains("`mqtt.ca_file`"), "{err}");
        assert!(err.contains("PVLEDGER__MQTT__CA_FILE"), "{err}");
        assert!(err.contains("cannot read /nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn tls_keys_without_an_mqtts_url_are_refused() {
        // The embedded broker (empty url) speaks plaintext only.
        let err = Config::load_from(None, env(&[("PVLEDGER__MQTT__CLIENT_CERT_FILE", "a.pem")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mqtt.client_cert_file`"), "{err}");
        assert!(err.contains("mqtts://"), "{err}");
        let c =
            Config::load_from(None, env(&[("PVLEDGER__MQTT__URL", "mqtt://10.0.0.5")])).unwrap();
        assert_eq!(c.mqtt.host_port(), Some(("10.0.0.5".into(), 1883)));
    }

    #[test]
    fn numbers_from_the_environment_are_typed() {
        let c =
            Config::load_from(None, env(&[("PVLEDGER__DATABASE__MAX_CONNECTIONS", "2")])).unwrap();
        assert_eq!(c.database.max_connections, 2);
    }
}
