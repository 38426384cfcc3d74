//! The command line as a user meets it: `--help` in groups, and a refused setting named the way
//! the user gave it (the variable they set, or the flag they passed).

mod support;

use support::run;

/// Runs the binary, which must refuse its settings; returns what it wrote to stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = run(args, env);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?} {env:?} must be refused"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_variable_is_reported_under_its_name_not_the_flag() {
    for (variable, value, flag, expected) in [
        (
            "SESSION_TTL_HOURS",
            "abc",
            "--session-ttl-hours",
            r#"error: SESSION_TTL_HOURS: "abc" is not a whole number of hours"#,
        ),
        (
            "RATE_LIMIT_BURST",
            "0",
            "--rate-limit-burst",
            r#"error: RATE_LIMIT_BURST: "0" is out of range (1 to 1000000)"#,
        ),
        (
            "AUTH_DISABLED",
            "maybe",
            "--auth-disabled",
            r#"error: AUTH_DISABLED: "maybe" is not one of true, false, yes, no, on, off, 1, 0, y, n, t, f"#,
        ),
        (
            "SHUTDOWN_GRACE_SECONDS",
            "soon",
            "--shutdown-grace-seconds",
            r#"error: SHUTDOWN_GRACE_SECONDS: "soon" is not a whole number of seconds"#,
        ),
    ] {
        for args in [&[][..], &["serve"][..]] {
            let stderr = refused(args, &[(variable, value)]);
            assert_eq!(stderr.trim_end(), expected, "{args:?} {variable}={value}");
            assert!(!stderr.contains(flag), "{args:?} {variable}: {stderr}");
        }
    }
}

#[test]
fn a_bad_flag_is_reported_under_the_flag() {
    let stderr = refused(&["--session-ttl-hours", "abc"], &[]);
    assert_eq!(
        stderr.trim_end(),
        r#"error: --session-ttl-hours: "abc" is not a whole number of hours"#
    );
    // A good variable beside it does not change whose value was refused.
    let stderr = refused(
        &["serve", "--auth-disabled=maybe"],
        &[("SESSION_TTL_HOURS", "2")],
    );
    assert!(
        stderr.starts_with(r#"error: --auth-disabled: "maybe" is not one of true, false"#),
        "{stderr}"
    );
    assert!(!stderr.contains("AUTH_DISABLED"), "{stderr}");
}

#[test]
fn help_groups_the_options_and_shows_every_boolean_spelling() {
    let output = run(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let headings = [
        "Server:",
        "Store:",
        "DynamoDB store:",
        "Sessions:",
        "Authentication and limits:",
        "Shutdown:",
        "Logging:",
    ];
    let positions: Vec<usize> = headings
        .iter()
        .map(|heading| {
            help.lines()
                .position(|line| line == *heading)
                .unwrap_or_else(|| panic!("--help has no heading {heading}:\n{help}"))
        })
        .collect();
    // Each option sits under its group, next to its relatives.
    let group_of = |flag: &str| {
        let line = help
            .lines()
            .position(|line| line.trim_start().starts_with(&format!("{flag} <")))
            .unwrap_or_else(|| panic!("--help does not show {flag}"));
        headings[positions
            .iter()
            .rposition(|&start| start < line)
            .expect("a group")]
    };
    for (flag, heading) in [
        ("--port", "Server:"),
        ("--bind-address", "Server:"),
        ("--session-store", "Store:"),
        ("--embedded-db-path", "Store:"),
        ("--dynamodb-table-name", "DynamoDB store:"),
        ("--session-ttl-hours", "Sessions:"),
        ("--session-cursor-secret", "Sessions:"),
        ("--session-cursor-secret-file", "Sessions:"),
        ("--api-tokens", "Authentication and limits:"),
        ("--api-tokens-file", "Authentication and limits:"),
        ("--auth-disabled", "Authentication and limits:"),
        ("--session-cookie-name", "Authentication and limits:"),
        ("--forward-auth-data", "Authentication and limits:"),
        (
            "--forward-auth-data-max-bytes",
            "Authentication and limits:",
        ),
        ("--rate-limit-burst", "Authentication and limits:"),
        ("--shutdown-grace-seconds", "Shutdown:"),
        ("--log-format", "Logging:"),
    ] {
        assert_eq!(group_of(flag), heading, "{flag}");
    }
    let spellings = "[possible values: true, false, yes, no, on, off, 1, 0, y, n, t, f]";
    assert_eq!(
        help.matches(spellings).count(),
        4,
        "SESSION_SLIDING, SESSION_REQUIRE_IF_MATCH, AUTH_DISABLED and FORWARD_AUTH_DATA list every spelling:\n{help}"
    );
    assert!(help.contains("[env: SESSION_TTL_HOURS=]"), "{help}");
    assert!(help.contains("[default: 24]"), "{help}");
}
