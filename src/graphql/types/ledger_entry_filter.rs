use async_graphql::InputObject;
use chrono::{DateTime, Utc};

use crate::graphql::types::LedgerEntryKind;
use crate::graphql::types::MemberRefInput;

#[derive(InputObject, Default)]
pub(crate) struct LedgerEntryFilter {
    pub member: Option<MemberRefInput>,
    pub kinds: Option<Vec<LedgerEntryKind>>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}
