//! One evaluation of every rule over a [`Snapshot`] of the store, pure: verdicts per
//! subject, the storm guard, then the tracker's transitions become [`Decision`]s for the
//! store to carry out. Everything is computed from a handful of county-wide reads (the
//! snapshot), never one query per device.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;

use super::config::AlertsConfig;
use super::model::{AlertRow, NewAlert};
use super::rules::{self, Rule, Verdict};
use super::tracker::{Key, Tracker, Transition};
use crate::ledger::model::{AreaLevel, Device, DeviceKind, Ledger, Station};
use crate::solar::position::{Site, is_daylight};
use crate::store::GatewayStatusRow;
use crate::store::telemetry::ReadingRow;

/// What one cycle reads from the store.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub ledger: Ledger,
    /// Each device's newest reading within the look-back window.
    pub latest: HashMap<i64, ReadingRow>,
    /// (device, local day, kWh) for the under-production window.
    pub daily: Vec<(i64, NaiveDate, f64)>,
    /// Counter anomalies per device within the counter window (bad intervals or flagged
    /// readings, whichever is more).
    pub bad_intervals: HashMap<i64, i64>,
    /// Refused input per gateway within the rejection window.
    pub rejected: HashMap<String, i64>,
    /// The latest status of every edge gateway that ever sent one.
    pub gateway_status: Vec<GatewayStatusRow>,
    /// Alerts not yet resolved.
    pub open: Vec<AlertRow>,
}

/// A change for the store.
#[derive(Debug, Clone)]
pub enum Decision {
    Open(Box<NewAlert>),
    Resolve { id: i64, note: String },
}

/// The local days the under-production rule looks at: the last `days` complete days.
pub fn production_days(today: NaiveDate, days: u32) -> (NaiveDate, NaiveDate) {
    (
        today - Duration::days(i64::from(days)),
        today - Duration::days(1),
    )
}

fn minutes(m: u64) -> Duration {
    Duration::minutes(i64::try_from(m).unwrap_or(i64::MAX / 60_000))
}

fn f(d: &crate::store::Dec) -> f64 {
    d.0.try_into().unwrap_or(0.0)
}

/// Where a station stands and what it holds, for grouping and messages.
struct Place<'a> {
    station: &'a Station,
    township: Option<String>,
    county: Option<String>,
    devices: Vec<&'a Device>,
    sun_up_now: bool,
    sun_up_then: bool,
}

