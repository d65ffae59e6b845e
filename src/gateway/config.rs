//! `gateway.toml`: who the gateway is, where the central broker is, its outbox, pacing,
//! clock check and devices. Every key but `gateway.code`, `gateway.credential` and
//! `broker.url` has a default; an unknown key or a bad value stops start-up with the file
//! and the key named.
//!
//! Devices are listed in the file (`[[devices]]`) or taken from a ledger export
//! (`--from-ledger DIR`, the rows of `devices.csv` whose `gateway_code` is this gateway).
//! Either way they become poll targets through the same code the service uses
//! ([`crate::modbus::targets_from_devices`]), so a profile name means the same everywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{LogConfig, LogFormat};
use crate::ledger::model::{Device, DeviceKind, Protocol};
use crate::modbus::{PollTarget, targets_from_devices};

/// A problem with the gateway's configuration, naming where.
#[derive(Debug, thiserror::Error)]
pub enum GatewayConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {detail}")]
    Invalid { file: String, detail: String },
}

/// The validated gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub gateway: Identity,
    pub broker: Broker,
    #[serde(default)]
    pub outbox: OutboxConfig,
    #[serde(default)]
    pub forward: ForwardConfig,
    #[serde(default)]
    pub poll: PollConfig,
    #[serde(default)]
    pub clock: ClockConfig,
    #[serde(default)]
    pub status: StatusConfig,
    #[serde(default = "default_log")]
    pub log: LogConfig,
    #[serde(default)]
    pub devices: Vec<DeviceEntry>,
}

/// The gateway's ledger code and credential (the MQTT user name and password).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub code: String,
    pub credential: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    /// `mqtt://HOST:PORT` of the central broker, or `mqtts://HOST:PORT` for TLS.
    pub url: String,
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// Default `pvledger-gateway-{code}`.
    #[serde(default)]
    pub client_id: String,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// With `mqtts://`: PEM bundle of the CA(s) to trust; empty = the system trust store.
    #[serde(default)]
    pub ca_file: String,
    /// With `mqtts://`, for brokers that require client certificates (mutual TLS): the
    /// gateway's certificate and private key (PEM); both or neither.
    #[serde(default)]
    pub client_cert_file: String,
    #[serde(default)]
    pub client_key_file: String,
}

impl Broker {
    /// The TLS keys of `[broker]`.
    pub fn tls_files(&self) -> crate::mqtt_tls::TlsFiles<'_> {
        crate::mqtt_tls::TlsFiles {
            ca_file: &self.ca_file,
            client_cert_file: &self.client_cert_file,
            client_key_file: &self.client_key_file,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    pub path: PathBuf,
    /// Readings kept at most; beyond, the oldest are thinned (hourly ones kept longest).
    pub max_readings: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            path: "data/gateway-outbox.sqlite".into(),
            // 30 devices, one reading a minute: about 23 days of outage.
            max_readings: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// Readings per MQTT message, at most.
    pub batch_readings: usize,
    /// Backlog readings per second after an outage; 0 = as fast as the broker acks.
    pub backlog_rate_per_s: f64,
    /// The backlog starts after a random delay up to this, so that a county's gateways
    /// coming back together do not all send at once.
    pub start_delay_max_s: f64,
    /// Messages sent and not yet acknowledged, at most.
    pub inflight_messages: usize,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            batch_readings: 200,
            backlog_rate_per_s: 200.0,
            start_delay_max_s: 60.0,
            inflight_messages: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollConfig {
    /// Seconds between two polls of a device (fractions allowed, for tests).
    pub interval_s: f64,
    /// Longest wait for one Modbus answer, milliseconds.
    pub timeout_ms: u64,
    pub profiles_dir: PathBuf,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval_s: 60.0,
            timeout_ms: 5_000,
            profiles_dir: "config/profiles".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// The service's `/healthz` (its HTTP `Date` header is the reference); "" = no check.
    pub check_url: String,
    pub check_interval_s: u64,
    /// A skew beyond this is logged as a warning.
    pub warn_skew_s: u64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            check_url: String::new(),
            check_interval_s: 300,
            warn_skew_s: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusConfig {
    /// Seconds between two status messages (and right after a thinning).
    pub interval_s: f64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig { interval_s: 60.0 }
    }
}

/// One device in `gateway.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
    /// The device's ledger code.
    pub code: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_unit")]
    pub unit_id: u8,
    /// `sunspec` or a vendor profile name (a file `NAME.toml` in `poll.profiles_dir`, or a
    /// shipped one: huawei_sun2000, sungrow_sg, growatt, goodwe).
    pub profile: String,
}

fn default_prefix() -> String {
    "pvledger/v1".into()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_port() -> u16 {
    502
}
fn default_unit() -> u8 {
    1
}
fn default_log() -> LogConfig {
    LogConfig {
        format: LogFormat::Text,
        level: "info".into(),
    }
}

impl GatewayConfig {
    /// Reads and validates `file`, and the TLS files it names.
    pub fn load(file: &Path) -> Result<Self, GatewayConfigError> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| GatewayConfigError::Read {
            file: name.clone(),
            source,
        })?;
        let config = Self::parse(&text, &name)?;
        config
            .link()
            .map_err(|detail| GatewayConfigError::Invalid { file: name, detail })?;
        Ok(config)
    }

