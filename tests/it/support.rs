//! `TestApp`: a real hub on a real PostgreSQL (its own database, cloned from a template
//! migrated once) and a real Redis (its own key prefix), served over real HTTP on loopback.

use std::{path::PathBuf, time::Duration};

use coalition_hub::{
    AppState, Config,
    auth::{Principal, Scopes, TokenRequest},
    config::KeySpec,
    db,
};
use diesel::sql_query;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with scripts/test.sh (it starts PostgreSQL and Redis)"
        )
    })
}

/// The database URL with another database name.
pub fn url_for_database(base: &str, database: &str) -> String {
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database name");
    format!("{prefix}/{database}")
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

pub const HS_SECRET: &str = "test-hmac-secret-that-is-long-enough-0123456789";

/// Three keys, as in a rotation: Ed25519 signs; RSA and HMAC keys still verify.
pub fn test_keys() -> Vec<KeySpec> {
    vec![
        KeySpec {
            kid: "test-ed".into(),
            alg: "EdDSA".into(),
            secret: None,
            private_key_file: Some(fixture("ed25519.pem")),
            public_key_file: Some(fixture("ed25519.pub.pem")),
            signing: true,
        },
        KeySpec {
            kid: "test-rsa".into(),
            alg: "RS256".into(),
            secret: None,
            private_key_file: None,
            public_key_file: Some(fixture("rsa.pub.pem")),
            signing: false,
        },
        KeySpec {
            kid: "test-hs".into(),
            alg: "HS256".into(),
            secret: Some(HS_SECRET.into()),
            private_key_file: None,
            public_key_file: None,
            signing: false,
        },
    ]
}

/// A hash of everything `hub migrate` applies: the migrations and the `sql/` files (path
/// and text), so that a change to any of them makes a new template.
fn migrations_hash() -> String {
    fn collect(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("migrations"), &mut files);
    collect(&root.join("sql"), &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).unwrap());
    }
    format!("{:x}", hasher.finalize())[..16].to_owned()
}

/// The name of the migrated template database, created once per migration set.
pub async fn template_database() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let base = env_url("DATABASE_URL");
            let name = format!("hub_tpl_{}", migrations_hash());
            let mut admin = AsyncPgConnection::establish(&base).await.unwrap();
            // Test processes may run side by side: one creates the template, others wait.
            sql_query("SELECT pg_advisory_lock(727274)")
                .execute(&mut admin)
                .await
                .unwrap();
            let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result(&mut admin)
            .await
            .unwrap();
            if exists == 0 {
                let building = format!("{name}_building");
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
                    .await
                    .unwrap();
                admin
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                // The migration harness blocks in place, which needs a multi-threaded
                // runtime; most tests run on the current-thread one.
                let url = url_for_database(&base, &building);
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(db::migrate(&url))
                })
                .join()
                .unwrap()
                .unwrap();
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {building} RENAME TO {name}; ALTER DATABASE {name} IS_TEMPLATE true"
                    ))
                    .await
                    .unwrap();
            }
            sql_query("SELECT pg_advisory_unlock(727274)")
                .execute(&mut admin)
                .await
                .unwrap();
            name
        })
        .await
}

/// A new database cloned from the template; returns its URL.
pub async fn fresh_database() -> String {
    let template = template_database().await;
    let base = env_url("DATABASE_URL");
    let name = format!("hub_test_{}", Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&base).await.unwrap();
    // Cloning fails while another session copies the same template: retry briefly.
    let mut attempt = 0;
    loop {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(()) => break,
            Err(e) if attempt < 50 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50 + 20 * attempt)).await;
            }
            Err(e) => panic!("creating test database: {e}"),
        }
    }
    url_for_database(&base, &name)
}

pub fn test_config(database_url: String) -> Config {
    let mut config = Config::development(database_url, env_url("REDIS_URL"));
    config.redis_prefix = format!("test:{}:", Uuid::new_v4().simple());
    config.jwt.keys = test_keys();
    // Tests run expiry themselves, at the times they choose.
    config.ledger.expiry_interval = Duration::ZERO;
    config
}

pub struct TestApp {
    pub state: AppState,
    pub base_url: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct TestAppBuilder {
    config: Config,
}

impl TestAppBuilder {
    pub fn config(mut self, edit: impl FnOnce(&mut Config)) -> Self {
        edit(&mut self.config);
        self
    }

    pub async fn spawn(self) -> TestApp {
        coalition_hub::telemetry::init_with_default("warn");
        let state = AppState::new(self.config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            coalition_hub::server::serve(server_state, listener)
                .await
                .unwrap();
        });
        TestApp {
            state,
            base_url,
            client: reqwest::Client::new(),
            server,
        }
    }
}

