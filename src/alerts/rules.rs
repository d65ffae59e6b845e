//! The alert rules, pure: each turns what the store says about one subject into a
//! [`Verdict`]. Raise and clear are separate conditions with a band between them where the
//! verdict is [`Verdict::Hold`], so that an alert does not flap around one threshold; the
//! durations are applied by [`super::tracker::Tracker`].

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::{
    ClockSkewConfig, CounterConfig, FaultConfig, GatewayBacklogConfig, GatewaySilentConfig,
    GatewayThinningConfig, RejectionsConfig, SilentConfig, StormConfig, UnderProducingConfig,
    ZeroOutputConfig,
};

/// What the data says about a subject now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The raise condition holds.
    Raise,
    /// The clear condition holds.
    Clear,
    /// Neither (between the thresholds, night, stale data): keep the current state.
    Hold,
}

/// An alert rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Silent,
    InverterFault,
    ZeroOutput,
    UnderProducing,
    CounterAnomaly,
    RejectionFlood,
    GridOutage,
    GatewaySilent,
    GatewayBacklog,
    GatewayThinning,
    ClockSkew,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Major,
    Minor,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Severity::Critical => "紧急",
            Severity::Major => "重要",
            Severity::Minor => "一般",
        }
    }
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::Silent,
        Rule::InverterFault,
        Rule::ZeroOutput,
        Rule::UnderProducing,
        Rule::CounterAnomaly,
        Rule::RejectionFlood,
        Rule::GridOutage,
        Rule::GatewaySilent,
        Rule::GatewayBacklog,
        Rule::GatewayThinning,
        Rule::ClockSkew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Silent => "silent",
            Rule::InverterFault => "inverter_fault",
            Rule::ZeroOutput => "zero_output",
            Rule::UnderProducing => "under_producing",
            Rule::CounterAnomaly => "counter_anomaly",
            Rule::RejectionFlood => "rejection_flood",
            Rule::GridOutage => "grid_outage",
            Rule::GatewaySilent => "gateway_silent",
            Rule::GatewayBacklog => "gateway_backlog",
            Rule::GatewayThinning => "gateway_thinning",
            Rule::ClockSkew => "clock_skew",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The name technicians read.
    pub fn zh(self) -> &'static str {
        match self {
            Rule::Silent => "数据中断",
            Rule::InverterFault => "逆变器故障",
            Rule::ZeroOutput => "白天零发电",
            Rule::UnderProducing => "发电量持续偏低",
            Rule::CounterAnomaly => "电量计数异常",
            Rule::RejectionFlood => "网关数据大量被拒",
            Rule::GridOutage => "疑似电网停电",
            Rule::GatewaySilent => "网关离线",
            Rule::GatewayBacklog => "网关数据积压",
            Rule::GatewayThinning => "网关缓存溢出丢数",
            Rule::ClockSkew => "网关时钟偏差",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            // Thinned readings are gone for good (they cannot be settled): the highest.
            Rule::InverterFault | Rule::GridOutage | Rule::GatewayThinning => Severity::Critical,
            Rule::Silent | Rule::ZeroOutput | Rule::GatewaySilent | Rule::GatewayBacklog => {
                Severity::Major
            }
            Rule::UnderProducing
            | Rule::CounterAnomaly
            | Rule::RejectionFlood
            | Rule::ClockSkew => Severity::Minor,
        }
    }
}

fn minutes(m: u64) -> Duration {
    Duration::minutes(i64::try_from(m).unwrap_or(i64::MAX / 60_000))
}

/// Device silent: nothing for `minutes` while the sun was up at both ends of that span
/// (so sunrise wake-up is not silence); cleared by a reading newer than `clear_minutes`.
/// At night the verdict is Hold: night is never an outage, and silence then proves nothing.
pub fn silent(
    last_seen: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    sun_up_now: bool,
    sun_up_then: bool,
    c: &SilentConfig,
) -> Verdict {
    let age = last_seen.map(|t| now - t);
    if age.is_some_and(|a| a <= minutes(c.clear_minutes)) {
        return Verdict::Clear;
    }
    if !sun_up_now || !sun_up_then {
        return Verdict::Hold;
    }
    if age.is_none_or(|a| a >= minutes(c.minutes)) {
        Verdict::Raise
    } else {
        Verdict::Hold
    }
}

