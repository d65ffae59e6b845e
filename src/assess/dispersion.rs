//! Inverter dispersion (逆变器离散率): each inverter's specific yield (kWh/kWp) against the
//! station's median and against its siblings. Chinese O&M practice reads the dispersion
//! rate (standard deviation / mean) as ≤ 5 % stable, ≤ 10 % good, ≤ 20 % needs work,
//! above 20 % must be fixed (DOMAIN.md §3).

use serde::Serialize;

use super::metrics::median;

/// One inverter against the others of its station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InverterComparison {
    pub code: String,
    /// kWh/kWp over the days every inverter of the station reported completely.
    pub specific_yield: f64,
    /// specific yield / median of all the station's inverters.
    pub vs_station_median: Option<f64>,
    /// specific yield / median of the other inverters (None for a lone inverter).
    pub vs_siblings: Option<f64>,
}

/// Compares (code, specific yield) of one station's inverters.
pub fn compare(inverters: &[(String, f64)]) -> Vec<InverterComparison> {
    let mut all: Vec<f64> = inverters.iter().map(|(_, y)| *y).collect();
    let station_median = median(&mut all).filter(|m| *m > 0.0);
    inverters
        .iter()
        .enumerate()
        .map(|(i, (code, y))| {
            let mut others: Vec<f64> = inverters
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, y))| *y)
                .collect();
            InverterComparison {
                code: code.clone(),
                specific_yield: *y,
                vs_station_median: station_median.map(|m| y / m),
                vs_siblings: median(&mut others).filter(|m| *m > 0.0).map(|m| y / m),
            }
        })
        .collect()
}

/// Standard deviation / mean of the specific yields (population form); None for fewer
/// than two inverters or a zero mean.
pub fn dispersion_rate(yields: &[f64]) -> Option<f64> {
    let n = yields.len() as f64;
    let mean = yields.iter().sum::<f64>() / n;
    if yields.len() < 2 || mean <= 0.0 {
        return None;
    }
    let var = yields.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

/// The practice's reading of a dispersion rate, Chinese first.
pub fn dispersion_class(rate: f64) -> (&'static str, &'static str) {
    match rate {
        r if r <= 0.05 => ("稳定", "stable"),
        r if r <= 0.10 => ("良好", "good"),
        r if r <= 0.20 => ("待改进", "needs work"),
        _ => ("须整改", "must be fixed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inverter_with_lost_strings_stands_out_from_its_siblings() {
        let c = compare(&[("A".into(), 100.0), ("B".into(), 102.0), ("C".into(), 70.0)]);
        // Median of all: 100. C against the median of A and B (101): 0.693.
        assert_eq!(c[2].vs_station_median, Some(0.7));
        assert!((c[2].vs_siblings.unwrap() - 70.0 / 101.0).abs() < 1e-12);
        assert_eq!(c[0].vs_siblings, Some(100.0 / 86.0));
        assert_eq!(compare(&[("A".into(), 5.0)])[0].vs_siblings, None);
    }

    #[test]
    fn the_dispersion_rate_is_the_coefficient_of_variation() {
        // Mean 100, deviations ±10: σ = 10, rate 0.10.
        let r = dispersion_rate(&[90.0, 110.0]).unwrap();
        assert!((r - 0.10).abs() < 1e-12);
        assert_eq!(dispersion_class(r).1, "good");
        assert_eq!(dispersion_class(0.3).0, "须整改");
        assert_eq!(dispersion_rate(&[5.0]), None);
    }
}
