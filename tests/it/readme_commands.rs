//! The README's run command (`hub dev`) as a user runs it: it prints a URL and working
//! tokens, a partner token from it can create a member and read it back, another partner
//! spends a member's points with the code from the member's app, and the demo's
//! ambassadors are on the board.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{env_url, fresh_database};

/// `hub dev` on a fresh database and Redis prefix, as the README runs it; with `log` its
/// log (stderr) is kept at that filter, else dropped.
async fn hub_dev(log: Option<&str>) -> tokio::process::Child {
    let database_url = fresh_database().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"));
    command
        .arg("dev")
        .env("DATABASE_URL", &database_url)
        .env("REDIS_URL", env_url("REDIS_URL"))
        .env("HUB_LISTEN", "127.0.0.1:0")
        .env(
            "HUB_REDIS_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env_remove("HUB_JWT_KEYS")
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    match log {
        Some(filter) => command.env("RUST_LOG", filter).stderr(Stdio::piped()),
        None => command.stderr(Stdio::null()),
    };
    command.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_command_prints_working_tokens_and_a_url() {
    let mut child = hub_dev(None).await;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("Leaderboards");
            printed.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "hub dev printed no demo within 60 s: {printed:?}"
    );

    let field = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.split_whitespace().next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in {printed:?}"))
    };
    let graphql_url = field("GraphQL:");
    let partner_token = field("token");
    let graphiql = field("GraphiQL:");
    assert!(graphiql.starts_with("http://127.0.0.1:"));

    let client = reqwest::Client::new();
    let call = |query: &'static str| {
        let client = client.clone();
        let url = graphql_url.clone();
        let token = partner_token.clone();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let created = call("mutation { enrollMember(input: {partnerCustomerId: \"README-1\"}) { member { id memberNumber } } }").await;
    let member = &created["data"]["enrollMember"]["member"];
    assert!(member["id"].is_string(), "{created}");
    let read_back =
        call("{ member(ref: {partnerCustomerId: \"README-1\"}) { id memberNumber } }").await;
    assert_eq!(&read_back["data"]["member"], member);

    // Spending at another partner, as printed: the member's code from its app, once.
    let tokens: Vec<String> = printed
        .iter()
        .filter_map(|l| l.trim().strip_prefix("token "))
        .map(str::to_owned)
        .collect();
    let partner_count = printed.iter().filter(|l| l.starts_with("Partner ")).count();
    let (second_partner, first_member) = (&tokens[1], &tokens[partner_count]);
    let number = printed
        .iter()
        .find_map(|l| l.strip_prefix("Member "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let post = async |token: &str, query: &str, variables: Value| -> Value {
        let response = client
            .post(&graphql_url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    };
    let made = post(
        first_member,
        "mutation { createPresenceCode { code } }",
        json!({}),
    )
    .await;
    let code = made["data"]["createPresenceCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let spend = "mutation($n: String!, $c: String) { redeemPoints(input: {member: {memberNumber: $n}, points: 100, idempotencyKey: \"spend-1\", presenceCode: $c}) { balance { available } } }";
    let without = post(second_partner, spend, json!({"n": number, "c": null})).await;
    assert_eq!(
        without["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{without}"
    );
    let spent = post(second_partner, spend, json!({"n": number, "c": code})).await;
    assert_eq!(
        spent["data"]["redeemPoints"]["balance"]["available"], "400",
        "{spent}"
    );

    // The demo's ambassadors reach the boards through the relay of `serve`.
    let mut board = Value::Null;
    for _ in 0..50 {
        board = call("{ leaderboard(period: ALL_TIME) { entries { rank handle score } } }").await;
        if board["data"]["leaderboard"]["entries"]
            .as_array()
            .is_some_and(|e| e.len() == 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        board["data"]["leaderboard"]["entries"],
        json!([{"rank": 1, "handle": "ana_fm", "score": "40"}, {"rank": 2, "handle": "ben_fm", "score": "25"}]),
        "{board}"
    );

    // GraphiQL is served in development.
    let page = client.get(&graphiql).send().await.unwrap();
    assert_eq!(page.status(), 200);
    child.kill().await.unwrap();
}

/// The pages' sign-ins that `hub dev` prints work, and no password, token or cookie ever
/// reaches a log line (every level, trace included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_commands_sign_ins_work_and_no_secret_reaches_a_log_line() {
    let mut child = hub_dev(Some(
        "trace,h2=info,hyper=info,tokio_postgres=info,tungstenite=info",
    ))
    .await;
    let mut log_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = log_lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("Boards:");
            printed.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("hub dev printed no sign-ins within 60 s: {printed:?}"));
    let find = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in {printed:?}"))
            .to_owned()
    };
    let password = find("ops@coalition.example")
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let link = find("wallet").trim().to_owned();
    let (base, member_token) = link.split_once("/app#token=").unwrap();
    let client = reqwest::Client::new();

    // The operator's demo user signs in (once wrongly) and reads as the operator.
    let wrong = client
        .post(format!("{base}/login"))
        .json(&json!({"email": "ops@coalition.example", "password": format!("{password}x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let signed = client
        .post(format!("{base}/login"))
        .json(&json!({"email": "ops@coalition.example", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = signed.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer: Value = client
        .post(format!("{base}/graphql"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"query": "{ viewer { role } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(viewer["data"]["viewer"]["role"], "OPERATOR", "{viewer}");
    // The wallet link opens a member's session.
    let wallet = client
        .post(format!("{base}/app/session"))
        .json(&json!({"token": member_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(wallet.status(), 200);
    let logout = client
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    child.kill().await.unwrap();
    let log = log.await.unwrap();
    assert!(
        log.contains("portal user signed in"),
        "the log was not read"
    );
    let session_token = cookie.split_once('=').unwrap().1;
    for (what, secret) in [
        ("password", password.as_str()),
        ("member token", member_token),
        ("session cookie", session_token),
        ("CSRF token", csrf.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log");
    }
}
