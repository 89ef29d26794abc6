//! Coalition tiers: a member's level is set by the points earned in a rolling 12 months.
//!
//! The rule, shared with the database (`hub_tier_multiplier`, migration 9): points earned
//! on UTC day `d` (less what their issuer clawed back) count on `d` and on the 365 days
//! after it, and stop counting on day `d + 366`. So an earn 365 days ago still counts, one
//! 366 days ago does not. The tier on a day is the highest level whose threshold the
//! counted points reach.

use bigdecimal::BigDecimal;
use chrono::{Days, NaiveDate};

use crate::error::{AppError, AppResult};

/// How many days after the earn day the points still count.
pub(crate) const WINDOW_DAYS: u64 = 365;
pub(crate) const MAX_LEVELS: usize = 10;
pub(crate) const MAX_NAME_LEN: usize = 40;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TierLevel {
    pub name: String,
    /// Points in the window needed to reach this level.
    pub min_points: i64,
    /// Applied to earns by partners that opt in (`appliesTierMultiplier`).
    pub earn_multiplier: BigDecimal,
}

/// Where a member stands on a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TierStatus {
    /// Index into the levels (sorted by threshold).
    pub level: usize,
    /// Points counted in the window ending today.
    pub window_points: i64,
    /// The first day of the member's current run at this level (an upgrade or a downgrade
    /// starts a run).
    pub reached_on: NaiveDate,
    /// The last day the level holds if nothing more is earned (none for the lowest level).
    pub kept_until: Option<NaiveDate>,
    /// Points to earn by `kept_until` to hold the level past that day.
    pub points_to_keep: Option<i64>,
    /// Points to earn now to reach the next level (none at the top).
    pub points_to_next: Option<i64>,
}

/// Checks a new set of levels and returns them sorted by threshold: 1 to 10 levels with
/// distinct non-blank names and thresholds, the lowest at 0 (every member has a tier),
/// multipliers from 1 to 10 with at most 3 decimals, never lower than a lower level's.
pub(crate) fn validate_levels(mut levels: Vec<TierLevel>) -> AppResult<Vec<TierLevel>> {
    if levels.is_empty() || levels.len() > MAX_LEVELS {
        return Err(AppError::bad_input(format!("give 1 to {MAX_LEVELS} tiers")));
    }
    levels.sort_by_key(|l| l.min_points);
    if levels[0].min_points != 0 {
        return Err(AppError::bad_input(
            "the lowest tier must start at 0 points",
        ));
    }
    let one = BigDecimal::from(1);
    let ten = BigDecimal::from(10);
    for (i, level) in levels.iter().enumerate() {
        let name = level.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name != level.name {
            return Err(AppError::bad_input(format!(
                "tier names are 1-{MAX_NAME_LEN} characters without surrounding spaces"
            )));
        }
        if level.earn_multiplier < one
            || level.earn_multiplier > ten
            || crate::domain::money::fraction_digits(&level.earn_multiplier) > 3
        {
            return Err(AppError::bad_input(
                "earnMultiplier must be between 1 and 10, with at most 3 decimals",
            ));
        }
        if i > 0 {
            let below = &levels[i - 1];
            if below.min_points == level.min_points {
                return Err(AppError::bad_input("two tiers have the same minPoints"));
            }
            if level.earn_multiplier < below.earn_multiplier {
                return Err(AppError::bad_input(
                    "a higher tier cannot have a lower earnMultiplier",
                ));
            }
        }
        if levels[..i]
            .iter()
            .any(|other| other.name.eq_ignore_ascii_case(&level.name))
        {
            return Err(AppError::bad_input("two tiers have the same name"));
        }
    }
    Ok(levels)
}

/// The level (index) that `points` reach; levels are sorted and the lowest is 0.
pub(crate) fn level_for(levels: &[TierLevel], points: i64) -> usize {
    levels
        .iter()
        .rposition(|l| l.min_points <= points)
        .unwrap_or(0)
}

/// The first earn day that still counts on `day`.
pub(crate) fn window_start(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(WINDOW_DAYS))
        .unwrap_or(NaiveDate::MIN)
}

/// Points counted on `day`. `earns` are (earn day, points), any order.
pub(crate) fn window_points(earns: &[(NaiveDate, i64)], day: NaiveDate) -> i64 {
    let from = window_start(day);
    earns
        .iter()
        .filter(|(d, _)| *d >= from && *d <= day)
        .fold(0i64, |sum, (_, p)| sum.saturating_add(*p))
}

