//! The README's run command (`hub dev`) as a user runs it: it prints a URL and working
//! tokens, a partner token from it can create a member and read it back, another partner
//! spends a member's points with the code from the member's app, and the demo's
//! ambassadors are on the board.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{env_url, fresh_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_command_prints_working_tokens_and_a_url() {
    let database_url = fresh_database().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
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
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
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
