use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::graphql::types::MemberNode;

#[derive(SimpleObject)]
pub(crate) struct MemberToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberNode,
}
