use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

/// A code the member's app shows at a till (as digits or a QR code) to prove the member is
/// there: the partner passes it as `presenceCode` to redeem, hold, link or log the member
/// in. Used once; a new code replaces an unused one; five wrong codes void it.
#[derive(SimpleObject)]
pub(crate) struct PresenceCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}
