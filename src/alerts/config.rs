//! The `[alerts]` configuration section: rule thresholds, durations and channels. Loaded
//! and validated with the rest of the configuration (crate::config); `check` names the key
//! at fault so that the error says where it came from.

use serde::Deserialize;

/// `[alerts]`: the evaluator, each rule's thresholds, the storm guard, notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub enabled: bool,
    pub interval_s: u64,
    pub daylight_elevation_deg: f64,
    pub channels: Vec<ChannelConfig>,
    pub silent: SilentConfig,
    pub fault: FaultConfig,
    pub zero_output: ZeroOutputConfig,
    pub under_producing: UnderProducingConfig,
    pub counter: CounterConfig,
    pub rejections: RejectionsConfig,
    pub storm: StormConfig,
    pub gateway_silent: GatewaySilentConfig,
    pub gateway_backlog: GatewayBacklogConfig,
    pub gateway_thinning: GatewayThinningConfig,
    pub clock_skew: ClockSkewConfig,
    pub notify: NotifyConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilentConfig {
    pub minutes: u64,
    pub clear_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    pub raise_minutes: u64,
    pub clear_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZeroOutputConfig {
    pub max_power_w: f64,
    pub peer_min_w_per_kwp: f64,
    pub raise_minutes: u64,
    pub clear_ratio: f64,
    pub clear_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderProducingConfig {
    pub days: u32,
    pub ratio: f64,
    pub clear_ratio: f64,
    pub min_peers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    pub window_hours: u32,
    pub min_bad_intervals: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectionsConfig {
    pub window_minutes: u64,
    pub raise_count: i64,
    pub clear_count: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StormConfig {
    pub min_stations: usize,
    pub fraction: f64,
    pub clear_minutes: u64,
}

/// An edge gateway's status messages stopped (only gateways that ever sent one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySilentConfig {
    pub minutes: u64,
    pub clear_minutes: u64,
}

/// Readings piling up in an edge gateway's outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayBacklogConfig {
    pub oldest_minutes: u64,
    pub max_depth: i64,
    pub raise_minutes: u64,
    pub clear_oldest_minutes: u64,
    pub clear_depth: i64,
    pub clear_minutes: u64,
}

/// Readings dropped (thinned) from a full outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayThinningConfig {
    pub window_minutes: u64,
}

/// An edge gateway's clock drifting from the service's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSkewConfig {
    pub max_s: u64,
    pub raise_minutes: u64,
    pub clear_s: u64,
    pub clear_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub retry_base_ms: u64,
    pub max_attempts: u32,
    pub per_minute: u32,
    pub queue: usize,
}

/// One notification channel (`[[alerts.channels]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// A name for logs and the problem ledger's history.
    pub name: String,
    pub kind: ChannelKind,
    /// webhook, wecom, dingtalk: the robot's or receiver's URL.
    #[serde(default)]
    pub url: String,
    /// dingtalk: the robot's signing secret (SEC...); empty = unsigned.
    #[serde(default)]
    pub secret: String,
    /// Only alerts of stations kept by these O&M bodies (管护主体); empty = every alert.
    #[serde(default)]
    pub om_bodies: Vec<String>,
    /// email: the SMTP server, HOST:PORT (plain SMTP, no TLS: a relay on the local network).
    #[serde(default)]
    pub smtp: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: AUTH PLAIN account (empty = no authentication).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// How a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Generic JSON POST.
    Webhook,
    /// 企业微信群机器人 (markdown message).
    Wecom,
    /// 钉钉群机器人 (markdown message, optional HMAC-SHA256 signature).
    Dingtalk,
    /// E-mail over SMTP.
    Email,
}