    /// Parses and validates the text of a gateway file named `file` (for messages). Reads
    /// no other file: [`GatewayConfig::link`] reads the TLS files.
    pub fn parse(text: &str, file: &str) -> Result<Self, GatewayConfigError> {
        let invalid = |detail: String| GatewayConfigError::Invalid {
            file: file.to_owned(),
            detail,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| invalid(e.to_string()))?;
        let mut config: GatewayConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| invalid(format!("key `{}`: {}", e.path(), e.inner().message())))?;
        if config.broker.client_id.is_empty() {
            config.broker.client_id = format!("pvledger-gateway-{}", config.gateway.code);
        }
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let key = |k: &str, why: &str| Err(format!("key `{k}`: {why}"));
        if self.gateway.code.trim().is_empty() {
            return key("gateway.code", "empty (the gateway's code in the ledger)");
        }
        if self.gateway.credential.is_empty() {
            return key(
                "gateway.credential",
                "empty (the gateway's credential in the ledger)",
            );
        }
        let Some(url) = crate::mqtt_tls::BrokerUrl::parse(&self.broker.url) else {
            return key(
                "broker.url",
                "expected mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS",
            );
        };
        if let Err(e) = self.broker.tls_files().check(url.tls) {
            return key(&format!("broker.{}", e.key.name()), &e.message);
        }
        if self.forward.batch_readings == 0 || self.forward.inflight_messages == 0 {
            return key(
                "forward",
                "batch_readings and inflight_messages must be at least 1",
            );
        }
        // NaN and infinity are refused too (they would panic as durations).
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !non_negative(self.forward.backlog_rate_per_s)
            || !non_negative(self.forward.start_delay_max_s)
        {
            return key(
                "forward",
                "backlog_rate_per_s and start_delay_max_s must not be negative",
            );
        }
        if !positive(self.poll.interval_s) {
            return key("poll.interval_s", "must be above 0");
        }
        if !positive(self.status.interval_s) {
            return key("status.interval_s", "must be above 0");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            if !seen.insert(&d.code) {
                return key(
                    &format!("devices[{i}].code"),
                    &format!("{} appears twice", d.code),
                );
            }
        }
        Ok(())
    }

    /// The link to the broker; for `mqtts://` this reads the TLS files. The error names
    /// the key and the file: "key `broker.ca_file`: cannot read /etc/...: ...".
    pub fn link(&self) -> Result<crate::mqtt_tls::Link, String> {
        crate::mqtt_tls::Link::open(&self.broker.url, self.broker.tls_files())
            .map_err(|e| format!("key `broker.{}`: {e}", e.key.name()))
    }

    /// The devices of `[[devices]]` as ledger rows (protocol modbus, this gateway).
    pub fn listed_devices(&self) -> Vec<Device> {
        self.devices
            .iter()
            .map(|d| Device {
                host: Some(d.host.clone()),
                port: Some(i32::from(d.port)),
                unit_id: Some(i32::from(d.unit_id)),
                profile: Some(d.profile.clone()),
                gateway_code: Some(self.gateway.code.clone()),
                ..Device::new(&d.code, "", DeviceKind::Inverter, Protocol::Modbus)
            })
            .collect()
    }

    /// Poll targets for `devices` with this gateway's timing; a device that cannot be
    /// polled is an error naming it (a village box has no one watching warnings).
    pub fn targets(&self, devices: &[Device]) -> Result<Vec<PollTarget>, String> {
        let (mut targets, problems) = targets_from_devices(devices, &self.poll.profiles_dir);
        if let Some(p) = problems.first() {
            return Err(p.to_string());
        }
        for t in &mut targets {
            t.interval = Duration::from_secs_f64(self.poll.interval_s);
            t.timeout = Duration::from_millis(self.poll.timeout_ms);
        }
        Ok(targets)
    }
}

