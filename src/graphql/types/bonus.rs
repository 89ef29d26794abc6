use async_graphql::{Context, ID, Object, Result};

use crate::db::models::ledger::JournalEntry;
use crate::graphql::ContextExt;
use crate::graphql::scalars::BigInt;
use crate::graphql::types::PartnerNode;

/// The bonuses booked with an earn (one query; asked for only where a result or an entry
/// shows them).
pub(crate) async fn bonuses_of(ctx: &Context<'_>, earn: uuid::Uuid) -> Result<Vec<BonusNode>> {
    let mut conn = ctx.state().db.get().await?;
    let rows = JournalEntry::bonuses_of(&mut conn, earn)
        .await
        .map_err(crate::error::AppError::from)?;
    Ok(rows.into_iter().map(BonusNode).collect())
}

/// A campaign's bonus on an earn: an entry of its own (kind BONUS) whose lot the sponsor
/// issued.
pub(crate) struct BonusNode(pub JournalEntry);

#[Object(name = "Bonus")]
impl BonusNode {
    async fn entry_id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn campaign_id(&self) -> Option<ID> {
        self.0.campaign_id.map(|id| ID(id.to_string()))
    }
    async fn sponsor(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        PartnerNode::load(ctx, self.0.partner_id).await
    }
    async fn points(&self) -> BigInt {
        BigInt(self.0.points)
    }
}
