use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::db::models::audit::AuditFilter as Filter;
use crate::error::AppError;
use crate::graphql::scalars::parse_id;

#[derive(InputObject, Default)]
pub(crate) struct AuditFilter {
    /// Operator: one partner's entries (a partner always reads its own).
    pub partner_id: Option<ID>,
    /// One action, such as `partner.suspended`.
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    pub(crate) fn into_filter(self) -> Result<Filter, AppError> {
        Ok(Filter {
            partner_id: self
                .partner_id
                .map(|id| parse_id(&id, "partnerId"))
                .transpose()?,
            action: self.action,
            from: self.from,
            to: self.to,
        })
    }
}
