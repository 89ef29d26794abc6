//! Family links between members: asked for by one, active once both have asked.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{family_links, family_requests_unmatched, members};

/// How a link between the member and another stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Both asked: transfers are allowed.
    Active,
    /// The member asked; the other has not yet.
    Requested,
    /// The other asked; the member has not yet.
    Offered,
}

#[derive(Clone, Debug)]
pub struct FamilyMember {
    /// None for a request to a card number that no member has (it stays `Requested`).
    pub member_id: Option<Uuid>,
    pub member_number: String,
    pub state: LinkState,
    pub since: DateTime<Utc>,
}

/// Locks the member's row until the transaction ends: two requests of one member are then
/// counted against its limit one after the other.
pub async fn lock_member(conn: &mut AsyncPgConnection, member_id: Uuid) -> QueryResult<()> {
    members::table
        .find(member_id)
        .select(members::id)
        .for_update()
        .first::<Uuid>(conn)
        .await
        .map(drop)
}

/// Records the member's request to link `other` (asking again changes nothing).
pub async fn request(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    other: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(family_links::table)
        .values((
            family_links::member_id.eq(member_id),
            family_links::linked_member_id.eq(other),
            family_links::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the member's request to link a card number that no member has (asking again
/// changes nothing).
pub async fn request_unmatched(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    member_number: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(family_requests_unmatched::table)
        .values((
            family_requests_unmatched::member_id.eq(member_id),
            family_requests_unmatched::member_number.eq(member_number),
            family_requests_unmatched::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Withdraws such a request. Returns how many rows went.
pub async fn remove_unmatched(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    member_number: &str,
) -> QueryResult<usize> {
    diesel::delete(
        family_requests_unmatched::table
            .filter(family_requests_unmatched::member_id.eq(member_id))
            .filter(family_requests_unmatched::member_number.eq(member_number)),
    )
    .execute(conn)
    .await
}

/// Removes the link in both directions. Returns how many rows went.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    member_id: Uuid,
    other: Uuid,
) -> QueryResult<usize> {
    diesel::delete(
        family_links::table.filter(
            (family_links::member_id
                .eq(member_id)
                .and(family_links::linked_member_id.eq(other)))
            .or(family_links::member_id
                .eq(other)
                .and(family_links::linked_member_id.eq(member_id))),
        ),
    )
    .execute(conn)
    .await
}

/// Requests the member made (to members and to unmatched card numbers) and requests made
/// to it, as one list by other member, oldest first.
pub async fn of(conn: &mut AsyncPgConnection, member_id: Uuid) -> QueryResult<Vec<FamilyMember>> {
    let asked: Vec<(Uuid, DateTime<Utc>)> = family_links::table
        .filter(family_links::member_id.eq(member_id))
        .select((family_links::linked_member_id, family_links::created_at))
        .load(conn)
        .await?;
    let asked_by: Vec<(Uuid, DateTime<Utc>)> = family_links::table
        .filter(family_links::linked_member_id.eq(member_id))
        .select((family_links::member_id, family_links::created_at))
        .load(conn)
        .await?;
    let mut others: Vec<(Uuid, LinkState, DateTime<Utc>)> = Vec::new();
    for (other, at) in &asked {
        match asked_by.iter().find(|(o, _)| o == other) {
            Some((_, their)) => others.push((*other, LinkState::Active, (*at).max(*their))),
            None => others.push((*other, LinkState::Requested, *at)),
        }
    }
    for (other, at) in &asked_by {
        if !asked.iter().any(|(o, _)| o == other) {
            others.push((*other, LinkState::Offered, *at));
        }
    }
    let ids: Vec<Uuid> = others.iter().map(|(id, _, _)| *id).collect();
    let numbers: Vec<(Uuid, String)> = members::table
        .filter(members::id.eq_any(&ids))
        .select((members::id, members::member_number))
        .load(conn)
        .await?;
    let mut list: Vec<FamilyMember> = others
        .into_iter()
        .filter_map(|(id, state, since)| {
            numbers
                .iter()
                .find(|(m, _)| *m == id)
                .map(|(_, number)| FamilyMember {
                    member_id: Some(id),
                    member_number: number.clone(),
                    state,
                    since,
                })
        })
        .collect();
    let unmatched: Vec<(String, DateTime<Utc>)> = family_requests_unmatched::table
        .filter(family_requests_unmatched::member_id.eq(member_id))
        .select((
            family_requests_unmatched::member_number,
            family_requests_unmatched::created_at,
        ))
        .load(conn)
        .await?;
    list.extend(unmatched.into_iter().map(|(number, since)| FamilyMember {
        member_id: None,
        member_number: number,
        state: LinkState::Requested,
        since,
    }));
    list.sort_by_key(|f| f.since);
    Ok(list)
}
