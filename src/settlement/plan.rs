//! A village's yearly use plan: what percentage of its income goes to each permitted use.
//!
//! Station income reaching a village may only be spent on the permitted uses, in shares the
//! village drafts each year (四议两公开), the township reviews and the county records. The
//! shares must follow that year's local rules: a floor for public-welfare jobs (80% in the
//! 2020 national rule, 60% in Anhui's 2022 rule) and whether anything may go to "other".
//! Those rules are parameters ([`PlanRules`]), never constants, because they change by area
//! and year. A plan that passed validation becomes a [`ValidPlan`], the only kind that money
//! is split by, so a bad plan cannot reach a payout.

use std::fmt;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::settlement::split::allocate;

/// Percentages may have at most this many decimals (e.g. 33.3333). This bounds the exact
/// arithmetic of the split and no plan needs finer shares.
pub const MAX_PERCENT_DECIMALS: u32 = 4;

/// A permitted use of village income. The declaration order is the display order and the
/// tie-break order of splits: a spare fen goes to jobs before works before rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Use {
    /// 公益岗位: public-welfare jobs (cleaning, road care, water, elderly care, caretaker).
    PublicWelfareJobs,
    /// 小型公益事业: small public works.
    SmallPublicWorks,
    /// 奖励补助: rewards and subsidies (no cash without work).
    Rewards,
    /// 其他: anything else, only where that year's rules allow it.
    Other,
}

impl Use {
    /// All uses, in order.
    pub const ALL: [Use; 4] = [
        Use::PublicWelfareJobs,
        Use::SmallPublicWorks,
        Use::Rewards,
        Use::Other,
    ];

    /// A stable ASCII code for storage and APIs.
    pub fn code(self) -> &'static str {
        match self {
            Use::PublicWelfareJobs => "jobs",
            Use::SmallPublicWorks => "works",
            Use::Rewards => "rewards",
            Use::Other => "other",
        }
    }

    /// The use parsed from its [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Use> {
        Use::ALL.into_iter().find(|u| u.code() == code)
    }

    /// The Chinese name, as on statements.
    pub fn zh(self) -> &'static str {
        match self {
            Use::PublicWelfareJobs => "公益岗位",
            Use::SmallPublicWorks => "小型公益事业",
            Use::Rewards => "奖励补助",
            Use::Other => "其他",
        }
    }

    /// The English name.
    pub fn en(self) -> &'static str {
        match self {
            Use::PublicWelfareJobs => "public-welfare jobs",
            Use::SmallPublicWorks => "small public works",
            Use::Rewards => "rewards and subsidies",
            Use::Other => "other uses",
        }
    }
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.zh())
    }
}

/// The rules a plan must follow in its area and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRules {
    /// Minimum percentage for public-welfare jobs, 0..=100.
    pub jobs_floor_percent: Decimal,
    /// Whether the use "other" may have a non-zero share.
    pub other_allowed: bool,
}

/// A use plan as drafted, not yet checked: a percentage per use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsePlan {
    /// 公益岗位 percentage.
    pub jobs: Decimal,
    /// 小型公益事业 percentage.
    pub works: Decimal,
    /// 奖励补助 percentage.
    pub rewards: Decimal,
    /// 其他 percentage.
    pub other: Decimal,
}

/// A plan that passed [`UsePlan::validate`]; money is split only by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidPlan(UsePlan);

/// Why a plan (or the rules it is checked against) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// The rules' own floor is not a percentage.
    #[error("公益岗位比例下限 {}% 不在 0–100% 之间 (the public-welfare jobs floor {}% is not between 0% and 100%)", pct(.floor), pct(.floor))]
    FloorOutOfRange {
        /// The floor as configured.
        floor: Decimal,
    },
    /// A use's percentage is below 0 or above 100.
    #[error("{}比例 {}% 不在 0–100% 之间 ({} {}% is not between 0% and 100%)", .use_.zh(), pct(.percent), .use_.en(), pct(.percent))]
    OutOfRange {
        /// The use.
        use_: Use,
        /// Its percentage.
        percent: Decimal,
    },
    /// A use's percentage has more decimals than [`MAX_PERCENT_DECIMALS`].
    #[error("{}比例 {}% 小数位过多，最多 4 位 ({} {}% has more than 4 decimals)", .use_.zh(), pct(.percent), .use_.en(), pct(.percent))]
    TooPrecise {
        /// The use.
        use_: Use,
        /// Its percentage.
        percent: Decimal,
    },
    /// The percentages do not add up to exactly 100.
    #[error("各用途比例合计 {}%，应为 100% (the use percentages add up to {}%, not 100%)", pct(.sum), pct(.sum))]
    SumNot100 {
        /// The actual sum.
        sum: Decimal,
    },
    /// "Other" has a share although the rules do not allow it.
    #[error("本年度不允许“其他”用途，但其比例为 {}% (other uses are not allowed this year but have {}%)", pct(.percent), pct(.percent))]
    OtherNotAllowed {
        /// The share given to "other".
        percent: Decimal,
    },
    /// Public-welfare jobs get less than the floor.
    #[error("公益岗位比例 {}% 低于下限 {}% (public-welfare jobs {}% is below the floor {}%)", pct(.percent), pct(.floor), pct(.percent), pct(.floor))]
    JobsBelowFloor {
        /// The plan's jobs percentage.
        percent: Decimal,
        /// The floor in force.
        floor: Decimal,
    },
}

