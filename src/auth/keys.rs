//! JWT keys: verification with the algorithm pinned per key, `kid` lookup for rotation,
//! minting with the one signing key, and the public JWKS.

use std::{collections::HashMap, str::FromStr, sync::RwLock, time::Duration};

use anyhow::{Context, bail};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::Utc;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    },
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Principal, Role, Scopes};
use crate::{
    config::{JwtConfig, KeySpec, MaxLifetime},
    error::{AppError, AppResult},
};

struct Key {
    alg: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    /// Published in the JWKS; `None` for shared secrets, which must never be published.
    public_jwk: Option<Jwk>,
}

pub struct KeySet {
    keys: HashMap<String, Key>,
    signing_kid: String,
    issuer: String,
    audience: String,
    leeway: Duration,
    /// The longest a token may live (`exp - iat`), by role: a leaked token is not good for
    /// ever, whoever signed it.
    max_lifetime: MaxLifetime,
    verified: VerifiedTokens,
}

fn max_lifetime(max: &MaxLifetime, role: Role) -> Duration {
    match role {
        Role::Operator => max.operator,
        Role::Partner => max.partner,
        Role::Member => max.member,
    }
}

/// Tokens already verified, by their SHA-256, with the principal and validity window: a
/// signature check (tens of microseconds for EdDSA or RSA) is then paid once per token, not
/// once per request. Entries are used only inside their window, so expiry still applies.
#[derive(Default)]
struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], (Principal, i64, i64)>>,
}

/// Bounds the cache: a flood of distinct tokens cannot grow it without limit.
const MAX_VERIFIED: usize = 100_000;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32], now: i64, leeway: i64) -> Option<(Principal, i64)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let (principal, nbf, exp) = entries.get(digest)?;
        (now + leeway >= *nbf && now - leeway < *exp).then(|| (principal.clone(), exp + leeway))
    }

    fn insert(&self, digest: [u8; 32], principal: Principal, nbf: i64, exp: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_VERIFIED {
            entries.clear();
        }
        entries.insert(digest, (principal, nbf, exp));
    }
}

/// The claims of DESIGN.md "Auth". Every field the hub relies on is required, so a token
/// missing one (or carrying `exp` as a string) does not deserialize and is refused.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    #[serde(default)]
    pub scope: String,
}

/// A new Ed25519 key pair as PEM text (PKCS#8 private key, SPKI public key), from the
/// operating system's randomness, for `hub keygen`.
pub fn generate_ed25519() -> (String, String) {
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let seed: [u8; 32] = rand::random();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let pem = |label: &str, prefix: &[u8], key: &[u8]| {
        let der = [prefix, key].concat();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    };
    (
        pem("PRIVATE KEY", &PKCS8_PREFIX, &seed),
        pem("PUBLIC KEY", &SPKI_PREFIX, &public),
    )
}

/// RFC 7515 4.1.11: a header that lists critical extensions must be refused by a verifier
/// that does not implement them, and the hub implements none.
fn refuse_critical_extensions(token: &str) -> Result<(), String> {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| "header is not base64url")?;
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| "header is not a JSON object")?;
    match fields.contains_key("crit") {
        true => Err("header lists critical extensions (crit)".into()),
        false => Ok(()),
    }
}

/// What to put in a new token.
pub struct TokenRequest {
    pub principal: Principal,
    pub ttl: Duration,
}

pub struct MintedToken {
    pub token: String,
    pub expires_at: chrono::DateTime<Utc>,
}

fn read_pem(path: &Option<std::path::PathBuf>, kid: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let path = path
        .as_ref()
        .with_context(|| format!("key {kid}: {what} is required for this algorithm"))?;
    std::fs::read(path).with_context(|| format!("key {kid}: reading {}", path.display()))
}

