use async_graphql::SimpleObject;
use chrono::NaiveDate;

use crate::graphql::scalars::BigInt;

#[derive(SimpleObject)]
pub(crate) struct ExpiringPoints {
    /// The UTC date the points expire on.
    pub date: NaiveDate,
    pub points: BigInt,
}
