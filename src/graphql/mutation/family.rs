//! Family links and transfers between linked members.

use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::types::FamilyLink;
use crate::graphql::types::TransferPointsInput;
use crate::graphql::types::TransferPointsPayload;
use crate::services::{family, ledger};

#[derive(Default)]
pub(crate) struct FamilyMutation;

#[Object]
impl FamilyMutation {
    /// Member: asks to link the member with this card number as family, or accepts that
    /// member's request. Transfers need both to have asked (at most 6 links).
    async fn link_family_member(
        &self,
        ctx: &Context<'_>,
        member_number: String,
    ) -> Result<FamilyLink> {
        Ok(
            family::link(&ctx.state().db, ctx.principal()?, &member_number)
                .await?
                .into(),
        )
    }

    /// Member: removes a family link or request, both ways. False if there was none.
    async fn unlink_family_member(&self, ctx: &Context<'_>, member_number: String) -> Result<bool> {
        Ok(family::unlink(&ctx.state().db, ctx.principal()?, &member_number).await?)
    }

    /// Member: gives points to a linked family member. The points keep their issuers and
    /// expiry dates; at most `HUB_TRANSFER_DAILY_LIMIT` points in `HUB_TRANSFER_DAILY_COUNT`
    /// transfers a day. Not while the recipient has a points debt.
    async fn transfer_points(
        &self,
        ctx: &Context<'_>,
        input: TransferPointsInput,
    ) -> Result<TransferPointsPayload> {
        let (sent, received) = ledger::transfer(
            &ctx.state().ledger,
            ctx.principal()?,
            &input.to_member_number,
            i64::from(input.points),
            input.idempotency_key,
        )
        .await?;
        Ok(TransferPointsPayload {
            received_entry_id: async_graphql::ID(received.entry_id.to_string()),
            sent: sent.into(),
        })
    }
}
