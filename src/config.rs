//! Configuration from the environment. Every variable is listed in docs/OPERATIONS.md; each has a
//! development default except the JWT keys, which `serve` requires (see [`JwtConfig`]).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::domain::{
    rate_limit::BucketConfig,
    webhook::{AddressPolicy, RetrySchedule},
};

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of every Redis key this hub writes, so several hubs (or tests) share one Redis.
    pub redis_prefix: String,
    pub listen: SocketAddr,
    /// Public base URL printed by `dev` (GraphiQL, OAuth endpoint).
    pub public_url: Option<String>,
    pub db_pool_size: usize,
    pub db_statement_timeout: Duration,
    pub redis_timeout: Duration,
    /// How often the relay in `serve` projects new ambassador activity into Redis (never
    /// when zero).
    pub leaderboard_relay_interval: Duration,
    /// How long a hub process trusts its cached copy of a partner's status when no change
    /// announcement arrives (changes are announced at once; this bounds a lost channel).
    pub partner_cache_ttl: Duration,
    /// The coalition's money currency (ISO 4217), used for partner rates and settlement.
    pub currency: String,
    pub jwt: JwtConfig,
    pub limits: Limits,
    pub oauth: OAuthLimits,
    /// Query-cost budgets per caller (`RATE_LIMITED`).
    pub rate_limits: RateLimits,
    pub ledger: LedgerConfig,
    pub webhooks: WebhookConfig,
    /// Signed-in browsers of the pages (docs/API.md, "Pages").
    pub sessions: SessionConfig,
    pub graphiql: bool,
    /// Who may introspect the schema (anonymous callers never can).
    pub introspection: Introspection,
}

/// Who may introspect the schema (`HUB_INTROSPECTION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Introspection {
    Off,
    /// The coalition operator only.
    Operator,
    /// Every authenticated caller (code generators need it; the cost is rate limited).
    Authenticated,
}

impl std::str::FromStr for Introspection {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Introspection> {
        match text {
            "off" => Ok(Introspection::Off),
            "operator" => Ok(Introspection::Operator),
            "authenticated" => Ok(Introspection::Authenticated),
            other => bail!("HUB_INTROSPECTION is off, operator or authenticated, not {other:?}"),
        }
    }
}

/// The longest a token may live (`exp - iat`), by role: a leaked token is not good for ever,
/// whoever signed it.
#[derive(Clone, Copy, Debug)]
pub struct MaxLifetime {
    pub operator: Duration,
    pub partner: Duration,
    pub member: Duration,
}

#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: Vec<KeySpec>,
    pub leeway: Duration,
    pub partner_token_ttl: Duration,
    pub member_token_ttl: Duration,
    pub operator_token_ttl: Duration,
    pub max_lifetime: MaxLifetime,
}

/// One entry of `HUB_JWT_KEYS` (a JSON array, or `@path` of a file holding one).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub kid: String,
    /// `HS256`, `HS384`, `HS512`, `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`,
    /// `ES256`, `ES384` or `EdDSA`. Tokens under this kid must use exactly this algorithm.
    pub alg: String,
    /// Shared secret for HS* keys.
    #[serde(default)]
    pub secret: Option<String>,
    /// PEM files for asymmetric keys; the private key is needed only to sign.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// The key new tokens are signed with; exactly one key must have it.
    #[serde(default)]
    pub signing: bool,
}

#[derive(Clone, Debug)]
pub struct LedgerConfig {
    /// Lifetime of earned points when `issuePoints` gives no `expiresAt`.
    pub points_lifetime: chrono::Duration,
    /// Lifetime of a hold when `authorizeRedemption` gives none, and the longest allowed.
    pub hold_ttl: chrono::Duration,
    pub max_hold_ttl: chrono::Duration,
    /// How often `serve` expires lots and holds.
    pub expiry_interval: Duration,
    /// How long a process serves its copy of the live campaigns without an announcement.
    pub campaign_copy_ttl: Duration,
    /// Workers of the issue / redeem group commit, each holding one connection at a time.
    pub batch_workers: usize,
    /// How long a group-commit worker waits for more operations while another batch is in
    /// flight (zero: never).
    pub batch_linger: Duration,
    /// Operations that may wait for a group-commit worker; past that, callers are answered
    /// `RATE_LIMITED` at once and nothing is written.
    pub queue_capacity: usize,
    /// Points a member may donate (`donatePoints`) per UTC day, over all charities.
    pub donation_daily_limit: i64,
    /// Points a member may transfer to family members (`transferPoints`) per UTC day.
    pub transfer_daily_limit: i64,
    /// Transfers a member may send per UTC day.
    pub transfer_daily_count: i32,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            points_lifetime: chrono::Duration::days(730),
            hold_ttl: chrono::Duration::minutes(15),
            max_hold_ttl: chrono::Duration::days(7),
            expiry_interval: Duration::from_secs(60),
            campaign_copy_ttl: Duration::from_secs(10),
            batch_workers: 2,
            batch_linger: Duration::from_micros(500),
            queue_capacity: 1024,
            donation_daily_limit: 10_000,
            transfer_daily_limit: 5_000,
            transfer_daily_count: 5,
        }
    }
}