/// Runs every rule; `fault_text` gives the vendor's text of a fault code.
pub fn decide(
    snap: &Snapshot,
    now: DateTime<Utc>,
    today: NaiveDate,
    c: &AlertsConfig,
    tracker: &mut Tracker,
    fault_text: &mut dyn FnMut(&Device, &str) -> Option<String>,
) -> Vec<Decision> {
    let open_ids: HashMap<Key, i64> = snap
        .open
        .iter()
        .filter_map(|a| Some(((Rule::parse(&a.rule)?, a.subject.clone()), a.id)))
        .collect();
    tracker.sync_open(&open_ids.keys().cloned().collect());

    let places = places(&snap.ledger, now, c);
    let mut e = Emitter {
        tracker,
        now,
        seen: HashSet::new(),
        out: Vec::new(),
        open_ids: &open_ids,
    };
    let fresh = |r: &ReadingRow| now - r.ts.0 <= minutes(c.silent.clear_minutes);

    // Peers: the median specific power (W/kWp) of each county's fresh, fault-free inverters.
    let kwp_of = |p: &Place, d: &Device| -> f64 {
        d.dc_kwp
            .as_ref()
            .or(d.rated_ac_kw.as_ref())
            .map(f)
            .unwrap_or_else(|| {
                let n = p
                    .devices
                    .iter()
                    .filter(|d| d.kind == DeviceKind::Inverter)
                    .count();
                f(&p.station.dc_capacity_kwp) / n.max(1) as f64
            })
    };
    let mut by_county: HashMap<&str, Vec<f64>> = HashMap::new();
    for p in places.iter().filter(|p| p.sun_up_now) {
        for d in p.devices.iter().filter(|d| d.kind == DeviceKind::Inverter) {
            let Some(r) = snap.latest.get(&d.id).filter(|r| fresh(r)) else {
                continue;
            };
            let (Some(w), Some(county)) = (r.ac_power_w, p.county.as_deref()) else {
                continue;
            };
            let kwp = kwp_of(p, d);
            if r.status.as_deref() != Some("fault") && kwp > 0.0 {
                by_county.entry(county).or_default().push(w / kwp);
            }
        }
    }
    let peer_power: HashMap<&str, f64> = by_county
        .into_iter()
        .filter_map(|(k, mut v)| Some((k, rules::median(&mut v)?)))
        .collect();

    // Per station: silent and zero-output verdicts, before the storm guard decides.
    struct StationVerdicts {
        silent_devices: Vec<(usize, Verdict, Option<DateTime<Utc>>)>,
        zero: Vec<(usize, Verdict, Option<f64>, f64)>,
        station_silent: Verdict,
        dark: bool,
    }
    let mut verdicts = Vec::with_capacity(places.len());
    for p in &places {
        let silent_devices: Vec<_> = p
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let seen = snap.latest.get(&d.id).map(|r| r.ts.0);
                (
                    i,
                    rules::silent(seen, now, p.sun_up_now, p.sun_up_then, &c.silent),
                    seen,
                )
            })
            .collect();
        let all_silent = !silent_devices.is_empty()
            && silent_devices.iter().all(|(_, v, _)| *v == Verdict::Raise);
        let station_silent = if all_silent {
            Verdict::Raise
        } else if silent_devices.iter().any(|(_, v, _)| *v == Verdict::Clear) {
            Verdict::Clear
        } else {
            Verdict::Hold
        };
        let peer = p.county.as_deref().and_then(|k| peer_power.get(k).copied());
        let zero: Vec<_> = p
            .devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == DeviceKind::Inverter)
            .map(|(i, d)| {
                let r = snap.latest.get(&d.id);
                let kwp = kwp_of(p, d);
                let v = match r {
                    Some(r) if p.sun_up_now => rules::zero_output(
                        r.ac_power_w,
                        kwp,
                        r.status.as_deref() == Some("fault"),
                        fresh(r),
                        peer,
                        &c.zero_output,
                    ),
                    _ => Verdict::Hold,
                };
                (i, v, r.and_then(|r| r.ac_power_w), kwp)
            })
            .collect();
        let all_zero = !zero.is_empty() && zero.iter().all(|(_, v, _, _)| *v == Verdict::Raise);
        verdicts.push(StationVerdicts {
            silent_devices,
            zero,
            station_silent,
            dark: all_silent || all_zero,
        });
    }

    // Storm guard: many dark stations in one township are one grid outage.
    let mut townships: HashMap<&str, (usize, usize)> = HashMap::new();
    for (p, v) in places.iter().zip(&verdicts) {
        if let (Some(t), true) = (p.township.as_deref(), p.sun_up_now) {
            let e = townships.entry(t).or_default();
            e.1 += 1;
            e.0 += usize::from(v.dark);
        }
    }
    let mut suppressed: HashSet<&str> = HashSet::new();
    let names: HashMap<&str, &str> = snap
        .ledger
        .areas
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str()))
        .collect();
    let mut storm_keys: Vec<_> = townships.into_iter().collect();
    storm_keys.sort();
    for (t, (dark, total)) in storm_keys {
        let verdict = rules::grid_outage(dark, total, &c.storm);
        let key = (Rule::GridOutage, format!("township:{t}"));
        let dark_codes: Vec<&str> = places
            .iter()
            .zip(&verdicts)
            .filter(|(p, v)| v.dark && p.township.as_deref() == Some(t))
            .map(|(p, _)| p.station.code.as_str())
            .collect();
        let name = names.get(t).copied().unwrap_or(t);
        e.observe(key.clone(), verdict, Duration::zero(), minutes(c.storm.clear_minutes), || NewAlert {
            rule: Rule::GridOutage.as_str().into(),
            subject: key.1.clone(),
            station_code: None,
            device_code: None,
            gateway_code: None,
            area_code: Some(t.to_owned()),
            om_body: None,
            severity: Rule::GridOutage.severity().as_str().into(),
            title: format!("疑似电网停电：{name}（{t}）{dark}/{total} 座电站同时无数据或零发电"),
            detail: format!(
                "{name}有 {dark} 座电站（共 {total} 座在日照时段）同时离线或零发电，很可能是电网停电或线路故障，\
                 而非各站故障。请先联系供电所核实。涉及电站：{}。\
                 (Probable grid outage: {dark} of {total} stations in township {t} are dark together.)",
                dark_codes.join("、")
            ),
            evidence: json!({"township": t, "dark_stations": dark_codes, "stations_in_daylight": total}),
        });
        if verdict == Verdict::Raise || e.tracker.is_open(&key) {
            suppressed.insert(t);
        }
    }

    for (p, v) in places.iter().zip(&verdicts) {
        let storm = p
            .township
            .as_deref()
            .is_some_and(|t| suppressed.contains(t));
        let st = p.station;
        let hold_if = |v: Verdict| {
            if storm && v == Verdict::Raise {
                Verdict::Hold
            } else {
                v
            }
        };
        let base = |rule: Rule,
                    subject: String,
                    device: Option<&Device>,
                    title: String,
                    detail: String,
                    evidence: serde_json::Value| NewAlert {
            rule: rule.as_str().into(),
            subject,
            station_code: Some(st.code.clone()),
            device_code: device.map(|d| d.code.clone()),
            gateway_code: device.and_then(|d| d.gateway_code.clone()),
            area_code: Some(st.area_code.clone()),
            om_body: st.om_body.clone(),
            severity: rule.severity().as_str().into(),
            title,
            detail,
            evidence,
        };
        let (silent_after, silent_clear) = (Duration::zero(), Duration::zero());
        // Silence: one alert for a whole station gone quiet, else one per device.
        let key = (Rule::Silent, format!("station:{}", st.code));
        let last = v.silent_devices.iter().filter_map(|(_, _, s)| *s).max();
        e.observe(key.clone(), hold_if(v.station_silent), silent_after, silent_clear, || {
            base(
                Rule::Silent,
                key.1.clone(),
                None,
                format!("电站数据中断：{}（{}）全部设备超过 {} 分钟无数据", st.name, st.code, c.silent.minutes),
                format!(
                    "日照时段内电站全部 {} 台设备超过 {} 分钟未上报数据，最后数据：{}。请检查数据采集器/4G 模块供电与通信。\
                     (Station silent in daylight: no data from any device for {} min.)",
                    p.devices.len(),
                    c.silent.minutes,
                    last.map_or("无".into(), |t| t.to_rfc3339()),
                    c.silent.minutes
                ),
                json!({"last_seen": last, "devices": p.devices.len(), "minutes": c.silent.minutes}),
            )
        });
        let station_level = v.station_silent == Verdict::Raise || e.tracker.is_open(&key);
        for (i, verdict, seen) in &v.silent_devices {
            let d = p.devices[*i];
            let key = (Rule::Silent, format!("device:{}", d.code));
            let verdict = if station_level && *verdict == Verdict::Raise {
                Verdict::Hold
            } else {
                hold_if(*verdict)
            };
            e.observe(key.clone(), verdict, silent_after, silent_clear, || {
                base(
                    Rule::Silent,
                    key.1.clone(),
                    Some(d),
                    format!("设备数据中断：{}（{}）超过 {} 分钟无数据", d.code, st.name, c.silent.minutes),
                    format!(
                        "日照时段内该设备超过 {} 分钟未上报数据，最后数据：{}；同站其他设备正常上报。请检查设备通信线缆与地址。\
                         (Device silent in daylight for {} min while its station reports.)",
                        c.silent.minutes,
                        seen.map_or("无".into(), |t| t.to_rfc3339()),
                        c.silent.minutes
                    ),
                    json!({"last_seen": seen, "minutes": c.silent.minutes}),
                )
            });
        }
        // Zero output in daylight while the county's peers produce.
        let peer = p.county.as_deref().and_then(|k| peer_power.get(k).copied());
        for (i, verdict, power, kwp) in &v.zero {
            let d = p.devices[*i];
            let key = (Rule::ZeroOutput, format!("device:{}", d.code));
            let verdict = if v.station_silent == Verdict::Raise {
                Verdict::Hold
            } else {
                hold_if(*verdict)
            };
            e.observe(key.clone(), verdict, minutes(c.zero_output.raise_minutes), minutes(c.zero_output.clear_minutes), || {
                base(
                    Rule::ZeroOutput,
                    key.1.clone(),
                    Some(d),
                    format!("白天零发电：{}（{}）", d.code, st.name),
                    format!(
                        "逆变器在线但输出 {:.0} W，而同县电站中位数为 {:.0} W/kWp，已持续 {} 分钟以上。请检查直流侧开关、组串和并网开关。\
                         (Inverter reports zero output in daylight while its peers produce.)",
                        power.unwrap_or(0.0),
                        peer.unwrap_or(0.0),
                        c.zero_output.raise_minutes
                    ),
                    json!({"power_w": power, "kwp": kwp, "peer_median_w_per_kwp": peer}),
                )
            });
        }
        // Inverter faults, with the vendor's text where the profile knows the code.
        for d in p.devices.iter().filter(|d| d.kind == DeviceKind::Inverter) {
            let Some(r) = snap.latest.get(&d.id) else {
                continue;
            };
            let key = (Rule::InverterFault, format!("device:{}", d.code));
            let verdict = rules::fault(
                r.status.as_deref(),
                r.fault_code.as_deref(),
                fresh(r),
                &c.fault,
            );
            let code = r
                .fault_code
                .clone()
                .filter(|c| rules::fault_code_active(Some(c)));
            e.observe(key.clone(), verdict, minutes(c.fault.raise_minutes), minutes(c.fault.clear_minutes), || {
                let text = code.as_deref().and_then(|code| fault_text(d, code));
                let what = match (&code, &text) {
                    (Some(code), Some(text)) => format!("故障码 {code}：{text}"),
                    (Some(code), None) => format!("故障码 {code}（厂家资料未收录此码）"),
                    (None, _) => "状态为故障（未报故障码）".to_owned(),
                };
                base(
                    Rule::InverterFault,
                    key.1.clone(),
                    Some(d),
                    format!("逆变器故障：{}（{}）{what}", d.code, st.name),
                    format!(
                        "{}{} 报告{what}，{}。请按厂家手册排查后复位。(Inverter reports a fault.)",
                        d.vendor.as_deref().unwrap_or(""),
                        d.model.as_deref().map(|m| format!(" {m}")).unwrap_or_default(),
                        r.ts.0.to_rfc3339()
                    ),
                    json!({"status": r.status, "fault_code": code, "fault_text": text, "at": r.ts}),
                )
            });
        }
        // Counter anomalies.
        for d in &p.devices {
            let bad = snap.bad_intervals.get(&d.id).copied().unwrap_or(0);
            let key = (Rule::CounterAnomaly, format!("device:{}", d.code));
            e.observe(key.clone(), rules::counter_anomaly(bad, &c.counter), Duration::zero(), Duration::zero(), || {
                base(
                    Rule::CounterAnomaly,
                    key.1.clone(),
                    Some(d),
                    format!("电量计数异常：{}（{}）{} 小时内 {bad} 次", d.code, st.name, c.counter.window_hours),
                    format!(
                        "近 {} 小时累计电量读数出现 {bad} 次归零、倒退或跳变，这些读数未计入发电量。请检查表计/逆变器通信与时钟。\
                         (Lifetime counter glitched {bad} times; those intervals were not counted.)",
                        c.counter.window_hours
                    ),
                    json!({"bad_intervals": bad, "window_hours": c.counter.window_hours}),
                )
            });
        }
    }

    under_producing(snap, today, c, &places, &mut e);
    rejection_floods(snap, c, &mut e);
    gateway_health(snap, now, c, &mut e);
    e.finish()
}

