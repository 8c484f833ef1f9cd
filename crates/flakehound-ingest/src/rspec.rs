//! RSpec's JSON formatter (`rspec --format json`):
//! `{"version":..,"examples":[{id, description, full_description, status, file_path,
//! line_number, run_time, pending_message, exception:{class, message, backtrace}}],
//! "summary":{duration, ..},"summary_line":..}`.
//!
//! `examples` is streamed: each example is pushed as soon as it is read. Mapping choices:
//!
//! - **Outcome** from `status`: `passed` → passed; `pending` (both `pending` and `skip`
//!   examples) → skipped; `failed` → failed when the exception is an expectation failure
//!   (any `RSpec::` class such as `RSpec::Expectations::ExpectationNotMetError` or
//!   `RSpec::Mocks::MockExpectationError`, or a class naming an `Expectation`/`Assertion`) or
//!   has no class, errored for any other exception (`NoMethodError`, `RuntimeError`...), as
//!   JUnit separates failures from errors. An unknown status is skipped, or errored when it
//!   carries an exception.
//! - **Names**: `name` = `description`; `classname` = the example group, i.e.
//!   `full_description` minus the description (also the single `suite` entry); when the full
//!   description does not end with the description, it becomes the name and there is no
//!   classname. `file` = `file_path`, `line` = `line_number`; RSpec's own example id
//!   (`./spec/x_spec.rb[1:2]`) is kept as the `id` property. Ids are `group::description`
//!   ([`Dialect::Other`]).
//! - **Failure**: `exception.class` → kind, `exception.message` (first line; the full message
//!   goes to the details) and `backtrace` lines → details. Pending examples keep
//!   `pending_message` as the skip reason.
//! - **Duration**: `run_time`, seconds.
//! - **Report**: tool `rspec`; duration = `summary.duration`. Errors outside examples (files
//!   that failed to load) have no example and produce no record.

use crate::ctrf::json::{self, JsonDoc, Want};
use crate::{Error, Result, Sink, finish_case};
use flakehound_model::{Attempt, Dialect, Failure, Format, Outcome, ReportInfo, TestCase};
use serde_json::Value;
use std::io::BufRead;

pub(crate) fn sniff(head: &str) -> bool {
    let Some(keys) = json::head_keys(head, 3) else {
        return false;
    };
    let top = |k: &str| keys.iter().any(|h| h.path.is_empty() && h.key == k);
    if !keys
        .iter()
        .any(|h| h.path.is_empty() && h.key == "examples" && h.value == b'[')
    {
        return false;
    }
    let example_keys: Vec<&str> = keys
        .iter()
        .filter(|h| h.path == "examples.[]")
        .map(|h| h.key.as_str())
        .collect();
    if example_keys.is_empty() {
        top("version") || top("summary_line") || top("seed")
    } else {
        example_keys
            .iter()
            .any(|k| matches!(*k, "full_description" | "file_path" | "line_number"))
    }
}

pub(crate) fn parse<R: BufRead>(mut input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    json::skip_bom(&mut input)?;
    let mut doc = RspecDoc {
        sink,
        info: ReportInfo {
            format: Some(Format::RspecJson),
            tool: Some("rspec".into()),
            ..ReportInfo::default()
        },
        saw_examples: false,
    };
    json::stream_doc(input, "RSpec JSON", &mut doc)?;
    if !doc.saw_examples {
        return Err(Error::parse(
            "not RSpec JSON: no top-level \"examples\" array",
        ));
    }
    Ok(doc.info)
}

struct RspecDoc<'a, 's> {
    sink: &'a mut Sink<'s>,
    info: ReportInfo,
    saw_examples: bool,
}

impl JsonDoc for RspecDoc<'_, '_> {
    fn want(&mut self, path: &[String], key: &str) -> Want {
        match (path.is_empty(), key) {
            (true, "examples") => {
                self.saw_examples = true;
                Want::Elements
            }
            (true, "summary") => Want::Value,
            _ => Want::Skip,
        }
    }

    fn value(&mut self, _path: &[String], key: &str, v: Value) -> Result<()> {
        if key == "summary" {
            self.info.duration = json::number_of(v.get("duration")).filter(|d| *d >= 0.0);
        }
        Ok(())
    }

    fn element(&mut self, _path: &[String], _key: &str, v: Value) -> Result<()> {
        match example(&v) {
            Some(case) => (self.sink)(finish_case(case, Dialect::Other)),
            None => Ok(()),
        }
    }
}

