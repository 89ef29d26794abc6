use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::db::models::Credential;

#[derive(SimpleObject)]
pub(crate) struct PartnerCredential {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Credential> for PartnerCredential {
    fn from(c: Credential) -> Self {
        PartnerCredential {
            client_id: c.client_id,
            scopes: c.scope.split_whitespace().map(str::to_owned).collect(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}
