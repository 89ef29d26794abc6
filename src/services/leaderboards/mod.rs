//! Leaderboards: Redis sorted sets, one per board (scope x period window), projected from
//! the activity log in PostgreSQL ([`relay`]) and rebuilt from it when Redis lost them
//! ([`rebuild`]). Reads go to Redis only: one Lua call per request.
//!
//! Keys, under the hub's prefix: `lb:<scope>:<period>` (members are ambassador ids, scores
//! the absolute score), `lb:handles` (ambassador id -> public handle), `lb:boards` (the set
//! of board names written), `lb:version` (how many relay batches Redis has seen: a missing
//! key means Redis was flushed or never filled, and reads refuse rather than show empty
//! boards).

pub mod rebuild;
pub mod relay;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use redis::Script;
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::{DbPool, models::ambassador::Ambassador, redis::Redis},
    domain::leaderboard::{
        Board, BoardScope, MAX_BOARD_PAGE, MAX_NEIGHBORS, Period, competition_ranks,
    },
    error::{AppError, AppResult},
};

/// Advisory lock key shared by the relay and the rebuild: one writer of the boards at a time.
pub const PROJECTION_LOCK: i64 = 0x006c_6272_656c_6179; // "lbrelay"

pub(crate) fn board_key(redis: &Redis, board: &str) -> String {
    redis.key(&format!("lb:{board}"))
}

pub(crate) fn handles_key(redis: &Redis) -> String {
    redis.key("lb:handles")
}

pub(crate) fn registry_key(redis: &Redis) -> String {
    redis.key("lb:boards")
}

pub(crate) fn version_key(redis: &Redis) -> String {
    redis.key("lb:version")
}

