//! Parsed GraphQL documents by query text. Tills and apps send the same few operations
//! with different variables, and parsing each one again was a good part of the hub's own
//! CPU per request. Bounded: once full, new texts are parsed and not kept (so a client
//! sending endless distinct queries costs parsing only, never memory).

use std::{collections::HashMap, sync::Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Texts kept at most, and the longest text kept.
const CAPACITY: usize = 1024;
const MAX_QUERY_BYTES: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct DocumentCache {
    documents: Mutex<HashMap<String, ExecutableDocument>>,
}

impl DocumentCache {
    /// Gives the request its parsed document: a copy of the kept one, or parsed now (and
    /// kept, when there is room). A text that does not parse is left for the request to
    /// report.
    pub(crate) fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        if let Some(document) = self.lock().get(&request.query) {
            request.set_parsed_query(document.clone());
            return;
        }
        let Ok(document) = request.parsed_query().cloned() else {
            return;
        };
        let mut documents = self.lock();
        if documents.len() < CAPACITY {
            documents.insert(request.query.clone(), document);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.documents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl DocumentCache {
        fn len(&self) -> usize {
            self.lock().len()
        }
    }

    #[test]
    fn documents_are_kept_by_text_and_bounded() {
        let cache = DocumentCache::default();
        let mut first = async_graphql::Request::new("{ viewer { role } }");
        cache.prepare(&mut first);
        assert_eq!(cache.len(), 1);
        let mut again = async_graphql::Request::new("{ viewer { role } }");
        cache.prepare(&mut again);
        assert_eq!(cache.len(), 1);
        assert!(again.parsed_query().is_ok());
        let mut broken = async_graphql::Request::new("{ viewer { ");
        cache.prepare(&mut broken);
        assert_eq!(cache.len(), 1, "a text that does not parse is not kept");
        assert!(broken.parsed_query().is_err());
        for i in 0..CAPACITY + 10 {
            cache.prepare(&mut async_graphql::Request::new(format!(
                "{{ a{i}: viewer {{ role }} }}"
            )));
        }
        assert_eq!(cache.len(), CAPACITY);
    }
}
