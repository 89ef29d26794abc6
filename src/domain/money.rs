use bigdecimal::BigDecimal;

pub(crate) fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Number of digits after the decimal point, ignoring trailing zeros.
pub(crate) fn fraction_digits(value: &BigDecimal) -> i64 {
    value.normalized().fractional_digit_count().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn currency_codes() {
        assert!(is_currency_code("EUR"));
        assert!(!is_currency_code("eur"));
        assert!(!is_currency_code("EURO"));
        assert!(!is_currency_code("€"));
    }

    #[test]
    fn fraction_digits_ignores_trailing_zeros() {
        assert_eq!(fraction_digits(&BigDecimal::from_str("1.2500").unwrap()), 2);
        assert_eq!(fraction_digits(&BigDecimal::from_str("100").unwrap()), 0);
        assert_eq!(fraction_digits(&BigDecimal::from_str("0.0001").unwrap()), 4);
    }
}
