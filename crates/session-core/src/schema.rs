//! The DynamoDB table, as constants. The `create-table` command, the Terraform module and the
//! KubeVela table component all describe this one table; a test holds them to these values.

/// Default table name (`DYNAMODB_TABLE_NAME`).
pub const DEFAULT_TABLE_NAME: &str = "user-sessions";
/// Partition key of the table: the session id (type S).
pub const PARTITION_KEY: &str = "id";
/// The attribute DynamoDB's TTL feature reads (type N, epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The global secondary index for per-user listings.
pub const USER_INDEX: &str = "userId-index";
/// Partition key of [`USER_INDEX`] (type S).
pub const USER_INDEX_PARTITION_KEY: &str = "userId";
/// Sort key of [`USER_INDEX`] (type S, RFC 3339 with milliseconds, so text order is time order).
pub const USER_INDEX_SORT_KEY: &str = "createdAt";
/// Projection of [`USER_INDEX`]: keys only, so that a write that changes no key (a touch, a
/// PUT) is not written to the index again; listings read the sessions by key.
pub const USER_INDEX_PROJECTION: &str = "KEYS_ONLY";
/// Billing mode of the table: on demand.
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// The attributes declared in the table definition (key attributes only), with their types.
pub const KEY_ATTRIBUTES: [(&str, &str); 3] = [
    (PARTITION_KEY, "S"),
    (USER_INDEX_PARTITION_KEY, "S"),
    (USER_INDEX_SORT_KEY, "S"),
];