/// The record of one example; `None` when it has no description at all.
fn example(v: &Value) -> Option<TestCase> {
    let obj = v.as_object()?;
    let desc = json::string_of(obj.get("description"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let full = json::string_of(obj.get("full_description"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let (classname, name) = split_group(&full, &desc);
    if name.is_empty() && classname.is_none() {
        return None;
    }

    let exception = obj.get("exception").filter(|e| e.is_object());
    let class = exception.and_then(|e| json::string_of(e.get("class")));
    let status = json::string_of(obj.get("status")).map(|s| s.trim().to_ascii_lowercase());
    let outcome = match status.as_deref() {
        Some("passed") => Outcome::Passed,
        Some("pending" | "skipped") => Outcome::Skipped,
        Some("failed") => failed_outcome(class.as_deref()),
        _ if exception.is_some() => Outcome::Errored,
        _ => Outcome::Skipped,
    };
    let failure = match outcome {
        Outcome::Passed => None,
        Outcome::Skipped => json::failure(
            None,
            json::string_of(obj.get("pending_message")).as_deref(),
            None,
        ),
        _ => exception.and_then(|e| exception_failure(e, class)),
    };

    let mut properties = Vec::new();
    if let Some(id) = json::string_of(obj.get("id")) {
        properties.push(("id".to_string(), id));
    }
    Some(TestCase {
        id: String::new(),
        suite: classname.iter().cloned().collect(),
        classname,
        name,
        file: json::string_of(obj.get("file_path")),
        line: json::line_of_value(obj.get("line_number")),
        outcome,
        attempts: vec![Attempt {
            outcome,
            duration: json::number_of(obj.get("run_time")).filter(|d| *d >= 0.0),
            failure,
            stdout: None,
            stderr: None,
        }],
        properties,
        timestamp: None,
    })
}

/// `("Calc#add with negatives", "returns 0")` from the full description and the description.
fn split_group(full: &str, desc: &str) -> (Option<String>, String) {
    if desc.is_empty() {
        return (None, full.to_string());
    }
    match full.strip_suffix(desc).map(str::trim_end) {
        Some(group) if !group.is_empty() => (Some(group.to_string()), desc.to_string()),
        Some(_) => (None, desc.to_string()),
        None if !full.is_empty() => (None, full.to_string()),
        None => (None, desc.to_string()),
    }
}

/// Expectation failures are failed, other exceptions errored.
fn failed_outcome(class: Option<&str>) -> Outcome {
    match class {
        Some(c)
            if !(c.starts_with("RSpec::")
                || c.contains("Expectation")
                || c.contains("Assertion")) =>
        {
            Outcome::Errored
        }
        _ => Outcome::Failed,
    }
}

fn exception_failure(e: &Value, class: Option<String>) -> Option<Failure> {
    let message = json::string_of(e.get("message"));
    let backtrace = match e.get("backtrace") {
        Some(Value::Array(lines)) => {
            let lines: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        }
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    // The message is often multi-line ("\nexpected: 2\n     got: 1\n"): keep it whole in the
    // details, before the backtrace.
    let details = match (&message, &backtrace) {
        (Some(m), Some(b)) => Some(format!("{}\n{b}", m.trim())),
        (Some(m), None) => Some(m.clone()),
        (None, b) => b.clone(),
    };
    json::failure(class, message.as_deref(), details.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    const REPORT: &str = r#"{"version":"3.13.0","seed":4242,"examples":[
{"id":"./spec/calc_spec.rb[1:1]","description":"adds","full_description":"Calc#add adds",
 "status":"passed","file_path":"./spec/calc_spec.rb","line_number":4,"run_time":0.0012,
 "pending_message":null},
{"id":"./spec/calc_spec.rb[1:2:1]","description":"returns 0","full_description":"Calc#add with negatives returns 0",
 "status":"failed","file_path":"./spec/calc_spec.rb","line_number":9,"run_time":0.01,
 "pending_message":null,"exception":{"class":"RSpec::Expectations::ExpectationNotMetError",
 "message":"\nexpected: 0\n     got: -2\n\n(compared using ==)\n",
 "backtrace":["./spec/calc_spec.rb:10:in `block (3 levels) in <top (required)>'"]}},
{"id":"./spec/calc_spec.rb[1:3]","description":"divides","full_description":"Calc#add divides",
 "status":"failed","file_path":"./spec/calc_spec.rb","line_number":14,"run_time":0.002,
 "exception":{"class":"NoMethodError","message":"undefined method `div' for nil",
 "backtrace":null}},
{"id":"./spec/calc_spec.rb[1:4]","description":"rounds","full_description":"Calc#add rounds",
 "status":"pending","file_path":"./spec/calc_spec.rb","line_number":18,"run_time":0.0,
 "pending_message":"Not yet implemented"},
{"id":"./spec/x_spec.rb[1:1]","description":"is expected to eq 2","full_description":"something else entirely",
 "status":"passed","file_path":"./spec/x_spec.rb","line_number":2,"run_time":0.1}
],"summary":{"duration":0.53,"example_count":5,"failure_count":2,"pending_count":1,
"errors_outside_of_examples_count":0},"summary_line":"5 examples, 2 failures, 1 pending"}"#;

    #[test]
    fn sniffs_rspec_only() {
        assert!(sniff(REPORT));
        assert!(sniff(r#"{"version":"3.13.0","seed":1,"examples":["#));
        assert!(sniff(
            r#"{"examples":[{"id":"./a_spec.rb[1:1]","description":"x","full_description":"#
        ));
        assert!(!sniff(
            r#"{"examples":[{"id":"./a_spec.rb[1:1]","description":"x","full_descr"#
        ));
        assert!(!sniff(r#"{"examples":[{"name":"x"}]}"#));
        assert!(!sniff(r#"{"examples":{"a":1},"version":"1"}"#));
        assert!(!sniff(r#"{"stats":{},"tests":[]}"#));
    }

    #[test]
    fn maps_examples() {
        let (info, cases) = collect_bytes(REPORT.as_bytes(), None).unwrap();
        assert_eq!(info.format, Some(Format::RspecJson));
        assert_eq!(info.tool.as_deref(), Some("rspec"));
        assert_eq!(info.duration, Some(0.53));
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("Calc#add::adds", Outcome::Passed),
                ("Calc#add with negatives::returns 0", Outcome::Failed),
                ("Calc#add::divides", Outcome::Errored),
                ("Calc#add::rounds", Outcome::Skipped),
                ("something else entirely", Outcome::Passed),
            ]
        );
        let adds = &cases[0];
        assert_eq!(adds.name, "adds");
        assert_eq!(adds.classname.as_deref(), Some("Calc#add"));
        assert_eq!(adds.suite, ["Calc#add"]);
        assert_eq!(adds.file.as_deref(), Some("./spec/calc_spec.rb"));
        assert_eq!(adds.line, Some(4));
        assert_eq!(adds.attempts[0].duration, Some(0.0012));
        assert_eq!(
            adds.properties,
            [("id".to_string(), "./spec/calc_spec.rb[1:1]".to_string())]
        );

        let f = cases[1].attempts[0].failure.as_ref().unwrap();
        assert_eq!(
            f.kind.as_deref(),
            Some("RSpec::Expectations::ExpectationNotMetError")
        );
        assert_eq!(f.message.as_deref(), Some("expected: 0"));
        let details = f.details.as_deref().unwrap();
        assert!(
            details.starts_with("expected: 0\n     got: -2"),
            "{details}"
        );
        assert!(details.ends_with("in <top (required)>'"), "{details}");

        let e = cases[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(e.kind.as_deref(), Some("NoMethodError"));
        assert_eq!(e.message.as_deref(), Some("undefined method `div' for nil"));

        let skip = cases[3].attempts[0].failure.as_ref().unwrap();
        assert_eq!(skip.message.as_deref(), Some("Not yet implemented"));
        assert_eq!(cases[4].classname, None);
    }

    #[test]
    fn rejects_broken_documents() {
        let cut = &REPORT[..REPORT.find("divides").unwrap()];
        let line = cut.lines().count();
        let err = collect_bytes(cut.as_bytes(), None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("line {line}: RSpec JSON report is truncated")),
            "{err}"
        );
        let err = collect_bytes(br#"{"version":"3"}"#, Some(Format::RspecJson))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no top-level \"examples\" array"), "{err}");
        for n in 0..REPORT.len() {
            let _ = collect_bytes(&REPORT.as_bytes()[..n], None);
            let _ = collect_bytes(&REPORT.as_bytes()[..n], Some(Format::RspecJson));
        }
    }

    #[test]
    fn outcome_edge_cases() {
        assert_eq!(failed_outcome(None), Outcome::Failed);
        assert_eq!(
            failed_outcome(Some("RSpec::Mocks::MockExpectationError")),
            Outcome::Failed
        );
        assert_eq!(failed_outcome(Some("Minitest::Assertion")), Outcome::Failed);
        assert_eq!(failed_outcome(Some("Timeout::Error")), Outcome::Errored);
        let doc = r#"{"examples":[{"description":"a","full_description":"G a","status":"weird"},
            {"description":"b","full_description":"G b","status":"weird","exception":{"class":"X"}},
            {"description":"","full_description":"","status":"passed"}]}"#;
        let (_, cases) = collect_bytes(doc.as_bytes(), Some(Format::RspecJson)).unwrap();
        let got: Vec<Outcome> = cases.iter().map(|c| c.outcome).collect();
        assert_eq!(got, [Outcome::Skipped, Outcome::Errored]);
    }
}
