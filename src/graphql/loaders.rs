//! DataLoaders: what node resolvers fetch per node, loaded for all the nodes of a response
//! at once (`WHERE id = ANY($1)`), so that a page of N nodes costs a constant number of
//! round trips whatever N.
//!
//! They load raw rows: who may see which entry, hold or member is decided by the resolver,
//! with the same pure checks the services apply (`services::access`).
//!
//! They are registered once, in the schema, without a cache: a cached value could outlive
//! the write that changed it, and a schema-level loader lives as long as the process. Such a
//! loader batches the keys of concurrent requests together too (fewer round trips under
//! load); the price is `DELAY`, the time a first key waits for others before its batch is
//! sent. Keys of one response are enqueued within microseconds of each other (sibling
//! fields are polled together), so a fraction of a millisecond is enough.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use chrono::{NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::{
        DbConn, DbPool,
        models::{
            Member, MemberLink, Partner,
            ledger::{Balance, Hold, JournalEntry},
            tiers::TierRow,
        },
    },
    error::{AppError, AppResult},
    graphql::ContextExt,
};

/// How long the first key of a batch waits for more.
const DELAY: Duration = Duration::from_micros(500);

type LoadResult<V> = Result<HashMap<Uuid, V>, Arc<AppError>>;

fn load_error(e: Arc<AppError>) -> AppError {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => AppError::internal(anyhow::anyhow!("{shared:#}")),
    }
}

async fn conn(db: &DbPool) -> Result<DbConn, Arc<AppError>> {
    db.get().await.map_err(|e| Arc::new(AppError::from(e)))
}

fn db_error(e: diesel::result::Error) -> Arc<AppError> {
    Arc::new(AppError::from(e))
}

/// A member and, when it has one, its balance (loaded by the same query).
#[derive(Clone)]
pub(crate) struct MemberRow {
    pub member: Member,
    pub balance: Option<Balance>,
}

pub(crate) struct MemberLoader(DbPool);

impl Loader<Uuid> for MemberLoader {
    type Value = MemberRow;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<MemberRow> {
        let rows = Member::find_many_with_balance(&*conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(member, balance)| (member.id, MemberRow { member, balance }))
            .collect())
    }
}

pub(crate) struct PartnerLoader(DbPool);

impl Loader<Uuid> for PartnerLoader {
    type Value = Partner;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Partner> {
        let rows = Partner::find_many(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

pub(crate) struct EntryLoader(DbPool);

impl Loader<Uuid> for EntryLoader {
    type Value = JournalEntry;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<JournalEntry> {
        let rows = JournalEntry::find_many(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|e| (e.id, e)).collect())
    }
}

pub(crate) struct HoldLoader(DbPool);

impl Loader<Uuid> for HoldLoader {
    type Value = Hold;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Hold> {
        let rows = Hold::find_many(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|h| (h.id, h)).collect())
    }
}

/// Points reversed so far of an entry (absent: none).
pub(crate) struct ReversedPointsLoader(DbPool);

impl Loader<Uuid> for ReversedPointsLoader {
    type Value = i64;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<i64> {
        let rows = JournalEntry::reversed_points_many(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().collect())
    }
}

/// The member number of an entry's member (for the other half of a transfer).
pub(crate) struct EntryMemberNumberLoader(DbPool);

impl Loader<Uuid> for EntryMemberNumberLoader {
    type Value = String;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<String> {
        let rows = JournalEntry::member_numbers(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().collect())
    }
}

/// A member's partner links (absent: none).
pub(crate) struct MemberLinksLoader(DbPool);

impl Loader<Uuid> for MemberLinksLoader {
    type Value = Vec<MemberLink>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<Vec<MemberLink>> {
        let rows = MemberLink::for_members(&mut *conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        let mut links: HashMap<Uuid, Vec<MemberLink>> = HashMap::new();
        for link in rows {
            links.entry(link.member_id).or_default().push(link);
        }
        Ok(links)
    }
}

/// Free points expiring by UTC date, per (member, days ahead), as of the batch's time.
pub(crate) struct ExpiringLoader(DbPool);

impl Loader<(Uuid, i64)> for ExpiringLoader {
    type Value = Vec<(NaiveDate, i64)>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[(Uuid, i64)],
    ) -> Result<HashMap<(Uuid, i64), Self::Value>, Arc<AppError>> {
        let rows = Balance::expiring(&*conn(&self.0).await?, keys, Utc::now())
            .await
            .map_err(db_error)?;
        let mut by_key: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            by_key
                .entry((row.member_id, row.within_days))
                .or_default()
                .push((row.date, row.points));
        }
        Ok(by_key)
    }
}

/// What a member's tier is computed from: the levels and the member's earn days.
#[derive(Clone)]
pub(crate) struct TierInputs {
    pub levels: Arc<Vec<TierRow>>,
    pub earn_days: Vec<(NaiveDate, i64)>,
}

pub(crate) struct TierLoader(DbPool);

