use async_graphql::Enum;

/// How a partner came to hold a member's consent.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub(crate) enum ConsentSource {
    /// The member enrolled at the partner.
    Enrolment,
    /// The member granted it in its app.
    Member,
}

impl ConsentSource {
    pub(crate) fn parse(text: &str) -> Result<Self, crate::error::AppError> {
        match text {
            "ENROLMENT" => Ok(ConsentSource::Enrolment),
            "MEMBER" => Ok(ConsentSource::Member),
            other => Err(crate::error::AppError::internal(anyhow::anyhow!(
                "consent source {other}"
            ))),
        }
    }
}