/// A GraphQL response as the client saw it.
#[derive(Debug)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The `extensions.code` of the first error.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }

    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// Refused before execution or with no data at all.
    pub fn has_no_data(&self) -> bool {
        self.body.get("data").is_none_or(Value::is_null)
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::builder().await.spawn().await
    }

    pub async fn builder() -> TestAppBuilder {
        TestApp::builder_on(fresh_database().await)
    }

    /// A hub on an existing database: several of them make a multi-process deployment.
    pub fn builder_on(database_url: String) -> TestAppBuilder {
        TestAppBuilder {
            config: test_config(database_url),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The Prometheus text of `/metrics` (as the operator).
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(self.operator_token())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Gql {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap();
        Gql { status, body }
    }

    pub fn mint(&self, principal: Principal) -> String {
        self.state
            .keys
            .mint(TokenRequest {
                principal,
                ttl: Duration::from_secs(600),
            })
            .unwrap()
            .token
    }

    pub fn operator_token(&self) -> String {
        self.mint(Principal::Operator {
            subject: "test-operator".into(),
        })
    }

    pub fn partner_token(&self, partner_id: &str, scopes: &str) -> String {
        self.mint(Principal::Partner {
            partner_id: partner_id.parse().unwrap(),
            scopes: Scopes::parse_strict(scopes).unwrap(),
        })
    }

    pub fn member_token(&self, member_id: &str) -> String {
        self.mint(Principal::Member {
            member_id: member_id.parse().unwrap(),
        })
    }

    /// Creates a partner as the operator; returns its id.
    pub async fn create_partner(&self, slug: &str) -> String {
        let response = self
            .gql(
                &self.operator_token(),
                "mutation($input: CreatePartnerInput!) { createPartner(input: $input) { id } }",
                json!({ "input": {
                    "name": format!("Partner {slug}"),
                    "slug": slug,
                    "category": "RETAIL",
                    "earnRate": "1.5",
                }}),
            )
            .await;
        response.data()["createPartner"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Enrols a member for the partner (token with points:issue); returns its id and number.
    pub async fn enroll(&self, partner_token: &str, customer_id: &str) -> (String, String) {
        let response = self
            .gql(
                partner_token,
                "mutation($c: String!) { enrollMember(input: {partnerCustomerId: $c}) { member { id memberNumber } } }",
                json!({ "c": customer_id }),
            )
            .await;
        let member = &response.data()["enrollMember"]["member"];
        (
            member["id"].as_str().unwrap().to_owned(),
            member["memberNumber"].as_str().unwrap().to_owned(),
        )
    }

    /// A presence code from the member's app.
    pub async fn presence_code(&self, member_id: &str) -> String {
        let response = self
            .gql(
                &self.member_token(member_id),
                "mutation { createPresenceCode { code expiresAt } }",
                json!({}),
            )
            .await;
        response.data()["createPresenceCode"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The member grants the partner standing consent.
    pub async fn grant_consent(&self, member_id: &str, partner_id: &str) {
        self.gql(
            &self.member_token(member_id),
            "mutation($p: ID!) { grantPartnerConsent(partnerId: $p) { grantedAt } }",
            json!({ "p": partner_id }),
        )
        .await
        .data();
    }

    /// Links the member to the partner (token with points:issue) under `customer_id`, with
    /// a presence code the member's app made for it.
    pub async fn link_present(&self, partner_token: &str, member_id: &str, customer_id: &str) {
        let code = self.presence_code(member_id).await;
        self.gql(
            partner_token,
            "mutation($m: ID!, $c: String!, $code: String!) { linkMember(input: {member: {memberId: $m}, partnerCustomerId: $c, presenceCode: $code}) { id } }",
            json!({ "m": member_id, "c": customer_id, "code": code }),
        )
        .await
        .data();
    }

    pub async fn sql_text(&self, query: &str) -> String {
        let mut conn = self.state.db.get().await.unwrap();
        diesel::dsl::sql::<diesel::sql_types::Text>(query)
            .get_result(&mut conn)
            .await
            .unwrap()
    }

    pub async fn sql_count(&self, query: &str) -> i64 {
        let mut conn = self.state.db.get().await.unwrap();
        diesel::dsl::sql::<diesel::sql_types::BigInt>(query)
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}

pub const ALL_SCOPES: &str = "points:issue points:redeem points:reverse members:read members:token settlement:read ambassadors:write partner:admin";

/// A port nothing listens on now (for a process the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
