//! Coalition tiers: the levels (set by the operator) and a member's standing, computed
//! from the ledger (domain::tiers holds the rule).

use chrono::{NaiveDate, Utc};
use diesel_async::AsyncConnection;

use crate::db::DbPool;
use crate::services::audit::{self, Change};
use crate::{
    auth::Principal,
    db::models::tiers::TierRow,
    domain::tiers::{self, TierLevel, TierStatus},
    error::{AppError, AppResult},
};

fn level(row: TierRow) -> TierLevel {
    TierLevel {
        name: row.name,
        min_points: row.min_points,
        earn_multiplier: row.earn_multiplier,
    }
}

pub(crate) async fn levels(db: &DbPool) -> AppResult<Vec<TierLevel>> {
    let mut conn = db.get().await?;
    Ok(TierRow::all(&mut conn)
        .await?
        .into_iter()
        .map(level)
        .collect())
}

/// Operator: replaces the levels. Members' tiers follow at once (they are computed).
pub(crate) async fn set_levels(
    db: &DbPool,
    principal: &Principal,
    levels: Vec<TierLevel>,
) -> AppResult<Vec<TierLevel>> {
    principal.require_operator()?;
    let levels = tiers::validate_levels(levels)?;
    let rows = levels
        .into_iter()
        .map(|l| TierRow {
            name: l.name,
            min_points: l.min_points,
            earn_multiplier: l.earn_multiplier,
        })
        .collect();
    let mut conn = db.get().await?;
    let saved = conn
        .transaction(async |conn| {
            let before = TierRow::all(conn).await?;
            let saved = TierRow::replace_all(conn, rows).await?;
            let change = Change::new("tiers.set", None, "tiers")
                .before(&before)
                .after(&saved);
            audit::record(conn, principal, change).await?;
            Ok::<_, AppError>(saved)
        })
        .await?;
    Ok(saved.into_iter().map(level).collect())
}

/// A member's tier today, with the levels it was computed against.
pub(crate) struct MemberTier {
    pub levels: Vec<TierLevel>,
    pub status: TierStatus,
    pub today: NaiveDate,
}

/// From the levels and the member's earn days as `TierRow::all_with_earn_days` reads them
/// (through the tier DataLoader, many members at once).
pub(crate) fn member_tier(
    levels: &[TierRow],
    earns: &[(NaiveDate, i64)],
    member_since: NaiveDate,
) -> MemberTier {
    let levels: Vec<TierLevel> = levels.iter().cloned().map(level).collect();
    let today = Utc::now().date_naive();
    let status = tiers::tier_status(&levels, earns, member_since, today);
    MemberTier {
        levels,
        status,
        today,
    }
}
