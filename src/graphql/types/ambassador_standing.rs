use async_graphql::SimpleObject;

use crate::graphql::scalars::BigInt;
use crate::graphql::types::BoardInfo;
use crate::graphql::types::LeaderboardEntry;

#[derive(SimpleObject)]
pub(crate) struct AmbassadorStanding {
    pub board: BoardInfo,
    pub handle: String,
    /// Null when the ambassador has no score on this board yet.
    pub rank: Option<i32>,
    pub score: BigInt,
    pub total_ranked: i32,
    /// Score still needed to reach the next better rank (to get onto the board when
    /// unranked); null at the top, or when the board is empty.
    pub points_to_next_rank: Option<BigInt>,
    /// Nearest ambassadors ranked above, best first.
    pub above: Vec<LeaderboardEntry>,
    /// Nearest ambassadors ranked below, best first.
    pub below: Vec<LeaderboardEntry>,
}
