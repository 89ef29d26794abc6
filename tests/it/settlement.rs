//! Settlement through the API on real PostgreSQL: a worked example checked by hand, rate
//! changes, exactly-once period close under concurrent redemptions, isolation, CSV, bad input.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use coalition_hub::{domain::settlement::Statement, services::expiry};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::{
    ledger::Coalition,
    support::{ALL_SCOPES, Gql, TestApp},
};

const STATEMENT: &str = "id periodStart periodEnd contentHash recordCount currency
    lines { issuer { id name } redeemer { id name } points amount { amount currency } }
    internalRedemptions { partner { id } points }
    issuanceFees { partner { id } points amount { amount } }
    breakage { partner { id } points }
    debtRepayments { partner { id } points }
    positions { party { id isHub } grossPayable { amount } grossReceivable { amount } net { amount } }
    transfers { from { id } to { id } amount { amount } }";

async fn partner_id(c: &Coalition, index: usize) -> String {
    c.app
        .sql_text(&format!(
            "SELECT id::text FROM partners WHERE slug = 'partner-{index}'"
        ))
        .await
}

async fn set_rates(c: &Coalition, partner: &str, value: &str, fee: &str, from: &str) -> Gql {
    c.app
        .gql(
            &c.app.operator_token(),
            "mutation($input: SetPartnerRatesInput!) { setPartnerRates(input: $input) { partnerId redemptionValue issuanceFee effectiveFrom } }",
            json!({"input": {"partnerId": partner, "redemptionValue": value, "issuanceFee": fee, "effectiveFrom": from}}),
        )
        .await
}

async fn close(c: &Coalition, cutoff: DateTime<Utc>) -> Gql {
    c.app
        .gql(
            &c.app.operator_token(),
            &format!(
                "mutation($c: DateTime!) {{ closeSettlementPeriod(cutoff: $c) {{ {STATEMENT} }} }}"
            ),
            json!({"c": cutoff.to_rfc3339()}),
        )
        .await
}

async fn statement_as(c: &Coalition, token: &str, id: &str) -> Gql {
    c.app
        .gql(
            token,
            &format!("query($id: ID!) {{ settlementStatement(id: $id) {{ {STATEMENT} }} }}"),
            json!({"id": id}),
        )
        .await
}