/// The member's tier on `today`. `earns` are the member's earn days (from the ledger);
/// `member_since` is the enrolment day, where the lowest level's run starts at the latest.
pub(crate) fn tier_status(
    levels: &[TierLevel],
    earns: &[(NaiveDate, i64)],
    member_since: NaiveDate,
    today: NaiveDate,
) -> TierStatus {
    let level_on = |day: NaiveDate| level_for(levels, window_points(earns, day));
    let window_points_today = window_points(earns, today);
    let level = level_for(levels, window_points_today);

    // The counted points change only on an earn day (points enter) and on the day after
    // its window (they leave): walk those days back from today to find where this run began.
    let mut changes: Vec<NaiveDate> = earns
        .iter()
        .flat_map(|(d, _)| [Some(*d), d.checked_add_days(Days::new(WINDOW_DAYS + 1))])
        .flatten()
        .collect();
    changes.sort_unstable();
    changes.dedup();

    // Between two change days the level is constant, so the run began on the latest change
    // day whose eve had another level; without one, it has lasted since enrolment.
    let reached_on = changes
        .iter()
        .rev()
        .filter(|d| **d <= today)
        .find(|d| d.pred_opt().map(level_on) != Some(level))
        .copied()
        .unwrap_or_else(|| member_since.min(today));

    // If nothing more is earned, the level falls on the first later change below it.
    let falls_on = changes
        .iter()
        .filter(|d| **d > today)
        .find(|d| level_on(**d) < level);
    let (kept_until, points_to_keep) = match falls_on {
        Some(day) if level > 0 => (
            day.pred_opt(),
            Some(
                levels[level]
                    .min_points
                    .saturating_sub(window_points(earns, *day)),
            ),
        ),
        _ => (None, None),
    };
    let points_to_next = levels
        .get(level + 1)
        .map(|next| next.min_points.saturating_sub(window_points_today));
    TierStatus {
        level,
        window_points: window_points_today,
        reached_on,
        kept_until,
        points_to_keep,
        points_to_next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn levels() -> Vec<TierLevel> {
        [
            ("Member", 0, "1"),
            ("Silver", 1000, "1.25"),
            ("Gold", 5000, "1.5"),
        ]
        .into_iter()
        .map(|(name, min_points, m)| TierLevel {
            name: name.into(),
            min_points,
            earn_multiplier: m.parse().unwrap(),
        })
        .collect()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn points_count_for_365_days_after_the_earn_day() {
        let earns = [(day("2025-03-01"), 1000)];
        // 2026-03-01 is 365 days after 2025-03-01.
        assert_eq!(window_points(&earns, day("2026-03-01")), 1000);
        assert_eq!(window_points(&earns, day("2026-03-02")), 0);
        let at = |d| tier_status(&levels(), &earns, day("2025-01-01"), day(d));
        assert_eq!(at("2026-03-01").level, 1);
        assert_eq!(at("2026-03-01").kept_until, Some(day("2026-03-01")));
        assert_eq!(at("2026-03-01").points_to_keep, Some(1000));
        assert_eq!(at("2026-03-02").level, 0);
        assert_eq!(at("2026-03-02").reached_on, day("2026-03-02"));
        assert_eq!(at("2025-02-28").level, 0);
        assert_eq!(at("2025-02-28").reached_on, day("2025-01-01"));
        assert_eq!(at("2025-03-01").reached_on, day("2025-03-01"));
        assert_eq!(at("2025-03-01").points_to_next, Some(4000));
    }

    #[test]
    fn a_downgrade_starts_a_new_run() {
        let earns = [(day("2025-01-10"), 4000), (day("2025-06-01"), 1500)];
        let status = tier_status(&levels(), &earns, day("2024-12-01"), day("2026-02-01"));
        // Gold from 2025-06-01 until 2026-01-10, when the January points left the window.
        assert_eq!(status.level, 1);
        assert_eq!(status.window_points, 1500);
        assert_eq!(status.reached_on, day("2026-01-11"));
        assert_eq!(status.kept_until, Some(day("2026-06-01")));
        assert_eq!(status.points_to_next, Some(3500));
    }

    #[test]
    fn level_sets_are_checked() {
        let mut bad = levels();
        bad[0].min_points = 10;
        assert!(validate_levels(bad).is_err());
        let mut bad = levels();
        bad[2].earn_multiplier = "1.1".parse().unwrap();
        assert!(validate_levels(bad).is_err());
        let mut bad = levels();
        bad[1].name = "member".into();
        assert!(validate_levels(bad).is_err());
        let mut bad = levels();
        bad[1].earn_multiplier = "1.0001".parse().unwrap();
        assert!(validate_levels(bad).is_err());
        assert!(validate_levels(vec![]).is_err());
        let mut shuffled = levels();
        shuffled.reverse();
        assert_eq!(validate_levels(shuffled).unwrap(), levels());
    }

    fn earns() -> impl Strategy<Value = Vec<(NaiveDate, i64)>> {
        prop::collection::vec((0u64..900, 1i64..3000), 0..12).prop_map(|v| {
            v.into_iter()
                .map(|(offset, points)| (day("2024-01-01") + Days::new(offset), points))
                .collect()
        })
    }

    proptest! {
        /// Against a day-by-day walk: the run really starts on `reached_on`, the level
        /// really holds until `kept_until` and falls the day after, and the counts add up.
        #[test]
        fn status_matches_a_day_by_day_walk(earns in earns(), today_offset in 0u64..1300) {
            let levels = levels();
            let since = day("2023-12-01");
            let today = day("2024-01-01") + Days::new(today_offset);
            let status = tier_status(&levels, &earns, since, today);
            let level_on = |d: NaiveDate| level_for(&levels, window_points(&earns, d));
            prop_assert_eq!(status.level, level_on(today));
            let mut d = status.reached_on;
            while d <= today {
                prop_assert_eq!(level_on(d), status.level, "{} inside the run", d);
                d = d.succ_opt().unwrap();
            }
            if status.reached_on > since {
                prop_assert_ne!(level_on(status.reached_on.pred_opt().unwrap()), status.level);
            }
            match status.kept_until {
                Some(until) => {
                    let mut d = today;
                    while d <= until {
                        prop_assert!(level_on(d) >= status.level, "{} before the fall", d);
                        d = d.succ_opt().unwrap();
                    }
                    let falls = until.succ_opt().unwrap();
                    prop_assert!(level_on(falls) < status.level);
                    prop_assert_eq!(
                        status.points_to_keep,
                        Some(levels[status.level].min_points - window_points(&earns, falls))
                    );
                }
                None => prop_assert_eq!(status.level, 0),
            }
            if let Some(next) = status.points_to_next {
                prop_assert!(next > 0);
                prop_assert_eq!(level_for(&levels, status.window_points + next), status.level + 1);
            }
        }
    }
}