fn under_producing(
    snap: &Snapshot,
    today: NaiveDate,
    c: &AlertsConfig,
    places: &[Place],
    e: &mut Emitter,
) {
    let (from, to) = production_days(today, c.under_producing.days);
    let device_station: HashMap<i64, usize> = places
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.devices
                .iter()
                .filter(|d| d.kind == DeviceKind::Inverter)
                .map(move |d| (d.id, i))
        })
        .collect();
    let mut energy: HashMap<(usize, NaiveDate), f64> = HashMap::new();
    for (device, day, kwh) in &snap.daily {
        if let Some(i) = device_station.get(device) {
            *energy.entry((*i, *day)).or_default() += kwh;
        }
    }
    let yf = |i: usize, day: NaiveDate| {
        let kwp = f(&places[i].station.dc_capacity_kwp);
        energy.get(&(i, day)).filter(|_| kwp > 0.0).map(|e| e / kwp)
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut medians: HashMap<(&str, NaiveDate), f64> = HashMap::new();
    for day in &days {
        let mut by_county: HashMap<&str, Vec<f64>> = HashMap::new();
        for (i, p) in places.iter().enumerate() {
            if let (Some(county), Some(y)) = (p.county.as_deref(), yf(i, *day)) {
                by_county.entry(county).or_default().push(y);
            }
        }
        for (county, mut v) in by_county {
            if v.len() >= c.under_producing.min_peers {
                if let Some(m) = rules::median(&mut v).filter(|m| *m > 0.0) {
                    medians.insert((county, *day), m);
                }
            }
        }
    }
    for (i, p) in places.iter().enumerate() {
        let Some(county) = p.county.as_deref() else {
            continue;
        };
        let ratios: Vec<Option<f64>> = days
            .iter()
            .map(|d| Some(yf(i, *d)? / medians.get(&(county, *d))?))
            .collect();
        let verdict = rules::under_producing(&ratios, &c.under_producing);
        let st = p.station;
        let key = (Rule::UnderProducing, format!("station:{}", st.code));
        let shown: Vec<String> = ratios
            .iter()
            .map(|r| r.map_or("—".into(), |r| format!("{:.0}%", r * 100.0)))
            .collect();
        e.observe(key.clone(), verdict, Duration::zero(), Duration::zero(), || NewAlert {
            rule: Rule::UnderProducing.as_str().into(),
            subject: key.1.clone(),
            station_code: Some(st.code.clone()),
            device_code: None,
            gateway_code: None,
            area_code: Some(st.area_code.clone()),
            om_body: st.om_body.clone(),
            severity: Rule::UnderProducing.severity().as_str().into(),
            title: format!(
                "发电量持续偏低：{}（{}）连续 {} 天低于同县中位数的 {:.0}%",
                st.name,
                st.code,
                c.under_producing.days,
                c.under_producing.ratio * 100.0
            ),
            detail: format!(
                "{from} 至 {to} 每日等效利用小时与同县电站中位数之比：{}。请检查组串、积灰、遮挡与逆变器。\
                 (Daily yield below {:.0}% of the county median on each of the last {} days.)",
                shown.join("、"),
                c.under_producing.ratio * 100.0,
                c.under_producing.days
            ),
            evidence: json!({"from": from, "to": to, "peer_ratios": ratios}),
        });
    }
}