/// The JWK of an Ed25519 public key (jsonwebtoken cannot build one for Ed keys): the SPKI
/// DER of Ed25519 is a fixed 12-byte prefix followed by the 32-byte key.
fn ed25519_jwk(public_pem: &[u8], kid: &str) -> anyhow::Result<Jwk> {
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let text = std::str::from_utf8(public_pem).context("PEM is not text")?;
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body.trim())
        .with_context(|| format!("key {kid}: public key PEM"))?;
    let Some(x) = der.strip_prefix(&SPKI_PREFIX[..]).filter(|x| x.len() == 32) else {
        bail!("key {kid}: not an Ed25519 public key");
    };
    Ok(Jwk {
        common: CommonParameters {
            key_id: Some(kid.to_owned()),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            public_key_use: Some(PublicKeyUse::Signature),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(x),
        }),
    })
}

impl Key {
    fn load(spec: &KeySpec) -> anyhow::Result<Key> {
        let alg = Algorithm::from_str(&spec.alg)
            .map_err(|_| anyhow::anyhow!("key {}: unknown algorithm {:?}", spec.kid, spec.alg))?;
        let kid = spec.kid.as_str();
        let key = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let secret = spec
                    .secret
                    .as_ref()
                    .with_context(|| format!("key {kid}: HS* keys need a secret"))?;
                if secret.len() < 32 {
                    bail!("key {kid}: an HMAC secret must be at least 32 bytes");
                }
                Key {
                    alg,
                    decoding: DecodingKey::from_secret(secret.as_bytes()),
                    encoding: Some(EncodingKey::from_secret(secret.as_bytes())),
                    public_jwk: None,
                }
            }
            _ => {
                let public = read_pem(&spec.public_key_file, kid, "public_key_file")?;
                let decoding = match alg {
                    Algorithm::EdDSA => DecodingKey::from_ed_pem(&public),
                    Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&public),
                    _ => DecodingKey::from_rsa_pem(&public),
                }
                .with_context(|| format!("key {kid}: public key"))?;
                let encoding = match &spec.private_key_file {
                    None => None,
                    Some(_) => {
                        let private = read_pem(&spec.private_key_file, kid, "private_key_file")?;
                        Some(
                            match alg {
                                Algorithm::EdDSA => EncodingKey::from_ed_pem(&private),
                                Algorithm::ES256 | Algorithm::ES384 => {
                                    EncodingKey::from_ec_pem(&private)
                                }
                                _ => EncodingKey::from_rsa_pem(&private),
                            }
                            .with_context(|| format!("key {kid}: private key"))?,
                        )
                    }
                };
                let public_jwk = match (alg, &encoding) {
                    (Algorithm::EdDSA, _) => Some(ed25519_jwk(&public, kid)?),
                    (_, Some(enc)) => {
                        let mut jwk = Jwk::from_encoding_key(enc, alg)
                            .with_context(|| format!("key {kid}: building its JWK"))?;
                        jwk.common.key_id = Some(kid.to_owned());
                        Some(jwk)
                    }
                    (_, None) => None,
                };
                Key {
                    alg,
                    decoding,
                    encoding,
                    public_jwk,
                }
            }
        };
        Ok(key)
    }
}

impl KeySet {
    pub fn from_config(config: &JwtConfig) -> anyhow::Result<KeySet> {
        let mut keys = HashMap::new();
        let mut signing = Vec::new();
        for spec in &config.keys {
            let key = Key::load(spec)?;
            if spec.signing {
                if key.encoding.is_none() {
                    bail!("key {}: a signing key needs its private key", spec.kid);
                }
                signing.push(spec.kid.clone());
            }
            if keys.insert(spec.kid.clone(), key).is_some() {
                bail!("key id {} is configured twice", spec.kid);
            }
        }
        let signing_kid = match signing.as_slice() {
            [one] => one.clone(),
            [] => bail!("no JWT key is marked \"signing\": true"),
            _ => bail!("more than one JWT key is marked \"signing\": true"),
        };
        Ok(KeySet {
            keys,
            signing_kid,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway,
            max_lifetime: config.max_lifetime,
            verified: VerifiedTokens::default(),
        })
    }

    /// Verifies a bearer token and turns it into a principal. Every failure is
    /// `UNAUTHENTICATED`; the reason goes to the log only.
    pub fn verify(&self, token: &str) -> AppResult<Principal> {
        self.verify_until(token).map(|(principal, _)| principal)
    }

