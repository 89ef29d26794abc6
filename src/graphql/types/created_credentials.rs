use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

/// New credentials. The secret is shown here once; the hub keeps only its hash.
#[derive(SimpleObject)]
pub(crate) struct CreatedCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}
