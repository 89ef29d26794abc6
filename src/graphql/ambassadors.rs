//! Ambassadors and leaderboards. Board fields carry handles and scores only: nothing on a
//! board names a member (no member id, number or customer id).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    ContextExt,
    members::MemberRefInput,
    partners::{PartnerNode, parse_id},
    scalars::BigInt,
};
use crate::{
    auth::Principal,
    db::models::{
        Partner,
        ambassador::{Activity, Ambassador, ReferralCode},
    },
    domain::leaderboard::{Board, BoardScope, Period},
    error::AppError,
    services::{
        ambassadors::{self, ActivityInput, EnrollInput},
        leaderboards::{self, Entry},
    },
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AmbassadorActivityKind {
    /// A referred member's first earn (recorded by the hub when a referral code converts,
    /// or by a partner for referrals it tracks itself).
    Referral,
    Review,
    SocialShare,
    Content,
    Custom,
}

impl AmbassadorActivityKind {
    fn as_str(self) -> &'static str {
        match self {
            AmbassadorActivityKind::Referral => "REFERRAL",
            AmbassadorActivityKind::Review => "REVIEW",
            AmbassadorActivityKind::SocialShare => "SOCIAL_SHARE",
            AmbassadorActivityKind::Content => "CONTENT",
            AmbassadorActivityKind::Custom => "CUSTOM",
        }
    }

    fn parse(text: &str) -> Result<Self, AppError> {
        Ok(match text {
            "REFERRAL" => AmbassadorActivityKind::Referral,
            "REVIEW" => AmbassadorActivityKind::Review,
            "SOCIAL_SHARE" => AmbassadorActivityKind::SocialShare,
            "CONTENT" => AmbassadorActivityKind::Content,
            "CUSTOM" => AmbassadorActivityKind::Custom,
            other => return Err(AppError::internal(anyhow::anyhow!("activity kind {other}"))),
        })
    }
}

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

/// Whose board: one partner's, or the whole coalition's when `partnerId` is omitted.
#[derive(InputObject, Default)]
pub struct LeaderboardScopeInput {
    pub partner_id: Option<ID>,
}

pub struct AmbassadorNode {
    ambassador: Ambassador,
    scopes: Vec<Option<uuid::Uuid>>,
}

/// An ambassador as partners and operators see it (boards show only the handle).
#[Object(name = "Ambassador")]
impl AmbassadorNode {
    async fn id(&self) -> ID {
        ID(self.ambassador.id.to_string())
    }
    async fn handle(&self) -> &str {
        &self.ambassador.handle
    }
    /// Enrolled for the whole coalition: any partner may record its activity.
    async fn coalition_wide(&self) -> bool {
        self.scopes.contains(&None)
    }
    /// The partners it is enrolled for.
    async fn partners(&self, ctx: &Context<'_>) -> Result<Vec<PartnerNode>> {
        let mut conn = ctx.state().db.get().await.map_err(AppError::from)?;
        let mut partners = Vec::new();
        for id in self.scopes.iter().flatten() {
            if let Some(p) = Partner::find(&mut conn, *id)
                .await
                .map_err(AppError::from)?
            {
                partners.push(PartnerNode(p));
            }
        }
        Ok(partners)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.ambassador.created_at
    }
}

pub struct ActivityNode {
    activity: Activity,
    replayed: bool,
}

#[Object(name = "AmbassadorActivity")]
impl ActivityNode {
    async fn id(&self) -> ID {
        ID(self.activity.id.to_string())
    }
    async fn ambassador_id(&self) -> ID {
        ID(self.activity.ambassador_id.to_string())
    }
    async fn kind(&self) -> Result<AmbassadorActivityKind> {
        Ok(AmbassadorActivityKind::parse(&self.activity.kind)?)
    }
    async fn score(&self) -> BigInt {
        BigInt(self.activity.score)
    }
    /// Points issued to the ambassador with this activity, by the recording partner.
    async fn reward_points(&self) -> BigInt {
        BigInt(self.activity.reward_points)
    }
    async fn reference(&self) -> Option<&str> {
        self.activity.reference.as_deref()
    }
    /// When it happened: the boards of this time count it.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.activity.occurred_at
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.activity.recorded_at
    }
    /// True when this answers an earlier call with the same idempotency key.
    async fn replayed(&self) -> bool {
        self.replayed
    }
}

#[derive(SimpleObject)]
pub struct ReferralCodeNode {
    pub code: String,
    pub ambassador_id: ID,
    /// Where the code may be used; any partner when null.
    pub partner_id: Option<ID>,
    pub created_at: DateTime<Utc>,
}

impl From<ReferralCode> for ReferralCodeNode {
    fn from(r: ReferralCode) -> Self {
        ReferralCodeNode {
            code: r.code,
            ambassador_id: ID(r.ambassador_id.to_string()),
            partner_id: r.partner_id.map(|id| ID(id.to_string())),
            created_at: r.created_at,
        }
    }
}