/// Is a fault code a real fault? Vendors send 0 (or an all-zero bitmap) for "none".
pub fn fault_code_active(code: Option<&str>) -> bool {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return false;
    };
    let digits = code
        .strip_prefix("0x")
        .or_else(|| code.strip_prefix("0X"))
        .unwrap_or(code);
    !digits.chars().all(|c| c == '0')
}

/// Inverter fault from its newest reading: raise on status `fault` or an active fault code;
/// clear on a fresh reading without either. A stale reading proves nothing (Hold): silence
/// is the silent rule's business. (`_c` holds the durations, applied by the tracker.)
pub fn fault(status: Option<&str>, code: Option<&str>, fresh: bool, _c: &FaultConfig) -> Verdict {
    if !fresh {
        Verdict::Hold
    } else if status == Some("fault") || fault_code_active(code) {
        Verdict::Raise
    } else {
        Verdict::Clear
    }
}

/// Zero output in daylight while peers produce. `power_w` is the inverter's newest AC
/// power, `kwp` its DC capacity, `peer_w_per_kwp` the median specific power of its county's
/// reporting inverters. A faulted inverter is the fault rule's (Hold), as is a stale one.
pub fn zero_output(
    power_w: Option<f64>,
    kwp: f64,
    faulted: bool,
    fresh: bool,
    peer_w_per_kwp: Option<f64>,
    c: &ZeroOutputConfig,
) -> Verdict {
    let (Some(p), Some(peer)) = (power_w, peer_w_per_kwp) else {
        return Verdict::Hold;
    };
    if !fresh || faulted || kwp <= 0.0 {
        return Verdict::Hold;
    }
    if p / kwp >= c.clear_ratio * peer {
        return Verdict::Clear;
    }
    if peer >= c.peer_min_w_per_kwp && p <= c.max_power_w {
        Verdict::Raise
    } else {
        Verdict::Hold
    }
}

/// Station under-producing against its peers: `ratios` are its daily yield / the peers'
/// median, oldest first, for the last `days` complete days (None: no comparison that day).
pub fn under_producing(ratios: &[Option<f64>], c: &UnderProducingConfig) -> Verdict {
    let days = c.days as usize;
    if ratios.len() >= days
        && ratios[ratios.len() - days..]
            .iter()
            .all(|r| r.is_some_and(|r| r < c.ratio))
    {
        return Verdict::Raise;
    }
    match ratios.last().copied().flatten() {
        Some(r) if r >= c.clear_ratio => Verdict::Clear,
        _ => Verdict::Hold,
    }
}