fn rejection_floods(snap: &Snapshot, c: &AlertsConfig, e: &mut Emitter) {
    let mut gateways: Vec<&str> = snap
        .ledger
        .gateways
        .iter()
        .map(|g| g.code.as_str())
        .collect();
    gateways.extend(snap.rejected.keys().map(String::as_str));
    gateways.sort();
    gateways.dedup();
    let area: HashMap<&str, Option<&String>> = snap
        .ledger
        .gateways
        .iter()
        .map(|g| (g.code.as_str(), g.area_code.as_ref()))
        .collect();
    for g in gateways {
        let n = snap.rejected.get(g).copied().unwrap_or(0);
        let key = (Rule::RejectionFlood, format!("gateway:{g}"));
        let known = area.contains_key(g);
        e.observe(key.clone(), rules::rejection_flood(n, &c.rejections), Duration::zero(), Duration::zero(), || NewAlert {
            rule: Rule::RejectionFlood.as_str().into(),
            subject: key.1.clone(),
            station_code: None,
            device_code: None,
            gateway_code: Some(g.to_owned()),
            area_code: area.get(g).copied().flatten().cloned(),
            om_body: None,
            severity: Rule::RejectionFlood.severity().as_str().into(),
            title: format!("网关数据大量被拒：{g} {} 分钟内 {n} 条", c.rejections.window_minutes),
            detail: format!(
                "{} 分钟内网关 {g} 有 {n} 条数据被拒收{}。请在 /api/v1/ingest/rejections?gateway={g} 查看原因（设备编码、时间戳、格式）。\
                 (A flood of refused payloads from one gateway.)",
                c.rejections.window_minutes,
                if known { "" } else { "（该网关不在台账中）" }
            ),
            evidence: json!({"refused": n, "window_minutes": c.rejections.window_minutes, "in_ledger": known}),
        });
    }
}