/// One line of a board.
#[derive(SimpleObject)]
pub struct LeaderboardEntry {
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

/// Which board an answer is about.
#[derive(SimpleObject)]
pub struct BoardInfo {
    /// The partner of a partner board; null for the coalition's.
    pub partner_id: Option<ID>,
    pub period: LeaderboardPeriod,
    /// The window (null for all time): from `startsAt` (inclusive) to `endsAt` (exclusive).
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

impl BoardInfo {
    fn of(board: &Board, period: LeaderboardPeriod) -> BoardInfo {
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

#[derive(SimpleObject)]
pub struct Leaderboard {
    pub board: BoardInfo,
    /// Ambassadors with a score on this board.
    pub total_ranked: i32,
    pub entries: Vec<LeaderboardEntry>,
}

#[derive(SimpleObject)]
pub struct AmbassadorStanding {
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

#[derive(InputObject)]
pub struct EnrollAmbassadorInput {
    /// Operator only: the partner to enrol for; omitted, the whole coalition. Partners
    /// always enrol for themselves.
    pub partner_id: Option<ID>,
    /// A member linked to the calling partner.
    pub member: MemberRefInput,
    /// Public name on the boards: 3-32 letters, digits, '_', '.', '-'.
    pub handle: String,
}

#[derive(InputObject)]
pub struct RecordAmbassadorActivityInput {
    /// Operator only; partners always record as themselves.
    pub partner_id: Option<ID>,
    pub ambassador_id: ID,
    pub kind: AmbassadorActivityKind,
    /// 1-1000000.
    pub score: i32,
    /// Points the partner issues to the ambassador with this activity.
    pub reward_points: Option<i32>,
    pub idempotency_key: String,
    /// When it happened (now when omitted); not in the future, at most 400 days ago.
    pub occurred_at: Option<DateTime<Utc>>,
    pub reference: Option<String>,
}

#[derive(InputObject, Default)]
pub struct CreateReferralCodeInput {
    /// Partners and operators name the ambassador; an ambassador (member token) gets its own.
    pub ambassador_id: Option<ID>,
    /// Where the code may be used. A partner's codes are always its own; otherwise omitted
    /// means at any partner (the ambassador must be enrolled for the coalition).
    pub partner_id: Option<ID>,
}

fn optional_id(id: &Option<ID>, what: &str) -> Result<Option<uuid::Uuid>, AppError> {
    id.as_ref().map(|id| parse_id(id, what)).transpose()
}

#[derive(Default)]
pub struct AmbassadorQuery;

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
        let page = leaderboards::top(ctx.state(), board, first.into()).await?;
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
        let s = leaderboards::standing(ctx.state(), *member_id, board, neighbors.into()).await?;
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

#[derive(Default)]
pub struct AmbassadorMutation;

#[Object]
impl AmbassadorMutation {
    /// Partner (`ambassadors:write`) for itself, or operator for a partner or the coalition:
    /// makes a member an ambassador with a public handle. Enrolling again adds the scope.
    async fn enroll_ambassador(
        &self,
        ctx: &Context<'_>,
        input: EnrollAmbassadorInput,
    ) -> Result<AmbassadorNode> {
        let enrolled = ambassadors::enroll(
            ctx.state(),
            ctx.principal()?,
            EnrollInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member: input.member.to_ref()?,
                handle: input.handle,
            },
        )
        .await?;
        Ok(AmbassadorNode {
            ambassador: enrolled.ambassador,
            scopes: enrolled.scopes,
        })
    }

    /// Partner (`ambassadors:write`): scores an ambassador's activity, once per idempotency
    /// key, with optional reward points issued by the partner in the same transaction.
    async fn record_ambassador_activity(
        &self,
        ctx: &Context<'_>,
        input: RecordAmbassadorActivityInput,
    ) -> Result<ActivityNode> {
        let (activity, replayed) = ambassadors::record_activity(
            ctx.state(),
            ctx.principal()?,
            ActivityInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                ambassador_id: parse_id(&input.ambassador_id, "ambassadorId")?,
                kind: input.kind.as_str(),
                score: input.score.into(),
                reward_points: input.reward_points.map(i64::from),
                idempotency_key: input.idempotency_key,
                occurred_at: input.occurred_at,
                reference: input.reference,
            },
        )
        .await?;
        Ok(ActivityNode { activity, replayed })
    }

    /// A new referral code for an ambassador (see `CreateReferralCodeInput`).
    async fn create_referral_code(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateReferralCodeInput>,
    ) -> Result<ReferralCodeNode> {
        let input = input.unwrap_or_default();
        let code = ambassadors::create_referral_code(
            ctx.state(),
            ctx.principal()?,
            optional_id(&input.ambassador_id, "ambassadorId")?,
            optional_id(&input.partner_id, "partnerId")?,
        )
        .await?;
        Ok(code.into())
    }
}
