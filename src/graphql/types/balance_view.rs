use async_graphql::SimpleObject;

use crate::db::models::ledger::Balance;
use crate::graphql::scalars::BigInt;

/// A member's points.
#[derive(SimpleObject)]
pub(crate) struct BalanceView {
    /// Points the member can spend now (zero while in debt).
    pub available: BigInt,
    /// Points reserved by pending holds.
    pub held: BigInt,
    /// Points owed after a refund clawback; earns repay it first.
    pub debt: BigInt,
    /// Points ever earned, less clawbacks.
    pub lifetime_earned: BigInt,
    /// `available - debt`: negative while the member owes points.
    pub net: BigInt,
    /// Points earned inside a partner's return window: not spendable until it ends, and
    /// cancelled (no debt) when the purchase is returned within it.
    pub pending: BigInt,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        BalanceView {
            available: BigInt(b.available),
            held: BigInt(b.held),
            debt: BigInt(b.debt),
            lifetime_earned: BigInt(b.lifetime_earned),
            net: BigInt(b.available.saturating_sub(b.debt)),
            pending: BigInt(b.pending),
        }
    }
}