/// The station a gateway is assigned by: the one with most of its devices (a gateway
/// serves one station in practice; the ledger links gateways to devices, not stations).
fn gateway_stations(ledger: &Ledger) -> HashMap<&str, &Station> {
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for d in &ledger.devices {
        if let Some(g) = d.gateway_code.as_deref() {
            *counts.entry((g, d.station_code.as_str())).or_default() += 1;
        }
    }
    let mut best: HashMap<&str, (usize, &str)> = HashMap::new();
    for ((g, st), n) in counts {
        let e = best.entry(g).or_insert((n, st));
        if n > e.0 || (n == e.0 && st < e.1) {
            *e = (n, st);
        }
    }
    let stations: HashMap<&str, &Station> = ledger
        .stations
        .iter()
        .map(|s| (s.code.as_str(), s))
        .collect();
    best.into_iter()
        .filter_map(|(g, (_, st))| Some((g, *stations.get(st)?)))
        .collect()
}

/// Health of the edge gateways from their own status messages: silence, backlog, thinning
/// and clock skew. Only gateways with a stored status are looked at, so vendor data loggers
/// that never send one raise nothing here.
fn gateway_health(snap: &Snapshot, now: DateTime<Utc>, c: &AlertsConfig, e: &mut Emitter) {
    let station_of = gateway_stations(&snap.ledger);
    let area: HashMap<&str, Option<&String>> = snap
        .ledger
        .gateways
        .iter()
        .map(|g| (g.code.as_str(), g.area_code.as_ref()))
        .collect();
    for s in &snap.gateway_status {
        let g = s.gateway_code.as_str();
        let st = station_of.get(g).copied();
        let at = |t: Option<crate::store::Ts>| t.map_or("无".into(), |t| t.0.to_rfc3339());
        let place = st.map_or(String::new(), |st| format!("（{}）", st.name));
        let alert =
            |rule: Rule, title: String, detail: String, evidence: serde_json::Value| NewAlert {
                rule: rule.as_str().into(),
                subject: format!("gateway:{g}"),
                station_code: st.map(|st| st.code.clone()),
                device_code: None,
                gateway_code: Some(g.to_owned()),
                area_code: st
                    .map(|st| st.area_code.clone())
                    .or_else(|| area.get(g).copied().flatten().cloned()),
                om_body: st.and_then(|st| st.om_body.clone()),
                severity: rule.severity().as_str().into(),
                title,
                detail,
                evidence,
            };
        let received = s.received_at.0;
        let fresh = rules::status_fresh(received, now, &c.gateway_silent);
        let silent_for = (now - received).num_minutes();

        let key = (Rule::GatewaySilent, format!("gateway:{g}"));
        let verdict = rules::gateway_silent(Some(received), now, &c.gateway_silent);
        e.observe(key, verdict, Duration::zero(), Duration::zero(), || {
            alert(
                Rule::GatewaySilent,
                format!("网关离线：{g}{place} {silent_for} 分钟无状态上报"),
                format!(
                    "边缘网关超过 {} 分钟未上报状态（最后状态：{}），其下设备的数据也可能未送达。请检查网关供电、4G/网络与 MQTT 连接。\
                     (Edge gateway sent no status for {silent_for} min.)",
                    c.gateway_silent.minutes,
                    received.to_rfc3339()
                ),
                json!({"last_status": s.received_at, "silent_minutes": silent_for, "minutes": c.gateway_silent.minutes}),
            )
        });

        let b = &c.gateway_backlog;
        let oldest = s.oldest_unsent.map(|t| t.0);
        let backlog_min = oldest.map(|t| (now - t).num_minutes());
        let key = (Rule::GatewayBacklog, format!("gateway:{g}"));
        let verdict = rules::gateway_backlog(s.outbox_depth, oldest, fresh, now, b);
        e.observe(key, verdict, minutes(b.raise_minutes), minutes(b.clear_minutes), || {
            alert(
                Rule::GatewayBacklog,
                format!("网关数据积压：{g}{place} 待发 {} 条，最早 {} 分钟前", s.outbox_depth, backlog_min.unwrap_or(0)),
                format!(
                    "边缘网关本地缓存有 {} 条读数未送达中心（最早一条：{}；上限：{} 条或 {} 分钟）。请检查网关上行链路与带宽；\
                     积压持续增长将导致缓存满后抽稀丢数。(Readings pile up in the gateway's outbox.)",
                    s.outbox_depth,
                    at(s.oldest_unsent),
                    b.max_depth,
                    b.oldest_minutes
                ),
                json!({"outbox_depth": s.outbox_depth, "oldest_unsent": s.oldest_unsent, "backlog_minutes": backlog_min, "status_at": s.received_at}),
            )
        });

        let key = (Rule::GatewayThinning, format!("gateway:{g}"));
        let thinned_at = s.thinned_at.map(|t| t.0);
        let verdict = rules::gateway_thinning(thinned_at, fresh, now, &c.gateway_thinning);
        e.observe(key, verdict, Duration::zero(), Duration::zero(), || {
            alert(
                Rule::GatewayThinning,
                format!("网关缓存溢出丢数：{g}{place} 已抽稀 {} 条读数", s.thinned_total),
                format!(
                    "边缘网关本地缓存已满，最旧的读数被抽稀删除（累计 {} 条，最近一次于 {}），这些数据无法补传。\
                     请尽快恢复上行链路，并核对受影响时段的发电量。(The gateway's outbox was full: readings were dropped for good.)",
                    s.thinned_total,
                    at(s.thinned_at)
                ),
                json!({"thinned_total": s.thinned_total, "thinned_at": s.thinned_at, "outbox_depth": s.outbox_depth}),
            )
        });

        let k = &c.clock_skew;
        let key = (Rule::ClockSkew, format!("gateway:{g}"));
        let verdict = rules::clock_skew(s.clock_skew_ms, fresh, k);
        e.observe(key, verdict, minutes(k.raise_minutes), minutes(k.clear_minutes), || {
            let skew_s = s.clock_skew_ms.unwrap_or(0) as f64 / 1000.0;
            alert(
                Rule::ClockSkew,
                format!("网关时钟偏差：{g}{place} {skew_s:+.0} 秒"),
                format!(
                    "边缘网关时钟与中心相差 {skew_s:+.1} 秒（允许 {} 秒），读数时间戳随之偏移；超前 10 分钟以上的读数将被拒收。\
                     请检查网关 NTP 时间同步。(The gateway's clock is off by {skew_s:+.1} s.)",
                    k.max_s
                ),
                json!({"clock_skew_ms": s.clock_skew_ms, "max_s": k.max_s, "status_at": s.received_at}),
            )
        });
    }
}