/// A percentage without trailing zeros, so messages say "60%", not "60.00%".
fn pct(value: &Decimal) -> Decimal {
    value.normalize()
}

impl UsePlan {
    /// The percentage of one use.
    pub fn percent(&self, use_: Use) -> Decimal {
        match use_ {
            Use::PublicWelfareJobs => self.jobs,
            Use::SmallPublicWorks => self.works,
            Use::Rewards => self.rewards,
            Use::Other => self.other,
        }
    }

    /// Every problem with the plan under `rules`, in a fixed order (rules, then ranges and
    /// precision per use, then the sum, then "other", then the floor); empty if it is valid.
    /// Listing them all lets a form show every mistake at once.
    pub fn problems(&self, rules: &PlanRules) -> Vec<PlanError> {
        let mut problems = Vec::new();
        let hundred = Decimal::ONE_HUNDRED;
        let floor = rules.jobs_floor_percent;
        if floor < Decimal::ZERO || floor > hundred {
            problems.push(PlanError::FloorOutOfRange { floor });
        }
        for use_ in Use::ALL {
            let percent = self.percent(use_);
            if percent < Decimal::ZERO || percent > hundred {
                problems.push(PlanError::OutOfRange { use_, percent });
            }
            if percent.normalize().scale() > MAX_PERCENT_DECIMALS {
                problems.push(PlanError::TooPrecise { use_, percent });
            }
        }
        let sum = Use::ALL
            .into_iter()
            .try_fold(Decimal::ZERO, |sum, u| sum.checked_add(self.percent(u)));
        match sum {
            Some(sum) if sum == hundred => {}
            Some(sum) => problems.push(PlanError::SumNot100 { sum }),
            // Only reachable with absurd values, which OutOfRange has already reported.
            None => {}
        }
        if !rules.other_allowed && !self.other.is_zero() {
            problems.push(PlanError::OtherNotAllowed {
                percent: self.other,
            });
        }
        if self.jobs < floor {
            problems.push(PlanError::JobsBelowFloor {
                percent: self.jobs,
                floor,
            });
        }
        problems
    }

    /// Checks the plan under `rules`, returning the first of its [`problems`](Self::problems).
    pub fn validate(self, rules: &PlanRules) -> Result<ValidPlan, PlanError> {
        match self.problems(rules).into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(ValidPlan(self)),
        }
    }
}

impl ValidPlan {
    /// The plan's percentages.
    pub fn plan(&self) -> &UsePlan {
        &self.0
    }
}

