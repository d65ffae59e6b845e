//! Corrections of months that can no longer change (调整). A reviewed or approved
//! settlement is immutable; when its inputs change afterwards (a late grid statement, a
//! corrected share set, a station's deduction terms), the month is recomputed with today's
//! inputs and the difference per (station, village) becomes an adjustment line in the next
//! settlement computed, naming the original. Pure: the caller loads and stores.
//!
//! What a month has already been corrected by counts: the difference is taken against
//! the original lines plus every adjustment already carried by reviewed or approved
//! settlements, so a correction is carried once, however many later months are computed.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::compute::Computed;
use super::money::to_fen;
use super::store_types::{AdjustmentRow, StationRow, VillageRow};

/// One correction line, in fen (positive: the village is owed more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub original_settlement_id: i64,
    pub original_period: String,
    pub station_code: String,
    pub village_code: String,
    pub reason: String,
    pub amount_fen: i64,
}

/// A locked month as stored.
pub struct Original<'a> {
    pub settlement_id: i64,
    pub period: &'a str,
    pub stations: &'a [StationRow],
    pub villages: &'a [VillageRow],
    /// Adjustments of this month already carried by locked settlements.
    pub carried: &'a [AdjustmentRow],
}

fn fen(d: Decimal) -> i64 {
    to_fen(d).unwrap_or(0)
}

/// The adjustment lines that bring `original` to what `recomputed` says it should be.
pub fn corrections(original: &Original, recomputed: &Computed) -> Vec<Adjustment> {
    let mut owed: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for v in &recomputed.villages {
        *owed
            .entry((v.station_code.as_str(), v.village_code.as_str()))
            .or_default() += v.amount_fen;
    }
    for v in original.villages {
        *owed
            .entry((v.station_code.as_str(), v.village_code.as_str()))
            .or_default() -= fen(v.amount_yuan.0);
    }
    for a in original.carried {
        *owed
            .entry((a.station_code.as_str(), a.village_code.as_str()))
            .or_default() -= fen(a.amount_yuan.0);
    }
    owed.into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|((station, village), amount_fen)| Adjustment {
            original_settlement_id: original.settlement_id,
            original_period: original.period.to_owned(),
            station_code: station.to_owned(),
            village_code: village.to_owned(),
            reason: reason(original, recomputed, station),
            amount_fen,
        })
        .collect()
}

