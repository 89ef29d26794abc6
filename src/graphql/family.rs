//! Family links and transfers between linked members.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{ContextExt, ledger::LedgerResult};
use crate::{
    db::models::family::{FamilyMember, LinkState},
    services::{family, ledger},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FamilyLinkStatus {
    /// Both members asked: points may be transferred either way.
    Active,
    /// You asked; the other member has not yet.
    Requested,
    /// The other member asked; link them too to accept.
    Offered,
}

#[derive(SimpleObject)]
pub struct FamilyLink {
    pub member_number: String,
    pub status: FamilyLinkStatus,
    pub since: DateTime<Utc>,
}

impl From<FamilyMember> for FamilyLink {
    fn from(f: FamilyMember) -> Self {
        FamilyLink {
            member_number: f.member_number,
            status: match f.state {
                LinkState::Active => FamilyLinkStatus::Active,
                LinkState::Requested => FamilyLinkStatus::Requested,
                LinkState::Offered => FamilyLinkStatus::Offered,
            },
            since: f.since,
        }
    }
}

#[derive(InputObject)]
pub struct TransferPointsInput {
    /// The linked family member's card number.
    pub to_member_number: String,
    pub points: i32,
    pub idempotency_key: String,
}

/// A transfer: the sender's side (`entry`, `balance`) and the recipient's entry.
#[derive(SimpleObject)]
pub struct TransferPointsPayload {
    /// The sender's TRANSFER_OUT and balance after it.
    pub sent: LedgerResult,
    /// The recipient's TRANSFER_IN entry id.
    pub received_entry_id: async_graphql::ID,
}

#[derive(Default)]
pub struct FamilyMutation;

#[Object]
impl FamilyMutation {
    /// Member: asks to link the member with this card number as family, or accepts that
    /// member's request. Transfers need both to have asked (at most 6 links).
    async fn link_family_member(
        &self,
        ctx: &Context<'_>,
        member_number: String,
    ) -> Result<FamilyLink> {
        Ok(family::link(ctx.state(), ctx.principal()?, &member_number)
            .await?
            .into())
    }

    /// Member: removes a family link or request, both ways. False if there was none.
    async fn unlink_family_member(&self, ctx: &Context<'_>, member_number: String) -> Result<bool> {
        Ok(family::unlink(ctx.state(), ctx.principal()?, &member_number).await?)
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
            ctx.state(),
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

pub async fn family_links(ctx: &Context<'_>, member_id: uuid::Uuid) -> Result<Vec<FamilyLink>> {
    Ok(family::list(ctx.state(), member_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
