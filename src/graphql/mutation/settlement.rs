//! Settlement: rate cards, statements (closed and previewed) and the period close.

use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};

use crate::graphql::ContextExt;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::PartnerRates;
use crate::graphql::types::SetPartnerRatesInput;
use crate::graphql::types::SettlementStatement;
use crate::services::settlement::{self, RatesInput};

#[derive(Default)]
pub(crate) struct SettlementMutation;

#[Object]
impl SettlementMutation {
    /// Operator: a partner's rate card from `effectiveFrom` on; earlier cards stay in force
    /// for earlier events.
    async fn set_partner_rates(
        &self,
        ctx: &Context<'_>,
        input: SetPartnerRatesInput,
    ) -> Result<PartnerRates> {
        let partner_id = parse_id(&input.partner_id, "partnerId")?;
        let row = settlement::set_rates(
            &ctx.state().settlement,
            ctx.principal()?,
            RatesInput {
                partner_id,
                redemption_value: input.redemption_value.0,
                issuance_fee: input.issuance_fee.0,
                effective_from: input.effective_from,
            },
        )
        .await?;
        Ok(row.into())
    }

    /// Operator: closes the period from the previous cut-off to `cutoff` (in the past).
    /// The same cut-off again returns the same statement.
    async fn close_settlement_period(
        &self,
        ctx: &Context<'_>,
        cutoff: DateTime<Utc>,
    ) -> Result<SettlementStatement> {
        let view = settlement::close(
            &ctx.state().settlement,
            &ctx.state().config.currency,
            ctx.principal()?,
            cutoff,
            &mut |_| {},
        )
        .await?;
        Ok(SettlementStatement::new(view))
    }
}
