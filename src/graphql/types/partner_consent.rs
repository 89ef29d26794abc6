use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};

use crate::db::models::consent::MemberConsent;
use crate::graphql::types::ConsentSource;
use crate::graphql::types::PartnerNode;

/// A member's standing consent: the partner may redeem, hold, link and log the member in
/// without a presence code, until the member revokes it.
pub(crate) struct PartnerConsent(pub MemberConsent);

#[Object]
impl PartnerConsent {
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerNode>> {
        PartnerNode::load(ctx, Some(self.0.partner_id)).await
    }
    async fn source(&self) -> Result<ConsentSource> {
        Ok(ConsentSource::parse(&self.0.source)?)
    }
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
}
