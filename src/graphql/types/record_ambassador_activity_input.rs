use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::graphql::types::AmbassadorActivityKind;

#[derive(InputObject)]
pub(crate) struct RecordAmbassadorActivityInput {
    /// Operator only; partners always record as themselves.
    pub partner_id: Option<ID>,
    pub ambassador_id: ID,
    pub kind: AmbassadorActivityKind,
    /// 1-1000000.
    pub score: i32,
    /// Points the partner issues to the ambassador with this activity.
    pub reward_points: Option<i32>,
    pub idempotency_key: String,
    /// When it happened (now when omitted); not in the future, at most 400 days ago.
    pub occurred_at: Option<DateTime<Utc>>,
    pub reference: Option<String>,
}
