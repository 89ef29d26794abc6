//! What a request costs against its caller's rate limit, from its parsed document, before
//! it runs: the schema's complexity rule (one per field; a list's fields once per item it
//! asks for) plus a surcharge per mutation field, a write. It mirrors the `complexity`
//! of the connection fields (`first`, else the default page size), so that a page of 100
//! costs what 100 nodes do.

use async_graphql::{
    Value, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
    },
};

use crate::graphql::page::DEFAULT_PAGE_SIZE;

/// A mutation field costs this much more than a query field.
pub(crate) const MUTATION_SURCHARGE: u64 = 10;

/// An introspection query costs this much more: its answer is the whole schema, whatever
/// it selects.
pub(crate) const INTROSPECTION_SURCHARGE: u32 = 200;

/// Fragments nest at most this deep (validation, which runs later, refuses cycles).
const MAX_NESTING: usize = 32;

/// The cost of the operation `operation` names (or the only one), at least 1.
pub(crate) fn of(
    document: &ExecutableDocument,
    operation: Option<&str>,
    variables: &Variables,
    max_page: usize,
) -> u32 {
    let op = match (&document.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    let Some(op) = op else { return 1 };
    let walk = Walk {
        document,
        variables,
        max_page: max_page as u64,
    };
    let set = &op.node.selection_set.node;
    let mut cost = walk.set(set, 0);
    if op.node.ty == OperationType::Mutation {
        cost = cost.saturating_add(MUTATION_SURCHARGE.saturating_mul(walk.root_fields(set, 0)));
    }
    u32::try_from(cost.max(1)).unwrap_or(u32::MAX)
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    max_page: u64,
}

impl Walk<'_> {
    fn set(&self, set: &SelectionSet, depth: usize) -> u64 {
        if depth > MAX_NESTING {
            return 0;
        }
        set.items.iter().fold(0u64, |sum, item| {
            let cost = match &item.node {
                Selection::Field(field) => self.field(&field.node, depth),
                Selection::InlineFragment(f) => self.set(&f.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(spread) => self
                    .document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |f| self.set(&f.node.selection_set.node, depth + 1)),
            };
            sum.saturating_add(cost)
        })
    }

    fn field(&self, field: &Field, depth: usize) -> u64 {
        let children = self.set(&field.selection_set.node, depth + 1);
        1u64.saturating_add(self.items(field).saturating_mul(children))
    }

    /// How many items a field's children stand for: its `first`, or the default page
    /// size for a connection without one; 1 for anything else.
    fn items(&self, field: &Field) -> u64 {
        let first = field.get_argument("first").and_then(|v| {
            let value = v
                .node
                .clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()));
            match value {
                Ok(Value::Number(n)) => n.as_u64(),
                _ => None,
            }
        });
        let is_connection = field.selection_set.node.items.iter().any(|item| {
            matches!(&item.node, Selection::Field(f) if matches!(f.node.name.node.as_str(), "edges" | "nodes"))
        });
        match first {
            Some(n) => n.clamp(1, self.max_page),
            None if is_connection => DEFAULT_PAGE_SIZE as u64,
            None => 1,
        }
    }

    /// The mutation's fields at the root (through fragments).
    fn root_fields(&self, set: &SelectionSet, depth: usize) -> u64 {
        if depth > MAX_NESTING {
            return 0;
        }
        set.items.iter().fold(0u64, |sum, item| {
            sum.saturating_add(match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(f) => {
                    self.root_fields(&f.node.selection_set.node, depth + 1)
                }
                Selection::FragmentSpread(spread) => self
                    .document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |f| {
                        self.root_fields(&f.node.selection_set.node, depth + 1)
                    }),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str, variables: serde_json::Value) -> u32 {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let variables = Variables::from_json(variables);
        of(&document, None, &variables, 100)
    }

    #[test]
    fn fields_count_once_and_a_page_once_per_item() {
        assert_eq!(cost("{ me { id } }", serde_json::json!({})), 2);
        // ledgerEntries (1) + 10 items x (nodes 1 + id 1 + points 1)
        assert_eq!(
            cost(
                "{ ledgerEntries(first: 10) { nodes { id points } } }",
                serde_json::json!({})
            ),
            31
        );
        // The default page (20) without `first`; a variable `first`; capped at the page size.
        assert_eq!(
            cost("{ ledgerEntries { nodes { id } } }", serde_json::json!({})),
            41
        );
        assert_eq!(
            cost(
                "query($n: Int) { ledgerEntries(first: $n) { nodes { id } } }",
                serde_json::json!({"n": 5})
            ),
            11
        );
        assert_eq!(
            cost(
                "{ ledgerEntries(first: 100000) { nodes { id } } }",
                serde_json::json!({})
            ),
            201
        );
    }

    #[test]
    fn mutations_and_fragments_count() {
        let one = cost(
            "mutation { issuePoints(input: {}) { entryId } }",
            serde_json::json!({}),
        );
        assert_eq!(one, 2 + MUTATION_SURCHARGE as u32);
        let spread = cost(
            "query { ...F } fragment F on Query { me { id } }",
            serde_json::json!({}),
        );
        assert_eq!(spread, 2);
        // A cycle (which validation refuses later) ends.
        assert!(
            cost(
                "query { ...A } fragment A on Query { ...A }",
                serde_json::json!({})
            ) >= 1
        );
    }
}