/// `/oauth/token` attempts, each an Argon2id verification of 19 MiB.
#[derive(Clone, Debug)]
pub struct OAuthLimits {
    /// Attempts per client id per minute, in each hub process.
    pub per_client_per_minute: u32,
    /// Attempts per source address per minute, in each hub process.
    pub per_address_per_minute: u32,
    /// Verifications running at once in a process (their memory: this times 19 MiB).
    pub concurrent_verifications: usize,
}

impl Default for OAuthLimits {
    fn default() -> Self {
        OAuthLimits {
            per_client_per_minute: 20,
            per_address_per_minute: 60,
            concurrent_verifications: 4,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub request_timeout: Duration,
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_depth: 10,
            max_complexity: 500,
            max_aliases: 15,
            max_directives: 10,
            request_timeout: Duration::from_secs(10),
            max_page_size: 100,
        }
    }
}

/// The key pair committed under `dev/keys/`: anyone with the repository holds it.
const DEVELOPMENT_KEY_FILES: [&[u8]; 2] = [
    include_bytes!("../dev/keys/dev-ed25519.pem"),
    include_bytes!("../dev/keys/dev-ed25519.pub.pem"),
];

/// Whether a configured key is the committed development key, recognised by its PEM text
/// wherever the file lies (the Docker image has it under another path).
pub fn uses_development_key(jwt: &JwtConfig) -> bool {
    let text =
        |bytes: &[u8]| -> String { String::from_utf8_lossy(bytes).split_whitespace().collect() };
    let committed: Vec<String> = DEVELOPMENT_KEY_FILES.iter().map(|b| text(b)).collect();
    jwt.keys
        .iter()
        .flat_map(|k| [&k.private_key_file, &k.public_key_file])
        .flatten()
        .filter_map(|path| std::fs::read(path).ok())
        .any(|bytes| committed.contains(&text(&bytes)))
}

/// Keys committed under `dev/keys/` for development and the demo: never for production.
pub fn development_keys() -> Vec<KeySpec> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dev/keys");
    vec![KeySpec {
        kid: "dev-ed25519".into(),
        alg: "EdDSA".into(),
        secret: None,
        private_key_file: Some(dir.join("dev-ed25519.pem")),
        public_key_file: Some(dir.join("dev-ed25519.pub.pem")),
        signing: true,
    }]
}

impl Config {
    /// Development defaults with the given service URLs: what tests and tools start from.
    pub fn development(database_url: String, redis_url: String) -> Config {
        Config {
            database_url,
            redis_url,
            redis_prefix: "hub:".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            db_pool_size: 4,
            db_statement_timeout: Duration::from_secs(5),
            redis_timeout: Duration::from_millis(500),
            leaderboard_relay_interval: Duration::from_millis(200),
            partner_cache_ttl: Duration::from_secs(30),
            currency: "EUR".into(),
            jwt: JwtConfig {
                issuer: "coalition-hub".into(),
                audience: "coalition-hub-api".into(),
                keys: development_keys(),
                leeway: Duration::from_secs(30),
                partner_token_ttl: Duration::from_secs(3600),
                member_token_ttl: Duration::from_secs(900),
                operator_token_ttl: Duration::from_secs(3600),
                max_lifetime: MaxLifetime {
                    operator: Duration::from_secs(12 * 3600),
                    partner: Duration::from_secs(24 * 3600),
                    member: Duration::from_secs(24 * 3600),
                },
            },
            limits: Limits::default(),
            rate_limits: RateLimits::default(),
            oauth: OAuthLimits::default(),
            ledger: LedgerConfig::default(),
            webhooks: WebhookConfig {
                // Development receivers run on this machine.
                addresses: AddressPolicy {
                    allow_loopback: true,
                    allow_private: false,
                },
                ..WebhookConfig::default()
            },
            sessions: SessionConfig::default(),
            graphiql: false,
            introspection: Introspection::Authenticated,
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}")),
    }
}