/// Splits an amount among the uses by the plan's percentages, by largest remainder (ties to
/// the earlier [`Use`]). Returns all four uses in order, zero shares included, summing
/// exactly to `amount_fen`. A negative amount (a reversal) splits as the mirror image.
pub fn split_by_plan(amount_fen: i64, plan: &ValidPlan) -> Vec<(Use, i64)> {
    let parts: Vec<(Use, Decimal)> = Use::ALL.map(|u| (u, plan.0.percent(u))).to_vec();
    // A valid plan has distinct keys, weights in 0..=100 with at most 4 decimals summing
    // to 100, so none of the allocation's errors (including overflow) can occur.
    allocate(amount_fen, &parts).expect("a validated plan always allocates")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(value: i64, scale: u32) -> Decimal {
        Decimal::new(value, scale)
    }

    fn plan(jobs: i64, works: i64, rewards: i64, other: i64) -> UsePlan {
        UsePlan {
            jobs: d(jobs, 0),
            works: d(works, 0),
            rewards: d(rewards, 0),
            other: d(other, 0),
        }
    }

    fn rules(floor: i64, other_allowed: bool) -> PlanRules {
        PlanRules {
            jobs_floor_percent: d(floor, 0),
            other_allowed,
        }
    }

    #[test]
    fn a_plan_meeting_every_rule_is_valid() {
        let valid = plan(80, 15, 5, 0).validate(&rules(80, false)).unwrap();
        assert_eq!(valid.plan().jobs, d(80, 0));
    }

    #[test]
    fn jobs_below_the_floor_is_rejected_with_a_chinese_first_message() {
        let err = plan(60, 30, 10, 0).validate(&rules(80, false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "公益岗位比例 60% 低于下限 80% (public-welfare jobs 60% is below the floor 80%)"
        );
        // The same plan passes where the floor is 60% (Anhui 2022).
        assert!(plan(60, 30, 10, 0).validate(&rules(60, false)).is_ok());
    }

    #[test]
    fn percentages_must_add_up_to_exactly_one_hundred() {
        let short = UsePlan {
            jobs: d(8000, 2),
            works: d(1999, 2),
            ..plan(0, 0, 0, 0)
        };
        assert_eq!(
            short.validate(&rules(80, false)),
            Err(PlanError::SumNot100 { sum: d(9999, 2) })
        );
    }

    #[test]
    fn other_is_refused_unless_the_rules_allow_it() {
        let with_other = plan(85, 5, 5, 5);
        assert_eq!(
            with_other.validate(&rules(80, false)),
            Err(PlanError::OtherNotAllowed { percent: d(5, 0) })
        );
        assert!(with_other.validate(&rules(80, true)).is_ok());
    }

    #[test]
    fn a_percentage_outside_zero_to_one_hundred_is_named() {
        let err = plan(110, -10, 0, 0)
            .validate(&rules(80, false))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "公益岗位比例 110% 不在 0–100% 之间 (public-welfare jobs 110% is not between 0% and 100%)"
        );
    }

    #[test]
    fn problems_lists_every_mistake_in_a_fixed_order() {
        let bad = UsePlan {
            rewards: d(123_456, 5),
            ..plan(50, 40, 0, 5)
        };
        let problems = bad.problems(&rules(80, false));
        assert_eq!(
            problems,
            vec![
                PlanError::TooPrecise {
                    use_: Use::Rewards,
                    percent: d(123_456, 5)
                },
                PlanError::SumNot100 {
                    sum: d(9_623_456, 5)
                },
                PlanError::OtherNotAllowed { percent: d(5, 0) },
                PlanError::JobsBelowFloor {
                    percent: d(50, 0),
                    floor: d(80, 0)
                },
            ]
        );
    }

    #[test]
    fn a_floor_that_is_not_a_percentage_is_a_configuration_error() {
        let err = plan(100, 0, 0, 0).validate(&rules(120, false)).unwrap_err();
        assert_eq!(err, PlanError::FloorOutOfRange { floor: d(120, 0) });
    }

    #[test]
    fn split_by_plan_sums_to_the_amount_and_gives_spare_fen_to_jobs_first() {
        let valid = UsePlan {
            jobs: d(8000, 2),
            works: d(1250, 2),
            rewards: d(750, 2),
            other: Decimal::ZERO,
        }
        .validate(&rules(80, false))
        .unwrap();
        // 1001 fen: quotas 800.8, 125.125, 75.075, 0 → floors 800 + 125 + 75 = 1000;
        // the spare fen goes to the largest remainder, jobs (0.8).
        assert_eq!(
            split_by_plan(1001, &valid),
            vec![
                (Use::PublicWelfareJobs, 801),
                (Use::SmallPublicWorks, 125),
                (Use::Rewards, 75),
                (Use::Other, 0),
            ]
        );
        // Equal remainders: 1 fen at 50/50 goes to jobs, the earlier use.
        let even = plan(50, 50, 0, 0).validate(&rules(50, false)).unwrap();
        assert_eq!(
            split_by_plan(1, &even)[..2],
            [(Use::PublicWelfareJobs, 1), (Use::SmallPublicWorks, 0)]
        );
    }

    #[test]
    fn use_codes_and_names_round_trip() {
        for use_ in Use::ALL {
            assert_eq!(Use::from_code(use_.code()), Some(use_));
        }
        assert_eq!(Use::from_code("bonus"), None);
        assert_eq!(Use::SmallPublicWorks.zh(), "小型公益事业");
        assert_eq!(Use::Rewards.to_string(), "奖励补助");
    }
}
