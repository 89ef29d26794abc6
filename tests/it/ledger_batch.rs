//! The group commit books the plain operations of a batch together, by sets
//! (`hub_batch_sets`), and the rest one by one (`hub_batch_one`). The two must write exactly
//! the same ledger. Each case builds the same coalition in two databases, sends one random
//! batch to `ledger_batch` in the first and the same operations one by one in the second,
//! and compares every answer and every row the ledger keeps (ids aside, which differ).

use std::time::Duration;

use coalition_hub::{
    db::{self, DbPool},
    services::verify,
};
use diesel::{QueryableByName, sql_query, sql_types::Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::fresh_database;

const PARTNERS: u128 = 3;
const MEMBERS: u128 = 24;
/// The batch's time; the coalition is built a month before.
const NOW: &str = "2026-06-01T12:00:00Z";
const BUILT: &str = "2026-05-02T12:00:00Z";

fn partner(p: u128) -> Uuid {
    Uuid::from_u128(0x100 + p)
}
fn member(m: u128) -> Uuid {
    Uuid::from_u128(0x200 + m)
}
fn member_number(m: u128) -> String {
    format!("{:016}", 9_000 + m)
}

#[derive(QueryableByName)]
struct Out {
    #[diesel(sql_type = Text)]
    out: String,
}

async fn text(conn: &mut AsyncPgConnection, query: &str) -> String {
    sql_query(query).get_result::<Out>(conn).await.unwrap().out
}

fn jsonb(value: &Value) -> String {
    format!("$json${value}$json$::jsonb")
}

/// One operation as the hub sends it to `ledger_batch`.
fn op(kind: &str, key: &str, partner_no: u128, named: Value, extra: Value, now: &str) -> Value {
    let mut op = json!({
        "op": kind, "caller": format!("partner:{}", partner(partner_no)), "key": key,
        "fingerprint": format!("{:08x}", key.len() * 7919 + partner_no as usize),
        "partner_id": partner(partner_no), "now": now,
    });
    for source in [named, extra] {
        for (k, v) in source.as_object().unwrap() {
            op[k] = v.clone();
        }
    }
    op
}

/// The coalition both databases start from: three partners (the third takes no
/// redemptions), twenty-four members enrolled at the first, some linked to the second, each with
/// a few lots of different lifetimes (some past due by the batch's time), and a few spent.
fn coalition(rng: &mut StdRng) -> (String, Vec<Value>, String) {
    let (mut sql, mut links) = (String::new(), String::new());
    for p in 0..PARTNERS {
        sql += &format!(
            "INSERT INTO partners (id, slug, name, category, currency, earn_rate, accepts_redemptions) \
             VALUES ('{}', 'p{p}', 'P{p}', 'RETAIL', 'EUR', 2.5, {});\n",
            partner(p),
            p != 2
        );
    }
    let mut ops = Vec::new();
    for m in 0..MEMBERS {
        let lifetime =
            |rng: &mut StdRng| format!("2026-05-{:02}T00:00:00Z", rng.random_range(12..31));
        // few distinct dates: lots that expire together
        let later = |rng: &mut StdRng| format!("2026-{:02}-01T00:00:00Z", rng.random_range(7..10));
        ops.push(op(
            "issue",
            &format!("enrol-{m}"),
            0,
            json!({"customer_id": format!("c{m}"), "new_member_id": member(m),
                   "new_member_number": member_number(m)}),
            json!({"points": rng.random_range(20..200), "expires_at": later(rng)}),
            BUILT,
        ));
        if rng.random_bool(0.6) {
            links += &format!(
                "INSERT INTO member_links (partner_id, partner_customer_id, member_id) VALUES ('{}', 'd{m}', '{}');\n",
                partner(1),
                member(m)
            );
            // Most also consented to partner 1 (it may redeem); the others are refused.
            if rng.random_bool(0.8) {
                links += &format!(
                    "INSERT INTO member_consents (member_id, partner_id, source, granted_at) VALUES ('{}', '{}', 'MEMBER', now());\n",
                    member(m),
                    partner(1)
                );
            }
        }
        for n in 0..rng.random_range(0..4) {
            let expires = if rng.random_bool(0.3) {
                lifetime(rng)
            } else {
                later(rng)
            };
            // earned on different days, so that lots expiring together go by earning (never
            // by id: ids differ between the two databases)
            let earned = format!(
                "2026-05-{:02}T12:00:00Z",
                3 + 2 * n + rng.random_range(0..2)
            );
            ops.push(op(
                "issue",
                &format!("earn-{m}-{n}"),
                rng.random_range(0..PARTNERS),
                json!({"member_number": member_number(m)}),
                json!({"points": rng.random_range(5..150), "expires_at": expires}),
                &earned,
            ));
        }
        if rng.random_bool(0.4) {
            ops.push(op(
                "redeem",
                &format!("spend-{m}"),
                0,
                json!({"customer_id": format!("c{m}")}),
                json!({"points": rng.random_range(1..20)}),
                BUILT,
            ));
        }
    }
    (sql, ops, links)
}

/// A batch of plain and awkward operations: earns by id, number, customer id or purchase,
/// a new customer, redemptions that fit, overdraw, meet past-due lots or an unlinked
/// partner, several operations on one member, keys replayed or reused.
fn batch(rng: &mut StdRng, setup: &[Value]) -> Vec<Value> {
    let mut ops: Vec<Value> = Vec::new();
    for n in 0..rng.random_range(4..16) {
        let m = rng.random_range(0..MEMBERS);
        let p = rng.random_range(0..PARTNERS);
        let named = match rng.random_range(0..4) {
            0 => json!({"member_id": member(m)}),
            1 => json!({"member_number": member_number(m)}),
            // the partner's own customer id (the second partner's may not be linked)
            _ if p == 1 => json!({"customer_id": format!("d{m}")}),
            _ => json!({"customer_id": format!("c{m}")}),
        };
        let key = format!("batch-{n}");
        let next = match rng.random_range(0..10) {
            0..=2 => {
                let amount = if rng.random_bool(0.3) {
                    let currency = if rng.random_bool(0.8) { "EUR" } else { "USD" };
                    json!({"purchase_amount": format!("{}.{:02}", rng.random_range(0..90), rng.random_range(0..100)),
                           "purchase_currency": currency, "expires_at": format!("2027-06-{:02}T00:00:00Z", 1 + n)})
                } else {
                    json!({"points": rng.random_range(1..300), "expires_at": format!("2027-06-{:02}T00:00:00Z", 1 + n)})
                };
                let named = if rng.random_bool(0.15) {
                    json!({"customer_id": format!("new-{n}"), "new_member_id": Uuid::from_u128(0x300 + n),
                           "new_member_number": format!("{:016}", 8_000 + n)})
                } else {
                    named
                };
                op("issue", &key, p, named, amount, NOW)
            }
            3 if !setup.is_empty() => {
                // a key used before: the same call again, or another input under it
                let mut earlier = setup[rng.random_range(0..setup.len())].clone();
                earlier["now"] = json!(NOW);
                if rng.random_bool(0.3) {
                    earlier["fingerprint"] = json!("ff");
                }
                earlier
            }
            4 if !ops.is_empty() => ops[rng.random_range(0..ops.len())].clone(),
            _ => op(
                "redeem",
                &key,
                p,
                named,
                json!({"points": rng.random_range(1..150)}),
                NOW,
            ),
        };
        ops.push(next);
    }
    ops
}

/// Everything the ledger keeps, ids aside, one sorted line per row.
const STATE: &str = r#"
SELECT concat_ws(E'\n---\n',
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('balance %s %s/%s/%s/%s', member_id, available, held, debt, lifetime_earned) x
     FROM member_balances) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('entry %s %s %s %s %s %s %s %s %s %s %s', kind, member_id, partner_id, points,
                   reference, purchase_amount, purchase_currency, earn_rate, debt_repaid,
                   tier_multiplier, created_at) x
     FROM journal_entries) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('posting %s %s %s %s %s', e.kind, e.member_id, e.points, p.account_id, p.amount) x
     FROM postings p JOIN journal_entries e ON e.id = p.entry_id) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('lot %s %s %s %s %s %s %s', member_id, issuer_partner_id, points, remaining,
                   reserved, earned_at, expires_at) x
     FROM lots) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('slice %s %s %s | %s %s | %s %s %s %s', e.kind, e.member_id, e.points,
                   l.issuer_partner_id, l.expires_at, c.points, c.kind, c.redeeming_partner_id,
                   c.created_at) x
     FROM lot_consumptions c JOIN lots l ON l.id = c.lot_id JOIN journal_entries e ON e.id = c.entry_id) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('settlement %s %s %s %s %s %s %s', r.kind, e.kind, e.member_id,
                   r.issuer_partner_id, r.redeeming_partner_id, r.points, r.occurred_at) x
     FROM settlement_records r JOIN journal_entries e ON e.id = r.entry_id) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('key %s %s %s %s %s', k.caller, k.key, k.fingerprint, e.kind, e.points) x
     FROM idempotency_keys k JOIN journal_entries e ON e.id = k.entry_id) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('member %s %s', m.id, m.member_number) x FROM members m) s),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('link %s %s %s', partner_id, partner_customer_id, member_id) x FROM member_links) s))
