//! Member numbers: 16 digits, the last a Luhn check digit, so a mistyped number at a till
//! is caught before it reaches the database. Presence codes: 8 digits the member's app
//! shows, to prove the member is at the till.

use rand::Rng;

use crate::error::{AppError, AppResult};

pub(crate) const MEMBER_NUMBER_LEN: usize = 16;
pub(crate) const MAX_CUSTOMER_ID_LEN: usize = 128;

fn luhn_check_digit(payload: &[u8]) -> u8 {
    // Digits are doubled from the right, starting with the one next to the check digit.
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

pub(crate) fn generate_member_number(rng: &mut impl Rng) -> String {
    let mut digits = Vec::with_capacity(MEMBER_NUMBER_LEN);
    digits.push(rng.random_range(1..=9u8));
    for _ in 1..MEMBER_NUMBER_LEN - 1 {
        digits.push(rng.random_range(0..=9u8));
    }
    digits.push(luhn_check_digit(&digits));
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

pub(crate) fn is_valid_member_number(text: &str) -> bool {
    if text.len() != MEMBER_NUMBER_LEN || !text.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
    let (payload, check) = digits.split_at(MEMBER_NUMBER_LEN - 1);
    luhn_check_digit(payload) == check[0]
}

/// Accepts the number as people write it (spaces or dashes between groups).
pub(crate) fn normalize_member_number(text: &str) -> AppResult<String> {
    let compact: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if is_valid_member_number(&compact) {
        Ok(compact)
    } else {
        Err(AppError::bad_input(
            "memberNumber must be 16 digits with a valid check digit",
        ))
    }
}

pub(crate) fn validate_customer_id(id: &str) -> AppResult<()> {
    if id.is_empty() || id.len() > MAX_CUSTOMER_ID_LEN {
        return Err(AppError::bad_input(format!(
            "partnerCustomerId must be 1-{MAX_CUSTOMER_ID_LEN} bytes"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "partnerCustomerId must not contain control characters",
        ));
    }
    Ok(())
}

/// Digits of a presence code: typed at a till, or read from a QR code.
pub(crate) const PRESENCE_CODE_LEN: usize = 8;

/// How long a presence code works: long enough to show it at a till, short enough that a
/// glimpse of it is worth little.
pub(crate) const PRESENCE_CODE_TTL: chrono::Duration = chrono::Duration::seconds(120);

pub(crate) fn generate_presence_code(rng: &mut impl Rng) -> String {
    (0..PRESENCE_CODE_LEN)
        .map(|_| char::from(b'0' + rng.random_range(0..=9u8)))
        .collect()
}

/// Accepts the code as people type it (spaces or dashes between groups).
pub(crate) fn normalize_presence_code(text: &str) -> AppResult<String> {
    let compact: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if compact.len() == PRESENCE_CODE_LEN && compact.bytes().all(|b| b.is_ascii_digit()) {
        Ok(compact)
    } else {
        Err(AppError::bad_input(format!(
            "presenceCode must be the {PRESENCE_CODE_LEN} digits the member's app shows"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn presence_codes_are_read_as_typed() {
        assert_eq!(normalize_presence_code("1234 5678").unwrap(), "12345678");
        assert_eq!(normalize_presence_code("1234-5678").unwrap(), "12345678");
        for bad in ["1234567", "123456789", "1234567a", "", "１２３４５６７８"] {
            assert_eq!(
                normalize_presence_code(bad).unwrap_err().code(),
                "BAD_USER_INPUT"
            );
        }
    }

    #[test]
    fn known_luhn_numbers() {
        // A well-known valid test card number.
        assert!(is_valid_member_number("4111111111111111"));
        assert!(!is_valid_member_number("4111111111111112"));
        assert_eq!(
            normalize_member_number("4111 1111-1111 1111").unwrap(),
            "4111111111111111"
        );
    }

    proptest! {
        #[test]
        fn generated_numbers_are_valid(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let number = generate_member_number(&mut rng);
            prop_assert_eq!(number.len(), MEMBER_NUMBER_LEN);
            prop_assert!(is_valid_member_number(&number));
        }

        #[test]
        fn generated_presence_codes_are_accepted(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = generate_presence_code(&mut rng);
            prop_assert_eq!(normalize_presence_code(&code).unwrap(), code);
        }

        #[test]
        fn any_single_digit_typo_is_caught(seed in any::<u64>(), pos in 0usize..16, delta in 1u8..10) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let number = generate_member_number(&mut rng);
            let mut bytes = number.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            prop_assert!(!is_valid_member_number(std::str::from_utf8(&bytes).unwrap()));
        }
    }
}
