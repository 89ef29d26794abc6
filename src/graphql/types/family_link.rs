use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::db::models::family::{FamilyMember, LinkState};
use crate::graphql::types::FamilyLinkStatus;

#[derive(SimpleObject)]
pub(crate) struct FamilyLink {
    pub member_number: String,
    pub status: FamilyLinkStatus,
    pub since: DateTime<Utc>,
}

impl From<FamilyMember> for FamilyLink {
    fn from(f: FamilyMember) -> Self {
        FamilyLink {
            member_number: f.member_number,
            status: match f.state {
                LinkState::Active => FamilyLinkStatus::Active,
                LinkState::Requested => FamilyLinkStatus::Requested,
                LinkState::Offered => FamilyLinkStatus::Offered,
            },
            since: f.since,
        }
    }
}
