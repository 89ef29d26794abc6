use async_graphql::SimpleObject;
use chrono::NaiveDate;

use crate::graphql::scalars::BigInt;

/// Points moved on one UTC day.
#[derive(SimpleObject)]
pub(crate) struct ActivityDay {
    pub date: NaiveDate,
    /// Earns and campaign bonuses.
    pub issued: BigInt,
    /// Redemptions and captured holds.
    pub redeemed: BigInt,
}

/// A partner's (or the coalition's) points activity, for charts.
#[derive(SimpleObject)]
pub(crate) struct PointsActivity {
    /// Days with any activity, oldest first.
    pub days: Vec<ActivityDay>,
    /// Points issued (by the partner) that members still hold: the partner's liability.
    pub outstanding: BigInt,
}