AS out"#;

/// The answers without their entry ids (which differ between the two databases).
fn answers(results: &Value) -> Vec<Value> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(ok) = r.get_mut("ok").and_then(Value::as_object_mut) {
                ok.remove("entry_id");
            }
            r
        })
        .collect()
}

struct Side {
    conn: AsyncPgConnection,
    pool: DbPool,
}

async fn side((before, setup_ops, after): &(String, Vec<Value>, String)) -> Side {
    let url = fresh_database().await;
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, before)
        .await
        .unwrap();
    for op in setup_ops {
        let out = text(
            &mut conn,
            &format!("SELECT hub_batch_one({})::text AS out", jsonb(op)),
        )
        .await;
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert!(answer.get("ok").is_some(), "setup {op}: {out}");
    }
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, after)
        .await
        .unwrap();
    let pool = db::pool(&url, 2, Duration::from_secs(30)).unwrap();
    Side { conn, pool }
}

/// Runs `ledger_batch` and answers its results and how many operations went one by one.
async fn by_batch(conn: &mut AsyncPgConnection, ops: &[Value]) -> (Value, usize) {
    let out = text(
        conn,
        &format!(
            "WITH b AS (SELECT ledger_batch({}) AS r)
             SELECT jsonb_build_object('results', b.r, 'one_by_one',
                 (SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
                  WHERE funcname = 'hub_batch_one'))::text AS out FROM b",
            jsonb(&Value::Array(ops.to_vec()))
        ),
    )
    .await;
    let out: Value = serde_json::from_str(&out).unwrap();
    (
        out["results"].clone(),
        out["one_by_one"].as_u64().unwrap() as usize,
    )
}