/// Why a station's money changed, for people: Chinese first, with the figures.
fn reason(original: &Original, recomputed: &Computed, station: &str) -> String {
    let before = original.stations.iter().find(|s| s.station_code == station);
    let after = recomputed
        .stations
        .iter()
        .find(|s| s.station_code == station);
    match (before, after) {
        (Some(b), Some(a))
            if b.energy_kwh.0 != a.energy_kwh || b.energy_source != a.energy_source.as_str() =>
        {
            format!(
                "电量更正 {} kWh ({}) → {} kWh ({}) / energy corrected",
                b.energy_kwh.0.normalize(),
                b.energy_source,
                a.energy_kwh.normalize(),
                a.energy_source.as_str()
            )
        }
        (Some(_), Some(_)) => {
            let mut old: Vec<(&str, Decimal)> = original
                .villages
                .iter()
                .filter(|v| v.station_code == station)
                .map(|v| (v.village_code.as_str(), v.share.0.normalize()))
                .collect();
            let mut new: Vec<(&str, Decimal)> = recomputed
                .villages
                .iter()
                .filter(|v| v.station_code == station)
                .map(|v| (v.village_code.as_str(), v.share.normalize()))
                .collect();
            old.sort();
            new.sort();
            if old == new {
                "收入或扣除更正 / income or deductions corrected".into()
            } else {
                "收益份额更正 / ownership shares corrected".into()
            }
        }
        (None, _) => "补结电站 / station added to the month".into(),
        (_, None) => "电站移出 / station removed from the month".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::compute::{EnergySource, StationLine, VillageLine};
    use crate::store::Dec;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn stored_station(kwh: &str, source: &str) -> StationRow {
        StationRow {
            station_code: "S".into(),
            energy_kwh: Dec(d(kwh)),
            energy_source: source.into(),
            benchmark_price: Dec(d("0.332")),
            subsidy_price: Dec(d("0.518")),
            benchmark_income_yuan: Dec(d("0")),
            subsidy_accrued_yuan: Dec(d("0")),
            subsidy_received_yuan: Dec(d("0")),
            deductions_yuan: Dec(d("0")),
            carried_deficit_yuan: Dec(d("0")),
            distributable_yuan: Dec(d("0")),
            deficit_out_yuan: Dec(d("0")),
            telemetry_kwh: None,
            reconcile_diff_percent: None,
            reconcile_flag: false,
        }
    }

    fn stored_village(village: &str, share: &str, yuan: &str) -> VillageRow {
        VillageRow {
            village_code: village.into(),
            station_code: "S".into(),
            share: Dec(d(share)),
            amount_yuan: Dec(d(yuan)),
        }
    }

    fn recomputed(kwh: &str, villages: &[(&str, &str, i64)]) -> Computed {
        Computed {
            period: "2026-09".into(),
            stations: vec![StationLine {
                station_code: "S".into(),
                energy_kwh: d(kwh),
                energy_source: EnergySource::Grid,
                estimate: false,
                benchmark_price: d("0.332"),
                subsidy_price: d("0.518"),
                benchmark_income_fen: 0,
                subsidy_accrued_fen: 0,
                subsidy_received_fen: 0,
                deductions_fen: 0,
                carried_deficit_fen: 0,
                distributable_fen: villages.iter().map(|v| v.2).sum(),
                deficit_out_fen: 0,
                telemetry_kwh: None,
                reconcile_diff_percent: None,
                reconcile_flag: false,
            }],
            villages: villages
                .iter()
                .map(|(v, share, fen)| VillageLine {
                    village_code: (*v).into(),
                    station_code: "S".into(),
                    share: d(share),
                    amount_fen: *fen,
                })
                .collect(),
            uses: Vec::new(),
            distributable_fen: villages.iter().map(|v| v.2).sum(),
            adjustments_fen: 0,
        }
    }

    #[test]
    fn a_late_grid_statement_becomes_a_correction_with_both_figures() {
        // September was settled on the meter's 9 800 kWh (3 253.60 元 split 60/40); the grid
        // statement arrives later with 10 000 kWh (3 320.00 元).
        let stations = [stored_station("9800", "meter")];
        let villages = [
            stored_village("V1", "0.6", "1952.16"),
            stored_village("V2", "0.4", "1301.44"),
        ];
        let original = Original {
            settlement_id: 7,
            period: "2026-09",
            stations: &stations,
            villages: &villages,
            carried: &[],
        };
        let now = recomputed("10000", &[("V1", "0.6", 199_200), ("V2", "0.4", 132_800)]);
        let lines = corrections(&original, &now);
        let amounts: Vec<(&str, i64)> = lines
            .iter()
            .map(|a| (a.village_code.as_str(), a.amount_fen))
            .collect();
        // 1 992.00 - 1 952.16 = 39.84; 1 328.00 - 1 301.44 = 26.56.
        assert_eq!(amounts, [("V1", 3_984), ("V2", 2_656)]);
        assert_eq!(lines[0].original_settlement_id, 7);
        assert_eq!(
            lines[0].reason,
            "电量更正 9800 kWh (meter) → 10000 kWh (grid) / energy corrected"
        );

        // Once carried by a locked settlement, the same correction is not made again.
        let carried: Vec<AdjustmentRow> = lines
            .iter()
            .map(|a| AdjustmentRow {
                original_settlement_id: 7,
                original_period: "2026-09".into(),
                station_code: a.station_code.clone(),
                village_code: a.village_code.clone(),
                reason: a.reason.clone(),
                amount_yuan: Dec(Decimal::new(a.amount_fen, 2)),
            })
            .collect();
        let again = Original {
            carried: &carried,
            ..original
        };
        assert!(corrections(&again, &now).is_empty());
    }

    #[test]
    fn a_corrected_share_moves_money_between_villages_and_sums_to_zero() {
        let stations = [stored_station("10000", "grid")];
        let villages = [
            stored_village("V1", "0.5", "1660.00"),
            stored_village("V2", "0.5", "1660.00"),
        ];
        let original = Original {
            settlement_id: 3,
            period: "2026-09",
            stations: &stations,
            villages: &villages,
            carried: &[],
        };
        let now = recomputed("10000", &[("V1", "0.7", 232_400), ("V2", "0.3", 99_600)]);
        let lines = corrections(&original, &now);
        assert_eq!(lines.iter().map(|a| a.amount_fen).sum::<i64>(), 0);
        assert_eq!(lines[0].amount_fen, 66_400);
        assert!(lines[0].reason.starts_with("收益份额更正"));
    }
}