fn millis(name: &str, default_ms: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(parse_var(name, default_ms)?))
}

fn secs(name: &str, default_s: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(parse_var(name, default_s)?))
}

impl Config {
    /// Reads the environment. `dev_defaults` lets `dev` and tests fall back to the committed
    /// development keys; `serve` passes false and refuses to start without `HUB_JWT_KEYS`.
    pub fn from_env(dev_defaults: bool) -> anyhow::Result<Config> {
        let keys = match var("HUB_JWT_KEYS") {
            Some(raw) => parse_keys(&raw)?,
            None if dev_defaults => development_keys(),
            None => bail!(
                "HUB_JWT_KEYS is not set: give the hub its JWT keys (see docs/OPERATIONS.md, \"Configuration\")"
            ),
        };
        let db_pool_size: usize = parse_var("HUB_DB_POOL_SIZE", 10)?;
        let config = Config {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://hub@127.0.0.1:54329/hub".into()),
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:63799/".into()),
            redis_prefix: var("HUB_REDIS_PREFIX").unwrap_or_else(|| "hub:".into()),
            listen: parse_var("HUB_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            public_url: var("HUB_PUBLIC_URL"),
            db_pool_size,
            db_statement_timeout: millis("HUB_DB_STATEMENT_TIMEOUT_MS", 5_000)?,
            redis_timeout: millis("HUB_REDIS_TIMEOUT_MS", 500)?,
            leaderboard_relay_interval: millis("HUB_LEADERBOARD_RELAY_INTERVAL_MS", 200)?,
            partner_cache_ttl: millis("HUB_PARTNER_CACHE_TTL_MS", 30_000)?,
            currency: var("HUB_CURRENCY").unwrap_or_else(|| "EUR".into()),
            jwt: JwtConfig::from_env(keys)?,
            oauth: OAuthLimits::from_env()?,
            rate_limits: RateLimits::from_env()?,
            limits: Limits::from_env()?,
            ledger: LedgerConfig::from_env(db_pool_size)?,
            webhooks: WebhookConfig::from_env(dev_defaults)?,
            sessions: SessionConfig::from_env()?,
            graphiql: parse_var("HUB_GRAPHIQL", dev_defaults)?,
            introspection: parse_var("HUB_INTROSPECTION", Introspection::Authenticated)?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Whether session cookies are `Secure`: always outside loopback.
    pub fn secure_cookies(&self) -> bool {
        self.sessions.secure_cookies.unwrap_or_else(|| {
            let https = self
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https:"));
            https || !self.listen.ip().is_loopback()
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.db_pool_size == 0 {
            bail!("HUB_DB_POOL_SIZE must be at least 1");
        }
        if self.ledger.queue_capacity == 0 {
            bail!("HUB_LEDGER_QUEUE_CAPACITY must be at least 1");
        }
        if self.ledger.batch_workers >= self.db_pool_size {
            // Busy group-commit workers keep their connections; reads need the rest.
            bail!("HUB_LEDGER_BATCH_WORKERS must be below HUB_DB_POOL_SIZE");
        }
        if !crate::domain::money::is_currency_code(&self.currency) {
            bail!("HUB_CURRENCY must be a three-letter ISO 4217 code");
        }
        if self.limits.max_page_size == 0 {
            bail!("HUB_MAX_PAGE_SIZE must be at least 1");
        }
        self.webhooks.validate()
    }
}

fn parse_keys(raw: &str) -> anyhow::Result<Vec<KeySpec>> {
    let json = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading HUB_JWT_KEYS file {path}"))?,
        None => raw.to_owned(),
    };
    serde_json::from_str(&json).context("HUB_JWT_KEYS must be a JSON array of keys")
}

impl JwtConfig {
    fn from_env(keys: Vec<KeySpec>) -> anyhow::Result<JwtConfig> {
        Ok(JwtConfig {
            issuer: var("HUB_JWT_ISSUER").unwrap_or_else(|| "coalition-hub".into()),
            audience: var("HUB_JWT_AUDIENCE").unwrap_or_else(|| "coalition-hub-api".into()),
            keys,
            leeway: secs("HUB_JWT_LEEWAY_SECS", 30)?,
            partner_token_ttl: secs("HUB_PARTNER_TOKEN_TTL_SECS", 3600)?,
            member_token_ttl: secs("HUB_MEMBER_TOKEN_TTL_SECS", 900)?,
            operator_token_ttl: secs("HUB_OPERATOR_TOKEN_TTL_SECS", 3600)?,
            max_lifetime: MaxLifetime {
                operator: secs("HUB_OPERATOR_TOKEN_MAX_LIFETIME_SECS", 12 * 3600)?,
                partner: secs("HUB_PARTNER_TOKEN_MAX_LIFETIME_SECS", 24 * 3600)?,
                member: secs("HUB_MEMBER_TOKEN_MAX_LIFETIME_SECS", 24 * 3600)?,
            },
        })
    }
}

/// Query-cost budgets: one bucket per partner (all its credentials together) and one per
/// member, shared by every hub process through Redis. The operator is not limited.
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub partner: BucketConfig,
    pub member: BucketConfig,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            partner: BucketConfig {
                capacity: 50_000,
                refill_per_sec: 10_000,
            },
            member: BucketConfig {
                capacity: 5_000,
                refill_per_sec: 250,
            },
        }
    }
}

impl RateLimits {
    fn from_env() -> anyhow::Result<RateLimits> {
        let defaults = RateLimits::default();
        let bucket = |burst: &str, per_sec: &str, default: BucketConfig| {
            Ok::<_, anyhow::Error>(BucketConfig {
                capacity: parse_var(burst, default.capacity)?,
                refill_per_sec: parse_var(per_sec, default.refill_per_sec)?,
            })
        };
        Ok(RateLimits {
            partner: bucket(
                "HUB_RATE_LIMIT_PARTNER_BURST",
                "HUB_RATE_LIMIT_PARTNER_PER_SEC",
                defaults.partner,
            )?,
            member: bucket(
                "HUB_RATE_LIMIT_MEMBER_BURST",
                "HUB_RATE_LIMIT_MEMBER_PER_SEC",
                defaults.member,
            )?,
        })
    }
}

/// Sessions of the pages' users (docs/API.md, "Pages").
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
    /// Wrong passwords in a row that lock an account...
    pub max_failed_logins: i32,
    /// ...for this long.
    pub lockout: Duration,
    /// `Secure` cookies; None: unless the hub listens on loopback only and its public URL
    /// (if any) is not https.
    pub secure_cookies: Option<bool>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            max_failed_logins: 5,
            lockout: Duration::from_secs(15 * 60),
            secure_cookies: None,
        }
    }
}