/// Which operations (1-based positions) the set path books: `hub_batch_sets` asked in a
/// transaction rolled back, on the same state as the `ledger_batch` call that follows.
async fn booked_by_sets(conn: &mut AsyncPgConnection, ops: &[Value]) -> Vec<usize> {
    diesel_async::SimpleAsyncConnection::batch_execute(conn, "BEGIN")
        .await
        .unwrap();
    let out = text(
        conn,
        &format!(
            "SELECT coalesce(string_agg(k, ','), '') AS out FROM jsonb_object_keys(hub_batch_sets({})) k",
            jsonb(&Value::Array(ops.to_vec()))
        ),
    )
    .await;
    diesel_async::SimpleAsyncConnection::batch_execute(conn, "ROLLBACK")
        .await
        .unwrap();
    out.split(',')
        .filter(|k| !k.is_empty())
        .map(|k| k.parse().unwrap())
        .collect()
}

/// What the set path booked, by kind: earns by points, earns by purchase, redemptions from
/// their member's first lot alone, redemptions over several lots.
#[derive(Debug, Default)]
struct SetKinds {
    earns: usize,
    purchases: usize,
    first_lot: usize,
    several_lots: usize,
}

async fn count_set_kinds(
    conn: &mut AsyncPgConnection,
    ops: &[Value],
    results: &Value,
    ords: &[usize],
    kinds: &mut SetKinds,
) {
    for &ord in ords {
        let op = &ops[ord - 1];
        match op["op"].as_str().unwrap() {
            "issue" if op.get("purchase_amount").is_some() => kinds.purchases += 1,
            "issue" => kinds.earns += 1,
            _ => {
                let entry = results[ord - 1]["ok"]["entry_id"].as_str().unwrap();
                let slices = text(
                    conn,
                    &format!(
                        "SELECT count(*)::text AS out FROM lot_consumptions WHERE entry_id = '{entry}'"
                    ),
                )
                .await;
                if slices == "1" {
                    kinds.first_lot += 1;
                } else {
                    kinds.several_lots += 1;
                }
            }
        }
    }
}

