use std::{fmt, str::FromStr};

use bigdecimal::{BigDecimal, Zero};

use super::money::fraction_digits;
use crate::error::{AppError, AppResult};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, async_graphql::Enum)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = anyhow::Error;
            fn from_str(s: &str) -> anyhow::Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(anyhow::anyhow!("unknown {} {other:?} in the database", stringify!($name))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What a partner sells; members browse the directory by it. `CHARITY` partners receive
    /// donated points.
    PartnerCategory {
        Grocery => "GROCERY",
        Fuel => "FUEL",
        Retail => "RETAIL",
        Travel => "TRAVEL",
        Dining => "DINING",
        Pharmacy => "PHARMACY",
        Entertainment => "ENTERTAINMENT",
        Online => "ONLINE",
        Services => "SERVICES",
        Charity => "CHARITY",
        Other => "OTHER",
    }
);

text_enum!(
    /// A suspended partner's tokens and credentials stop working at once.
    PartnerStatus {
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
    }
);

pub(crate) const MAX_EARN_RATE: i64 = 10_000;

pub(crate) fn validate_slug(slug: &str) -> AppResult<()> {
    let ok = (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "slug must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

pub(crate) fn validate_name(name: &str) -> AppResult<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 120 {
        return Err(AppError::bad_input("name must be 1-120 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Points earned per one unit of currency: 0 to 10,000 with at most 4 decimals.
pub(crate) fn validate_earn_rate(rate: &BigDecimal) -> AppResult<()> {
    if rate < &BigDecimal::zero() || rate > &BigDecimal::from(MAX_EARN_RATE) {
        return Err(AppError::bad_input(format!(
            "earnRate must be between 0 and {MAX_EARN_RATE} points per currency unit"
        )));
    }
    if fraction_digits(rate) > 4 {
        return Err(AppError::bad_input("earnRate has at most 4 decimal places"));
    }
    Ok(())
}

/// The coalition's own campaign budget: the sponsor of the bonuses the coalition pays for,
/// shaped as a partner so that its bonus lots have an issuer and settlement a party
/// (migrations/2026-12-05-000005_coalition_sponsor). Not a merchant: no credentials, no
/// redemptions, left out of partner lists.
pub(crate) const COALITION_PARTNER_ID: uuid::Uuid = uuid::Uuid::from_u128(0xc0a1);

/// The longest return window a partner may have.
pub(crate) const MAX_RETURN_WINDOW_DAYS: i32 = 90;

/// Days earned points stay pending: 0 (none) to 90.
pub(crate) fn validate_return_window(days: i32) -> AppResult<()> {
    if !(0..=MAX_RETURN_WINDOW_DAYS).contains(&days) {
        return Err(AppError::bad_input(format!(
            "returnWindowDays must be between 0 and {MAX_RETURN_WINDOW_DAYS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_windows_run_from_none_to_ninety_days() {
        for days in [0, 1, 30, 90] {
            assert!(validate_return_window(days).is_ok(), "{days}");
        }
        for days in [-1, 91, i32::MAX] {
            assert!(validate_return_window(days).is_err(), "{days}");
        }
    }

    #[test]
    fn slugs() {
        assert!(validate_slug("fresh-mart-2").is_ok());
        for bad in ["", "-a", "a-", "Fresh", "a b", "ä", &"a".repeat(65)] {
            assert!(validate_slug(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn earn_rates() {
        let ok = |s: &str| validate_earn_rate(&s.parse().unwrap()).is_ok();
        assert!(ok("0"));
        assert!(ok("1.5"));
        assert!(ok("10000"));
        assert!(!ok("-1"));
        assert!(!ok("10000.0001"));
        assert!(!ok("1.00001"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Fresh Mart ").unwrap(), "Fresh Mart");
        assert!(validate_name("   ").is_err());
        assert!(validate_name("a\u{0}b").is_err());
        assert!(validate_name(&"x".repeat(121)).is_err());
    }

    #[test]
    fn enums_round_trip_through_text() {
        for c in [PartnerCategory::Charity, PartnerCategory::Fuel] {
            assert_eq!(c.as_str().parse::<PartnerCategory>().unwrap(), c);
        }
        assert!("nope".parse::<PartnerStatus>().is_err());
    }
}
