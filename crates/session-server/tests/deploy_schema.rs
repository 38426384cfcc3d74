//! One table, described four times: the constants of `session_core::schema`, the Terraform
//! module (`infra/modules/session-table`), the KubeVela/ACK rendering
//! (`definitions/examples/rendered/`) and what `session-server create-table` really creates on
//! DynamoDB Local. Each description is reduced to the same [`Shape`] and compared with the
//! constants; any difference fails.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::{KeyType, TimeToLiveStatus};
use serde::Deserialize as _;
use serde_json::Value;
use session_core::schema;
use session_core::store::dynamodb::testing::{local_client, local_endpoint, unique_table_name};

/// The Terraform file with the table (the variable names another one, for a negative run).
const TERRAFORM_TABLE_VAR: &str = "SESSION_DEPLOY_TERRAFORM_TABLE";
const TERRAFORM_TABLE: &str = "infra/modules/session-table/main.tf";
const ACK_RENDERING: &str = "definitions/examples/rendered/session-management-app.yaml";
const WRONG_INDEX_FIXTURE: &str = "tests/deploy/negative/schema/table-wrong-gsi.tf";

/// What matters of a sessions table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    /// The table name, where the description fixes one (the default name).
    name: Option<String>,
    partition_key: String,
    /// Declared attributes with their types: key attributes only.
    attributes: BTreeSet<(String, String)>,
    indexes: Vec<Index>,
    billing_mode: String,
    ttl_attribute: String,
    ttl_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    name: String,
    partition_key: String,
    sort_key: Option<String>,
    projection: String,
}

fn expected() -> Shape {
    Shape {
        name: Some(schema::DEFAULT_TABLE_NAME.to_owned()),
        partition_key: schema::PARTITION_KEY.to_owned(),
        attributes: schema::KEY_ATTRIBUTES
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
            .collect(),
        indexes: vec![Index {
            name: schema::USER_INDEX.to_owned(),
            partition_key: schema::USER_INDEX_PARTITION_KEY.to_owned(),
            sort_key: Some(schema::USER_INDEX_SORT_KEY.to_owned()),
            projection: schema::USER_INDEX_PROJECTION.to_owned(),
        }],
        billing_mode: schema::BILLING_MODE.to_owned(),
        ttl_attribute: schema::TTL_ATTRIBUTE.to_owned(),
        ttl_enabled: true,
    }
}

/// How `actual` differs from the schema constants (empty: it does not).
fn differences(actual: &Shape) -> Vec<String> {
    let expected = expected();
    let mut out = Vec::new();
    if let (Some(name), Some(want)) = (&actual.name, &expected.name)
        && name != want
    {
        out.push(format!("table name {name:?}, expected {want:?}"));
    }
    if actual.partition_key != expected.partition_key {
        out.push(format!(
            "partition key {:?}, expected {:?}",
            actual.partition_key, expected.partition_key
        ));
    }
    if actual.attributes != expected.attributes {
        out.push(format!(
            "attribute definitions {:?}, expected the key attributes {:?} (never {:?})",
            actual.attributes,
            expected.attributes,
            schema::TTL_ATTRIBUTE
        ));
    }
    if actual.indexes != expected.indexes {
        out.push(format!(
            "global secondary indexes {:?}, expected {:?}",
            actual.indexes, expected.indexes
        ));
    }
    if actual.billing_mode != expected.billing_mode {
        out.push(format!(
            "billing mode {:?}, expected {:?}",
            actual.billing_mode, expected.billing_mode
        ));
    }
    if actual.ttl_attribute != expected.ttl_attribute || !actual.ttl_enabled {
        out.push(format!(
            "TTL on {:?} (enabled: {}), expected enabled on {:?}",
            actual.ttl_attribute, actual.ttl_enabled, expected.ttl_attribute
        ));
    }
    out
}