/// Counter anomaly: bad counter intervals within the window.
pub fn counter_anomaly(bad_intervals: i64, c: &CounterConfig) -> Verdict {
    if bad_intervals >= c.min_bad_intervals {
        Verdict::Raise
    } else if bad_intervals == 0 {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// A flood of refused input from one gateway within the window.
pub fn rejection_flood(refused: i64, c: &RejectionsConfig) -> Verdict {
    if refused >= c.raise_count {
        Verdict::Raise
    } else if refused <= c.clear_count {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// Storm guard for one township: `dark` of its `total` stations (in daylight) are silent or
/// produce nothing. Many together is a grid outage, not many faults.
pub fn grid_outage(dark: usize, total: usize, c: &StormConfig) -> Verdict {
    if total == 0 {
        return Verdict::Hold;
    }
    let share = dark as f64 / total as f64;
    if dark >= c.min_stations && share >= c.fraction {
        Verdict::Raise
    } else if dark < c.min_stations.div_ceil(2) || share < c.fraction / 2.0 {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// Is a gateway's stored status recent enough to speak for the gateway now? Older than the
/// gateway silence span it proves nothing: silence is then the gateway-silent rule's.
pub fn status_fresh(received: DateTime<Utc>, now: DateTime<Utc>, c: &GatewaySilentConfig) -> bool {
    now - received < minutes(c.minutes)
}

/// Gateway silent: no status message for `minutes`; cleared by one newer than
/// `clear_minutes`. A gateway that never sent a status (a vendor data logger speaking only
/// MQTT telemetry) is Hold: it has no status to miss. Unlike device silence this holds
/// day and night, since a gateway reports its status around the clock.
pub fn gateway_silent(
    last_status: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    c: &GatewaySilentConfig,
) -> Verdict {
    let Some(last) = last_status else {
        return Verdict::Hold;
    };
    let age = now - last;
    if age <= minutes(c.clear_minutes) {
        Verdict::Clear
    } else if age >= minutes(c.minutes) {
        Verdict::Raise
    } else {
        Verdict::Hold
    }
}

/// Gateway backlog from its latest status: raise when the oldest unsent reading is older
/// than `oldest_minutes` or more than `max_depth` readings wait; clear when the oldest is
/// younger than `clear_oldest_minutes` (or none) and at most `clear_depth` wait. A stale
/// status is Hold.
pub fn gateway_backlog(
    depth: i64,
    oldest_unsent: Option<DateTime<Utc>>,
    fresh: bool,
    now: DateTime<Utc>,
    c: &GatewayBacklogConfig,
) -> Verdict {
    if !fresh {
        return Verdict::Hold;
    }
    let age = oldest_unsent.map(|t| now - t);
    if depth > c.max_depth || age.is_some_and(|a| a > minutes(c.oldest_minutes)) {
        Verdict::Raise
    } else if depth <= c.clear_depth && age.is_none_or(|a| a < minutes(c.clear_oldest_minutes)) {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// Gateway thinning: its thinned total grew (at `thinned_at`, service clock) within the
/// window. A drop is a fact even if the status has gone stale since, so it raises either
/// way; the clear (no drop within the window) needs a fresh status to vouch for it.
pub fn gateway_thinning(
    thinned_at: Option<DateTime<Utc>>,
    fresh: bool,
    now: DateTime<Utc>,
    c: &GatewayThinningConfig,
) -> Verdict {
    if thinned_at.is_some_and(|t| now - t <= minutes(c.window_minutes)) {
        Verdict::Raise
    } else if fresh {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// Gateway clock skew (gateway minus service, ms) from its latest status: raise beyond
/// `max_s` either way, clear within `clear_s`. Not checked, or a stale status: Hold.
pub fn clock_skew(skew_ms: Option<i64>, fresh: bool, c: &ClockSkewConfig) -> Verdict {
    let Some(skew) = skew_ms.filter(|_| fresh).map(i64::unsigned_abs) else {
        return Verdict::Hold;
    };
    if skew > c.max_s.saturating_mul(1000) {
        Verdict::Raise
    } else if skew <= c.clear_s.saturating_mul(1000) {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// The median of some values (None when there are none).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-10T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn silent_cfg() -> SilentConfig {
        SilentConfig {
            minutes: 30,
            clear_minutes: 10,
        }
    }

    #[test]
    fn silence_raises_after_its_minutes_in_daylight_and_clears_on_fresh_data_only() {
        let c = silent_cfg();
        assert_eq!(silent(Some(at(-31)), at(0), true, true, &c), Verdict::Raise);
        assert_eq!(silent(None, at(0), true, true, &c), Verdict::Raise);
        assert_eq!(
            silent(Some(at(-20)), at(0), true, true, &c),
            Verdict::Hold,
            "between the thresholds"
        );
        assert_eq!(silent(Some(at(-5)), at(0), true, true, &c), Verdict::Clear);
    }

    #[test]
    fn silence_at_night_or_just_after_sunrise_never_raises() {
        let c = silent_cfg();
        assert_eq!(
            silent(Some(at(-300)), at(0), false, false, &c),
            Verdict::Hold
        );
        assert_eq!(
            silent(Some(at(-300)), at(0), true, false, &c),
            Verdict::Hold,
            "sun rose less than 30 min ago"
        );
        assert_eq!(
            silent(Some(at(-1)), at(0), false, false, &c),
            Verdict::Clear,
            "data at night still clears"
        );
    }

    #[test]
    fn a_fault_status_or_code_raises_and_a_clean_fresh_reading_clears() {
        let c = FaultConfig {
            raise_minutes: 5,
            clear_minutes: 15,
        };
        assert_eq!(fault(Some("fault"), None, true, &c), Verdict::Raise);
        assert_eq!(
            fault(Some("running"), Some("0x0001"), true, &c),
            Verdict::Raise
        );
        assert_eq!(
            fault(Some("running"), Some("0x0000"), true, &c),
            Verdict::Clear
        );
        assert_eq!(fault(Some("running"), Some("0"), true, &c), Verdict::Clear);
        assert_eq!(
            fault(Some("fault"), None, false, &c),
            Verdict::Hold,
            "stale data proves nothing"
        );
    }

    fn zero_cfg() -> ZeroOutputConfig {
        ZeroOutputConfig {
            max_power_w: 10.0,
            peer_min_w_per_kwp: 100.0,
            raise_minutes: 30,
            clear_ratio: 0.3,
            clear_minutes: 15,
        }
    }

    #[test]
    fn zero_output_raises_only_while_peers_produce() {
        let c = zero_cfg();
        assert_eq!(
            zero_output(Some(0.0), 50.0, false, true, Some(600.0), &c),
            Verdict::Raise
        );
        assert_eq!(
            zero_output(Some(0.0), 50.0, false, true, Some(40.0), &c),
            Verdict::Hold,
            "dusk: peers idle too"
        );
        assert_eq!(
            zero_output(Some(0.0), 50.0, true, true, Some(600.0), &c),
            Verdict::Hold,
            "a fault is the fault rule's"
        );
        assert_eq!(
            zero_output(Some(0.0), 50.0, false, false, Some(600.0), &c),
            Verdict::Hold,
            "stale"
        );
        // 50 kWp x 600 W/kWp x 0.3 = 9 kW clears; 5 kW is in the band between.
        assert_eq!(
            zero_output(Some(9_000.0), 50.0, false, true, Some(600.0), &c),
            Verdict::Clear
        );
        assert_eq!(
            zero_output(Some(5_000.0), 50.0, false, true, Some(600.0), &c),
            Verdict::Hold
        );
    }

    #[test]
    fn under_production_needs_every_one_of_its_days_and_clears_above_its_own_ratio() {
        let c = UnderProducingConfig {
            days: 3,
            ratio: 0.85,
            clear_ratio: 0.92,
            min_peers: 3,
        };
        assert_eq!(
            under_producing(&[Some(0.7), Some(0.8), Some(0.84)], &c),
            Verdict::Raise
        );
        assert_eq!(
            under_producing(&[Some(0.7), None, Some(0.84)], &c),
            Verdict::Hold
        );
        assert_eq!(
            under_producing(&[Some(0.7), Some(0.9), Some(0.8)], &c),
            Verdict::Hold
        );
        assert_eq!(
            under_producing(&[Some(0.7), Some(0.8), Some(0.95)], &c),
            Verdict::Clear
        );
        assert_eq!(
            under_producing(&[Some(0.8), Some(0.8)], &c),
            Verdict::Hold,
            "too few days"
        );
    }

    #[test]
    fn counter_and_rejection_floods_have_a_band_between_raise_and_clear() {
        let c = CounterConfig {
            window_hours: 6,
            min_bad_intervals: 2,
        };
        assert_eq!(counter_anomaly(2, &c), Verdict::Raise);
        assert_eq!(counter_anomaly(1, &c), Verdict::Hold);
        assert_eq!(counter_anomaly(0, &c), Verdict::Clear);
        let r = RejectionsConfig {
            window_minutes: 15,
            raise_count: 20,
            clear_count: 2,
        };
        assert_eq!(rejection_flood(20, &r), Verdict::Raise);
        assert_eq!(rejection_flood(10, &r), Verdict::Hold);
        assert_eq!(rejection_flood(2, &r), Verdict::Clear);
    }

    #[test]
    fn a_township_is_an_outage_when_enough_of_its_stations_go_dark_together() {
        let c = StormConfig {
            min_stations: 3,
            fraction: 0.5,
            clear_minutes: 10,
        };
        assert_eq!(grid_outage(3, 4, &c), Verdict::Raise);
        assert_eq!(
            grid_outage(2, 2, &c),
            Verdict::Hold,
            "two stations are not a storm"
        );
        assert_eq!(
            grid_outage(3, 10, &c),
            Verdict::Hold,
            "30 % of the township"
        );
        assert_eq!(grid_outage(1, 10, &c), Verdict::Clear);
        assert_eq!(grid_outage(0, 0, &c), Verdict::Hold);
    }

    fn gw_silent_cfg() -> GatewaySilentConfig {
        GatewaySilentConfig {
            minutes: 15,
            clear_minutes: 3,
        }
    }

    #[test]
    fn a_gateway_is_silent_only_if_it_ever_reported_and_day_or_night() {
        let c = gw_silent_cfg();
        assert_eq!(gateway_silent(Some(at(-16)), at(0), &c), Verdict::Raise);
        assert_eq!(gateway_silent(Some(at(-15)), at(0), &c), Verdict::Raise);
        assert_eq!(
            gateway_silent(Some(at(-10)), at(0), &c),
            Verdict::Hold,
            "between the thresholds"
        );
        assert_eq!(gateway_silent(Some(at(-2)), at(0), &c), Verdict::Clear);
        assert_eq!(
            gateway_silent(None, at(0), &c),
            Verdict::Hold,
            "a data logger without status messages never alerts"
        );
        assert!(status_fresh(at(-14), at(0), &c));
        assert!(!status_fresh(at(-15), at(0), &c));
    }

    fn backlog_cfg() -> GatewayBacklogConfig {
        GatewayBacklogConfig {
            oldest_minutes: 30,
            max_depth: 10_000,
            raise_minutes: 10,
            clear_oldest_minutes: 5,
            clear_depth: 1_000,
            clear_minutes: 5,
        }
    }

    #[test]
    fn a_backlog_raises_on_age_or_depth_and_clears_only_when_nearly_empty() {
        let c = backlog_cfg();
        let b = |depth, oldest: Option<i64>, fresh| {
            gateway_backlog(depth, oldest.map(at), fresh, at(0), &c)
        };
        assert_eq!(b(50, Some(-31), true), Verdict::Raise, "old oldest");
        assert_eq!(b(10_001, Some(-1), true), Verdict::Raise, "deep outbox");
        assert_eq!(b(10_000, Some(-30), true), Verdict::Hold, "at both bounds");
        assert_eq!(
            b(2_000, Some(-1), true),
            Verdict::Hold,
            "between the depths"
        );
        assert_eq!(b(500, Some(-10), true), Verdict::Hold, "between the ages");
        assert_eq!(b(500, Some(-4), true), Verdict::Clear);
        assert_eq!(b(0, None, true), Verdict::Clear, "empty outbox");
        assert_eq!(b(50_000, Some(-600), false), Verdict::Hold, "stale status");
    }

    #[test]
    fn thinning_raises_at_once_within_its_window_and_clears_after_it_on_a_fresh_status() {
        let c = GatewayThinningConfig { window_minutes: 60 };
        assert_eq!(
            gateway_thinning(Some(at(-1)), true, at(0), &c),
            Verdict::Raise
        );
        assert_eq!(
            gateway_thinning(Some(at(-59)), false, at(0), &c),
            Verdict::Raise,
            "a drop is a fact even when the status went stale"
        );
        assert_eq!(
            gateway_thinning(Some(at(-61)), true, at(0), &c),
            Verdict::Clear
        );
        assert_eq!(gateway_thinning(None, true, at(0), &c), Verdict::Clear);
        assert_eq!(
            gateway_thinning(Some(at(-61)), false, at(0), &c),
            Verdict::Hold
        );
    }

    #[test]
    fn clock_skew_either_way_raises_beyond_its_bound_and_clears_within_its_own() {
        let c = ClockSkewConfig {
            max_s: 60,
            raise_minutes: 10,
            clear_s: 30,
            clear_minutes: 0,
        };
        assert_eq!(clock_skew(Some(60_001), true, &c), Verdict::Raise);
        assert_eq!(clock_skew(Some(-90_000), true, &c), Verdict::Raise);
        assert_eq!(clock_skew(Some(45_000), true, &c), Verdict::Hold);
        assert_eq!(clock_skew(Some(-30_000), true, &c), Verdict::Clear);
        assert_eq!(clock_skew(None, true, &c), Verdict::Hold, "not checked");
        assert_eq!(clock_skew(Some(900_000), false, &c), Verdict::Hold, "stale");
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
