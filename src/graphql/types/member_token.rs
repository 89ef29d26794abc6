use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::graphql::types::MemberNode;

#[derive(SimpleObject)]
pub(crate) struct MemberToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberNode,
    /// The member's web wallet (`/app`) with this token in the link's fragment, which
    /// browsers never send to a server; the page trades it for a session and drops it from
    /// the address. Absolute when the hub knows its public URL (`HUB_PUBLIC_URL`).
    pub wallet_link: String,
}