impl SessionConfig {
    fn from_env() -> anyhow::Result<SessionConfig> {
        let d = SessionConfig::default();
        let config = SessionConfig {
            idle: secs("HUB_SESSION_IDLE_SECS", d.idle.as_secs())?,
            absolute: secs("HUB_SESSION_MAX_SECS", d.absolute.as_secs())?,
            max_failed_logins: parse_var("HUB_LOGIN_MAX_FAILURES", d.max_failed_logins)?,
            lockout: secs("HUB_LOGIN_LOCKOUT_SECS", d.lockout.as_secs())?,
            secure_cookies: var("HUB_SECURE_COOKIES")
                .map(|raw| raw.trim().parse())
                .transpose()
                .map_err(|e| anyhow::anyhow!("HUB_SECURE_COOKIES is not true or false: {e}"))?,
        };
        if config.idle.is_zero() || config.absolute < config.idle {
            bail!("HUB_SESSION_IDLE_SECS must be above 0 and at most HUB_SESSION_MAX_SECS");
        }
        if config.max_failed_logins < 1 {
            bail!("HUB_LOGIN_MAX_FAILURES must be at least 1");
        }
        Ok(config)
    }
}

/// Webhook delivery (docs/WEBHOOKS.md).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// How often each process dispatches events and looks for deliveries due; 0: this
    /// process delivers nothing (others may).
    pub poll_interval: Duration,
    pub connect_timeout: Duration,
    /// The whole POST, answer included.
    pub timeout: Duration,
    /// How long a process holds a subscription between two deliveries; another process
    /// takes it over when this runs out (a process died).
    pub lease: Duration,
    /// Subscriptions one process delivers to at once.
    pub concurrency: usize,
    pub events_per_delivery: i32,
    /// Recent events each process keeps in memory, read once and shared by all the
    /// subscriptions it delivers to; one further behind reads its own from PostgreSQL.
    pub tail_events: usize,
    pub retry: RetrySchedule,
    /// A subscription failing this long is disabled.
    pub retry_for: Duration,
    pub addresses: AddressPolicy,
    /// `points.expiring` is sent this many days before the points expire.
    pub expiry_notice_days: i32,
    /// How often the jobs that find expiring points and tier changes run.
    pub jobs_interval: Duration,
    /// The tier watch reads entries this old: every transaction that wrote one has ended.
    pub tier_settle: Duration,
    /// Delivered deliveries and events are forgotten after this.
    pub retention: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            poll_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            concurrency: 64,
            events_per_delivery: 100,
            tail_events: 20_000,
            retry: RetrySchedule {
                base: Duration::from_secs(10),
                max: Duration::from_secs(3600),
            },
            retry_for: Duration::from_secs(3 * 86_400),
            addresses: AddressPolicy::default(),
            expiry_notice_days: 7,
            jobs_interval: Duration::from_secs(10),
            tier_settle: Duration::from_secs(30),
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}

