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

/// Points outstanding as recorded on a UTC day (soon after 00:00, or when the first hub
/// started that day).
#[derive(SimpleObject)]
pub(crate) struct OutstandingDay {
    pub date: NaiveDate,
    pub points: BigInt,
}

/// A partner's (or the coalition's) points activity, for charts.
#[derive(SimpleObject)]
pub(crate) struct PointsActivity {
    /// Days with any activity, oldest first.
    pub days: Vec<ActivityDay>,
    /// Points issued (by the partner) that members still hold now: the partner's liability.
    pub outstanding: BigInt,
    /// The same as recorded once on each day of the period (`serve` records it soon after
    /// 00:00 UTC; a day no hub ran has none), oldest first.
    pub outstanding_by_day: Vec<OutstandingDay>,
}
