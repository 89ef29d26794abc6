//! Ledger rules that hold before anything reaches the database: what an amount, a key, a
//! reference or an expiry may be, how an operation's input is fingerprinted for
//! idempotency, and how the database's refusals read.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// Largest amount of one operation: far above any real basket, far below i64 overflow
/// however many operations a balance accumulates.
pub const MAX_POINTS_PER_ENTRY: i64 = 1_000_000_000;
pub const MAX_KEY_LEN: usize = 255;
pub const MAX_REFERENCE_LEN: usize = 200;
/// Points may be given a lifetime of at most this long.
pub const MAX_LIFETIME_DAYS: i64 = 3660;

pub fn validate_points(points: i64) -> AppResult<i64> {
    if (1..=MAX_POINTS_PER_ENTRY).contains(&points) {
        Ok(points)
    } else {
        Err(AppError::bad_input(format!(
            "points must be between 1 and {MAX_POINTS_PER_ENTRY}"
        )))
    }
}

pub fn validate_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(AppError::bad_input(format!(
            "idempotencyKey must be 1-{MAX_KEY_LEN} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "idempotencyKey must not contain control characters",
        ));
    }
    Ok(())
}

pub fn validate_reference(reference: Option<&str>) -> AppResult<()> {
    match reference {
        Some(r) if r.chars().count() > MAX_REFERENCE_LEN || r.chars().any(char::is_control) => {
            Err(AppError::bad_input(format!(
                "reference must be at most {MAX_REFERENCE_LEN} characters, without control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// When earned points expire: the given time (in the future, within the maximum lifetime)
/// or the coalition's default lifetime from now.
pub fn lot_expiry(
    now: DateTime<Utc>,
    requested: Option<DateTime<Utc>>,
    default_lifetime: Duration,
) -> AppResult<DateTime<Utc>> {
    match requested {
        None => Ok(now + default_lifetime),
        Some(at) if at <= now => Err(AppError::bad_input("expiresAt must be in the future")),
        Some(at) if at > now + Duration::days(MAX_LIFETIME_DAYS) => Err(AppError::bad_input(
            format!("expiresAt may be at most {MAX_LIFETIME_DAYS} days ahead"),
        )),
        Some(at) => Ok(at),
    }
}

/// A fingerprint of an operation's input: the same input always gives the same bytes,
/// any difference gives other bytes (fields are length-prefixed, so none can bleed into
/// the next).
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn new(operation: &str) -> Fingerprint {
        let mut fp = Fingerprint(Sha256::new());
        fp.field(operation);
        fp
    }

    pub fn field(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let text = value.to_string();
        self.0.update((text.len() as u64).to_be_bytes());
        self.0.update(text.as_bytes());
        self
    }

    pub fn optional(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        match value {
            None => self.field("\u{0}none"),
            Some(v) => self.field(v),
        }
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0).finalize().to_vec()
    }
}

/// Reads a refusal raised by the ledger functions (`HUB:<CODE>:<detail>`).
pub fn refusal(message: &str) -> Option<AppError> {
    let rest = message.strip_prefix("HUB:")?;
    let (code, detail) = rest.split_once(':').unwrap_or((rest, ""));
    Some(match code {
        "IDEMPOTENCY_KEY_REUSED" => AppError::IdempotencyKeyReused,
        "PARTNER_SUSPENDED" => AppError::PartnerSuspended,
        "HOLD_NOT_PENDING" => AppError::HoldNotPending(detail.to_owned()),
        "BAD_USER_INPUT" => AppError::BadInput(detail.to_owned()),
        "NOT_FOUND" => AppError::NotFound(match detail {
            "member" => "member",
            "partner" => "partner",
            "hold" => "hold",
            "entry" => "ledger entry",
            "ambassador" => "ambassador",
            _ => "record",
        }),
        "INSUFFICIENT_POINTS" => {
            let mut parts = detail.split(':');
            let available = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let debt: i64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if debt > 0 {
                AppError::InsufficientPoints {
                    available: -debt,
                    requested: 0,
                }
            } else {
                AppError::InsufficientPoints {
                    available,
                    requested: 0,
                }
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_keys_and_references() {
        assert!(validate_points(0).is_err());
        assert!(validate_points(-5).is_err());
        assert!(validate_points(MAX_POINTS_PER_ENTRY + 1).is_err());
        assert_eq!(validate_points(1).unwrap(), 1);
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key("order-42\n").is_err());
        assert!(validate_key("order-42").is_ok());
        assert!(validate_reference(Some(&"r".repeat(201))).is_err());
        assert!(validate_reference(None).is_ok());
    }

    #[test]
    fn lot_expiry_rules() {
        let now = Utc::now();
        let year = Duration::days(365);
        assert_eq!(lot_expiry(now, None, year).unwrap(), now + year);
        assert!(lot_expiry(now, Some(now - Duration::seconds(1)), year).is_err());
        assert!(lot_expiry(now, Some(now), year).is_err());
        assert!(lot_expiry(now, Some(now + Duration::days(MAX_LIFETIME_DAYS + 1)), year).is_err());
        let later = now + Duration::days(30);
        assert_eq!(lot_expiry(now, Some(later), year).unwrap(), later);
    }

    #[test]
    fn refusals_map_to_codes() {
        let code = |m: &str| refusal(m).map(|e| e.code());
        assert_eq!(
            code("HUB:IDEMPOTENCY_KEY_REUSED:"),
            Some("IDEMPOTENCY_KEY_REUSED")
        );
        assert_eq!(code("HUB:PARTNER_SUSPENDED:"), Some("PARTNER_SUSPENDED"));
        assert_eq!(
            code("HUB:HOLD_NOT_PENDING:voided"),
            Some("HOLD_NOT_PENDING")
        );
        assert_eq!(code("HUB:NOT_FOUND:member"), Some("NOT_FOUND"));
        assert_eq!(code("HUB:BAD_USER_INPUT:nope"), Some("BAD_USER_INPUT"));
        assert_eq!(
            code("HUB:INSUFFICIENT_POINTS:5:0"),
            Some("INSUFFICIENT_POINTS")
        );
        assert_eq!(code("HUB:UNBALANCED:entry x"), None);
        assert_eq!(code("duplicate key value"), None);
        match refusal("HUB:INSUFFICIENT_POINTS:0:80") {
            Some(AppError::InsufficientPoints { available, .. }) => assert_eq!(available, -80),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn fingerprints_differ_when_any_field_differs(
            a in "[a-z]{0,8}", b in "[a-z]{0,8}", c in "[a-z]{0,8}", d in "[a-z]{0,8}",
        ) {
            let fp = |x: &str, y: &str| Fingerprint::new("op").field(x).field(y).finish();
            prop_assert_eq!(fp(&a, &b), fp(&a, &b));
            if (a.as_str(), b.as_str()) != (c.as_str(), d.as_str()) {
                prop_assert_ne!(fp(&a, &b), fp(&c, &d));
            }
        }
    }

    #[test]
    fn absent_and_empty_are_different_inputs() {
        let none = Fingerprint::new("op").optional(None::<&str>).finish();
        let empty = Fingerprint::new("op").optional(Some("")).finish();
        assert_ne!(none, empty);
    }
}