impl Loader<Uuid> for TierLoader {
    type Value = TierInputs;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> LoadResult<TierInputs> {
        let (levels, mut days) = TierRow::all_with_earn_days(&*conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        let levels = Arc::new(levels);
        Ok(keys
            .iter()
            .map(|member| {
                let earn_days = days.remove(member).unwrap_or_default();
                let levels = levels.clone();
                (*member, TierInputs { levels, earn_days })
            })
            .collect())
    }
}

/// The first page of a member's history, per (member, rows): the home screens of many
/// members in one statement.
pub(crate) struct LatestEntriesLoader(DbPool);

impl Loader<(Uuid, i64)> for LatestEntriesLoader {
    type Value = Vec<JournalEntry>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[(Uuid, i64)],
    ) -> Result<HashMap<(Uuid, i64), Self::Value>, Arc<AppError>> {
        let rows = JournalEntry::latest_of_members(&*conn(&self.0).await?, keys)
            .await
            .map_err(db_error)?;
        let mut by_member: HashMap<Uuid, Vec<JournalEntry>> = HashMap::new();
        for row in rows {
            by_member.entry(row.member_id).or_default().push(row);
        }
        Ok(keys
            .iter()
            .map(|&(member, n)| {
                let rows = by_member.get(&member).map_or(&[][..], |r| &r[..]);
                let take = usize::try_from(n).unwrap_or(0).min(rows.len());
                ((member, n), rows[..take].to_vec())
            })
            .collect())
    }
}

fn loader<K, T>(loader: T) -> DataLoader<T>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K>,
{
    DataLoader::new(loader, tokio::spawn).delay(DELAY)
}

/// Adds every loader to the schema's data.
pub(crate) fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    db: &DbPool,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .data(loader(MemberLoader(db.clone())))
        .data(loader(PartnerLoader(db.clone())))
        .data(loader(EntryLoader(db.clone())))
        .data(loader(HoldLoader(db.clone())))
        .data(loader(ReversedPointsLoader(db.clone())))
        .data(loader(EntryMemberNumberLoader(db.clone())))
        .data(loader(MemberLinksLoader(db.clone())))
        .data(loader(ExpiringLoader(db.clone())))
        .data(loader(TierLoader(db.clone())))
        .data(loader(LatestEntriesLoader(db.clone())))
}

async fn load<T, K>(ctx: &Context<'_>, key: K) -> AppResult<Option<T::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K, Error = Arc<AppError>>,
{
    ctx.data_unchecked::<DataLoader<T>>()
        .load_one(key)
        .await
        .map_err(load_error)
}

/// Free points of the member expiring within `days` days, by date.
pub(crate) async fn expiring(
    ctx: &Context<'_>,
    member: Uuid,
    days: i64,
) -> AppResult<Vec<(NaiveDate, i64)>> {
    let loaded = load::<ExpiringLoader, _>(ctx, (member, days)).await?;
    Ok(loaded.unwrap_or_default())
}

/// The levels and the member's earn days, for its tier.
pub(crate) async fn tier_inputs(ctx: &Context<'_>, member: Uuid) -> AppResult<TierInputs> {
    load::<TierLoader, _>(ctx, member)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no tier inputs loaded")))
}

/// The member's latest `n` entries, newest first.
pub(crate) async fn latest_entries(
    ctx: &Context<'_>,
    member: Uuid,
    n: i64,
) -> AppResult<Vec<JournalEntry>> {
    let loaded = load::<LatestEntriesLoader, _>(ctx, (member, n)).await?;
    Ok(loaded.unwrap_or_default())
}

/// A member by id; `NOT_FOUND` when there is none.
pub(crate) async fn member(ctx: &Context<'_>, id: Uuid) -> AppResult<MemberRow> {
    load::<MemberLoader, _>(ctx, id)
        .await?
        .ok_or(AppError::NotFound("member"))
}

pub(crate) async fn partner(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Partner>> {
    load::<PartnerLoader, _>(ctx, id).await
}

async fn load_many<T: Loader<Uuid, Error = Arc<AppError>>>(
    ctx: &Context<'_>,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, T::Value>> {
    ctx.data_unchecked::<DataLoader<T>>()
        .load_many(ids.iter().copied())
        .await
        .map_err(load_error)
}

/// Partners by id, in the order of `ids` (those not found left out).
pub(crate) async fn partners(ctx: &Context<'_>, ids: &[Uuid]) -> AppResult<Vec<Partner>> {
    let found = partners_by_id(ctx, ids).await?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Partners by id: from the process's partner cache, the missing in one batch.
pub(crate) async fn partners_by_id(
    ctx: &Context<'_>,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Partner>> {
    let cache = &ctx.state().partners;
    let mut lookup = cache.lookup(ids);
    if !lookup.missing.is_empty() {
        let loaded = load_many::<PartnerLoader>(ctx, &lookup.missing).await?;
        cache.remember(&lookup, loaded.values().cloned());
        lookup.found.extend(loaded);
    }
    Ok(lookup.found)
}

/// Members by id, in one batch.
pub(crate) async fn members(
    ctx: &Context<'_>,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, MemberRow>> {
    load_many::<MemberLoader>(ctx, ids).await
}

pub(crate) async fn entry(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<JournalEntry>> {
    load::<EntryLoader, _>(ctx, id).await
}

pub(crate) async fn hold(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Hold>> {
    load::<HoldLoader, _>(ctx, id).await
}

pub(crate) async fn reversed_points(ctx: &Context<'_>, entry_id: Uuid) -> AppResult<i64> {
    Ok(load::<ReversedPointsLoader, _>(ctx, entry_id)
        .await?
        .unwrap_or(0))
}

pub(crate) async fn member_number_of_entry(
    ctx: &Context<'_>,
    entry_id: Uuid,
) -> AppResult<Option<String>> {
    load::<EntryMemberNumberLoader, _>(ctx, entry_id).await
}

/// A member's partner links, oldest first.
pub(crate) async fn member_links(ctx: &Context<'_>, member_id: Uuid) -> AppResult<Vec<MemberLink>> {
    Ok(load::<MemberLinksLoader, _>(ctx, member_id)
        .await?
        .unwrap_or_default())
}