impl AlertsConfig {
    /// Values that parse but cannot work: `Err((key below alerts., message))`.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, m: &str| Err((k.to_owned(), m.to_owned()));
        if self.interval_s == 0 {
            return bad("interval_s", "must be at least 1 second");
        }
        if !(-10.0..=30.0).contains(&self.daylight_elevation_deg) {
            return bad(
                "daylight_elevation_deg",
                "must be between -10 and 30 degrees",
            );
        }
        if self.silent.minutes == 0 {
            return bad("silent.minutes", "must be at least 1 minute");
        }
        if self.silent.clear_minutes == 0 || self.silent.clear_minutes > self.silent.minutes {
            return bad(
                "silent.clear_minutes",
                "must be at least 1 and at most silent.minutes",
            );
        }
        let share = |v: f64| v > 0.0 && v <= 1.0;
        if !share(self.under_producing.ratio) {
            return bad("under_producing.ratio", "must be above 0 and at most 1");
        }
        if !share(self.under_producing.clear_ratio)
            || self.under_producing.clear_ratio < self.under_producing.ratio
        {
            return bad(
                "under_producing.clear_ratio",
                "must be at most 1 and at least under_producing.ratio (else alerts flap)",
            );
        }
        if self.under_producing.days == 0 {
            return bad("under_producing.days", "must be at least 1");
        }
        if !share(self.zero_output.clear_ratio) {
            return bad("zero_output.clear_ratio", "must be above 0 and at most 1");
        }
        if self.zero_output.max_power_w < 0.0 {
            return bad("zero_output.max_power_w", "must not be negative");
        }
        if self.zero_output.peer_min_w_per_kwp <= 0.0 {
            return bad("zero_output.peer_min_w_per_kwp", "must be above 0");
        }
        if self.counter.window_hours == 0 {
            return bad("counter.window_hours", "must be at least 1");
        }
        if self.counter.min_bad_intervals < 1 {
            return bad("counter.min_bad_intervals", "must be at least 1");
        }
        if self.rejections.window_minutes == 0 {
            return bad("rejections.window_minutes", "must be at least 1");
        }
        if self.rejections.clear_count >= self.rejections.raise_count {
            return bad(
                "rejections.clear_count",
                "must be below rejections.raise_count (else alerts flap)",
            );
        }
        if self.storm.min_stations < 2 {
            return bad(
                "storm.min_stations",
                "the storm guard needs at least 2 stations",
            );
        }
        if !share(self.storm.fraction) {
            return bad("storm.fraction", "must be above 0 and at most 1");
        }
        if self.gateway_silent.minutes == 0 {
            return bad("gateway_silent.minutes", "must be at least 1 minute");
        }
        if self.gateway_silent.clear_minutes == 0
            || self.gateway_silent.clear_minutes > self.gateway_silent.minutes
        {
            return bad(
                "gateway_silent.clear_minutes",
                "must be at least 1 and at most gateway_silent.minutes",
            );
        }
        let b = &self.gateway_backlog;
        if b.oldest_minutes == 0 {
            return bad(
                "gateway_backlog.oldest_minutes",
                "must be at least 1 minute",
            );
        }
        if b.max_depth < 1 {
            return bad("gateway_backlog.max_depth", "must be at least 1");
        }
        if b.clear_oldest_minutes >= b.oldest_minutes {
            return bad(
                "gateway_backlog.clear_oldest_minutes",
                "must be below gateway_backlog.oldest_minutes (else alerts flap)",
            );
        }
        if b.clear_depth < 0 || b.clear_depth >= b.max_depth {
            return bad(
                "gateway_backlog.clear_depth",
                "must be at least 0 and below gateway_backlog.max_depth (else alerts flap)",
            );
        }
        if self.gateway_thinning.window_minutes == 0 {
            return bad(
                "gateway_thinning.window_minutes",
                "must be at least 1 minute",
            );
        }
        if self.clock_skew.max_s == 0 {
            return bad("clock_skew.max_s", "must be at least 1 second");
        }
        if self.clock_skew.clear_s >= self.clock_skew.max_s {
            return bad(
                "clock_skew.clear_s",
                "must be below clock_skew.max_s (else alerts flap)",
            );
        }
        for (key, v) in [
            ("notify.max_attempts", self.notify.max_attempts as usize),
            ("notify.per_minute", self.notify.per_minute as usize),
            ("notify.queue", self.notify.queue),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        for (i, c) in self.channels.iter().enumerate() {
            let key = |f: &str| format!("channels[{i}].{f}");
            let fail = |f: &str, m: String| Err((key(f), format!("channel {:?}: {m}", c.name)));
            match c.kind {
                ChannelKind::Email => {
                    if c.smtp
                        .rsplit_once(':')
                        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
                    {
                        return fail("smtp", format!("{:?} is not HOST:PORT", c.smtp));
                    }
                    if !c.from.contains('@')
                        || c.to.is_empty()
                        || c.to.iter().any(|t| !t.contains('@'))
                    {
                        return fail(
                            "to",
                            "needs a from address and at least one to address".into(),
                        );
                    }
                }
                _ => {
                    if !(c.url.starts_with("http://") || c.url.starts_with("https://")) {
                        return fail("url", format!("{:?} is not an http(s) URL", c.url));
                    }
                }
            }
        }
        Ok(())
    }
}
