use async_graphql::Object;
use chrono::NaiveDate;

use crate::graphql::scalars::BigInt;
use crate::graphql::types::TierView;
use crate::services::tiers::MemberTier;

/// A member's tier: points earned on a day count on that day and the 365 days after it.
pub(crate) struct MemberTierView(pub MemberTier);

#[Object(name = "MemberTier")]
impl MemberTierView {
    async fn tier(&self) -> TierView {
        (&self.0.levels[self.0.status.level]).into()
    }
    /// Points that count now: earned (less clawbacks) from `windowStart` until today.
    async fn qualifying_points(&self) -> BigInt {
        BigInt(self.0.status.window_points)
    }
    /// The first day whose earns still count.
    async fn window_start(&self) -> NaiveDate {
        crate::domain::tiers::window_start(self.0.today)
    }
    /// The day the member reached this tier (its current run at this level began; a
    /// downgrade starts a run too).
    async fn reached_on(&self) -> NaiveDate {
        self.0.status.reached_on
    }
    /// The last day the tier holds if nothing more is earned (null for the lowest tier).
    async fn kept_until(&self) -> Option<NaiveDate> {
        self.0.status.kept_until
    }
    /// Points to earn by `keptUntil` to hold the tier past it.
    async fn points_to_keep(&self) -> Option<BigInt> {
        self.0.status.points_to_keep.map(BigInt)
    }
    /// The next tier up (null at the top).
    async fn next_tier(&self) -> Option<TierView> {
        self.0.levels.get(self.0.status.level + 1).map(Into::into)
    }
    /// Points to earn to reach `nextTier`.
    async fn points_to_next_tier(&self) -> Option<BigInt> {
        self.0.status.points_to_next.map(BigInt)
    }
}