async fn one_by_one(conn: &mut AsyncPgConnection, ops: &[Value]) -> Value {
    let mut results = Vec::new();
    for op in ops {
        let out = text(
            conn,
            &format!(
                "SELECT hub_batch_linked({0}, hub_batch_one({0}))::text AS out",
                jsonb(op)
            ),
        )
        .await;
        results.push(serde_json::from_str::<Value>(&out).unwrap());
    }
    Value::Array(results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_books_by_sets_exactly_what_one_by_one_books() {
    let (mut by_sets, mut singly) = (0, 0);
    let mut kinds = SetKinds::default();
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let setup = coalition(&mut rng);
        let ops = batch(&mut rng, &setup.1);
        let mut batched = side(&setup).await;
        let mut single = side(&setup).await;

        // Statistics of PL/pgSQL calls, so that the test knows which way each went.
        diesel_async::SimpleAsyncConnection::batch_execute(
            &mut batched.conn,
            "SET track_functions = 'pl'",
        )
        .await
        .unwrap();
        let set = booked_by_sets(&mut batched.conn, &ops).await;
        let (batch_results, went_singly) = by_batch(&mut batched.conn, &ops).await;
        assert_eq!(set.len(), ops.len() - went_singly, "seed {seed}");
        count_set_kinds(&mut batched.conn, &ops, &batch_results, &set, &mut kinds).await;
        let single_results = one_by_one(&mut single.conn, &ops).await;
        assert_eq!(
            answers(&batch_results),
            answers(&single_results),
            "seed {seed}: the answers differ for {ops:#?}"
        );
        let (state_batched, state_single) = (
            text(&mut batched.conn, STATE).await,
            text(&mut single.conn, STATE).await,
        );
        assert_eq!(
            state_batched, state_single,
            "seed {seed}: the ledgers differ"
        );
        for side in [&batched, &single] {
            let report = verify::run(&side.pool).await.unwrap();
            assert!(report.is_clean(), "seed {seed}: {report}");
        }
        singly += went_singly;
        by_sets += ops.len() - went_singly;
    }
    eprintln!("{by_sets} operations by sets ({kinds:?}), {singly} one by one");
    // Every kind of operation the set path books was compared.
    assert!(
        kinds.earns > 0 && kinds.purchases > 0 && kinds.first_lot > 0 && kinds.several_lots > 0,
        "the set path did not book every kind: {kinds:?}"
    );
    // Both ways were taken, and often: the comparison is not of one path with itself.
    assert!(
        by_sets >= 60 && singly >= 60,
        "{by_sets} operations by sets, {singly} one by one"
    );
}
