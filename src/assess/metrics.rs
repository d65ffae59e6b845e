//! The IEC 61724-1 yields and ratios (DOMAIN.md §3), as plain arithmetic on sums.

/// Final yield `Yf = E_ac / P0`, kWh/kWp = 等效利用小时数 (hours at nameplate power).
pub fn final_yield(energy_kwh: f64, dc_kwp: f64) -> Option<f64> {
    (dc_kwp > 0.0).then(|| energy_kwh / dc_kwp)
}

/// Readings received over readings expected, capped at 1; None when none were expected.
pub fn completeness(received: f64, expected: f64) -> Option<f64> {
    (expected > 0.0).then(|| (received / expected).min(1.0))
}

/// A ratio of sums: `Σ measured / Σ reference` over the intervals given (PR, performance
/// index, peer ratio). None when the reference is empty or zero.
pub fn ratio_of_sums(pairs: impl IntoIterator<Item = (f64, f64)>) -> Option<f64> {
    let (m, r) = pairs
        .into_iter()
        .fold((0.0, 0.0), |(m, r), (a, b)| (m + a, r + b));
    (r > 0.0).then(|| m / r)
}

/// The temperature correction of one interval's expected energy,
/// `C = 1 + γ·(T_module − 25 °C)` (γ negative: hot modules are expected to give less).
pub fn temperature_factor(gamma_per_c: f64, module_temp_c: f64) -> f64 {
    1.0 + gamma_per_c * (module_temp_c - 25.0)
}

/// Module temperature from air temperature and plane-of-array irradiance with the NOCT
/// model, `T = T_air + (NOCT − 20) / 800 · G`, NOCT = 45 °C.
pub fn module_temperature_noct(air_c: f64, poa_w_m2: f64) -> f64 {
    air_c + (45.0 - 20.0) / 800.0 * poa_w_m2
}

/// The median; None for an empty slice. Sorts the slice.
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

    #[test]
    fn final_yield_is_energy_per_kilowatt_peak() {
        // 300 kWp producing 420,000 kWh in a year: 1,400 equivalent full-load hours.
        assert_eq!(final_yield(420_000.0, 300.0), Some(1400.0));
        assert_eq!(final_yield(1.0, 0.0), None);
    }

    #[test]
    fn pr_is_a_ratio_of_sums_not_a_mean_of_ratios() {
        // Day 1: 500 kWh from 100 kWp under 6 kWh/m2 (expected 600); day 2: 100 under 2 (200).
        // Σ = 600 / 800 = 0.75 (the mean of the daily ratios would be 0.667).
        let pr = ratio_of_sums([(500.0, 100.0 * 6.0), (100.0, 100.0 * 2.0)]).unwrap();
        assert!((pr - 0.75).abs() < 1e-12);
        assert_eq!(ratio_of_sums([(1.0, 0.0)]), None);
    }

    #[test]
    fn a_hot_module_lowers_the_expectation() {
        // 55 °C with γ = −0.0035: 1 − 0.0035 × 30 = 0.895.
        assert!((temperature_factor(-0.0035, 55.0) - 0.895).abs() < 1e-12);
        // 20 °C air under 800 W/m2: 20 + 25/800 × 800 = 45 °C.
        assert_eq!(module_temperature_noct(20.0, 800.0), 45.0);
    }

    #[test]
    fn completeness_is_capped_and_medians_handle_even_counts() {
        assert_eq!(completeness(620.0, 600.0), Some(1.0));
        assert_eq!(completeness(450.0, 600.0), Some(0.75));
        assert_eq!(completeness(3.0, 0.0), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