/// (issuer, redeemer) -> (points, amount) of a statement's lines.
fn lines(s: &Value) -> BTreeMap<(String, String), (String, String)> {
    s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                (
                    l["issuer"]["id"].as_str().unwrap().to_owned(),
                    l["redeemer"]["id"].as_str().unwrap().to_owned(),
                ),
                (
                    l["points"].as_str().unwrap().to_owned(),
                    l["amount"]["amount"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

fn by_partner(s: &Value, field: &str, value: &str) -> BTreeMap<String, String> {
    s[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let v = &l[value];
            let v = v.get("amount").unwrap_or(v);
            (
                l["partner"]["id"].as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// party -> (gross payable, gross receivable, net)
fn positions(s: &Value) -> BTreeMap<String, (String, String, String)> {
    s["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let m = |f: &str| p[f]["amount"].as_str().unwrap().to_owned();
            (
                p["party"]["id"].as_str().unwrap().to_owned(),
                (m("grossPayable"), m("grossReceivable"), m("net")),
            )
        })
        .collect()
}

fn transfers(s: &Value) -> Vec<(String, String, String)> {
    s["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["from"]["id"].as_str().unwrap().to_owned(),
                t["to"]["id"].as_str().unwrap().to_owned(),
                t["amount"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// The events of the worked example (README "Settlement"), then the statement checked
/// against figures computed by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_example_matches_the_hand_computed_statement() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    let (a, b, cc) = (
        partner_id(&c, 0).await,
        partner_id(&c, 1).await,
        partner_id(&c, 2).await,
    );
    let since = "2020-01-01T00:00:00Z";
    set_rates(&c, &a, "0.01", "0.002", since).await.data();
    set_rates(&c, &b, "0.012", "0.003", since).await.data();
    set_rates(&c, &cc, "0.0085", "0.0015", since).await.data();

    let now = Utc::now();
    let later = (now + Duration::days(300)).to_rfc3339();
    let sooner = (now + Duration::days(100)).to_rfc3339();
    let earn_a = c.issue_with(0, json!({"member": {"partnerCustomerId": "M"}, "points": 1000, "idempotencyKey": "ea", "expiresAt": later})).await;
    c.issue_with(1, json!({"member": {"partnerCustomerId": "M"}, "points": 500, "idempotencyKey": "eb", "expiresAt": sooner})).await.data();
    // B's lot expires sooner: 300 at B come from it (internal), then 400 at C take B's last
    // 200 and 200 of A's.
    c.redeem(1, 300, "rb").await.data();
    let at_c = c.redeem(2, 400, "rc").await;
    let at_c = at_c.data()["redeemPoints"]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // C refunds 100 of it: back into the latest-expiring lot the redemption used, A's.
    c.reverse(2, &at_c, Some(100), "refund").await.data();
    // A reverses 50 of its earn (clawback).
    let earn_a = earn_a.data()["issuePoints"]["entry"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.reverse(0, &earn_a, Some(50), "clawback").await.data();
    // C issues 30 that expire unspent.
    let soon = (Utc::now() + Duration::seconds(2)).to_rfc3339();
    c.issue_with(2, json!({"member": {"partnerCustomerId": "M"}, "points": 30, "idempotencyKey": "ec", "expiresAt": soon})).await.data();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let run = expiry::run(&c.app.state.db, None, Utc::now(), |_| {})
        .await
        .unwrap();
    assert_eq!(run.points_expired, 30);
    c.verify().await;

    let closed = close(&c, Utc::now()).await;
    let st = &closed.data()["closeSettlementPeriod"];
    // A->C: 200 - 100 refunded = 100 x 0.0085 = 0.85; B->C: 200 x 0.0085 = 1.70.
    assert_eq!(
        lines(st),
        BTreeMap::from([
            (pair(&a, &cc), (s("100"), s("0.85"))),
            (pair(&b, &cc), (s("200"), s("1.7"))),
        ])
    );
    assert_eq!(
        by_partner(st, "internalRedemptions", "points"),
        BTreeMap::from([(b.clone(), s("300"))])
    );
    // Fees: A (1000 - 50) x 0.002 = 1.90; B 500 x 0.003 = 1.50; C 30 x 0.0015 = 0.045,
    // half-even to 0.04.
    assert_eq!(
        by_partner(st, "issuanceFees", "amount"),
        BTreeMap::from([
            (a.clone(), s("1.9")),
            (b.clone(), s("1.5")),
            (cc.clone(), s("0.04"))
        ])
    );
    assert_eq!(by_partner(st, "issuanceFees", "points")[&a], "950");
    assert_eq!(
        by_partner(st, "breakage", "points"),
        BTreeMap::from([(cc.clone(), s("30"))])
    );
    assert_eq!(st["debtRepayments"], json!([]));
    assert_eq!(
        positions(st),
        BTreeMap::from([
            (a.clone(), (s("2.75"), s("0"), s("-2.75"))),
            (b.clone(), (s("3.2"), s("0"), s("-3.2"))),
            (cc.clone(), (s("0.04"), s("2.55"), s("2.51"))),
            (s("HUB"), (s("0"), s("3.44"), s("3.44"))),
        ])
    );
    // Largest debtor to largest creditor: B pays the hub 3.20; then A (2.75) pays C (2.51),
    // and the hub's last 0.24.
    assert_eq!(
        transfers(st),
        vec![
            (b.clone(), s("HUB"), s("3.2")),
            (a.clone(), cc.clone(), s("2.51")),
            (a.clone(), s("HUB"), s("0.24")),
        ]
    );

    // Closing again with the same cut-off returns the same statement; the stored text
    // re-hashes to its hash.
    let cutoff: DateTime<Utc> = st["periodEnd"].as_str().unwrap().parse().unwrap();
    let again = close(&c, cutoff).await;
    assert_eq!(again.data()["closeSettlementPeriod"], *st);
    let stored = c
        .app
        .sql_text("SELECT statement::text FROM settlement_periods")
        .await;
    let parsed: Statement = serde_json::from_str(&stored).unwrap();
    assert_eq!(parsed.content_hash(), st["contentHash"].as_str().unwrap());

    // Isolation: partner A sees its own pair and position, not B<->C or the others' positions.
    let token_a = c.app.partner_token(&a, "settlement:read");
    let id = st["id"].as_str().unwrap();
    let seen = statement_as(&c, &token_a, id).await;
    let seen = &seen.data()["settlementStatement"];
    assert_eq!(
        lines(seen),
        BTreeMap::from([(pair(&a, &cc), (s("100"), s("0.85")))])
    );
    assert_eq!(positions(seen).keys().collect::<Vec<_>>(), vec![&a]);
    assert_eq!(seen["internalRedemptions"], json!([]));
    assert_eq!(by_partner(seen, "breakage", "points").len(), 0);
    assert!(
        transfers(seen)
            .iter()
            .all(|(from, to, _)| *from == a || *to == a)
    );
    assert_eq!(transfers(seen).len(), 2);
    // Without settlement:read, and as a member: refused.
    let no_scope = c.app.partner_token(&a, "points:issue");
    assert_eq!(statement_as(&c, &no_scope, id).await.code(), "FORBIDDEN");
    let member = c.app.member_token(&c.member);
    assert_eq!(statement_as(&c, &member, id).await.code(), "FORBIDDEN");

    // CSV: the operator's download has every line, the partner's only its own.
    let csv = |token: String| {
        let app = c.app.clone();
        let url = app.url(&format!("/settlement/statements/{id}/csv"));
        async move {
            let response = app.client.get(url).bearer_auth(token).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, full) = csv(c.app.operator_token()).await;
    assert_eq!(status, 200);
    assert!(full.starts_with("section,from_id,"));
    assert_eq!(
        full.lines()
            .filter(|l| l.starts_with("REDEMPTION,"))
            .count(),
        2
    );
    assert!(full.contains(&format!(
        "REDEMPTION,{b},Partner partner-1,{cc},Partner partner-2,200,1.70,,,,EUR"
    )));
    assert!(full.contains("POSITION,HUB,Coalition hub,,,,,0.00,3.44,3.44,EUR"));
    let (_, mine) = csv(token_a).await;
    assert!(!mine.contains(&b), "partner A's CSV names B:\n{mine}");
    assert_eq!(
        mine.lines().filter(|l| l.starts_with("POSITION,")).count(),
        1
    );
    let (status, _) = csv(no_scope).await;
    assert_eq!(status, 403);
    let (status, _) = csv(c.app.operator_token().replace('.', "x")).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_change_applies_to_later_events_only() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    let (a, b) = (partner_id(&c, 0).await, partner_id(&c, 1).await);
    set_rates(&c, &a, "0.01", "0.001", "2020-01-01T00:00:00Z")
        .await
        .data();
    set_rates(&c, &b, "0.01", "0", "2020-01-01T00:00:00Z")
        .await
        .data();
    let start = Utc::now();
    c.issue(0, 1000, "e").await.data();
    c.redeem(1, 100, "r1").await.data();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let change = Utc::now();
    set_rates(&c, &b, "0.02", "0", &change.to_rfc3339())
        .await
        .data();
    c.redeem(1, 100, "r2").await.data();

    let preview = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let app = c.app.clone();
        async move {
            app.gql(
                &app.operator_token(),
                &format!("query($f: DateTime!, $t: DateTime!) {{ settlementPreview(from: $f, to: $t) {{ {STATEMENT} }} }}"),
                json!({"f": from.to_rfc3339(), "t": to.to_rfc3339()}),
            )
            .await
        }
    };
    let before = preview(start - Duration::seconds(1), change).await;
    assert_eq!(
        lines(&before.data()["settlementPreview"]),
        BTreeMap::from([(pair(&a, &b), (s("100"), s("1")))])
    );
    let closed = close(&c, Utc::now()).await;
    // 100 at 0.01 and 100 at 0.02
    assert_eq!(
        lines(&closed.data()["closeSettlementPeriod"]),
        BTreeMap::from([(pair(&a, &b), (s("200"), s("3")))])
    );
    // Rate history is kept, latest first.
    let history = c
        .app
        .gql(
            &c.app.operator_token(),
            "query($p: ID!) { partnerRates(partnerId: $p) { redemptionValue } }",
            json!({"p": b}),
        )
        .await;
    assert_eq!(
        history.data()["partnerRates"],
        json!([{"redemptionValue": "0.02"}, {"redemptionValue": "0.01"}])
    );
    // A rate may not reach back into a closed period.
    let late = set_rates(&c, &b, "0.5", "0", &change.to_rfc3339()).await;
    assert_eq!(late.code(), "BAD_USER_INPUT");
}

/// Redemptions commit from many tasks while periods are closed in a loop: afterwards every
/// record is in exactly one closed period, and the statements add up to what was redeemed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_record_lands_in_exactly_one_period_under_concurrent_closes() {
    let c = Coalition::new(TestApp::new().await, 3).await;
    for i in 0..3 {
        let id = partner_id(&c, i).await;
        set_rates(&c, &id, "0.01", "0.001", "2020-01-01T00:00:00Z")
            .await
            .data();
    }
    c.issue(0, 100_000, "seed").await.data();
    let c = std::sync::Arc::new(c);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let partner = 1 + (t + i) % 2;
                c.redeem(partner, 1 + i as i64, &format!("r-{t}-{i}"))
                    .await
                    .data();
            }
        }));
    }
    let closer = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut closes = 0;
            loop {
                let finished = c
                    .app
                    .sql_count("SELECT count(*) FROM journal_entries WHERE kind = 'REDEEM'")
                    .await
                    == 200;
                close(&c, Utc::now() - Duration::milliseconds(1))
                    .await
                    .data();
                closes += 1;
                if finished {
                    return closes;
                }
                tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    let closes = closer.await.unwrap();
    assert!(
        closes >= 3,
        "only {closes} closes ran during the redemptions"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // The open remainder: records the last close did not take. The final close takes
    // exactly those.
    let remainder = c
        .app
        .sql_count(
            "SELECT count(*) FROM settlement_records s, (SELECT cutoff, snapshot FROM settlement_periods
                                                         ORDER BY cutoff DESC LIMIT 1) p
             WHERE NOT (s.occurred_at < p.cutoff AND pg_visible_in_snapshot(s.txid, p.snapshot))",
        )
        .await;
    let last = close(&c, Utc::now()).await;
    assert_eq!(
        last.data()["closeSettlementPeriod"]["recordCount"],
        remainder.to_string()
    );

    // Each record in exactly one period, by the membership rule itself.
    let misplaced = c
        .app
        .sql_count(
            "WITH p AS (SELECT cutoff, snapshot, lag(cutoff) OVER w AS prev_cutoff, lag(snapshot) OVER w AS prev_snapshot
                        FROM settlement_periods WINDOW w AS (ORDER BY cutoff))
             SELECT count(*) FROM settlement_records s
             WHERE (SELECT count(*) FROM p
                    WHERE s.occurred_at < p.cutoff AND pg_visible_in_snapshot(s.txid, p.snapshot)
                      AND NOT (p.prev_cutoff IS NOT NULL AND s.occurred_at < p.prev_cutoff
                               AND pg_visible_in_snapshot(s.txid, p.prev_snapshot))) <> 1",
        )
        .await;
    assert_eq!(misplaced, 0);

    // The statements: their records and redeemed points add up to the whole.
    let mut nodes: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = c
            .app
            .gql(
                &c.app.operator_token(),
                "query($after: String) { settlementStatements(first: 10, after: $after) {
                    pageInfo { hasNextPage endCursor }
                    nodes { periodEnd recordCount lines { points } internalRedemptions { points } } } }",
                json!({"after": after}),
            )
            .await;
        let connection = &page.data()["settlementStatements"];
        nodes.extend(connection["nodes"].as_array().unwrap().iter().cloned());
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    let int = |v: &Value| v.as_str().unwrap().parse::<i64>().unwrap();
    let records: i64 = nodes.iter().map(|n| int(&n["recordCount"])).sum();
    let redeemed: i64 = nodes
        .iter()
        .flat_map(|n| {
            n["lines"]
                .as_array()
                .unwrap()
                .iter()
                .chain(n["internalRedemptions"].as_array().unwrap())
        })
        .map(|l| int(&l["points"]))
        .sum();
    assert_eq!(
        records,
        c.app
            .sql_count("SELECT count(*) FROM settlement_records")
            .await
    );
    assert_eq!(
        redeemed,
        c.app
            .sql_count("SELECT sum(points)::bigint FROM journal_entries WHERE kind = 'REDEEM'")
            .await
    );
    // Closed statements never change: re-closing every cut-off returns the same hash.
    let stored = c
        .app
        .sql_count("SELECT count(*) FROM settlement_periods")
        .await;
    assert_eq!(stored as usize, nodes.len());
    for n in &nodes {
        let cutoff: DateTime<Utc> = n["periodEnd"].as_str().unwrap().parse().unwrap();
        let hash_before = c
            .app
            .sql_text(&format!(
                "SELECT content_hash FROM settlement_periods WHERE cutoff = '{}'",
                cutoff.to_rfc3339()
            ))
            .await;
        let again = close(&c, cutoff).await;
        assert_eq!(
            again.data()["closeSettlementPeriod"]["contentHash"],
            hash_before
        );
    }
    c.verify().await;
}

