use async_graphql::Enum;

/// Who may earn a campaign's bonus.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub(crate) enum CampaignAudience {
    Everyone,
    /// Members at `audienceTierLevel` (0: the lowest tier) or above.
    Tier,
    /// Members who switched the offer on in their app (`activateOffer`).
    Activated,
    /// Members with no earlier earn at the earning partner.
    NewToPartner,
    /// Members whose birthday month it is (their `birthDate`).
    BirthdayMonth,
}

impl CampaignAudience {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CampaignAudience::Everyone => "EVERYONE",
            CampaignAudience::Tier => "TIER",
            CampaignAudience::Activated => "ACTIVATED",
            CampaignAudience::NewToPartner => "NEW_TO_PARTNER",
            CampaignAudience::BirthdayMonth => "BIRTHDAY_MONTH",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, crate::error::AppError> {
        [
            CampaignAudience::Everyone,
            CampaignAudience::Tier,
            CampaignAudience::Activated,
            CampaignAudience::NewToPartner,
            CampaignAudience::BirthdayMonth,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
        .ok_or_else(|| crate::error::AppError::internal(anyhow::anyhow!("audience {text}")))
    }
}
