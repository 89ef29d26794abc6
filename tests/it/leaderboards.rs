//! Ambassadors and leaderboards through the API on real PostgreSQL and a real Redis: ranks
//! against an independent computation, period boundaries, idempotent projection, a Redis
//! server stopped and started mid-run, FLUSHALL and rebuild, referral rules, privacy.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration as StdDuration,
};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use coalition_hub::services::leaderboards::{rebuild, relay};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use crate::support::{ALL_SCOPES, Gql, TestApp, free_port};

const BOARD: &str = "query($scope: LeaderboardScopeInput, $period: LeaderboardPeriod!, $at: DateTime, $first: Int!) {
    leaderboard(scope: $scope, period: $period, at: $at, first: $first) {
        totalRanked board { partnerId period startsAt endsAt } entries { rank handle score } } }";

const STANDING: &str =
    "query($scope: LeaderboardScopeInput, $period: LeaderboardPeriod!, $n: Int!) {
    ambassadorStanding(scope: $scope, period: $period, neighbors: $n) {
        handle rank score totalRanked pointsToNextRank
        above { rank handle score } below { rank handle score } } }";

const RECORD: &str = "mutation($input: RecordAmbassadorActivityInput!) {
    recordAmbassadorActivity(input: $input) { id score rewardPoints occurredAt replayed } }";

/// A coalition with partners (tokens with every scope) and ambassadors enrolled for the
/// whole coalition.
struct World {
    app: Arc<TestApp>,
    partners: Vec<String>,
    tokens: Vec<String>,
    /// (ambassador id, handle, member id)
    ambassadors: Vec<(String, String, String)>,
}

impl World {
    async fn new(app: TestApp, partners: usize, ambassadors: usize) -> World {
        let app = Arc::new(app);
        let mut ids = Vec::new();
        let mut tokens = Vec::new();
        for i in 0..partners {
            let id = app.create_partner(&format!("lb-partner-{i}")).await;
            tokens.push(app.partner_token(&id, ALL_SCOPES));
            ids.push(id);
        }
        let mut world = World {
            app,
            partners: ids,
            tokens,
            ambassadors: vec![],
        };
        for i in 0..ambassadors {
            let (member, _) = world
                .app
                .enroll(&world.tokens[0], &format!("amb-{i}"))
                .await;
            let handle = format!("amb_{i:02}");
            let enrolled = world
                .app
                .gql(
                    &world.app.operator_token(),
                    "mutation($m: ID!, $h: String!) { enrollAmbassador(input: {member: {memberId: $m}, handle: $h}) { id handle coalitionWide } }",
                    json!({"m": member, "h": handle}),
                )
                .await;
            let a = &enrolled.data()["enrollAmbassador"];
            assert_eq!(a["coalitionWide"], true);
            world
                .ambassadors
                .push((a["id"].as_str().unwrap().to_owned(), handle, member));
        }
        world
    }

    async fn record(&self, partner: usize, input: Value) -> Gql {
        self.app
            .gql(&self.tokens[partner], RECORD, json!({ "input": input }))
            .await
    }

    async fn board(
        &self,
        token: &str,
        partner: Option<usize>,
        period: &str,
        at: Option<DateTime<Utc>>,
    ) -> Gql {
        let scope = partner.map(|p| json!({"partnerId": self.partners[p]}));
        self.app
            .gql(
                token,
                BOARD,
                json!({"scope": scope, "period": period, "at": at.map(|t| t.to_rfc3339()), "first": 100}),
            )
            .await
    }

    async fn drain(&self) {
        relay::run_once(&self.app.state.leaderboards, true)
            .await
            .unwrap();
    }
}

/// One recorded activity, as the test remembers it.
#[derive(Clone)]
struct Act {
    ambassador: usize,
    partner: usize,
    at: DateTime<Utc>,
    score: i64,
}

