//! Leaderboard rules: which boards an activity counts on, the period windows (UTC, ISO
//! weeks from Monday 00:00), competition ranking ("1224"), and what a handle, a score and a
//! referral code may be.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rand::Rng;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

pub(crate) const MAX_SCORE: i64 = 1_000_000;
/// A new partner's referral score (the column default of `partners.referral_score`).
pub(crate) const DEFAULT_REFERRAL_SCORE: i64 = 10;
/// Activity may be recorded this long after it happened (late events land in their period).
pub(crate) const MAX_ACTIVITY_AGE_DAYS: i64 = 400;
pub(crate) const MAX_BOARD_PAGE: i64 = 100;
pub(crate) const MAX_NEIGHBORS: i64 = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Week,
    Month,
    AllTime,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Week, Period::Month, Period::AllTime];
}

/// Whose board: the whole coalition, or one partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BoardScope {
    Coalition,
    Partner(Uuid),
}

/// One board: a scope over one period window. `start` names the window; all-time boards
/// have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Board {
    pub scope: BoardScope,
    pub period: Period,
    pub start: Option<NaiveDate>,
}

impl Board {
    /// The board of `scope` and `period` whose window contains `at`.
    pub fn at(scope: BoardScope, period: Period, at: DateTime<Utc>) -> Board {
        let day = at.date_naive();
        let start = match period {
            Period::Week => Some(day - Duration::days(day.weekday().num_days_from_monday() as i64)),
            Period::Month => Some(day.with_day(1).expect("day 1 exists")),
            Period::AllTime => None,
        };
        Board {
            scope,
            period,
            start,
        }
    }

    /// The window as [from, to) instants; all time is unbounded.
    pub fn window(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let Some(start) = self.start else {
            return (None, None);
        };
        let end = match self.period {
            Period::Week => start + Duration::days(7),
            Period::Month => start
                .checked_add_months(chrono::Months::new(1))
                .expect("month after a valid date"),
            Period::AllTime => unreachable!("all-time boards have no start"),
        };
        let instant = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap());
        (Some(instant(start)), Some(instant(end)))
    }

    /// The board's name inside the key space: `coalition:w2026-11-23`, `<partner>:m2026-11`,
    /// `<partner>:all`.
    pub fn key(&self) -> String {
        let scope = match self.scope {
            BoardScope::Coalition => "coalition".to_owned(),
            BoardScope::Partner(id) => id.to_string(),
        };
        let period = match (self.period, self.start) {
            (Period::Week, Some(start)) => format!("w{}", start.format("%Y-%m-%d")),
            (Period::Month, Some(start)) => format!("m{}", start.format("%Y-%m")),
            _ => "all".to_owned(),
        };
        format!("{scope}:{period}")
    }

    /// The boards one activity counts on: the recording partner's and the coalition's, for
    /// the week, month and all time around when it happened.
    pub fn for_activity(partner_id: Uuid, occurred_at: DateTime<Utc>) -> [Board; 6] {
        let scopes = [BoardScope::Partner(partner_id), BoardScope::Coalition];
        std::array::from_fn(|i| Board::at(scopes[i / 3], Period::ALL[i % 3], occurred_at))
    }
}

/// Competition ranks of scores sorted from highest to lowest: rank = 1 + the number of
/// strictly higher scores, so ties share a rank and the next rank skips ("1224").
pub(crate) fn competition_ranks(sorted_desc: &[i64]) -> Vec<i64> {
    let mut ranks = Vec::with_capacity(sorted_desc.len());
    for (i, score) in sorted_desc.iter().enumerate() {
        let rank = match (i, ranks.last()) {
            (0, _) | (_, None) => 1,
            (_, Some(&previous)) if sorted_desc[i - 1] == *score => previous,
            _ => i as i64 + 1,
        };
        ranks.push(rank);
    }
    ranks
}

pub(crate) fn validate_handle(handle: &str) -> AppResult<()> {
    let mut chars = handle.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && (3..=32).contains(&handle.len()) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "handle must be 3-32 characters: letters, digits, '_', '.', '-', starting with a letter or digit",
        ))
    }
}

pub(crate) fn validate_score(score: i64) -> AppResult<i64> {
    if (1..=MAX_SCORE).contains(&score) {
        Ok(score)
    } else {
        Err(AppError::bad_input(format!(
            "score must be between 1 and {MAX_SCORE}"
        )))
    }
}

/// When an activity happened: not in the future, not older than the recording window.
pub(crate) fn validate_occurred_at(now: DateTime<Utc>, at: DateTime<Utc>) -> AppResult<()> {
    if at > now {
        return Err(AppError::bad_input("occurredAt must not be in the future"));
    }
    if at < now - Duration::days(MAX_ACTIVITY_AGE_DAYS) {
        return Err(AppError::bad_input(format!(
            "occurredAt may be at most {MAX_ACTIVITY_AGE_DAYS} days ago"
        )));
    }
    Ok(())
}

