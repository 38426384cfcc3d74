//! The capacity units DynamoDB reports for each call, as the metric
//! [`CAPACITY_METRIC`]`{operation, kind, target}`.
//!
//! Every call asks for `ReturnConsumedCapacity: INDEXES`, so that the answer splits the units
//! spent on the table from those spent on `userId-index`. `operation` is the store operation
//! the call serves (the `operation` label of `session_store_operation_duration_seconds`), so a
//! store operation that makes several calls (a PATCH reads, then writes) adds them all up.
//!
//! DynamoDB reports units only on success: a write refused by its condition, or a cancelled
//! transaction, is charged (1 WCU per KB of the item at least) but its error carries no
//! figure, so it is not counted here.
//!
//! The metric is a gauge that only grows: the `metrics` facade's counters take whole numbers,
//! and DynamoDB charges half units (an eventually consistent read of up to 4 KB is 0.5 RCU).

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use metrics::gauge;

/// The metric's name.
pub(super) const CAPACITY_METRIC: &str = "session_store_capacity_units_total";

/// What every call asks DynamoDB for: its units, split by table and index.
pub(super) const RETURN: ReturnConsumedCapacity = ReturnConsumedCapacity::Indexes;

/// Whether a call spends read or write units (the `kind` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Read capacity units: GetItem, BatchGetItem, Query, Scan.
    Read,
    /// Write capacity units: PutItem, UpdateItem, DeleteItem, BatchWriteItem,
    /// TransactWriteItems.
    Write,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// The units of one answer: (table, indexes). Without the split (an answer to a request that
/// did not ask for it), the total counts as the table's.
fn split(consumed: &ConsumedCapacity) -> (f64, f64) {
    let index: f64 = consumed
        .global_secondary_indexes()
        .map(|indexes| indexes.values().filter_map(|c| c.capacity_units()).sum())
        .unwrap_or(0.0);
    let table = consumed
        .table()
        .and_then(|table| table.capacity_units())
        .unwrap_or_else(|| (consumed.capacity_units().unwrap_or(0.0) - index).max(0.0));
    (table, index)
}

/// Adds the units of the answers `consumed` (one per table a batch touched) to the metric.
pub(super) fn record<'a>(
    operation: &'static str,
    kind: Kind,
    consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
) {
    let (table, index) = consumed
        .into_iter()
        .map(split)
        .fold((0.0, 0.0), |(t, i), (table, index)| (t + table, i + index));
    for (target, units) in [("table", table), ("index", index)] {
        // A series only where units were spent: an index that no call touched has none.
        if units > 0.0 {
            gauge!(CAPACITY_METRIC, "operation" => operation, "kind" => kind.label(), "target" => target)
                .increment(units);
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::Capacity;

    use super::*;

    fn units(value: f64) -> Capacity {
        Capacity::builder().capacity_units(value).build()
    }

    #[test]
    fn table_and_index_units_are_told_apart() {
        let put = ConsumedCapacity::builder()
            .capacity_units(6.0)
            .table(units(3.0))
            .global_secondary_indexes("userId-index", units(3.0))
            .build();
        assert_eq!(split(&put), (3.0, 3.0));
        let query = ConsumedCapacity::builder()
            .capacity_units(0.5)
            .table(units(0.0))
            .global_secondary_indexes("userId-index", units(0.5))
            .build();
        assert_eq!(split(&query), (0.0, 0.5));
    }

    #[test]
    fn a_total_without_the_split_counts_as_the_tables() {
        let total_only = ConsumedCapacity::builder().capacity_units(2.0).build();
        assert_eq!(split(&total_only), (2.0, 0.0));
        assert_eq!(split(&ConsumedCapacity::builder().build()), (0.0, 0.0));
    }
}
