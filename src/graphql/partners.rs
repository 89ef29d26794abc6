use async_graphql::{
    Context, ID, InputObject, Object, Result, SimpleObject, connection::Connection,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ContextExt, page::Cursor, page::Page, scalars::Decimal};
use crate::{
    auth::Principal,
    db::models::{Credential, Partner},
    domain::partner::{PartnerCategory, PartnerStatus},
    error::AppError,
    services::{credentials, partners},
};

pub fn parse_id(id: &ID, what: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::bad_input(format!("{what} is not a valid id")))
}

pub struct PartnerNode(pub Partner);

#[Object(name = "Partner")]
impl PartnerNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// Public name, shown to members.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn category(&self) -> Result<PartnerCategory> {
        Ok(self.0.category.parse().map_err(AppError::internal)?)
    }
    /// Currency of the partner's purchases (`purchase` amounts of `issuePoints`).
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Points earned per one unit of currency spent.
    async fn earn_rate(&self) -> Decimal {
        Decimal(self.0.earn_rate.clone())
    }
    async fn accepts_redemptions(&self) -> bool {
        self.0.accepts_redemptions
    }
    /// Leaderboard score of a referral that converts here.
    async fn referral_score(&self) -> i64 {
        self.0.referral_score
    }
    /// Points issued to the ambassador when a referral converts here.
    async fn referral_reward_points(&self) -> i64 {
        self.0.referral_reward_points
    }
    /// Earns here are multiplied by the member's tier multiplier (the partner opted in).
    async fn applies_tier_multiplier(&self) -> bool {
        self.0.applies_tier_multiplier
    }
    async fn status(&self) -> Result<PartnerStatus> {
        Ok(self.0.status.parse().map_err(AppError::internal)?)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// API credentials (never their secrets): the operator's and the partner's own view.
    async fn credentials(&self, ctx: &Context<'_>) -> Result<Vec<PartnerCredential>> {
        let principal = ctx.principal()?;
        let allowed = match principal {
            Principal::Operator { .. } => true,
            Principal::Partner { partner_id, .. } => *partner_id == self.0.id,
            Principal::Member { .. } => false,
        };
        if !allowed {
            return Err(AppError::forbidden(
                "only the operator and the partner itself see credentials",
            )
            .into());
        }
        let rows = credentials::for_partner(&ctx.state().db, self.0.id).await?;
        Ok(rows.into_iter().map(PartnerCredential::from).collect())
    }
}

#[derive(SimpleObject)]
pub struct PartnerCredential {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Credential> for PartnerCredential {
    fn from(c: Credential) -> Self {
        PartnerCredential {
            client_id: c.client_id,
            scopes: c.scope.split_whitespace().map(str::to_owned).collect(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// New credentials. The secret is shown here once; the hub keeps only its hash.
#[derive(SimpleObject)]
pub struct CreatedCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct CreatePartnerInput {
    pub name: String,
    /// Unique, URL-safe: 1-64 characters of a-z, 0-9 and '-'.
    pub slug: String,
    pub category: PartnerCategory,
    /// ISO 4217; the coalition currency when omitted.
    pub currency: Option<String>,
    /// Points earned per one unit of currency spent (0 to 10000, 4 decimals at most).
    pub earn_rate: Decimal,
    #[graphql(default = true)]
    pub accepts_redemptions: bool,
}

#[derive(InputObject)]
pub struct UpdatePartnerInput {
    pub name: Option<String>,
    pub category: Option<PartnerCategory>,
    pub earn_rate: Option<Decimal>,
    pub accepts_redemptions: Option<bool>,
    /// `SUSPENDED` stops the partner's tokens and credentials at once; `ACTIVE` reactivates.
    pub status: Option<PartnerStatus>,
    /// Leaderboard score of a referral that converts at this partner (1-1000000).
    pub referral_score: Option<i32>,
    /// Points the partner issues to the ambassador when a referral converts (0 for none).
    pub referral_reward_points: Option<i32>,
    /// Opt in (or out) of multiplying earns here by the member's tier multiplier.
    pub applies_tier_multiplier: Option<bool>,
}

#[derive(InputObject)]
pub struct CreatePartnerCredentialsInput {
    pub partner_id: ID,
    /// Partner scopes, for example `points:issue`; the client may request any subset.
    pub scopes: Vec<String>,
}

#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// Partners in order of creation. Operators see all; everyone else the active ones.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn partners(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PartnerNode>> {
        let state = ctx.state();
        let principal = ctx.principal()?;
        let page = Page::new(first, after, state.config.limits.max_page_size)?;
        let rows = partners::page(
            &state.db,
            principal,
            page.after.map(|c| c.key()),
            page.limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |p| Cursor {
                at: p.created_at,
                id: p.id,
            },
            PartnerNode,
        ))
    }

    async fn partner(&self, ctx: &Context<'_>, id: ID) -> Result<PartnerNode> {
        let id = parse_id(&id, "id")?;
        let partner = partners::get(&ctx.state().db, ctx.principal()?, id).await?;
        Ok(PartnerNode(partner))
    }
}

#[derive(Default)]
pub struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Operator: admits a partner to the coalition.
    async fn create_partner(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerInput,
    ) -> Result<PartnerNode> {
        let state = ctx.state();
        let partner = partners::create(
            &state.db,
            ctx.principal()?,
            &state.config.currency,
            partners::NewPartner {
                name: input.name,
                slug: input.slug,
                category: input.category,
                currency: input.currency,
                earn_rate: input.earn_rate.0,
                accepts_redemptions: input.accepts_redemptions,
            },
        )
        .await?;
        Ok(PartnerNode(partner))
    }

    /// Operator: changes a partner, including suspending and reactivating it.
    async fn update_partner(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePartnerInput,
    ) -> Result<PartnerNode> {
        let id = parse_id(&id, "id")?;
        let partner = partners::update(
            ctx.state(),
            ctx.principal()?,
            id,
            partners::PartnerUpdate {
                name: input.name,
                category: input.category,
                earn_rate: input.earn_rate.map(|d| d.0),
                accepts_redemptions: input.accepts_redemptions,
                status: input.status,
                referral_score: input.referral_score.map(i64::from),
                referral_reward_points: input.referral_reward_points.map(i64::from),
                applies_tier_multiplier: input.applies_tier_multiplier,
            },
        )
        .await?;
        Ok(PartnerNode(partner))
    }

    /// Operator: new OAuth2 client credentials for a partner (`POST /oauth/token`).
    async fn create_partner_credentials(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerCredentialsInput,
    ) -> Result<CreatedCredentials> {
        let partner_id = parse_id(&input.partner_id, "partnerId")?;
        let created =
            credentials::create(&ctx.state().db, ctx.principal()?, partner_id, &input.scopes)
                .await?;
        let view = PartnerCredential::from(created.credential);
        Ok(CreatedCredentials {
            client_id: view.client_id,
            client_secret: created.client_secret,
            scopes: view.scopes,
            created_at: view.created_at,
        })
    }

    /// Operator: revokes credentials; tokens already issued run out with their lifetime.
    async fn revoke_partner_credentials(
        &self,
        ctx: &Context<'_>,
        client_id: String,
    ) -> Result<bool> {
        credentials::revoke(&ctx.state().db, ctx.principal()?, &client_id).await?;
        Ok(true)
    }
}
