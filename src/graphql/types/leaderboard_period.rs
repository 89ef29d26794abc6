use async_graphql::Enum;

use crate::domain::leaderboard::Period;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum LeaderboardPeriod {
    /// ISO week, from Monday 00:00 UTC.
    Week,
    /// Calendar month, UTC.
    Month,
    AllTime,
}

impl From<LeaderboardPeriod> for Period {
    fn from(p: LeaderboardPeriod) -> Period {
        match p {
            LeaderboardPeriod::Week => Period::Week,
            LeaderboardPeriod::Month => Period::Month,
            LeaderboardPeriod::AllTime => Period::AllTime,
        }
    }
}
