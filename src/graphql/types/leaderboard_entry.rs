use async_graphql::SimpleObject;

use crate::graphql::scalars::BigInt;
use crate::services::leaderboards::Entry;

/// One line of a board.
#[derive(SimpleObject)]
pub(crate) struct LeaderboardEntry {
    /// Competition rank: 1 + the number of higher scores (ties share a rank: 1, 2, 2, 4).
    pub rank: i32,
    pub handle: String,
    pub score: BigInt,
}

impl From<Entry> for LeaderboardEntry {
    fn from(e: Entry) -> Self {
        LeaderboardEntry {
            rank: e.rank as i32,
            handle: e.handle,
            score: BigInt(e.score),
        }
    }
}
