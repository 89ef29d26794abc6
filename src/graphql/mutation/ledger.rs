//! The ledger's GraphQL surface: money-moving mutations, entries, holds, balances.

use async_graphql::{Context, Object, Result};

use crate::graphql::ContextExt;
use crate::graphql::scalars::optional_id;
use crate::graphql::scalars::parse_id;
use crate::graphql::types::AuthorizeRedemptionInput;
use crate::graphql::types::CaptureHoldInput;
use crate::graphql::types::DonatePointsInput;
use crate::graphql::types::IssuePointsInput;
use crate::graphql::types::LedgerResult;
use crate::graphql::types::RedeemPointsInput;
use crate::graphql::types::ReverseEntryInput;
use crate::graphql::types::VoidHoldInput;
use crate::{
    error::AppError,
    services::ledger::{self, Amount},
};

#[derive(Default)]
pub(crate) struct LedgerMutation;

fn points_arg(points: i32) -> i64 {
    i64::from(points)
}

#[Object]
impl LedgerMutation {
    /// Partner (`points:issue`): earn. By `points`, or by `purchase` through the partner's
    /// earn rate (rounded down). Earns repay a points debt first.
    async fn issue_points(
        &self,
        ctx: &Context<'_>,
        input: IssuePointsInput,
    ) -> Result<LedgerResult> {
        let amount = match (input.points, input.purchase) {
            (Some(points), None) => Amount::Points(points_arg(points)),
            (None, Some(purchase)) => Amount::Purchase {
                amount: purchase.amount.0,
                currency: purchase.currency,
            },
            _ => {
                return Err(AppError::bad_input("give exactly one of points and purchase").into());
            }
        };
        let member = input.member.to_ref()?;
        let outcome = ledger::issue(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::IssueInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member,
                amount,
                idempotency_key: input.idempotency_key,
                reference: input.reference,
                expires_at: input.expires_at,
                referral_code: input.referral_code,
                lines: input
                    .lines
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| crate::domain::campaign::Line {
                        sku: l.sku,
                        category: l.category,
                        quantity: i64::from(l.quantity),
                        amount: l.amount.0,
                    })
                    .collect(),
            },
        )
        .await?;
        Ok(LedgerResult::shown_by_request(outcome, &input.member, None))
    }

    /// Partner (`points:redeem`): spend points at once, first-expiring first.
    async fn redeem_points(
        &self,
        ctx: &Context<'_>,
        input: RedeemPointsInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::redeem(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::RedeemInput {
                partner_id: optional_id(&input.partner_id, "partnerId")?,
                member: input.member.to_ref()?,
                points: points_arg(input.points),
                idempotency_key: input.idempotency_key,
                reference: input.reference,
                presence_code: input.presence_code.clone(),
            },
        )
        .await?;
        Ok(LedgerResult::shown_by_request(
            outcome,
            &input.member,
            input.presence_code.as_deref(),
        ))
    }

    /// Partner (`points:redeem`): reserve points at a checkout; capture or void later.
    async fn authorize_redemption(
        &self,
        ctx: &Context<'_>,
        input: AuthorizeRedemptionInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::authorize(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::AuthorizeInput {
                redeem: ledger::RedeemInput {
                    partner_id: optional_id(&input.partner_id, "partnerId")?,
                    member: input.member.to_ref()?,
                    points: points_arg(input.points),
                    idempotency_key: input.idempotency_key,
                    reference: input.reference,
                    presence_code: input.presence_code.clone(),
                },
                expires_in: input
                    .expires_in_seconds
                    .map(|s| chrono::Duration::seconds(i64::from(s))),
            },
        )
        .await?;
        Ok(LedgerResult::shown_by_request(
            outcome,
            &input.member,
            input.presence_code.as_deref(),
        ))
    }

    /// Partner (`points:redeem`): capture all or part of its pending hold.
    async fn capture_hold(
        &self,
        ctx: &Context<'_>,
        input: CaptureHoldInput,
    ) -> Result<LedgerResult> {
        let capture = match input.points {
            Some(points) if points <= 0 => {
                return Err(AppError::bad_input(
                    "points must be positive; use voidHold to capture nothing",
                )
                .into());
            }
            other => other.map(points_arg),
        };
        let outcome = ledger::settle_hold(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::SettleHoldInput {
                hold_id: parse_id(&input.hold_id, "holdId")?,
                capture,
                idempotency_key: input.idempotency_key,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:redeem`): release its pending hold.
    async fn void_hold(&self, ctx: &Context<'_>, input: VoidHoldInput) -> Result<LedgerResult> {
        let outcome = ledger::settle_hold(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::SettleHoldInput {
                hold_id: parse_id(&input.hold_id, "holdId")?,
                capture: Some(0),
                idempotency_key: input.idempotency_key,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Partner (`points:reverse`): refund all or part of its own earn (the points are taken
    /// back even if spent, leaving a debt) or its own redemption (the points return).
    async fn reverse_entry(
        &self,
        ctx: &Context<'_>,
        input: ReverseEntryInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::reverse(
            &ctx.state().ledger,
            ctx.principal()?,
            ledger::ReverseInput {
                entry_id: parse_id(&input.entry_id, "entryId")?,
                points: input.points.map(points_arg),
                idempotency_key: input.idempotency_key,
                reference: input.reference,
            },
        )
        .await?;
        Ok(outcome.into())
    }

    /// Member: give points to a charity partner (category `CHARITY`). It is a redemption at
    /// the charity, paid to it through settlement; at most `HUB_DONATION_DAILY_LIMIT` points
    /// a day over all charities.
    async fn donate_points(
        &self,
        ctx: &Context<'_>,
        input: DonatePointsInput,
    ) -> Result<LedgerResult> {
        let outcome = ledger::donate(
            &ctx.state().ledger,
            ctx.principal()?,
            parse_id(&input.partner_id, "partnerId")?,
            points_arg(input.points),
            input.idempotency_key,
        )
        .await?;
        Ok(outcome.into())
    }
}