/// The Modbus devices of `gateway` in a ledger export's `devices.csv` (UTF-8, BOM or
/// GB18030, Chinese or English headers: the same reader as `pvledger registry import`).
pub fn devices_from_ledger(dir: &Path, gateway: &str) -> Result<Vec<Device>, String> {
    let path = dir.join("devices.csv");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (text, _) =
        crate::ledger::encoding::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut batch = crate::ledger::parse::Batch::default();
    let mut errors = Vec::new();
    crate::ledger::parse::parse_file("devices.csv", &text, &mut batch, &mut errors);
    if let Some(e) = errors.first() {
        return Err(format!("{}: {e}", dir.display()));
    }
    let devices: Vec<Device> = batch
        .devices
        .into_iter()
        .map(|l| l.value)
        .filter(|d| d.protocol == Protocol::Modbus && d.gateway_code.as_deref() == Some(gateway))
        .collect();
    if devices.is_empty() {
        return Err(format!(
            "{}: no modbus device has gateway_code {gateway}",
            path.display()
        ));
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [gateway]
        code = "GW-1"
        credential = "0123456789abcdef"
        [broker]
        url = "mqtt://127.0.0.1:1883"
        [[devices]]
        code = "INV-1"
        host = "192.168.1.10"
        profile = "huawei_sun2000"
    "#;

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let c = GatewayConfig::parse(MINIMAL, "gateway.toml").unwrap();
        assert_eq!(c.broker.client_id, "pvledger-gateway-GW-1");
        assert_eq!(c.devices[0].port, 502);
        let targets = c.targets(&c.listed_devices()).unwrap();
        assert_eq!(targets[0].profile.name(), "huawei_sun2000");
        assert_eq!(targets[0].interval, Duration::from_secs(60));
    }

    #[test]
    fn a_bad_value_names_the_file_and_the_key() {
        let text = MINIMAL.replace(
            "profile = \"huawei_sun2000\"",
            "profile = \"huawei\"\nunit_id = 300",
        );
        let e = GatewayConfig::parse(&text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gw.toml: key `devices[0].unit_id`"), "{e}");
        let text = MINIMAL.replace("mqtt://127.0.0.1:1883", "https://central");
        let e = GatewayConfig::parse(&text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gw.toml: key `broker.url`"), "{e}");
    }

    #[test]
    fn mqtts_selects_tls_with_the_ca_file_and_port_8883_by_default() {
        let text = MINIMAL.replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            "url = \"mqtts://central.example.cn\"\nca_file = \"/etc/pvledger/ca.pem\"",
        );
        let c = GatewayConfig::parse(&text, "gw.toml").unwrap();
        assert_eq!(c.broker.ca_file, "/etc/pvledger/ca.pem");
        let url = crate::mqtt_tls::BrokerUrl::parse(&c.broker.url).unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls),
            ("central.example.cn", 8883, true)
        );
        // Plaintext stays plaintext, and needs no TLS files.
        let c = GatewayConfig::parse(MINIMAL, "gw.toml").unwrap();
        assert!(c.link().unwrap().tls.is_none());
    }

    #[test]
    fn a_ca_file_with_a_plaintext_url_is_refused_naming_the_key() {
        let text = MINIMAL.replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            "url = \"mqtt://127.0.0.1:1883\"\nca_file = \"ca.pem\"",
        );
        let e = GatewayConfig::parse(&text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gw.toml: key `broker.ca_file`"), "{e}");
        assert!(e.contains("mqtts://"), "{e}");
    }

    #[test]
    fn a_client_certificate_without_its_key_is_refused_naming_the_missing_key() {
        let text = MINIMAL.replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            "url = \"mqtts://127.0.0.1\"\nclient_cert_file = \"gw.pem\"",
        );
        let e = GatewayConfig::parse(&text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("gw.toml: key `broker.client_key_file`"),
            "{e}"
        );
    }

    #[test]
    fn a_misspelt_tls_key_is_refused() {
        let text = MINIMAL.replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            "url = \"mqtts://127.0.0.1\"\ncafile = \"ca.pem\"",
        );
        let e = GatewayConfig::parse(&text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cafile"), "{e}");
    }

    #[test]
    fn a_missing_ca_file_stops_loading_with_the_key_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gateway.toml");
        let text = MINIMAL.replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            "url = \"mqtts://127.0.0.1\"\nca_file = \"/nonexistent/ca.pem\"",
        );
        std::fs::write(&file, text).unwrap();
        let e = GatewayConfig::load(&file).unwrap_err().to_string();
        assert!(e.contains("gateway.toml: key `broker.ca_file`"), "{e}");
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn an_unknown_profile_is_refused_with_the_device() {
        let text = MINIMAL.replace("huawei_sun2000", "no_such_vendor");
        let c = GatewayConfig::parse(&text, "gw.toml").unwrap();
        let e = c.targets(&c.listed_devices()).unwrap_err();
        assert!(e.contains("INV-1"), "{e}");
    }
}
