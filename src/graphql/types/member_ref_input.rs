use async_graphql::{ID, OneofObject, Result};

use crate::graphql::scalars::parse_id;
use crate::{error::AppError, services::members::MemberRef};

/// Exactly one way of naming a member.
#[derive(OneofObject, Clone)]
pub(crate) enum MemberRefInput {
    MemberId(ID),
    /// The 16-digit number on the member's card (spaces and dashes allowed).
    MemberNumber(String),
    /// The calling partner's own customer id for the member.
    PartnerCustomerId(String),
}

impl MemberRefInput {
    pub(crate) fn to_ref(&self) -> Result<MemberRef, AppError> {
        Ok(match self {
            MemberRefInput::MemberId(id) => MemberRef::Id(parse_id(id, "memberId")?),
            MemberRefInput::MemberNumber(n) => MemberRef::Number(n.clone()),
            MemberRefInput::PartnerCustomerId(c) => MemberRef::PartnerCustomerId(c.clone()),
        })
    }
}
