//! One error type for the whole hub, mapped to the `extensions.code` values of DESIGN.md.
//!
//! Resolvers return `async_graphql::Result`; an `AppError` converted with `?` keeps itself as
//! the error's source, and the [`ErrorCodes`](crate::graphql::extensions::ErrorCodes)
//! extension turns that source into the public code and message. Internal errors are logged
//! there and reach the client only as "internal error".

use async_graphql::{ErrorExtensionValues, ServerError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadInput(String),
    #[error("not enough points: {available} available, {requested} requested")]
    InsufficientPoints { available: i64, requested: i64 },
    #[error("this idempotency key was already used with a different input")]
    IdempotencyKeyReused,
    #[error("the hold is {0}, not pending")]
    HoldNotPending(String),
    #[error("the partner is suspended")]
    PartnerSuspended,
    #[error("{0}")]
    PeriodNotClosable(String),
    #[error("leaderboards are temporarily unavailable")]
    LeaderboardUnavailable,
    #[error("too many requests")]
    RateLimited,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput(_) => "BAD_USER_INPUT",
            AppError::InsufficientPoints { .. } => "INSUFFICIENT_POINTS",
            AppError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            AppError::HoldNotPending(_) => "HOLD_NOT_PENDING",
            AppError::PartnerSuspended => "PARTNER_SUSPENDED",
            AppError::PeriodNotClosable(_) => "PERIOD_NOT_CLOSABLE",
            AppError::LeaderboardUnavailable => "LEADERBOARD_UNAVAILABLE",
            AppError::RateLimited => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        AppError::BadInput(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    /// The error as a client sees it: public message plus `extensions.code`.
    pub fn to_server_error(&self) -> ServerError {
        let mut error = ServerError::new(self.to_string(), None);
        error.extensions = Some(self.extensions());
        error
    }

    fn extensions(&self) -> ErrorExtensionValues {
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", self.code());
        if let AppError::InsufficientPoints {
            available,
            requested,
        } = self
        {
            ext.set("available", available.to_string());
            ext.set("requested", requested.to_string());
        }
        ext
    }

    /// Rewrites one error of a GraphQL response in place: the code from its `AppError` source,
    /// internal text replaced; errors raised by async-graphql itself (parse, validation,
    /// limits, input coercion) are the client's input and become `BAD_USER_INPUT`.
    pub fn finalize(error: &mut ServerError) {
        let mapped = error.source::<AppError>().map(|app| {
            if let AppError::Internal(source) = app {
                tracing::error!(error = ?source, path = ?error.path, "internal error");
            }
            (app.to_string(), app.extensions())
        });
        match mapped {
            Some((message, extensions)) => {
                error.message = message;
                error.extensions = Some(extensions);
            }
            None => {
                let has_code = error
                    .extensions
                    .as_ref()
                    .is_some_and(|ext| ext.get("code").is_some());
                if !has_code {
                    let mut ext = error.extensions.take().unwrap_or_default();
                    ext.set("code", "BAD_USER_INPUT");
                    error.extensions = Some(ext);
                }
            }
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::Internal(anyhow::anyhow!("database pool: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finalized(app: AppError) -> ServerError {
        let mut error = async_graphql::Error::from(app).into_server_error(Default::default());
        AppError::finalize(&mut error);
        error
    }

    fn code_of(error: &ServerError) -> String {
        let value = error.extensions.as_ref().unwrap().get("code").unwrap();
        match value {
            async_graphql::Value::String(s) => s.clone(),
            other => panic!("code is not a string: {other:?}"),
        }
    }

    #[test]
    fn every_variant_maps_to_its_design_code() {
        let cases = vec![
            (AppError::Unauthenticated("no token"), "UNAUTHENTICATED"),
            (AppError::forbidden("missing scope"), "FORBIDDEN"),
            (AppError::NotFound("member"), "NOT_FOUND"),
            (
                AppError::bad_input("points must be positive"),
                "BAD_USER_INPUT",
            ),
            (
                AppError::InsufficientPoints {
                    available: 5,
                    requested: 10,
                },
                "INSUFFICIENT_POINTS",
            ),
            (AppError::IdempotencyKeyReused, "IDEMPOTENCY_KEY_REUSED"),
            (
                AppError::HoldNotPending("voided".into()),
                "HOLD_NOT_PENDING",
            ),
            (AppError::PartnerSuspended, "PARTNER_SUSPENDED"),
            (
                AppError::PeriodNotClosable("cut-off in the future".into()),
                "PERIOD_NOT_CLOSABLE",
            ),
            (AppError::LeaderboardUnavailable, "LEADERBOARD_UNAVAILABLE"),
            (AppError::RateLimited, "RATE_LIMITED"),
            (
                AppError::internal(anyhow::anyhow!("connection refused to 10.0.0.5")),
                "INTERNAL",
            ),
        ];
        for (app, code) in cases {
            let public_message = app.to_string();
            let error = finalized(app);
            assert_eq!(code_of(&error), code);
            assert_eq!(error.message, public_message);
        }
    }

    #[test]
    fn internal_text_never_reaches_the_client() {
        let error = finalized(AppError::internal(anyhow::anyhow!(
            "duplicate key value violates unique constraint \"members_pkey\""
        )));
        assert_eq!(error.message, "internal error");
        assert!(!format!("{:?}", error.extensions).contains("members_pkey"));
    }

    #[test]
    fn errors_without_an_app_source_are_bad_user_input() {
        let mut error = ServerError::new("Unknown field \"x\"", None);
        AppError::finalize(&mut error);
        assert_eq!(code_of(&error), "BAD_USER_INPUT");
    }

    #[test]
    fn insufficient_points_carries_the_figures() {
        let error = finalized(AppError::InsufficientPoints {
            available: 5,
            requested: 10,
        });
        let ext = error.extensions.unwrap();
        assert_eq!(
            ext.get("available"),
            Some(&async_graphql::Value::String("5".into()))
        );
    }
}