impl WebhookConfig {
    fn from_env(dev_defaults: bool) -> anyhow::Result<WebhookConfig> {
        let d = WebhookConfig::default();
        Ok(WebhookConfig {
            poll_interval: millis("HUB_WEBHOOK_POLL_MS", d.poll_interval.as_millis() as u64)?,
            connect_timeout: millis(
                "HUB_WEBHOOK_CONNECT_TIMEOUT_MS",
                d.connect_timeout.as_millis() as u64,
            )?,
            timeout: millis("HUB_WEBHOOK_TIMEOUT_MS", d.timeout.as_millis() as u64)?,
            lease: secs("HUB_WEBHOOK_LEASE_SECS", d.lease.as_secs())?,
            concurrency: parse_var("HUB_WEBHOOK_CONCURRENCY", d.concurrency)?,
            events_per_delivery: parse_var(
                "HUB_WEBHOOK_EVENTS_PER_DELIVERY",
                d.events_per_delivery,
            )?,
            tail_events: parse_var("HUB_WEBHOOK_TAIL_EVENTS", d.tail_events)?,
            retry: RetrySchedule {
                base: millis("HUB_WEBHOOK_RETRY_BASE_MS", d.retry.base.as_millis() as u64)?,
                max: secs("HUB_WEBHOOK_RETRY_MAX_SECS", d.retry.max.as_secs())?,
            },
            retry_for: secs("HUB_WEBHOOK_RETRY_FOR_SECS", d.retry_for.as_secs())?,
            addresses: AddressPolicy {
                allow_loopback: parse_var("HUB_WEBHOOK_ALLOW_LOOPBACK", dev_defaults)?,
                allow_private: parse_var("HUB_WEBHOOK_ALLOW_PRIVATE", false)?,
            },
            expiry_notice_days: parse_var("HUB_WEBHOOK_EXPIRY_NOTICE_DAYS", d.expiry_notice_days)?,
            jobs_interval: secs("HUB_WEBHOOK_JOBS_SECS", d.jobs_interval.as_secs())?,
            tier_settle: secs("HUB_WEBHOOK_TIER_SETTLE_SECS", d.tier_settle.as_secs())?,
            retention: Duration::from_secs(
                86_400 * parse_var::<u64>("HUB_WEBHOOK_RETENTION_DAYS", 30)?,
            ),
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.concurrency == 0 {
            bail!("HUB_WEBHOOK_CONCURRENCY must be at least 1");
        }
        if !(1..=1000).contains(&self.events_per_delivery) {
            bail!("HUB_WEBHOOK_EVENTS_PER_DELIVERY must be 1 to 1000");
        }
        if !(1_000..=1_000_000).contains(&self.tail_events) {
            bail!("HUB_WEBHOOK_TAIL_EVENTS must be 1000 to 1000000");
        }
        if !(0..=365).contains(&self.expiry_notice_days) {
            bail!("HUB_WEBHOOK_EXPIRY_NOTICE_DAYS must be 0 to 365");
        }
        // A process that still waits on a receiver must not lose its subscription to another
        // process, which would send the same delivery meanwhile.
        if self.lease < self.timeout * 2 {
            bail!("HUB_WEBHOOK_LEASE_SECS must be at least twice HUB_WEBHOOK_TIMEOUT_MS");
        }
        Ok(())
    }
}

impl OAuthLimits {
    fn from_env() -> anyhow::Result<OAuthLimits> {
        Ok(OAuthLimits {
            per_client_per_minute: parse_var("HUB_OAUTH_ATTEMPTS_PER_CLIENT", 20)?,
            per_address_per_minute: parse_var("HUB_OAUTH_ATTEMPTS_PER_ADDRESS", 60)?,
            concurrent_verifications: parse_var("HUB_OAUTH_CONCURRENT_VERIFICATIONS", 4)?,
        })
    }
}

impl Limits {
    fn from_env() -> anyhow::Result<Limits> {
        let defaults = Limits::default();
        Ok(Limits {
            max_body_bytes: parse_var("HUB_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            max_depth: parse_var("HUB_MAX_DEPTH", defaults.max_depth)?,
            max_complexity: parse_var("HUB_MAX_COMPLEXITY", defaults.max_complexity)?,
            max_aliases: parse_var("HUB_MAX_ALIASES", defaults.max_aliases)?,
            max_directives: parse_var("HUB_MAX_DIRECTIVES", defaults.max_directives)?,
            request_timeout: millis(
                "HUB_REQUEST_TIMEOUT_MS",
                defaults.request_timeout.as_millis() as u64,
            )?,
            max_page_size: parse_var("HUB_MAX_PAGE_SIZE", defaults.max_page_size)?,
        })
    }
}

impl LedgerConfig {
    fn from_env(db_pool_size: usize) -> anyhow::Result<LedgerConfig> {
        Ok(LedgerConfig {
            points_lifetime: chrono::Duration::days(parse_var("HUB_POINTS_LIFETIME_DAYS", 730)?),
            hold_ttl: chrono::Duration::seconds(parse_var("HUB_HOLD_TTL_SECS", 900)?),
            max_hold_ttl: chrono::Duration::seconds(parse_var("HUB_MAX_HOLD_TTL_SECS", 604_800)?),
            expiry_interval: secs("HUB_EXPIRY_INTERVAL_SECS", 60)?,
            campaign_copy_ttl: secs("HUB_CAMPAIGN_COPY_SECS", 10)?,
            // Busy workers keep their connections: by default they leave one for reads.
            batch_workers: parse_var(
                "HUB_LEDGER_BATCH_WORKERS",
                6.min(db_pool_size.saturating_sub(1)).max(1),
            )?,
            batch_linger: Duration::from_micros(parse_var("HUB_LEDGER_BATCH_LINGER_US", 500)?),
            queue_capacity: parse_var("HUB_LEDGER_QUEUE_CAPACITY", 1024)?,
            donation_daily_limit: parse_var("HUB_DONATION_DAILY_LIMIT", 10_000)?,
            transfer_daily_limit: parse_var("HUB_TRANSFER_DAILY_LIMIT", 5_000)?,
            transfer_daily_count: parse_var("HUB_TRANSFER_DAILY_COUNT", 5)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_secure_outside_loopback() {
        let mut config = Config::development("postgres://x".into(), "redis://x".into());
        assert!(
            !config.secure_cookies(),
            "loopback, plain http: a developer's machine"
        );
        config.public_url = Some("https://hub.example".into());
        assert!(config.secure_cookies(), "served over https through a proxy");
        config.public_url = None;
        config.listen = SocketAddr::from(([0, 0, 0, 0], 8080));
        assert!(config.secure_cookies(), "reachable from other machines");
        config.sessions.secure_cookies = Some(false);
        assert!(!config.secure_cookies(), "the operator's explicit choice");
    }

    #[test]
    fn the_pool_must_outnumber_the_group_commit_workers() {
        let mut config = Config::development("postgres://x".into(), "redis://x".into());
        config.db_pool_size = 4;
        config.ledger.batch_workers = 3;
        assert!(config.validate().is_ok());
        config.ledger.batch_workers = 4;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("HUB_LEDGER_BATCH_WORKERS"), "{error}");
    }
}