const TOP: &str = r#"
-- KEYS: board, handles, version. ARGV: how many.
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local out = { tostring(redis.call('ZCARD', KEYS[1])) }
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #top, 2 do
  out[#out + 1] = top[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], top[i]) or '?'
end
return out
"#;

const STANDING: &str = r#"
-- KEYS: board, handles, version. ARGV: ambassador id, neighbours on each side.
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local total = tostring(redis.call('ZCARD', KEYS[1]))
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  local lowest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return { total, lowest[2] or '' }
end
local higher = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. score, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local pos = redis.call('ZREVRANK', KEYS[1], ARGV[1])
local n = tonumber(ARGV[2])
local from = math.max(0, pos - n)
local around = redis.call('ZREVRANGE', KEYS[1], from, pos + n, 'WITHSCORES')
local out = { total, score, higher[2] or '', tostring(pos - from) }
for i = 1, #around, 2 do
  out[#out + 1] = around[i + 1]
  out[#out + 1] = tostring(redis.call('ZCOUNT', KEYS[1], '(' .. around[i + 1], '+inf'))
  out[#out + 1] = redis.call('HGET', KEYS[2], around[i]) or '?'
end
return out
"#;

/// The leaderboards' handle: the boards in Redis, the activity log in PostgreSQL they are
/// projected from, and this process's Lua scripts and ambassador cache. Cheap to clone.
#[derive(Clone)]
pub struct Leaderboards {
    pub db: DbPool,
    pub redis: Redis,
    /// For the rebuild's own connection (one long snapshot, outside the pool).
    pub database_url: Arc<str>,
    /// How often `serve` relays new activity into Redis (zero: never).
    pub relay_interval: Duration,
    scripts: Arc<Scripts>,
}

/// The reader's Lua scripts, and which ambassador each member is (an ambassador's id and
/// handle never change, so they are cached without expiry).
struct Scripts {
    top: Script,
    standing: Script,
    ambassador_of: RwLock<HashMap<Uuid, (Uuid, String)>>,
}

impl Leaderboards {
    pub fn new(db: DbPool, redis: Redis, database_url: &str, relay_interval: Duration) -> Self {
        Leaderboards {
            db,
            redis,
            database_url: database_url.into(),
            relay_interval,
            scripts: Arc::new(Scripts {
                top: Script::new(TOP),
                standing: Script::new(STANDING),
                ambassador_of: RwLock::new(HashMap::new()),
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub rank: i64,
    pub handle: String,
    pub score: i64,
}

#[derive(Debug)]
pub struct BoardPage {
    pub board: Board,
    pub total_ranked: i64,
    pub entries: Vec<Entry>,
}

#[derive(Debug)]
pub struct Standing {
    pub board: Board,
    pub handle: String,
    /// None when the ambassador has no score on this board.
    pub rank: Option<i64>,
    pub score: i64,
    pub total_ranked: i64,
    /// Points to reach the next better rank (to enter the board when unranked); None at
    /// the top or on an empty board.
    pub points_to_next_rank: Option<i64>,
    pub above: Vec<Entry>,
    pub below: Vec<Entry>,
}

fn unavailable(error: redis::RedisError) -> AppError {
    tracing::warn!(error = %error, "leaderboard read failed");
    AppError::LeaderboardUnavailable
}

fn number(text: &str) -> AppResult<i64> {
    // Redis prints scores as doubles; ours are whole numbers well inside 2^53.
    text.parse::<f64>()
        .map(|f| f as i64)
        .map_err(|_| AppError::internal(anyhow::anyhow!("unreadable leaderboard number {text:?}")))
}

/// Which board a reader asks for; partners read the coalition's board and their own.
pub fn resolve_board(
    principal: &Principal,
    partner_id: Option<Uuid>,
    period: Period,
    at: Option<DateTime<Utc>>,
) -> AppResult<Board> {
    let now = Utc::now();
    let at = at.unwrap_or(now);
    if at > now {
        return Err(AppError::bad_input("at must not be in the future"));
    }
    if let (Principal::Partner { partner_id: me, .. }, Some(asked)) = (principal, partner_id)
        && *me != asked
    {
        return Err(AppError::forbidden(
            "a partner reads the coalition's board and its own",
        ));
    }
    let scope = partner_id.map_or(BoardScope::Coalition, BoardScope::Partner);
    Ok(Board::at(scope, period, at))
}

/// The board a screen in a shop shows, open to anyone: the coalition's, or an active
/// partner's by its slug (a suspended or unknown one is `NOT_FOUND`), for the current
/// window. Its entries carry handles and scores only.
pub async fn public_top(
    boards: &Leaderboards,
    partner_slug: Option<&str>,
    period: Period,
    first: i64,
) -> AppResult<BoardPage> {
    let scope = match partner_slug {
        None => BoardScope::Coalition,
        Some(slug) => {
            let mut conn = boards.db.get().await?;
            match crate::db::models::partner::Partner::find_by_slug(&mut conn, slug).await? {
                Some(p) if p.status == "ACTIVE" && !p.is_coalition => BoardScope::Partner(p.id),
                _ => return Err(AppError::NotFound("partner")),
            }
        }
    };
    top(boards, Board::at(scope, period, Utc::now()), first).await
}

pub async fn top(boards: &Leaderboards, board: Board, first: i64) -> AppResult<BoardPage> {
    if !(1..=MAX_BOARD_PAGE).contains(&first) {
        return Err(AppError::bad_input(format!(
            "first must be between 1 and {MAX_BOARD_PAGE}"
        )));
    }
    let redis = &boards.redis;
    let mut conn = redis.manager.clone();
    let reply: Option<Vec<String>> = boards
        .scripts
        .top
        .key(board_key(redis, &board.key()))
        .key(handles_key(redis))
        .key(version_key(redis))
        .arg(first)
        .invoke_async(&mut conn)
        .await
        .map_err(unavailable)?;
    let reply = reply.ok_or_else(not_built)?;
    let total_ranked = number(&reply[0])?;
    let pairs = reply[1..].chunks_exact(2);
    let scores = pairs
        .clone()
        .map(|p| number(&p[0]))
        .collect::<AppResult<Vec<i64>>>()?;
    let ranks = competition_ranks(&scores);
    let entries = pairs
        .zip(scores.iter().zip(ranks))
        .map(|(p, (&score, rank))| Entry {
            rank,
            handle: p[1].clone(),
            score,
        })
        .collect();
    Ok(BoardPage {
        board,
        total_ranked,
        entries,
    })
}

fn not_built() -> AppError {
    tracing::warn!(
        "leaderboards are not in Redis (flushed or not yet built); the relay rebuilds them"
    );
    AppError::LeaderboardUnavailable
}

/// The calling member's standing as an ambassador.
pub async fn standing(
    boards: &Leaderboards,
    member_id: Uuid,
    board: Board,
    neighbors: i64,
) -> AppResult<Standing> {
    if !(0..=MAX_NEIGHBORS).contains(&neighbors) {
        return Err(AppError::bad_input(format!(
            "neighbors must be between 0 and {MAX_NEIGHBORS}"
        )));
    }
    let (ambassador_id, handle) = ambassador_of(boards, member_id).await?;
    let redis = &boards.redis;
    let mut conn = redis.manager.clone();
    let reply: Option<Vec<String>> = boards
        .scripts
        .standing
        .key(board_key(redis, &board.key()))
        .key(handles_key(redis))
        .key(version_key(redis))
        .arg(ambassador_id.to_string())
        .arg(neighbors)
        .invoke_async(&mut conn)
        .await
        .map_err(unavailable)?;
    let reply = reply.ok_or_else(not_built)?;
    let total_ranked = number(&reply[0])?;
    let optional = |text: &str| -> AppResult<Option<i64>> {
        if text.is_empty() {
            Ok(None)
        } else {
            number(text).map(Some)
        }
    };
    if reply.len() == 2 {
        return Ok(Standing {
            board,
            handle,
            rank: None,
            score: 0,
            total_ranked,
            points_to_next_rank: optional(&reply[1])?,
            above: vec![],
            below: vec![],
        });
    }
    let score = number(&reply[1])?;
    let next_higher = optional(&reply[2])?;
    let me_at = number(&reply[3])? as usize;
    let mut around = reply[4..]
        .chunks_exact(3)
        .map(|t| {
            Ok(Entry {
                score: number(&t[0])?,
                rank: 1 + number(&t[1])?,
                handle: t[2].clone(),
            })
        })
        .collect::<AppResult<Vec<Entry>>>()?;
    let below = around.split_off(me_at + 1);
    let me = around.pop();
    Ok(Standing {
        board,
        handle,
        rank: me.map(|e| e.rank),
        score,
        total_ranked,
        points_to_next_rank: next_higher.map(|higher| higher.saturating_sub(score)),
        above: around,
        below,
    })
}

async fn ambassador_of(boards: &Leaderboards, member_id: Uuid) -> AppResult<(Uuid, String)> {
    let cache = &boards.scripts.ambassador_of;
    if let Some(known) = cache
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&member_id)
    {
        return Ok(known.clone());
    }
    let mut conn = boards.db.get().await?;
    let ambassador = Ambassador::find_by_member(&mut conn, member_id)
        .await?
        .ok_or(AppError::NotFound("ambassador"))?;
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 1_000_000 {
        cache.clear();
    }
    let known = (ambassador.id, ambassador.handle);
    cache.insert(member_id, known.clone());
    Ok(known)
}
