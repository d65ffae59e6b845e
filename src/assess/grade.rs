//! The grade (优 / 良 / 中 / 差): the first tier of `[assessment.grade]` whose conditions
//! all hold. Unknown figures fail any tier that asks for more than 0.

use serde::Serialize;

use crate::config::{GradeRules, GradeTier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Excellent,
    Good,
    Fair,
    Poor,
}

impl Grade {
    pub fn zh(self) -> &'static str {
        match self {
            Grade::Excellent => "优",
            Grade::Good => "良",
            Grade::Fair => "中",
            Grade::Poor => "差",
        }
    }
}

fn meets(t: &GradeTier, peer_ratio: Option<f64>, availability: Option<f64>, flags: usize) -> bool {
    let at_least = |v: Option<f64>, min: f64| min <= 0.0 || v.is_some_and(|v| v >= min);
    at_least(peer_ratio, t.min_peer_ratio)
        && at_least(availability, t.min_availability)
        && flags <= t.max_flags
}

/// Grades a station from its peer ratio, availability and number of flags.
pub fn grade(
    rules: &GradeRules,
    peer_ratio: Option<f64>,
    availability: Option<f64>,
    flags: usize,
) -> Grade {
    [
        (&rules.excellent, Grade::Excellent),
        (&rules.good, Grade::Good),
        (&rules.fair, Grade::Fair),
    ]
    .into_iter()
    .find(|(t, _)| meets(t, peer_ratio, availability, flags))
    .map_or(Grade::Poor, |(_, g)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> GradeRules {
        crate::config::Config::load_from(None, Vec::new())
            .unwrap()
            .assessment
            .grade
    }

    #[test]
    fn the_default_tiers_grade_by_peer_ratio_availability_and_flags() {
        let r = rules();
        assert_eq!(grade(&r, Some(1.0), Some(0.995), 0), Grade::Excellent);
        assert_eq!(grade(&r, Some(0.93), Some(0.995), 0), Grade::Good);
        assert_eq!(grade(&r, Some(1.0), Some(0.995), 1), Grade::Good);
        assert_eq!(grade(&r, Some(0.82), Some(0.92), 2), Grade::Fair);
        assert_eq!(grade(&r, Some(0.7), Some(0.99), 1), Grade::Poor);
        assert_eq!(grade(&r, None, Some(0.99), 0), Grade::Poor, "unknown fails");
        assert_eq!(Grade::Fair.zh(), "中");
    }
}