/// Collects transitions into decisions.
struct Emitter<'a> {
    tracker: &'a mut Tracker,
    now: DateTime<Utc>,
    seen: HashSet<Key>,
    out: Vec<Decision>,
    open_ids: &'a HashMap<Key, i64>,
}

impl Emitter<'_> {
    fn observe(
        &mut self,
        key: Key,
        verdict: Verdict,
        raise_after: Duration,
        clear_after: Duration,
        alert: impl FnOnce() -> NewAlert,
    ) {
        match self
            .tracker
            .observe(&key, verdict, self.now, raise_after, clear_after)
        {
            Some(Transition::Open) => self.out.push(Decision::Open(Box::new(alert()))),
            Some(Transition::Resolve) => {
                if let Some(id) = self.open_ids.get(&key) {
                    self.out.push(Decision::Resolve {
                        id: *id,
                        note: "恢复条件已满足，系统自动销号 (clear condition held; resolved automatically)".into(),
                    });
                }
            }
            None => {}
        }
        self.seen.insert(key);
    }

    fn finish(self) -> Vec<Decision> {
        self.tracker.forget_pending_except(&self.seen);
        self.out
    }
}

/// Each station with its township, county, devices and whether the sun is up now and was
/// up one silence span ago (stations without coordinates: always, never hide an outage).
fn places<'a>(ledger: &'a Ledger, now: DateTime<Utc>, c: &AlertsConfig) -> Vec<Place<'a>> {
    let areas: HashMap<&str, (AreaLevel, Option<&str>)> = ledger
        .areas
        .iter()
        .map(|a| (a.code.as_str(), (a.level, a.parent_code.as_deref())))
        .collect();
    let ancestor = |start: &str, level: AreaLevel| {
        let mut code = start;
        for _ in 0..6 {
            let (l, parent) = areas.get(code)?;
            if *l == level {
                return Some(code.to_owned());
            }
            code = (*parent)?;
        }
        None
    };
    let mut devices: HashMap<&str, Vec<&Device>> = HashMap::new();
    for d in &ledger.devices {
        devices.entry(d.station_code.as_str()).or_default().push(d);
    }
    let then = now - minutes(c.silent.minutes);
    ledger
        .stations
        .iter()
        .map(|s| {
            let site = s
                .latitude
                .zip(s.longitude)
                .and_then(|(la, lo)| Site::new(la, lo).ok());
            let up = |t| {
                site.as_ref()
                    .is_none_or(|site| is_daylight(t, site, c.daylight_elevation_deg))
            };
            Place {
                station: s,
                township: ancestor(&s.area_code, AreaLevel::Township),
                county: ancestor(&s.area_code, AreaLevel::County),
                devices: devices.remove(s.code.as_str()).unwrap_or_default(),
                sun_up_now: up(now),
                sun_up_then: up(then),
            }
        })
        .collect()
}
