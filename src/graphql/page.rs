//! Relay pagination: page sizes capped by config, opaque keyset cursors.

use async_graphql::connection::{Connection, Edge};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

pub(crate) const DEFAULT_PAGE_SIZE: usize = 20;

/// A validated `first` / `after` pair.
pub(crate) struct Page {
    pub first: usize,
    pub after: Option<Cursor>,
}

impl Page {
    pub(crate) fn new(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<Page> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE.min(max),
            Some(n) if n >= 1 && (n as usize) <= max => n as usize,
            Some(_) => {
                return Err(AppError::bad_input(format!(
                    "first must be between 1 and {max}"
                )));
            }
        };
        let after = after.as_deref().map(Cursor::decode).transpose()?;
        Ok(Page { first, after })
    }

    /// Rows to fetch: one more than the page, to learn whether there is a next page.
    pub(crate) fn limit(&self) -> i64 {
        self.first as i64 + 1
    }

    /// Builds the connection from up to `limit()` rows in cursor order.
    pub(crate) fn connection<T, N>(
        &self,
        mut rows: Vec<T>,
        cursor_of: impl Fn(&T) -> Cursor,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N>
    where
        N: async_graphql::OutputType,
    {
        let has_next = rows.len() > self.first;
        rows.truncate(self.first);
        let mut connection = Connection::new(self.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(cursor_of(&row).encode(), node(row))),
        );
        connection
    }
}

/// Position in a (timestamp, id) ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.at.timestamp_micros(), self.id))
    }

    pub(crate) fn decode(text: &str) -> AppResult<Cursor> {
        let invalid = || AppError::bad_input("after is not a cursor from this API");
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let mut parts = raw.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(micros), Some(id)) => Ok(Cursor {
                at: micros
                    .parse()
                    .ok()
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or_else(invalid)?,
                id: id.parse().map_err(|_| invalid())?,
            }),
            _ => Err(invalid()),
        }
    }

    pub(crate) fn key(&self) -> (DateTime<Utc>, Uuid) {
        (self.at, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_763_900_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "abc", "djE6eDp5"] {
            assert_eq!(Cursor::decode(bad).unwrap_err().code(), "BAD_USER_INPUT");
        }
    }

    #[test]
    fn page_sizes_are_capped() {
        assert_eq!(Page::new(None, None, 100).unwrap().first, 20);
        assert_eq!(Page::new(None, None, 5).unwrap().first, 5);
        assert!(Page::new(Some(0), None, 100).is_err());
        assert!(Page::new(Some(101), None, 100).is_err());
        assert!(Page::new(Some(-1), None, 100).is_err());
    }
}
