//! Schema extensions: the error-code mapping, the alias limit, and the websocket's gate.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use futures_util::{StreamExt, stream::BoxStream};

use async_graphql::{
    Response, ServerError, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    },
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use crate::error::AppError;

/// Maps every error of a response to its public code and message (see [`AppError`]).
pub(crate) struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors.iter_mut().for_each(AppError::finalize);
        response
    }

    /// The same for every response of a subscription.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        Box::pin(next.run(ctx, stream).map(|mut response| {
            response.errors.iter_mut().for_each(AppError::finalize);
            response
        }))
    }
}

/// The data of a websocket connection (set at `connection_init`): its open subscriptions
/// and how many it may have.
pub(crate) struct WebsocketSession {
    pub(crate) open: Arc<AtomicUsize>,
    pub(crate) max_subscriptions: usize,
}

/// The websocket serves subscriptions only: queries and mutations (introspection included)
/// go over HTTP, through its gate (partner status, limits, timeouts, metrics). A connection
/// holds at most `max_subscriptions` at once.
pub(crate) struct WebsocketGate;

impl ExtensionFactory for WebsocketGate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(WebsocketGate)
    }
}

fn only_subscriptions(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .all(|(_, operation)| operation.node.ty == OperationType::Subscription)
}

fn refusal(error: AppError) -> ServerError {
    async_graphql::Error::from(error).into_server_error(Default::default())
}

/// Counts a subscription as open for as long as its stream lives.
struct OpenSubscription(Arc<AtomicUsize>);

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for WebsocketGate {
    /// Over the websocket, a document with anything but subscriptions is refused before it
    /// runs. (Checked here, once per document: the `execute` hook also runs for every event
    /// of a subscription.)
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let over_websocket = ctx.data_opt::<WebsocketSession>().is_some();
        if over_websocket && !only_subscriptions(&document) {
            return Err(refusal(AppError::forbidden(
                "the websocket serves subscriptions only: send queries and mutations over HTTP",
            )));
        }
        Ok(document)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let Some(session) = ctx.data_opt::<WebsocketSession>() else {
            return next.run(ctx, stream);
        };
        if session.open.fetch_add(1, Ordering::Relaxed) >= session.max_subscriptions {
            session.open.fetch_sub(1, Ordering::Relaxed);
            // RATE_LIMITED: the connection already holds its `max_subscriptions`.
            let error = refusal(AppError::RateLimited);
            return Box::pin(futures_util::stream::once(async move {
                Response::from_errors(vec![error])
            }));
        }
        let open = OpenSubscription(session.open.clone());
        Box::pin(next.run(ctx, stream).map(move |response| {
            let _open = &open;
            response
        }))
    }
}

/// Refuses documents with more than `max_aliases` aliased fields: aliases let one request
/// repeat an expensive field many times under different names.
pub(crate) struct AliasLimit {
    pub max_aliases: usize,
}

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimit {
            max_aliases: self.max_aliases,
        })
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check_aliases(&document, self.max_aliases)?;
        Ok(document)
    }
}

/// The alias limit's refusal, for the websocket's extension and the HTTP handler alike.
pub(crate) fn check_aliases(document: &ExecutableDocument, max_aliases: usize) -> ServerResult<()> {
    let aliases = count_aliases(document);
    if aliases > max_aliases {
        return Err(ServerError::new(
            format!("the query uses {aliases} aliases; at most {max_aliases} are allowed"),
            None,
        ));
    }
    Ok(())
}

/// Aliases as executed: a fragment counts once per spread, so a fragment of aliases spread
/// many times cannot slip under the limit. Each fragment is counted once (memoized), so
/// nested spreads cost linear time; cycles (refused later by validation) count as nothing.
pub(crate) fn count_aliases(document: &ExecutableDocument) -> usize {
    struct Counter<'a> {
        doc: &'a ExecutableDocument,
        fragments: HashMap<&'a str, usize>,
        visiting: Vec<&'a str>,
    }
    impl<'a> Counter<'a> {
        fn set(&mut self, set: &'a SelectionSet) -> usize {
            set.items.iter().fold(0usize, |total, item| {
                let n = match &item.node {
                    Selection::Field(field) => usize::from(field.node.alias.is_some())
                        .saturating_add(self.set(&field.node.selection_set.node)),
                    Selection::InlineFragment(f) => self.set(&f.node.selection_set.node),
                    Selection::FragmentSpread(spread) => {
                        self.fragment(spread.node.fragment_name.node.as_str())
                    }
                };
                total.saturating_add(n)
            })
        }

        fn fragment(&mut self, name: &'a str) -> usize {
            if let Some(n) = self.fragments.get(name) {
                return *n;
            }
            let doc = self.doc;
            let Some((key, fragment)) = doc.fragments.get_key_value(name) else {
                return 0;
            };
            if self.visiting.contains(&name) {
                return 0;
            }
            self.visiting.push(name);
            let n = self.set(&fragment.node.selection_set.node);
            self.visiting.pop();
            self.fragments.insert(key.as_str(), n);
            n
        }
    }
    let mut counter = Counter {
        doc: document,
        fragments: HashMap::new(),
        visiting: Vec::new(),
    };
    document
        .operations
        .iter()
        .map(|(_, op)| counter.set(&op.node.selection_set.node))
        .fold(0usize, usize::saturating_add)
}

/// True when an operation asks for `__schema` or `__type` at its root (directly or through
/// fragments): such a request is refused outright for callers who may not introspect,
/// rather than answered with silent nulls.
pub(crate) fn selects_introspection(document: &ExecutableDocument) -> bool {
    fn in_root(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
        depth < 16
            && set.items.iter().any(|item| match &item.node {
                Selection::Field(field) => {
                    matches!(field.node.name.node.as_str(), "__schema" | "__type")
                }
                Selection::InlineFragment(f) => in_root(doc, &f.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(spread) => doc
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .is_some_and(|f| in_root(doc, &f.node.selection_set.node, depth + 1)),
            })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| in_root(document, &op.node.selection_set.node, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_introspection_at_the_root_only() {
        let parse = |q: &str| async_graphql::parser::parse_query(q).unwrap();
        assert!(selects_introspection(&parse(
            "{ __schema { types { name } } }"
        )));
        assert!(selects_introspection(&parse(
            "{ ... on Query { __type(name: \"X\") { name } } }"
        )));
        assert!(selects_introspection(&parse(
            "{ ...F } fragment F on Query { __schema { queryType { name } } }"
        )));
        assert!(!selects_introspection(&parse(
            "{ __typename viewer { role } }"
        )));
    }

    #[test]
    fn counts_aliases_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: viewer { role } b: viewer { r: role } ...F ...F } fragment F on Query { c: viewer { role } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&doc), 5);
        let cyclic = async_graphql::parser::parse_query(
            "query { ...A } fragment A on Query { x: viewer { role } ...B } fragment B on Query { ...A }",
        )
        .unwrap();
        assert_eq!(count_aliases(&cyclic), 1);
        // 40 levels of fragments each spreading the next twice: 2^40 aliases as executed,
        // counted in linear time.
        let mut text = String::from("query { ...F0 }");
        for i in 0..40 {
            text += &format!(" fragment F{i} on Query {{ ...F{} ...F{} }}", i + 1, i + 1);
        }
        text += " fragment F40 on Query { x: viewer { role } }";
        let nested = async_graphql::parser::parse_query(&text).unwrap();
        assert_eq!(count_aliases(&nested), 1usize << 40);
    }
}
