//! Client secrets: random, shown once, stored only as an Argon2id hash.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;

/// Random URL-safe text with `bytes` bytes of entropy and a readable prefix.
pub(crate) fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(buf))
}

pub(crate) fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))
}

pub(crate) fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`hash_secret`] on a blocking thread: Argon2id takes tens of milliseconds of CPU, which
/// must not stall the async workers.
pub(crate) async fn hash_secret_blocking(secret: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_secret(&secret)).await?
}

/// [`verify_secret`] on a blocking thread.
pub(crate) async fn verify_secret_blocking(
    secret: String,
    stored_hash: String,
) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || verify_secret(&secret, &stored_hash)).await?)
}

/// A valid hash of nothing in particular, verified against when the client id is unknown so
/// that "unknown client" and "wrong secret" take the same time.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_secret("decoy secret for unknown clients").expect("argon2 hashes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_do_not_contain_the_secret() {
        let secret = random_token("sk_", 32);
        let hash = hash_secret(&secret).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&secret[3..]));
        assert!(verify_secret(&secret, &hash));
        assert!(!verify_secret("sk_wrong", &hash));
        assert!(!verify_secret(&secret, "not a hash"));
    }
}