/// The board computed from the test's own list: (rank, handle, score), rank = 1 + the
/// number of strictly higher scores.
fn expected(
    world: &World,
    acts: &[Act],
    partner: Option<usize>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<(i64, String, i64)> {
    let mut sums: BTreeMap<usize, i64> = BTreeMap::new();
    for a in acts {
        let in_scope = partner.is_none_or(|p| p == a.partner);
        let in_window = window.is_none_or(|(from, to)| from <= a.at && a.at < to);
        if in_scope && in_window {
            *sums.entry(a.ambassador).or_default() += a.score;
        }
    }
    let scores: Vec<i64> = sums.values().copied().collect();
    let mut rows: Vec<(i64, String, i64)> = sums
        .iter()
        .map(|(a, s)| {
            let higher = scores.iter().filter(|x| *x > s).count() as i64;
            (1 + higher, world.ambassadors[*a].1.clone(), *s)
        })
        .collect();
    rows.sort();
    rows
}

fn actual(response: &Gql) -> Vec<(i64, String, i64)> {
    let mut rows: Vec<(i64, String, i64)> = response.data()["leaderboard"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rank"].as_i64().unwrap(),
                e["handle"].as_str().unwrap().to_owned(),
                e["score"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.date_naive() - Duration::days(at.weekday().num_days_from_monday() as i64);
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
}

fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .unwrap()
}

fn next_month(start: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if start.month() == 12 {
        (start.year() + 1, 1)
    } else {
        (start.year(), start.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap()
}

/// Records random activity (ties likely: scores from a small set) and checks several boards
/// against the independent computation.
async fn record_random(world: &World, rng: &mut StdRng, count: usize, acts: &mut Vec<Act>) {
    let now = Utc::now();
    for _ in 0..count {
        let act = Act {
            ambassador: rng.random_range(0..world.ambassadors.len()),
            partner: rng.random_range(0..world.partners.len()),
            at: now - Duration::seconds(rng.random_range(0..40 * 86_400)),
            score: [5, 10, 10, 20, 25][rng.random_range(0..5)],
        };
        let key = format!("act-{}", acts.len());
        world
            .record(
                act.partner,
                json!({"ambassadorId": world.ambassadors[act.ambassador].0, "kind": "REVIEW",
                       "score": act.score, "idempotencyKey": key, "occurredAt": act.at.to_rfc3339()}),
            )
            .await
            .data();
        acts.push(act);
    }
}

/// (partner, period, at, the window it should cover)
type BoardCase = (
    Option<usize>,
    &'static str,
    Option<DateTime<Utc>>,
    Option<(DateTime<Utc>, DateTime<Utc>)>,
);

async fn assert_boards_match(world: &World, acts: &[Act]) {
    let op = world.app.operator_token();
    let now = Utc::now();
    let past = now - Duration::days(20);
    let cases: Vec<BoardCase> = vec![
        (None, "ALL_TIME", None, None),
        (Some(0), "ALL_TIME", None, None),
        (Some(1), "ALL_TIME", None, None),
        (
            None,
            "WEEK",
            None,
            Some((week_start(now), week_start(now) + Duration::days(7))),
        ),
        (
            Some(1),
            "WEEK",
            Some(past),
            Some((week_start(past), week_start(past) + Duration::days(7))),
        ),
        (
            None,
            "MONTH",
            Some(past),
            Some((month_start(past), next_month(month_start(past)))),
        ),
        (
            Some(0),
            "MONTH",
            None,
            Some((month_start(now), next_month(month_start(now)))),
        ),
    ];
    for (partner, period, at, window) in cases {
        let response = world.board(&op, partner, period, at).await;
        let want = expected(world, acts, partner, window);
        assert_eq!(
            actual(&response),
            want,
            "board {partner:?} {period} at {at:?}"
        );
        assert_eq!(
            response.data()["leaderboard"]["totalRanked"]
                .as_i64()
                .unwrap(),
            want.len() as i64
        );
    }
}

#[tokio::test]
async fn ranks_match_an_independent_computation() {
    let world = World::new(TestApp::new().await, 2, 10).await;
    let mut rng = StdRng::seed_from_u64(20261124);
    let mut acts = Vec::new();
    record_random(&world, &mut rng, 80, &mut acts).await;
    world.drain().await;
    assert_boards_match(&world, &acts).await;

    // Standing of one ambassador against the same computation.
    let me = 3;
    let member_token = world.app.member_token(&world.ambassadors[me].2);
    let standing = world
        .app
        .gql(
            &member_token,
            STANDING,
            json!({"period": "ALL_TIME", "n": 2}),
        )
        .await;
    let s = &standing.data()["ambassadorStanding"];
    let board = expected(&world, &acts, None, None);
    let mine = board
        .iter()
        .find(|r| r.1 == world.ambassadors[me].1)
        .unwrap();
    assert_eq!(s["rank"].as_i64().unwrap(), mine.0);
    assert_eq!(s["score"].as_str().unwrap(), mine.2.to_string());
    assert_eq!(s["totalRanked"].as_i64().unwrap(), board.len() as i64);
    let next_higher = board.iter().map(|r| r.2).filter(|x| *x > mine.2).min();
    assert_eq!(
        s["pointsToNextRank"]
            .as_str()
            .map(|t| t.parse::<i64>().unwrap()),
        next_higher.map(|h| h - mine.2)
    );
    let neighbours: Vec<i64> = s["above"]
        .as_array()
        .unwrap()
        .iter()
        .chain(s["below"].as_array().unwrap())
        .map(|e| e["score"].as_str().unwrap().parse::<i64>().unwrap())
        .collect();
    assert!(!neighbours.is_empty() && neighbours.len() <= 4);
    for e in s["above"].as_array().unwrap() {
        let score: i64 = e["score"].as_str().unwrap().parse().unwrap();
        assert!(score >= mine.2);
        let want_rank = 1 + board.iter().filter(|r| r.2 > score).count() as i64;
        assert_eq!(e["rank"].as_i64().unwrap(), want_rank);
    }
    for e in s["below"].as_array().unwrap() {
        let score: i64 = e["score"].as_str().unwrap().parse().unwrap();
        assert!(score <= mine.2);
    }
}

#[tokio::test]
async fn ties_share_a_rank() {
    let world = World::new(TestApp::new().await, 1, 4).await;
    for (i, score) in [50, 40, 40, 30].into_iter().enumerate() {
        world
            .record(0, json!({"ambassadorId": world.ambassadors[i].0, "kind": "CONTENT", "score": score, "idempotencyKey": format!("t{i}")}))
            .await
            .data();
    }
    world.drain().await;
    let response = world
        .board(&world.app.operator_token(), None, "ALL_TIME", None)
        .await;
    let ranks: Vec<(i64, i64)> = response.data()["leaderboard"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rank"].as_i64().unwrap(),
                e["score"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(ranks, [(1, 50), (2, 40), (2, 40), (4, 30)]);
    // The last one needs 10 more to reach rank 2; the first has no next rank.
    let last = world.app.member_token(&world.ambassadors[3].2);
    let s = world
        .app
        .gql(&last, STANDING, json!({"period": "ALL_TIME", "n": 1}))
        .await;
    assert_eq!(s.data()["ambassadorStanding"]["rank"], 4);
    assert_eq!(s.data()["ambassadorStanding"]["pointsToNextRank"], "10");
    assert_eq!(s.data()["ambassadorStanding"]["below"], json!([]));
    assert_eq!(s.data()["ambassadorStanding"]["above"][0]["rank"], 2);
    let first = world.app.member_token(&world.ambassadors[0].2);
    let s = world
        .app
        .gql(&first, STANDING, json!({"period": "ALL_TIME", "n": 1}))
        .await;
    assert_eq!(s.data()["ambassadorStanding"]["rank"], 1);
    assert_eq!(
        s.data()["ambassadorStanding"]["pointsToNextRank"],
        Value::Null
    );
}

#[tokio::test]
async fn week_and_month_boundaries_are_utc() {
    // Week activity at partner 0, month activity at partner 1: each board sees only its own.
    let world = World::new(TestApp::new().await, 2, 2).await;
    let now = Utc::now();
    let monday = week_start(now);
    let sunday_late = monday - Duration::seconds(1);
    let first_of_month = month_start(now);
    let month_end_late = first_of_month - Duration::seconds(1);
    let (a, b) = (&world.ambassadors[0].0, &world.ambassadors[1].0);
    for (partner, key, who, at, score) in [
        (0, "sun", a, sunday_late, 7),
        (0, "mon", b, monday, 11),
        (1, "eom", a, month_end_late, 3),
        (1, "bom", b, first_of_month, 5),
    ] {
        world
            .record(partner, json!({"ambassadorId": who, "kind": "SOCIAL_SHARE", "score": score, "idempotencyKey": key, "occurredAt": at.to_rfc3339()}))
            .await
            .data();
    }
    world.drain().await;
    let op = world.app.operator_token();
    let board = |r: &Gql| -> (Vec<(i64, String, i64)>, String) {
        (
            actual(r),
            r.data()["leaderboard"]["board"]["startsAt"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    let (rows, from) = board(&world.board(&op, Some(0), "WEEK", Some(sunday_late)).await);
    assert_eq!(
        rows,
        vec![(1, "amb_00".to_owned(), 7)],
        "Sunday 23:59:59 is last week"
    );
    assert_eq!(
        from.parse::<DateTime<Utc>>().unwrap(),
        monday - Duration::days(7)
    );
    let (rows, from) = board(&world.board(&op, Some(0), "WEEK", Some(monday)).await);
    assert_eq!(
        rows,
        vec![(1, "amb_01".to_owned(), 11)],
        "Monday 00:00:00 opens this week"
    );
    assert_eq!(from.parse::<DateTime<Utc>>().unwrap(), monday);
    let (rows, _) = board(
        &world
            .board(&op, Some(1), "MONTH", Some(month_end_late))
            .await,
    );
    assert_eq!(
        rows,
        vec![(1, "amb_00".to_owned(), 3)],
        "the month's last second"
    );
    let (rows, from) = board(
        &world
            .board(&op, Some(1), "MONTH", Some(first_of_month))
            .await,
    );
    assert_eq!(
        rows,
        vec![(1, "amb_01".to_owned(), 5)],
        "the month's first second"
    );
    assert_eq!(from.parse::<DateTime<Utc>>().unwrap(), first_of_month);
}

#[tokio::test]
async fn duplicates_and_replays_change_no_score() {
    let world = World::new(TestApp::new().await, 1, 2).await;
    let input = json!({"ambassadorId": world.ambassadors[0].0, "kind": "REVIEW", "score": 30, "rewardPoints": 40, "idempotencyKey": "same"});
    // The same key sent ten times at once: one activity, one reward.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, token, input) = (world.app.clone(), world.tokens[0].clone(), input.clone());
        tasks.push(tokio::spawn(async move {
            app.gql(&token, RECORD, json!({ "input": input })).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        ids.push(
            response.data()["recordAmbassadorActivity"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one activity for one key");
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM ambassador_activities")
            .await,
        1
    );
    let member = &world.ambassadors[0].2;
    assert_eq!(
        world
            .app
            .sql_count(&format!(
                "SELECT available FROM member_balances WHERE member_id = '{member}'"
            ))
            .await,
        40
    );
    let replay = world.record(0, input.clone()).await;
    assert_eq!(replay.data()["recordAmbassadorActivity"]["replayed"], true);
    let mut other = input.clone();
    other["score"] = json!(31);
    assert_eq!(
        world.record(0, other).await.code(),
        "IDEMPOTENCY_KEY_REUSED"
    );
    world.drain().await;
    let op = world.app.operator_token();
    let before = actual(&world.board(&op, None, "ALL_TIME", None).await);
    assert_eq!(before, vec![(1, "amb_00".to_owned(), 30)]);
    // The relay replays everything it ever applied: absolute scores, nothing counts twice.
    world
        .app
        .sql_count("WITH r AS (INSERT INTO leaderboard_outbox (activity_id) SELECT id FROM ambassador_activities RETURNING 1) SELECT count(*) FROM r")
        .await;
    world
        .app
        .sql_count("WITH r AS (INSERT INTO leaderboard_outbox (activity_id) SELECT id FROM ambassador_activities RETURNING 1) SELECT count(*) FROM r")
        .await;
    // (The relay of the test's server may get there first: either way they are applied.)
    relay::run_once(&world.app.state.leaderboards, true)
        .await
        .unwrap();
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM leaderboard_outbox")
            .await,
        0
    );
    assert_eq!(
        actual(&world.board(&op, None, "ALL_TIME", None).await),
        before
    );
    assert_eq!(
        actual(&world.board(&op, Some(0), "WEEK", None).await),
        before
    );
    let check = rebuild::check(&world.app.state.leaderboards).await.unwrap();
    assert!(!check.drift(), "{check:?}");
    assert_eq!(check.scores, 6);
    let verify = coalition_hub::services::verify::run(&world.app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
}

/// A private redis-server the test can stop and start.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start_on(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed by scripts/services.sh");
        let redis = PrivateRedis {
            port,
            child: Some(child),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(StdDuration::from_millis(20));
        }
        panic!("redis-server did not start on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_outage_then_recovery_then_flush_and_rebuild() {
    let mut redis = PrivateRedis::start_on(free_port());
    let app = TestApp::builder()
        .await
        .config(|c| c.redis_url = redis.url())
        .spawn()
        .await;
    let world = World::new(app, 2, 6).await;
    let mut rng = StdRng::seed_from_u64(7);
    let mut acts = Vec::new();
    record_random(&world, &mut rng, 20, &mut acts).await;
    world.drain().await;
    assert_boards_match(&world, &acts).await;

    redis.stop();
    // Ledger and activity keep working without Redis.
    let earn = world
        .app
        .gql(
            &world.tokens[0],
            "mutation { issuePoints(input: {member: {partnerCustomerId: \"amb-0\"}, points: 100, idempotencyKey: \"during-outage\"}) { balance { available } } }",
            json!({}),
        )
        .await;
    earn.data();
    let spend = world
        .app
        .gql(
            &world.tokens[0],
            "mutation { redeemPoints(input: {member: {partnerCustomerId: \"amb-0\"}, points: 30, idempotencyKey: \"spend-during-outage\"}) { balance { available } } }",
            json!({}),
        )
        .await;
    assert_eq!(spend.data()["redeemPoints"]["balance"]["available"], "70");
    record_random(&world, &mut rng, 15, &mut acts).await;
    let read = world
        .board(&world.app.operator_token(), None, "ALL_TIME", None)
        .await;
    assert_eq!(read.code(), "LEADERBOARD_UNAVAILABLE");
    assert!(
        relay::run_once(&world.app.state.leaderboards, true)
            .await
            .is_err(),
        "the relay cannot apply while Redis is down"
    );
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM leaderboard_outbox")
            .await,
        15,
        "the outbox keeps the activity"
    );

    // Redis comes back empty (no persistence): the relay notices and rebuilds, then drains.
    let _redis = PrivateRedis::start_on(redis.port);
    let mut recovered = false;
    for _ in 0..50 {
        if relay::run_once(&world.app.state.leaderboards, true)
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(recovered, "relay works again once Redis is back");
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM leaderboard_outbox")
            .await,
        0
    );
    assert_boards_match(&world, &acts).await;

    // FLUSHALL: reads refuse rather than show empty boards; a rebuild restores every board.
    let mut conn = world.app.state.redis.manager.clone();
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let read = world
        .board(&world.app.operator_token(), Some(1), "ALL_TIME", None)
        .await;
    assert_eq!(read.code(), "LEADERBOARD_UNAVAILABLE");
    let check = rebuild::check(&world.app.state.leaderboards).await.unwrap();
    assert!(check.drift(), "check reports the flushed boards");
    let mut progress = Vec::new();
    let report = rebuild::rebuild(&world.app.state.leaderboards, |p| progress.push(p))
        .await
        .unwrap();
    assert_eq!(progress.last().unwrap().ambassadors_done, 6);
    assert!(report.boards >= 6);
    assert_boards_match(&world, &acts).await;
    let check = rebuild::check(&world.app.state.leaderboards).await.unwrap();
    assert!(!check.drift(), "{check:?}");

    // A drifted score is reported.
    let coalition_all = format!("{}lb:coalition:all", world.app.state.config.redis_prefix);
    redis::cmd("ZINCRBY")
        .arg(&coalition_all)
        .arg(1)
        .arg(&world.ambassadors[0].0)
        .query_async::<f64>(&mut conn)
        .await
        .unwrap();
    let check = rebuild::check(&world.app.state.leaderboards).await.unwrap();
    assert_eq!((check.wrong, check.extra), (1, 0), "{check:?}");
}

async fn set_referral_settings(world: &World, partner: usize, score: i64, reward: i64) {
    world
        .app
        .gql(
            &world.app.operator_token(),
            "mutation($id: ID!, $s: Int!, $r: Int!) { updatePartner(id: $id, input: {referralScore: $s, referralRewardPoints: $r}) { referralScore referralRewardPoints } }",
            json!({"id": world.partners[partner], "s": score, "r": reward}),
        )
        .await
        .data();
}

async fn issue(
    world: &World,
    partner: usize,
    customer: &str,
    key: &str,
    code: Option<&str>,
) -> Gql {
    world
        .app
        .gql(
            &world.tokens[partner],
            "mutation($input: IssuePointsInput!) { issuePoints(input: $input) { balance { available } } }",
            json!({"input": {"member": {"partnerCustomerId": customer}, "points": 10, "idempotencyKey": key, "referralCode": code}}),
        )
        .await
}

#[tokio::test]
async fn referrals_convert_once_on_the_first_earn() {
    let world = World::new(TestApp::new().await, 2, 2).await;
    set_referral_settings(&world, 0, 25, 50).await;
    let code_query =
        "mutation($a: ID!) { createReferralCode(input: {ambassadorId: $a}) { code partnerId } }";
    let code = world
        .app
        .gql(
            &world.tokens[0],
            code_query,
            json!({"a": world.ambassadors[0].0}),
        )
        .await;
    let code = code.data()["createReferralCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let ambassador_balance = || async {
        world
            .app
            .sql_count(&format!(
                "SELECT available FROM member_balances WHERE member_id = '{}'",
                world.ambassadors[0].2
            ))
            .await
    };
    let conversions = || async {
        world
            .app
            .sql_count("SELECT count(*) FROM ambassador_activities WHERE kind = 'REFERRAL'")
            .await
    };

    // Self-referral: refused, and the earn with it.
    let own = issue(&world, 0, "amb-0", "self", Some(&code)).await;
    assert_eq!(own.code(), "BAD_USER_INPUT");
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM journal_entries")
            .await,
        0
    );
    // Unknown code.
    assert_eq!(
        issue(&world, 0, "new-x", "unknown", Some("ZZZZZZZZ"))
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        world.app.sql_count("SELECT count(*) FROM members").await,
        2,
        "nothing enrolled"
    );

    // Enrolled with the code: attached, not converted until the first earn.
    let enrolled = world
        .app
        .gql(
            &world.tokens[0],
            "mutation($c: String!) { enrollMember(input: {partnerCustomerId: \"friend\", referralCode: $c}) { referralAttached } }",
            json!({"c": code.to_lowercase()}),
        )
        .await;
    assert_eq!(enrolled.data()["enrollMember"]["referralAttached"], true);
    assert_eq!(conversions().await, 0);
    issue(&world, 0, "friend", "friend-1", None).await.data();
    assert_eq!(conversions().await, 1);
    assert_eq!(
        ambassador_balance().await,
        50,
        "the partner's referral reward"
    );
    // A second earn, or the code again: no second conversion.
    issue(&world, 0, "friend", "friend-2", Some(&code))
        .await
        .data();
    assert_eq!(conversions().await, 1);

    // A member who already earned here: the code is ignored (only a first earn converts).
    issue(&world, 0, "regular", "regular-1", None).await.data();
    issue(&world, 0, "regular", "regular-2", Some(&code))
        .await
        .data();
    assert_eq!(conversions().await, 1);

    // A new customer earning with the code converts at once; another ambassador's code
    // later changes nothing (one conversion per member and partner).
    issue(&world, 0, "walk-in", "walk-in-1", Some(&code))
        .await
        .data();
    assert_eq!(conversions().await, 2);
    let other_code = world
        .app
        .gql(
            &world.tokens[0],
            code_query,
            json!({"a": world.ambassadors[1].0}),
        )
        .await;
    let other_code = other_code.data()["createReferralCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    issue(&world, 0, "walk-in", "walk-in-2", Some(&other_code))
        .await
        .data();
    assert_eq!(conversions().await, 2);
    // A partner's code is for that partner only.
    assert_eq!(
        issue(&world, 1, "elsewhere", "e-1", Some(&code))
            .await
            .code(),
        "BAD_USER_INPUT"
    );

    world.drain().await;
    let board = world
        .board(&world.app.operator_token(), Some(0), "ALL_TIME", None)
        .await;
    assert_eq!(actual(&board), vec![(1, "amb_00".to_owned(), 50)]);
    assert_eq!(ambassador_balance().await, 100);
    let verify = coalition_hub::services::verify::run(&world.app.state.db)
        .await
        .unwrap();
    assert!(verify.is_clean(), "{verify}");
    // A referral score without its referral is caught.
    world
        .app
        .sql_count(&format!(
            "WITH a AS (INSERT INTO ambassador_activities (id, ambassador_id, partner_id, kind, score, occurred_at, recorded_at, caller, key, fingerprint)
               VALUES (gen_random_uuid(), '{}', '{}', 'REFERRAL', 10, now(), now(), 'referral', gen_random_uuid()::text, '\\x00') RETURNING 1)
             SELECT count(*) FROM a",
            world.ambassadors[1].0, world.partners[0]
        ))
        .await;
    let verify = coalition_hub::services::verify::run(&world.app.state.db)
        .await
        .unwrap();
    assert!(!verify.is_clean(), "{verify}");
}

#[tokio::test]
async fn bad_input_and_access_are_refused() {
    let world = World::new(TestApp::new().await, 2, 2).await;
    let a = &world.ambassadors[0].0;
    let future = (Utc::now() + Duration::minutes(5)).to_rfc3339();
    let old = (Utc::now() - Duration::days(500)).to_rfc3339();
    for (input, code) in [
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 0, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 1_000_001, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 5, "idempotencyKey": "k", "occurredAt": future}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 5, "idempotencyKey": "k", "occurredAt": old}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 5, "idempotencyKey": ""}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 5, "rewardPoints": -3, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
        // A reward over the per-entry cap of 10^9 points.
        (
            json!({"ambassadorId": a, "kind": "REVIEW", "score": 5, "rewardPoints": 1_000_000_001i64, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": "0190a0a0-0000-7000-8000-000000000000", "kind": "REVIEW", "score": 5, "idempotencyKey": "k"}),
            "NOT_FOUND",
        ),
        (
            json!({"ambassadorId": "nope", "kind": "REVIEW", "score": 5, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"ambassadorId": a, "kind": "BRIBE", "score": 5, "idempotencyKey": "k"}),
            "BAD_USER_INPUT",
        ),
    ] {
        assert_eq!(world.record(0, input.clone()).await.code(), code, "{input}");
    }
    // An ambassador enrolled for partner 0 only is unknown to partner 1.
    let (member, _) = world.app.enroll(&world.tokens[0], "local").await;
    let local = world
        .app
        .gql(&world.tokens[0], "mutation($m: ID!) { enrollAmbassador(input: {member: {memberId: $m}, handle: \"local_hero\"}) { id coalitionWide } }", json!({"m": member}))
        .await;
    assert_eq!(local.data()["enrollAmbassador"]["coalitionWide"], false);
    let local_id = local.data()["enrollAmbassador"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = world
        .record(
            1,
            json!({"ambassadorId": local_id, "kind": "REVIEW", "score": 5, "idempotencyKey": "x"}),
        )
        .await;
    assert_eq!(other.code(), "NOT_FOUND");
    // Handles: taken, malformed.
    let taken = world
        .app
        .gql(&world.app.operator_token(), "mutation($m: ID!) { enrollAmbassador(input: {member: {memberId: $m}, handle: \"AMB_00\"}) { id } }", json!({"m": member}))
        .await;
    assert_eq!(taken.code(), "BAD_USER_INPUT");
    // Scopes and roles.
    let no_scope = world.app.partner_token(&world.partners[0], "points:issue");
    let denied = world
        .app
        .gql(&no_scope, RECORD, json!({"input": {"ambassadorId": a, "kind": "REVIEW", "score": 5, "idempotencyKey": "k"}}))
        .await;
    assert_eq!(denied.code(), "FORBIDDEN");
    let member_token = world.app.member_token(&world.ambassadors[0].2);
    let denied = world
        .app
        .gql(&member_token, RECORD, json!({"input": {"ambassadorId": a, "kind": "REVIEW", "score": 5, "idempotencyKey": "k"}}))
        .await;
    assert_eq!(denied.code(), "FORBIDDEN");
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM ambassador_activities")
            .await,
        0,
        "nothing written"
    );
    assert_eq!(
        world
            .app
            .sql_count("SELECT count(*) FROM leaderboard_outbox")
            .await,
        0
    );

    world.drain().await;
    // A partner reads the coalition's board and its own, not another partner's.
    let theirs = world.board(&world.tokens[0], Some(1), "WEEK", None).await;
    assert_eq!(theirs.code(), "FORBIDDEN");
    world
        .board(&world.tokens[0], Some(0), "WEEK", None)
        .await
        .data();
    world
        .board(&world.tokens[0], None, "WEEK", None)
        .await
        .data();
    let future_board = world
        .board(
            &member_token,
            None,
            "WEEK",
            Some(Utc::now() + Duration::days(1)),
        )
        .await;
    assert_eq!(future_board.code(), "BAD_USER_INPUT");
    let too_many = world
        .app
        .gql(
            &member_token,
            BOARD,
            json!({"period": "WEEK", "first": 1000}),
        )
        .await;
    assert_eq!(too_many.code(), "BAD_USER_INPUT");
    // Standing: for members who are ambassadors.
    let partner_standing = world
        .app
        .gql(
            &world.tokens[0],
            STANDING,
            json!({"period": "WEEK", "n": 1}),
        )
        .await;
    assert_eq!(partner_standing.code(), "FORBIDDEN");
    let (plain, _) = world.app.enroll(&world.tokens[0], "plain").await;
    let not_ambassador = world
        .app
        .gql(
            &world.app.member_token(&plain),
            STANDING,
            json!({"period": "WEEK", "n": 1}),
        )
        .await;
    assert_eq!(not_ambassador.code(), "NOT_FOUND");
    let unranked = world
        .app
        .gql(&member_token, STANDING, json!({"period": "WEEK", "n": 1}))
        .await;
    assert_eq!(unranked.data()["ambassadorStanding"]["rank"], Value::Null);
    let no_token = world
        .app
        .gql("", BOARD, json!({"period": "WEEK", "first": 3}))
        .await;
    assert_eq!(no_token.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn boards_expose_no_member_identity() {
    let world = World::new(TestApp::new().await, 1, 3).await;
    for (i, (id, _, _)) in world.ambassadors.iter().enumerate() {
        world
            .record(0, json!({"ambassadorId": id, "kind": "CUSTOM", "score": 10 + i, "idempotencyKey": format!("p{i}")}))
            .await
            .data();
    }
    world.drain().await;
    let member_token = world.app.member_token(&world.ambassadors[1].2);
    let board = world.board(&member_token, None, "ALL_TIME", None).await;
    let standing = world
        .app
        .gql(
            &member_token,
            STANDING,
            json!({"period": "ALL_TIME", "n": 5}),
        )
        .await;
    let text = format!("{} {}", board.body, standing.body);
    for (ambassador_id, _, member_id) in &world.ambassadors {
        let number = world
            .app
            .sql_text(&format!(
                "SELECT member_number FROM members WHERE id = '{member_id}'"
            ))
            .await;
        for secret in [member_id.as_str(), number.as_str(), ambassador_id.as_str()] {
            assert!(!text.contains(secret), "a board shows {secret}");
        }
    }
    assert!(!text.contains("amb-"), "a board shows a customer id");
    // The types themselves have no such field.
    let sdl = coalition_hub::graphql::sdl();
    for type_name in [
        "LeaderboardEntry",
        "Leaderboard",
        "AmbassadorStanding",
        "BoardInfo",
    ] {
        let start = sdl.find(&format!("type {type_name} {{")).unwrap();
        let body = &sdl[start..start + sdl[start..].find('}').unwrap()];
        for field in [
            "memberId",
            "memberNumber",
            "email",
            "partnerCustomerId",
            "member:",
            "\tid:",
        ] {
            assert!(!body.contains(field), "{type_name} has {field}");
        }
    }
}
