use async_graphql::SimpleObject;

use crate::graphql::types::BoardInfo;
use crate::graphql::types::LeaderboardEntry;

#[derive(SimpleObject)]
pub(crate) struct Leaderboard {
    pub board: BoardInfo,
    /// Ambassadors with a score on this board.
    pub total_ranked: i32,
    pub entries: Vec<LeaderboardEntry>,
}
