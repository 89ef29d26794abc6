use async_graphql::{Enum, Result};

use crate::error::AppError;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AmbassadorActivityKind {
    /// A referred member's first earn (recorded by the hub when a referral code converts,
    /// or by a partner for referrals it tracks itself).
    Referral,
    Review,
    SocialShare,
    Content,
    Custom,
}

impl AmbassadorActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AmbassadorActivityKind::Referral => "REFERRAL",
            AmbassadorActivityKind::Review => "REVIEW",
            AmbassadorActivityKind::SocialShare => "SOCIAL_SHARE",
            AmbassadorActivityKind::Content => "CONTENT",
            AmbassadorActivityKind::Custom => "CUSTOM",
        }
    }

    pub fn parse(text: &str) -> Result<Self, AppError> {
        Ok(match text {
            "REFERRAL" => AmbassadorActivityKind::Referral,
            "REVIEW" => AmbassadorActivityKind::Review,
            "SOCIAL_SHARE" => AmbassadorActivityKind::SocialShare,
            "CONTENT" => AmbassadorActivityKind::Content,
            "CUSTOM" => AmbassadorActivityKind::Custom,
            other => return Err(AppError::internal(anyhow::anyhow!("activity kind {other}"))),
        })
    }
}
