//! Partner rows, cached in each hub process: every partner request checks its partner's
//! status, and every page of entries shows partner names, so neither pays a database round
//! trip. A change to a partner is announced by PostgreSQL (`NOTIFY hub_partners`, from
//! `sql/partners/status_notify.sql`) and drops the cached copy in every hub process at once;
//! the short lifetime of an entry bounds staleness should the announcement channel be down.
//! Money never depends on this cache: every ledger function reads the partner itself.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::{
    db::{DbPool, announcements::Announcement, models::Partner},
    error::{AppError, AppResult},
};

pub(crate) const CHANNEL: &str = "hub_partners";

/// Bounds the map should a flood of ids be asked for (a coalition has few partners).
const MAX_ENTRIES: usize = 100_000;

pub struct PartnerCache {
    inner: RwLock<Entries>,
    ttl: Duration,
}

#[derive(Default)]
struct Entries {
    rows: HashMap<Uuid, (Partner, Instant)>,
    /// Bumped by every `forget`: rows read before a change are not stored after it.
    generation: u64,
}

/// What [`PartnerCache::lookup`] found, and what the caller must load.
pub struct Lookup {
    pub found: HashMap<Uuid, Partner>,
    pub missing: Vec<Uuid>,
    generation: u64,
}

impl PartnerCache {
    pub fn new(ttl: Duration) -> PartnerCache {
        PartnerCache {
            inner: RwLock::new(Entries::default()),
            ttl,
        }
    }

    /// The cached rows among `ids` (fresh ones only) and the ids to load.
    pub fn lookup(&self, ids: &[Uuid]) -> Lookup {
        let entries = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut lookup = Lookup {
            found: HashMap::with_capacity(ids.len()),
            missing: Vec::new(),
            generation: entries.generation,
        };
        for id in ids {
            match entries
                .rows
                .get(id)
                .filter(|(_, at)| at.elapsed() < self.ttl)
            {
                Some((partner, _)) => {
                    lookup.found.insert(*id, partner.clone());
                }
                None if !lookup.missing.contains(id) => lookup.missing.push(*id),
                None => {}
            }
        }
        lookup
    }

    /// Stores rows loaded for `lookup`, unless a partner changed meanwhile.
    pub fn remember(&self, lookup: &Lookup, rows: impl IntoIterator<Item = Partner>) {
        let mut entries = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if entries.generation != lookup.generation {
            return;
        }
        if entries.rows.len() > MAX_ENTRIES {
            entries.rows.clear();
        }
        let now = Instant::now();
        for partner in rows {
            entries.rows.insert(partner.id, (partner, now));
        }
    }

    /// Partners by id (unknown ids are left out), loading the missing in one query.
    pub async fn get_many(&self, db: &DbPool, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Partner>> {
        let mut lookup = self.lookup(ids);
        if !lookup.missing.is_empty() {
            let rows = Partner::find_many(&mut *db.get().await?, &lookup.missing).await?;
            self.remember(&lookup, rows.iter().cloned());
            lookup.found.extend(rows.into_iter().map(|p| (p.id, p)));
        }
        Ok(lookup.found)
    }

    /// Refuses a suspended partner (`PARTNER_SUSPENDED`) or one that does not exist.
    /// Checked on every partner request: a cached row is read in place, not copied.
    pub async fn require_active(&self, db: &DbPool, id: Uuid) -> AppResult<()> {
        let status = match self.cached_status_is_active(id) {
            Some(active) => active,
            None => {
                let partner = self
                    .get_many(db, &[id])
                    .await?
                    .remove(&id)
                    .ok_or(AppError::Unauthenticated("unknown partner"))?;
                partner.status == "ACTIVE"
            }
        };
        match status {
            true => Ok(()),
            false => Err(AppError::PartnerSuspended),
        }
    }

    fn cached_status_is_active(&self, id: Uuid) -> Option<bool> {
        let entries = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let (partner, at) = entries.rows.get(&id)?;
        (at.elapsed() < self.ttl).then(|| partner.status == "ACTIVE")
    }

    pub fn forget(&self, id: Uuid) {
        let mut entries = self.inner.write().unwrap_or_else(|p| p.into_inner());
        entries.generation += 1;
        entries.rows.remove(&id);
    }

    pub fn forget_all(&self) {
        let mut entries = self.inner.write().unwrap_or_else(|p| p.into_inner());
        entries.generation += 1;
        entries.rows.clear();
    }
}

/// Drops a partner's cached row when PostgreSQL announces a change to it (everything when
/// announcements may have been missed).
pub(crate) fn announcement(cache: std::sync::Arc<PartnerCache>) -> Announcement {
    Announcement {
        channel: CHANNEL,
        heard: Box::new(move |payload| match payload.map(str::parse) {
            Some(Ok(id)) => cache.forget(id),
            _ => cache.forget_all(),
        }),
    }
}