/// Referral codes: 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
pub(crate) fn generate_referral_code(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Codes are typed by people: case and surrounding blanks do not matter.
pub(crate) fn normalize_referral_code(code: &str) -> AppResult<String> {
    let code = code.trim().to_ascii_uppercase();
    if (6..=16).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(code)
    } else {
        Err(AppError::bad_input(
            "referralCode must be 6-16 letters or digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn weeks_start_monday_midnight_utc() {
        // 2026-11-29 is a Sunday, 2026-11-30 a Monday.
        let sunday = Board::at(
            BoardScope::Coalition,
            Period::Week,
            utc("2026-11-29T23:59:59Z"),
        );
        let monday = Board::at(
            BoardScope::Coalition,
            Period::Week,
            utc("2026-11-30T00:00:00Z"),
        );
        assert_eq!(sunday.key(), "coalition:w2026-11-23");
        assert_eq!(monday.key(), "coalition:w2026-11-30");
        assert_eq!(
            sunday.window(),
            (
                Some(utc("2026-11-23T00:00:00Z")),
                Some(utc("2026-11-30T00:00:00Z"))
            )
        );
    }

    #[test]
    fn months_and_all_time() {
        let p = Uuid::nil();
        let last = Board::at(
            BoardScope::Partner(p),
            Period::Month,
            utc("2026-12-31T23:59:59Z"),
        );
        let first = Board::at(
            BoardScope::Partner(p),
            Period::Month,
            utc("2027-01-01T00:00:00Z"),
        );
        assert_eq!(last.key(), format!("{p}:m2026-12"));
        assert_eq!(first.key(), format!("{p}:m2027-01"));
        assert_eq!(last.window().1, Some(utc("2027-01-01T00:00:00Z")));
        let all = Board::at(
            BoardScope::Coalition,
            Period::AllTime,
            utc("2027-01-01T00:00:00Z"),
        );
        assert_eq!(
            (all.key().as_str(), all.window()),
            ("coalition:all", (None, None))
        );
    }

    #[test]
    fn an_activity_counts_on_six_boards() {
        let p = Uuid::now_v7();
        let boards = Board::for_activity(p, utc("2026-11-24T10:00:00Z"));
        let keys: Vec<String> = boards.iter().map(Board::key).collect();
        assert_eq!(
            keys,
            [
                format!("{p}:w2026-11-23"),
                format!("{p}:m2026-11"),
                format!("{p}:all"),
                "coalition:w2026-11-23".into(),
                "coalition:m2026-11".into(),
                "coalition:all".into(),
            ]
        );
    }

    #[test]
    fn ties_share_a_rank() {
        assert_eq!(competition_ranks(&[50, 40, 40, 30]), [1, 2, 2, 4]);
        assert_eq!(competition_ranks(&[7, 7, 7]), [1, 1, 1]);
        assert_eq!(competition_ranks(&[]), Vec::<i64>::new());
    }

    #[test]
    fn handles_codes_scores() {
        for good in ["ann", "Ann_B.c-9", "a23456789012345678901234567890ab"] {
            assert!(validate_handle(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ab",
            "_ann",
            "ann b",
            "anne@x",
            "é-ann",
            &"a".repeat(33),
        ] {
            assert!(validate_handle(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_referral_code(" abc234xy ").unwrap(), "ABC234XY");
        assert!(normalize_referral_code("abc").is_err());
        assert!(normalize_referral_code("abc-234-xy").is_err());
        let code = generate_referral_code(&mut rand::rng());
        assert_eq!(normalize_referral_code(&code).unwrap(), code);
        assert!(validate_score(0).is_err() && validate_score(MAX_SCORE + 1).is_err());
        let now = utc("2026-11-24T10:00:00Z");
        assert!(validate_occurred_at(now, now).is_ok());
        assert!(validate_occurred_at(now, now + Duration::seconds(1)).is_err());
        assert!(
            validate_occurred_at(now, now - Duration::days(MAX_ACTIVITY_AGE_DAYS + 1)).is_err()
        );
    }

    proptest! {
        #[test]
        fn rank_is_one_plus_strictly_higher(mut scores in prop::collection::vec(0i64..20, 0..60)) {
            scores.sort_unstable_by(|a, b| b.cmp(a));
            let ranks = competition_ranks(&scores);
            for (score, rank) in scores.iter().zip(&ranks) {
                let higher = scores.iter().filter(|s| *s > score).count() as i64;
                prop_assert_eq!(*rank, 1 + higher);
            }
        }

        #[test]
        fn every_instant_is_in_its_window(secs in 0i64..4_000_000_000) {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            for period in [Period::Week, Period::Month] {
                let board = Board::at(BoardScope::Coalition, period, at);
                let (from, to) = board.window();
                let (from, to) = (from.unwrap(), to.unwrap());
                prop_assert!(from <= at && at < to);
                if period == Period::Week {
                    prop_assert_eq!(from.weekday(), chrono::Weekday::Mon);
                }
                // the window's end opens the next board
                prop_assert_eq!(Board::at(BoardScope::Coalition, period, to).window().0, Some(to));
            }
        }
    }
}
