//! The Lambda build carries no embedded store: `redb` is not in its dependency tree.

use std::process::Command;

#[test]
fn the_function_is_built_without_the_embedded_store() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "-p",
            "session-lambda",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--locked",
            "--offline",
        ])
        .output()
        .expect("run cargo tree");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&output.stdout);
    let has = |name: &str| {
        tree.lines()
            .any(|line| line.starts_with(&format!("{name} v")))
    };
    // The tree is the real one (guards against checking an empty or truncated output)...
    assert!(has("lambda_http"), "{tree}");
    assert!(has("aws-sdk-dynamodb"), "{tree}");
    assert!(has("session-core"), "{tree}");
    // ...and the embedded store's database is not in it.
    assert!(
        !has("redb"),
        "redb is compiled into the Lambda function:\n{tree}"
    );
}