fn assert_matches_schema(source: &str, actual: &Shape) {
    let found = differences(actual);
    let mut report = String::new();
    for difference in &found {
        let _ = writeln!(report, "  - {difference}");
    }
    assert!(
        found.is_empty(),
        "{source} disagrees with session_core::schema:\n{report}"
    );
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

// --- Terraform ---------------------------------------------------------------------------------

fn string_attribute(body: &hcl::Body, key: &str, variables: &hcl::Body) -> Option<String> {
    let attribute = body.attributes().find(|a| a.key() == key)?;
    match attribute.expr() {
        hcl::Expression::String(value) => Some(value.clone()),
        hcl::Expression::Traversal(traversal) => {
            // `var.NAME`: the variable's default, from variables.tf beside the file.
            let hcl::Expression::Variable(root) = &traversal.expr else {
                return None;
            };
            if root.as_str() != "var" {
                return None;
            }
            let Some(hcl::TraversalOperator::GetAttr(name)) = traversal.operators.first() else {
                return None;
            };
            variables
                .blocks()
                .find(|b| {
                    b.identifier() == "variable"
                        && b.labels().first().map(hcl::BlockLabel::as_str) == Some(name.as_str())
                })
                .and_then(|b| string_attribute(b.body(), "default", &hcl::Body::default()))
        }
        _ => None,
    }
}

fn bool_attribute(body: &hcl::Body, key: &str) -> Option<bool> {
    match body.attributes().find(|a| a.key() == key)?.expr() {
        hcl::Expression::Bool(value) => Some(*value),
        _ => None,
    }
}

fn terraform_shape(path: &Path) -> Shape {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let body: hcl::Body =
        hcl::from_str(&text).unwrap_or_else(|e| panic!("{} is not HCL: {e}", path.display()));
    let variables_path = path.with_file_name("variables.tf");
    let variables: hcl::Body = std::fs::read_to_string(&variables_path)
        .ok()
        .map(|text| hcl::from_str(&text).expect("variables.tf is HCL"))
        .unwrap_or_default();
    let tables: Vec<&hcl::Block> = body
        .blocks()
        .filter(|b| {
            b.identifier() == "resource"
                && b.labels().first().map(hcl::BlockLabel::as_str) == Some("aws_dynamodb_table")
        })
        .collect();
    assert_eq!(
        tables.len(),
        1,
        "{}: expected one aws_dynamodb_table",
        path.display()
    );
    let table = tables[0].body();
    let text_of = |body: &hcl::Body, key: &str| string_attribute(body, key, &variables);
    let blocks = |name: &'static str| table.blocks().filter(move |b| b.identifier() == name);
    let ttl = blocks("ttl").next().map(hcl::Block::body);
    Shape {
        name: text_of(table, "name"),
        partition_key: text_of(table, "hash_key").unwrap_or_default(),
        attributes: blocks("attribute")
            .map(|b| {
                (
                    text_of(b.body(), "name").unwrap_or_default(),
                    text_of(b.body(), "type").unwrap_or_default(),
                )
            })
            .collect(),
        indexes: blocks("global_secondary_index")
            .map(|b| Index {
                name: text_of(b.body(), "name").unwrap_or_default(),
                partition_key: text_of(b.body(), "hash_key").unwrap_or_default(),
                sort_key: text_of(b.body(), "range_key"),
                projection: text_of(b.body(), "projection_type").unwrap_or_default(),
            })
            .collect(),
        billing_mode: text_of(table, "billing_mode").unwrap_or_else(|| "PROVISIONED".to_owned()),
        ttl_attribute: ttl
            .and_then(|t| text_of(t, "attribute_name"))
            .unwrap_or_default(),
        ttl_enabled: ttl
            .and_then(|t| bool_attribute(t, "enabled"))
            .unwrap_or(false),
    }
}

#[test]
fn terraform_table_matches_the_schema_constants() {
    let path = std::env::var_os(TERRAFORM_TABLE_VAR)
        .map_or_else(|| workspace_root().join(TERRAFORM_TABLE), PathBuf::from);
    assert_matches_schema(&path.display().to_string(), &terraform_shape(&path));
}

#[test]
fn a_terraform_table_with_a_misnamed_index_is_caught() {
    let shape = terraform_shape(&workspace_root().join(WRONG_INDEX_FIXTURE));
    let found = differences(&shape);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("userIdIndex"), "{found:?}");
}

// --- KubeVela / ACK ----------------------------------------------------------------------------

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn key_of(keys: &Value, key_type: &str) -> Option<String> {
    keys.as_array()?
        .iter()
        .find(|k| k["keyType"] == key_type)
        .map(|k| text(&k["attributeName"]))
}

fn ack_shape(table: &Value) -> Shape {
    let spec = &table["spec"];
    Shape {
        name: Some(text(&spec["tableName"])),
        partition_key: key_of(&spec["keySchema"], "HASH").unwrap_or_default(),
        attributes: spec["attributeDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (text(&a["attributeName"]), text(&a["attributeType"])))
            .collect(),
        indexes: spec["globalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| Index {
                name: text(&i["indexName"]),
                partition_key: key_of(&i["keySchema"], "HASH").unwrap_or_default(),
                sort_key: key_of(&i["keySchema"], "RANGE"),
                projection: text(&i["projection"]["projectionType"]),
            })
            .collect(),
        billing_mode: text(&spec["billingMode"]),
        ttl_attribute: text(&spec["timeToLive"]["attributeName"]),
        ttl_enabled: spec["timeToLive"]["enabled"] == true,
    }
}

#[test]
fn ack_table_rendering_matches_the_schema_constants() {
    let path = workspace_root().join(ACK_RENDERING);
    let rendered = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let tables: Vec<Value> = serde_norway::Deserializer::from_str(&rendered)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .filter(|object| {
            object["apiVersion"] == "dynamodb.services.k8s.aws/v1alpha1"
                && object["kind"] == "Table"
        })
        .collect();
    assert_eq!(
        tables.len(),
        1,
        "{}: expected one ACK Table",
        path.display()
    );
    assert_matches_schema(&path.display().to_string(), &ack_shape(&tables[0]));
}

// --- create-table on DynamoDB Local -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_command_makes_the_table_of_the_schema_constants() {
    let Some(endpoint) = local_endpoint() else {
        return;
    };
    let table = unique_table_name("deploy-schema");
    let output = support::run(
        &["create-table", "--wait"],
        &[
            ("DYNAMODB_TABLE_NAME", table.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ],
    );
    assert!(
        output.status.success(),
        "create-table failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let client = local_client(&endpoint);
    let description = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .expect("a table description");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("DescribeTimeToLive")
        .time_to_live_description
        .expect("a TTL description");

    let key = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement], kind: KeyType| {
        keys.iter()
            .find(|k| *k.key_type() == kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let shape = Shape {
        name: None,
        partition_key: key(description.key_schema(), KeyType::Hash).unwrap_or_default(),
        attributes: description
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect(),
        indexes: description
            .global_secondary_indexes()
            .iter()
            .map(|i| Index {
                name: i.index_name().unwrap_or_default().to_owned(),
                partition_key: key(i.key_schema(), KeyType::Hash).unwrap_or_default(),
                sort_key: key(i.key_schema(), KeyType::Range),
                projection: i
                    .projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        billing_mode: description
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or_else(|| "(none reported)".to_owned(), |b| b.as_str().to_owned()),
        ttl_attribute: ttl.attribute_name().unwrap_or_default().to_owned(),
        ttl_enabled: ttl.time_to_live_status() == Some(&TimeToLiveStatus::Enabled),
    };
    assert_matches_schema(&format!("create-table ({table})"), &shape);
}
