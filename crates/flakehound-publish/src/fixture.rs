//! A hand-built wrapped run covering every status, shared by the publishers' tests.
//!
//! Built by hand (not parsed) so that each publisher is tested against exactly the records the
//! wrapper produces: pytest, go, JVM and Rust-style tests, retries, quarantine facts, expired
//! entries, warnings and hostile text (markup, pipes, backticks, `]]>`, ANSI colours).

use flakehound_model::{
    Attempt, Dialect, Failure, Outcome, QuarantineInfo, RunStatus, TestCase, WrappedRun,
    WrappedTest, canonical_id,
};

pub(crate) fn attempt(outcome: Outcome, secs: f64, failure: Option<(&str, &str, &str)>) -> Attempt {
    Attempt {
        outcome,
        duration: Some(secs),
        failure: failure.map(|(kind, message, details)| Failure {
            kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
            message: Some(message.to_string()).filter(|m| !m.is_empty()),
            details: Some(details.to_string()).filter(|d| !d.is_empty()),
        }),
        stdout: None,
        stderr: None,
    }
}

pub(crate) fn case(
    dialect: Dialect,
    classname: Option<&str>,
    name: &str,
    file: Option<&str>,
    attempts: Vec<Attempt>,
) -> TestCase {
    let outcome = attempts.last().map_or(Outcome::Passed, |a| a.outcome);
    TestCase {
        id: canonical_id(dialect, classname, name, file, None),
        classname: classname.map(str::to_string),
        name: name.to_string(),
        file: file.map(str::to_string),
        line: None,
        suite: Vec::new(),
        outcome,
        attempts,
        properties: Vec::new(),
        timestamp: None,
    }
}

pub(crate) fn test(case: TestCase, status: RunStatus) -> WrappedTest {
    WrappedTest {
        case,
        status,
        quarantine: None,
        owner: None,
    }
}

pub(crate) fn sample_run() -> WrappedRun {
    let passed = test(
        case(
            Dialect::Pytest,
            Some("tests.test_math"),
            "test_add",
            Some("tests/test_math.py"),
            vec![attempt(Outcome::Passed, 0.012, None)],
        ),
        RunStatus::Passed,
    );

    let pytest_details = "def test_div():\n>       assert divide(1, 0) == 2\nE       assert 1 == 2\n\ntests/test_math.py:12: AssertionError";
    let mut failed_case = case(
        Dialect::Pytest,
        Some("tests.test_math.TestDiv"),
        "test_div",
        None,
        vec![
            attempt(
                Outcome::Failed,
                1.5,
                Some(("AssertionError", "assert 1 == 2", pytest_details)),
            ),
            attempt(
                Outcome::Failed,
                1.25,
                Some(("AssertionError", "assert 1 == 2", pytest_details)),
            ),
            attempt(
                Outcome::Failed,
                1.0,
                Some(("AssertionError", "assert 1 == 2", pytest_details)),
            ),
        ],
    );
    failed_case.attempts[0].stdout = Some("dividing 1 by 0".into());
    let mut failed = test(failed_case, RunStatus::Failed);
    failed.owner = Some("@alice".into());

    let flaky = test(
        case(
            Dialect::Go,
            Some("example.com/shop/cart"),
            "TestCheckout/slow",
            None,
            vec![
                attempt(
                    Outcome::Failed,
                    3.0,
                    Some((
                        "",
                        "timed out waiting for the cart",
                        "    cart_test.go:41: timed out waiting for the cart",
                    )),
                ),
                attempt(Outcome::Passed, 0.5, None),
            ],
        ),
        RunStatus::Flaky,
    );

    let java = "java.lang.AssertionError: expected:<3> but was:<2>\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat com.acme.CartTest.checkout(CartTest.java:57)";
    let mut quarantined = test(
        case(
            Dialect::Other,
            Some("com.acme.CartTest"),
            "checkout",
            None,
            vec![
                attempt(
                    Outcome::Failed,
                    0.25,
                    Some(("java.lang.AssertionError", "expected:<3> but was:<2>", java)),
                ),
                attempt(
                    Outcome::Errored,
                    0.125,
                    Some(("java.sql.SQLException", "database is locked", "")),
                ),
            ],
        ),
        RunStatus::Quarantined,
    );
    quarantined.quarantine = Some(QuarantineInfo {
        reason: "races on the shared DB".into(),
        owner: "@team-cart".into(),
        expires: "2024-01-01".into(),
        expired: true,
        issue: Some("https://github.com/acme/shop/issues/42".into()),
    });

    let skipped = test(
        case(
            Dialect::Pytest,
            Some("tests.test_net"),
            "test_ipv6",
            Some("tests/test_net.py"),
            vec![attempt(
                Outcome::Skipped,
                0.0,
                Some(("pytest.skip", "no IPv6 on this runner", "")),
            )],
        ),
        RunStatus::Skipped,
    );

    let evil = test(
        case(
            Dialect::Other,
            Some("evil|suite"),
            "weird <name> `tick` ]]> & \u{1b}[31mred\u{1b}[0m",
            None,
            vec![attempt(
                Outcome::Errored,
                0.75,
                Some((
                    "Error",
                    "boom ]]> & <tag> | pipe %done",
                    "thread 'evil' panicked at src/evil.rs:7:9:\nboom\n```\nnot a fence end\n```",
                )),
            )],
        ),
        RunStatus::Failed,
    );

    WrappedRun {
        command: "pytest -x tests/ | tee log".into(),
        runner: "pytest".into(),
        tests: vec![passed, failed, flaky, quarantined, skipped, evil],
        invocations: 3,
        runner_exit: 1,
        exit: 1,
        quarantine_total: 3,
        quarantine_expired: vec![
            "com.acme.CartTest::checkout".into(),
            "tests/test_old.py::test_gone".into(),
        ],
        warnings: vec!["retry 2 wrote no JUnit report; its results are missing".into()],
        wall_seconds: 12.34,
        rerun: Some("pytest -x 'tests/test_cart.py::test_total' tests/test_evil.py::evil".into()),
        reason: None,
    }
}
