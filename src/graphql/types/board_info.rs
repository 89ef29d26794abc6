use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::leaderboard::{Board, BoardScope};
use crate::graphql::types::LeaderboardPeriod;

/// Which board an answer is about.
#[derive(SimpleObject)]
pub(crate) struct BoardInfo {
    /// The partner of a partner board; null for the coalition's.
    pub partner_id: Option<ID>,
    pub period: LeaderboardPeriod,
    /// The window (null for all time): from `startsAt` (inclusive) to `endsAt` (exclusive).
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

impl BoardInfo {
    pub(crate) fn of(board: &Board, period: LeaderboardPeriod) -> BoardInfo {
        let (starts_at, ends_at) = board.window();
        BoardInfo {
            partner_id: match board.scope {
                BoardScope::Coalition => None,
                BoardScope::Partner(id) => Some(ID(id.to_string())),
            },
            period,
            starts_at,
            ends_at,
        }
    }
}