/// A transaction that began before a close and commits after it lands in the next period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_committer_goes_to_the_next_period() {
    let c = Coalition::new(TestApp::new().await, 2).await;
    c.issue(0, 500, "e").await.data();
    let url = c.app.state.config.database_url.clone();
    let mut late = AsyncPgConnection::establish(&url).await.unwrap();
    let b = partner_id(&c, 1).await;
    let lot = c.app.sql_text("SELECT id::text FROM lots").await;
    // A redemption's slice, as the ledger writes it, in a transaction left open.
    late.batch_execute(&format!(
        "BEGIN; INSERT INTO lot_consumptions (entry_id, lot_id, points, kind, redeeming_partner_id, created_at)
         VALUES (gen_random_uuid(), '{lot}', 7, 'REDEEM', '{b}', now() - interval '1 second')"
    ))
    .await
    .unwrap();
    let first = close(&c, Utc::now()).await;
    assert_eq!(first.data()["closeSettlementPeriod"]["lines"], json!([]));
    late.batch_execute("COMMIT").await.unwrap();
    let second = close(&c, Utc::now()).await;
    let second = &second.data()["closeSettlementPeriod"];
    let a = partner_id(&c, 0).await;
    assert_eq!(lines(second)[&pair(&a, &b)].0, "7");
    assert_eq!(second["recordCount"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settlement_input_is_refused_with_a_code() {
    let c = Coalition::new(TestApp::new().await, 1).await;
    let a = partner_id(&c, 0).await;
    let now = Utc::now().to_rfc3339();
    for (value, fee) in [
        ("-0.01", "0"),
        ("0", "-1"),
        ("5000", "0"),
        ("0", "1000.5"),
        ("0.0000001", "0"),
    ] {
        let refused = set_rates(&c, &a, value, fee, &now).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT", "{value} / {fee}");
    }
    let unknown = set_rates(
        &c,
        "0190a0a0-0000-7000-8000-000000000000",
        "0.01",
        "0",
        &now,
    )
    .await;
    assert_eq!(unknown.code(), "NOT_FOUND");
    let token = c.app.partner_token(&a, crate::support::ALL_SCOPES);
    let as_partner = c
        .app
        .gql(
            &token,
            "mutation($p: ID!) { setPartnerRates(input: {partnerId: $p, redemptionValue: \"1\", issuanceFee: \"0\"}) { partnerId } }",
            json!({"p": a}),
        )
        .await;
    assert_eq!(as_partner.code(), "FORBIDDEN");
    let as_partner = c
        .app
        .gql(
            &token,
            "mutation($c: DateTime!) { closeSettlementPeriod(cutoff: $c) { id } }",
            json!({"c": now}),
        )
        .await;
    assert_eq!(as_partner.code(), "FORBIDDEN");

    let future = close(&c, Utc::now() + Duration::minutes(5)).await;
    assert_eq!(future.code(), "PERIOD_NOT_CLOSABLE");
    let closed = close(&c, Utc::now() - Duration::minutes(1)).await;
    closed.data();
    let back = close(&c, Utc::now() - Duration::minutes(2)).await;
    assert_eq!(back.code(), "PERIOD_NOT_CLOSABLE");
    let backwards = c
        .app
        .gql(
            &c.app.operator_token(),
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { id } }",
            json!({"f": now, "t": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(backwards.code(), "BAD_USER_INPUT");
    let missing = statement_as(
        &c,
        &c.app.operator_token(),
        "0190a0a0-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(missing.code(), "NOT_FOUND");
    assert_eq!(
        c.app.sql_count("SELECT count(*) FROM partner_rates").await,
        0
    );
    assert_eq!(
        c.app
            .sql_count("SELECT count(*) FROM settlement_periods")
            .await,
        1
    );
}

/// A partner's preview is bounded (93 days at a time, 5 s of database time): it cannot scan
/// the whole history on a connection the tills need. The operator's is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_preview_is_bounded_in_span() {
    let app = TestApp::new().await;
    let partner = app.create_partner("previewer").await;
    let token = app.partner_token(&partner, ALL_SCOPES);
    let preview = async |token: &str, days: i64| {
        let to = Utc::now();
        app.gql(
            token,
            "query($f: DateTime!, $t: DateTime!) { settlementPreview(from: $f, to: $t) { id } }",
            json!({"f": to - Duration::days(days), "t": to}),
        )
        .await
    };
    assert_eq!(preview(&token, 94).await.code(), "BAD_USER_INPUT");
    assert!(preview(&token, 93).await.body.get("errors").is_none());
    let operator = app.operator_token();
    assert!(preview(&operator, 3650).await.body.get("errors").is_none());
}
