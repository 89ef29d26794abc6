//! Ambassadors and leaderboards. Board fields carry handles and scores only: nothing on a
//! board names a member (no member id, number or customer id).

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::scalars::BigInt;
use crate::graphql::scalars::optional_id;
use crate::graphql::types::AmbassadorStanding;
use crate::graphql::types::BoardInfo;
use crate::graphql::types::Leaderboard;
use crate::graphql::types::LeaderboardPeriod;
use crate::graphql::types::LeaderboardScopeInput;
use crate::{
    auth::Principal,
    error::AppError,
    services::leaderboards::{self},
};

#[derive(Default)]
pub(crate) struct AmbassadorQuery;

#[Object]
impl AmbassadorQuery {
    /// Top `first` (1-100, default 10) of a board: the coalition's or a partner's, for the
    /// period around `at` (default now; past periods stay queryable). Members and operators
    /// read any board, partners the coalition's and their own.
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        scope: Option<LeaderboardScopeInput>,
        period: LeaderboardPeriod,
        at: Option<DateTime<Utc>>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Leaderboard> {
        let principal = ctx.principal()?;
        let partner_id = optional_id(&scope.unwrap_or_default().partner_id, "partnerId")?;
        let board = leaderboards::resolve_board(principal, partner_id, period.into(), at)?;
        let page = leaderboards::top(&ctx.state().leaderboards, board, first.into()).await?;
        Ok(Leaderboard {
            board: BoardInfo::of(&page.board, period),
            total_ranked: page.total_ranked as i32,
            entries: page.entries.into_iter().map(Into::into).collect(),
        })
    }

    /// Member (an ambassador): its rank, score and neighbours (0-25 on each side, default 2)
    /// on a board.
    async fn ambassador_standing(
        &self,
        ctx: &Context<'_>,
        scope: Option<LeaderboardScopeInput>,
        period: LeaderboardPeriod,
        at: Option<DateTime<Utc>>,
        #[graphql(default = 2)] neighbors: i32,
    ) -> Result<AmbassadorStanding> {
        let principal = ctx.principal()?;
        let Principal::Member { member_id } = principal else {
            return Err(AppError::forbidden("ambassadorStanding is for members").into());
        };
        let partner_id = optional_id(&scope.unwrap_or_default().partner_id, "partnerId")?;
        let board = leaderboards::resolve_board(principal, partner_id, period.into(), at)?;
        let s = leaderboards::standing(
            &ctx.state().leaderboards,
            *member_id,
            board,
            neighbors.into(),
        )
        .await?;
        Ok(AmbassadorStanding {
            board: BoardInfo::of(&s.board, period),
            handle: s.handle,
            rank: s.rank.map(|r| r as i32),
            score: BigInt(s.score),
            total_ranked: s.total_ranked as i32,
            points_to_next_rank: s.points_to_next_rank.map(BigInt),
            above: s.above.into_iter().map(Into::into).collect(),
            below: s.below.into_iter().map(Into::into).collect(),
        })
    }
}
