//! Scalars of the public API.

use std::str::FromStr;

use async_graphql::{ID, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use bigdecimal::BigDecimal;
use uuid::Uuid;

use crate::error::AppError;

/// An exact decimal, written as a string ("12.50"). Plain notation only: no exponent, at most
/// 18 integer and 12 fraction digits, so no input can make the hub build a huge number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decimal(pub BigDecimal);

fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    digits(int, 18) && frac.is_none_or(|f| digits(f, 12))
}

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) if is_plain_decimal(text) => BigDecimal::from_str(text)
                .map(Decimal)
                .map_err(|_| InputValueError::custom("not a decimal number")),
            Value::String(_) => Err(InputValueError::custom(
                "a Decimal is a string like \"12.50\" (no exponent, at most 18.12 digits)",
            )),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.normalized().to_plain_string())
    }
}

/// An `ID` argument that must be a UUID.
pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::bad_input(format!("{what} is not a valid id")))
}

/// An optional `ID` argument that must be a UUID when given.
pub(crate) fn optional_id(id: &Option<ID>, what: &str) -> Result<Option<Uuid>, AppError> {
    id.as_ref().map(|id| parse_id(id, what)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_only_in_plain_notation() {
        let parse = |s: &str| Decimal::parse(Value::String(s.into()));
        assert_eq!(
            parse("12.50").unwrap().0,
            BigDecimal::from_str("12.5").unwrap()
        );
        assert!(parse("-0.25").is_ok());
        for bad in [
            "1e9",
            "1e1000000000",
            "",
            ".5",
            "5.",
            "NaN",
            "1,5",
            "0x10",
            &"9".repeat(19),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Decimal::parse(Value::Number(5.into())).is_err());
    }

    #[test]
    fn decimals_print_without_trailing_zeros() {
        let d = Decimal(BigDecimal::from_str("1.5000").unwrap());
        assert_eq!(d.to_value(), Value::String("1.5".into()));
        let whole = Decimal(BigDecimal::from_str("100").unwrap());
        assert_eq!(whole.to_value(), Value::String("100".into()));
    }
}

/// A 64-bit integer written as a string ("12345678901"): balances and other aggregates that
/// can pass 2^31.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BigInt(pub i64);

#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => text
                .parse()
                .map(BigInt)
                .map_err(|_| InputValueError::custom("not a 64-bit integer")),
            Value::Number(n) => n
                .as_i64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom("not a 64-bit integer")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}
