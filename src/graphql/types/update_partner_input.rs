use async_graphql::InputObject;

use crate::domain::partner::{PartnerCategory, PartnerStatus};
use crate::graphql::scalars::Decimal;

#[derive(InputObject)]
pub(crate) struct UpdatePartnerInput {
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
    /// Days the points earned here stay pending, not spendable, so that a return inside
    /// the window cancels them instead of leaving a debt (0-90; 0: available at once).
    pub return_window_days: Option<i32>,
}