    /// As [`verify`](Self::verify), with the last second (Unix time) the token is valid.
    pub fn verify_until(&self, token: &str) -> AppResult<(Principal, i64)> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let leeway = self.leeway.as_secs() as i64;
        if let Some(hit) = self.verified.get(&digest, Utc::now().timestamp(), leeway) {
            return Ok(hit);
        }
        let claims = self.verify_claims(token).map_err(|reason| {
            tracing::info!(%reason, "token refused");
            AppError::Unauthenticated("invalid token")
        })?;
        let principal = principal_from_claims(&claims)?;
        self.verified
            .insert(digest, principal.clone(), claims.nbf, claims.exp);
        Ok((principal, claims.exp + leeway))
    }

    fn verify_claims(&self, token: &str) -> Result<Claims, String> {
        refuse_critical_extensions(token)?;
        let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
        let kid = header.kid.ok_or("no kid")?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| format!("unknown kid {kid}"))?;
        if header.alg != key.alg {
            return Err(format!(
                "alg {:?} is not the pinned {:?}",
                header.alg, key.alg
            ));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        let claims = decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())?;
        let max = max_lifetime(&self.max_lifetime, claims.role).as_secs() as i64;
        let leeway = self.leeway.as_secs() as i64;
        if claims.exp - claims.iat > max || claims.iat > Utc::now().timestamp() + leeway {
            return Err(format!(
                "lifetime {} s is over the {max} s allowed for its role, or iat is in the future",
                claims.exp - claims.iat
            ));
        }
        Ok(claims)
    }

    pub fn mint(&self, request: TokenRequest) -> AppResult<MintedToken> {
        if request.ttl > max_lifetime(&self.max_lifetime, request.principal.role()) {
            return Err(AppError::bad_input(
                "token lifetime is over the maximum for its role",
            ));
        }
        let now = Utc::now();
        let expires_at = now
            + chrono::Duration::from_std(request.ttl)
                .map_err(|_| AppError::bad_input("token lifetime is too long"))?;
        let (role, partner_id, member_id) = match &request.principal {
            Principal::Operator { .. } => (Role::Operator, None, None),
            Principal::Partner { partner_id, .. } => (Role::Partner, Some(*partner_id), None),
            Principal::Member { member_id } => (Role::Member, None, Some(*member_id)),
        };
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: request.principal.subject(),
            exp: expires_at.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4().to_string(),
            role,
            partner_id,
            member_id,
            scope: match role {
                Role::Partner => request.principal.scopes().to_string(),
                _ => String::new(),
            },
        };
        let key = &self.keys[&self.signing_kid];
        let mut header = Header::new(key.alg);
        header.kid = Some(self.signing_kid.clone());
        let encoding = key.encoding.as_ref().expect("checked at load");
        let token = encode(&header, &claims, encoding).map_err(AppError::internal)?;
        Ok(MintedToken { token, expires_at })
    }

    /// Public keys for `/.well-known/jwks.json`: asymmetric keys only.
    pub fn jwks(&self) -> JwkSet {
        let mut keys: Vec<Jwk> = self
            .keys
            .values()
            .filter_map(|key| key.public_jwk.clone())
            .collect();
        keys.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        JwkSet { keys }
    }
}

fn principal_from_claims(claims: &Claims) -> AppResult<Principal> {
    let refuse = |why: &'static str| {
        tracing::info!(reason = why, sub = %claims.sub, "token refused");
        AppError::Unauthenticated("invalid token")
    };
    match claims.role {
        Role::Operator => Ok(Principal::Operator {
            subject: claims.sub.clone(),
        }),
        Role::Partner => Ok(Principal::Partner {
            partner_id: claims
                .partner_id
                .ok_or_else(|| refuse("partner token without partner_id"))?,
            scopes: Scopes::parse_lenient(&claims.scope),
        }),
        Role::Member => Ok(Principal::Member {
            member_id: claims
                .member_id
                .ok_or_else(|| refuse("member token without member_id"))?,
        }),
    }
}
