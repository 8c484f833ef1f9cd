//! xUnit.net XML reports: v2 (`<assemblies><assembly><collection><test>`), a single
//! `<assembly>` root, and v1 (`<assembly><class><test>`); Fixie writes the v2 shape too.
//!
//! Every `<test>` element is one record, pushed as soon as it closes. Mapping choices:
//!
//! - **Outcome** from `result`: `Pass` → passed, `Fail` → failed, `Skip` and `NotRun` (explicit
//!   tests not run, xUnit 2.5+) → skipped. xUnit has no separate error outcome: exceptions are
//!   failures. Unknown or missing `result`: a `<failure>` child → failed, a `<reason>` child →
//!   skipped, otherwise passed.
//! - **Failure**: `exception-type` attribute (else the type the message starts with) as kind,
//!   `<message>` and `<stack-trace>`; skipped records keep `<reason>` (v2 text, v1
//!   `<reason><message>`) as the message.
//! - **Names**: classname is `type`; name is the display `name` without its leading `type.`
//!   (`Ns.Class.Method(x: 1)` → `Method(x: 1)`); custom display names stay as written; without
//!   `name`, `method`. Without `type`, a dotted name is split at the last `.` before its
//!   arguments. A record with neither name nor classname is dropped.
//! - **Duration** `time` (seconds), `<output>` → stdout, `<traits>` → properties,
//!   suites = assembly and collection/class names.
//! - Each assembly's `test-framework` and `environment` go to the report's properties.
//! - Assembly-level `<errors>` (fixture/cleanup failures) are not test records and are ignored.
//! - **Report**: timestamp from the root `timestamp`, else the first assembly's
//!   `run-date`+`run-time`; duration = sum of assembly `time`s; tool from `test-framework`
//!   (`xUnit.net 2.3.1` → `xunit`, `Fixie 1.2` → `fixie`).

use crate::nunit::{exception_kind, read_fields, split_qualified, strip_class};
use crate::xml::{Elem, Ev, XmlReader};
use crate::{Result, Sink};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, MAX_PROPERTIES, Outcome, ReportInfo, TestCase, parse_seconds,
};
use std::io::Read;

/// An open `<assembly>`, `<collection>` or `<class>` element.
struct Suite {
    depth: usize,
    name: String,
}

pub(crate) fn parse<R: Read>(
    xml: &mut XmlReader<R>,
    root: Elem,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    if root.name != "assemblies" && root.name != "assembly" {
        return Err(xml.error(format!(
            "not an xUnit.net report: root element is <{}>, expected <assemblies> or <assembly>",
            root.name
        )));
    }
    let mut info = ReportInfo {
        format: Some(Format::Xunit),
        timestamp: root.get_nonblank("timestamp").map(str::to_string),
        ..ReportInfo::default()
    };
    let root_depth = xml.depth();
    let mut suites: Vec<Suite> = Vec::new();
    if root.name == "assembly" {
        start_assembly(&root, root_depth, &mut info, &mut suites);
    }
    loop {
        match xml.next()? {
            Ev::Start(e) => {
                let depth = xml.depth();
                match e.name.as_str() {
                    "assembly" => start_assembly(&e, depth, &mut info, &mut suites),
                    "collection" | "class" => push_suite(&mut suites, &e, depth),
                    "test" => {
                        if let Some(case) = read_test(xml, &e, &suites)? {
                            sink(case)?;
                        }
                    }
                    _ => xml.skip()?,
                }
            }
            Ev::End(_) => {
                let depth = xml.depth();
                if depth < root_depth {
                    return Ok(info);
                }
                while suites.last().is_some_and(|s| s.depth > depth) {
                    suites.pop();
                }
            }
            Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

fn start_assembly(e: &Elem, depth: usize, info: &mut ReportInfo, suites: &mut Vec<Suite>) {
    if info.timestamp.is_none() {
        info.timestamp = match (e.get_nonblank("run-date"), e.get_nonblank("run-time")) {
            (Some(date), Some(time)) => Some(format!("{date}T{time}")),
            (Some(date), None) => Some(date.to_string()),
            _ => e.get_nonblank("start-rtf").map(str::to_string),
        };
    }
    if let Some(t) = e.get("time").and_then(parse_seconds) {
        *info.duration.get_or_insert(0.0) += t;
    }
    if info.tool.is_none() {
        info.tool = e.get_nonblank("test-framework").and_then(tool_name);
    }
    for key in ["test-framework", "environment"] {
        let room = info.properties.len() < MAX_PROPERTIES;
        if let Some(value) = e.get_nonblank(key).filter(|_| room) {
            info.properties.push((key.to_string(), value.to_string()));
        }
    }
    push_suite(suites, e, depth);
}

/// Only named suites are kept (they are all a record's path is made of), so a record's path is
/// built from the stack's ends whatever its depth.
fn push_suite(suites: &mut Vec<Suite>, e: &Elem, depth: usize) {
    if let Some(name) = e.get_nonblank("name") {
        suites.push(Suite {
            depth,
            name: name.to_string(),
        });
    }
}

/// `xUnit.net 2.3.1.3858` → `xunit`; `Fixie 1.2.3.4` → `fixie`.
fn tool_name(framework: &str) -> Option<String> {
    let word = framework.split_whitespace().next()?.to_ascii_lowercase();
    Some(match word.strip_suffix(".net") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => word,
    })
}

/// Reads the rest of a `<test>` element into a record (`None`: no name nor classname).
fn read_test<R: Read>(
    xml: &mut XmlReader<R>,
    e: &Elem,
    suites: &[Suite],
) -> Result<Option<TestCase>> {
    let test_depth = xml.depth();
    let mut failure: Option<Failure> = None;
    let mut reason: Option<String> = None;
    let mut output: Option<String> = None;
    let mut properties = Vec::new();
    loop {
        match xml.next()? {
            Ev::Start(c) => match c.name.as_str() {
                "failure" => {
                    let kind = c.get_nonblank("exception-type").map(str::to_string);
                    let ([message, details], text) = read_fields(xml, ["message", "stack-trace"])?;
                    let message = message.or(text);
                    if failure.is_none() {
                        failure = Some(Failure {
                            kind: kind.or_else(|| message.as_deref().and_then(exception_kind)),
                            message,
                            details,
                        });
                    }
                }
                "reason" => {
                    // v2: text; v1: <reason><message>.
                    let ([message], text) = read_fields(xml, ["message"])?;
                    if reason.is_none() {
                        reason = message.or(text);
                    }
                }
                "output" => {
                    let text = xml.read_text()?;
                    if output.is_none() {
                        output = text;
                    }
                }
                "traits" => read_traits(xml, &mut properties)?,
                _ => xml.skip()?,
            },
            Ev::End(_) if xml.depth() < test_depth => break,
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }

    let display = e.get_nonblank("name");
    let (classname, name) = match e.get_nonblank("type") {
        Some(class) => (
            Some(class),
            display
                .map(|n| strip_class(n, class))
                .or_else(|| e.get_nonblank("method")),
        ),
        None => match display.and_then(split_qualified) {
            Some((class, method)) => (Some(class), Some(method)),
            None => (None, display.or_else(|| e.get_nonblank("method"))),
        },
    };
    if classname.is_none() && name.is_none() {
        return Ok(None);
    }

    let result = e.get_nonblank("result").map(str::to_ascii_lowercase);
    let outcome = match result.as_deref() {
        Some("pass" | "passed" | "success") => Outcome::Passed,
        Some("fail" | "failed" | "failure") => Outcome::Failed,
        Some("skip" | "skipped" | "notrun" | "not-run") => Outcome::Skipped,
        _ if failure.is_some() => Outcome::Failed,
        _ if reason.is_some() => Outcome::Skipped,
        _ => Outcome::Passed,
    };
    let mut attempt = Attempt::new(outcome);
    attempt.duration = e.get("time").and_then(parse_seconds);
    attempt.stdout = output;
    attempt.failure = match outcome {
        Outcome::Failed | Outcome::Errored => failure,
        Outcome::Skipped => reason.map(|message| Failure {
            kind: None,
            message: Some(message),
            details: None,
        }),
        Outcome::Passed => None,
    }
    .filter(|f| !f.is_empty());

    let case = TestCase {
        id: String::new(),
        classname: classname.map(str::to_string),
        name: name.unwrap_or_default().to_string(),
        file: None,
        line: None,
        suite: { crate::suite_path(suites.iter().map(|s| s.name.as_str()), suites.len()) },
        outcome,
        attempts: vec![attempt],
        properties,
        timestamp: e.get_nonblank("start-time").map(str::to_string),
    };
    Ok(Some(crate::finish_case(case, Dialect::Other)))
}

/// Reads the rest of a `<traits>` element: `<trait name value/>` become properties.
fn read_traits<R: Read>(xml: &mut XmlReader<R>, out: &mut Vec<(String, String)>) -> Result<()> {
    let target = xml.depth();
    loop {
        match xml.next()? {
            Ev::Start(_) if out.len() >= MAX_PROPERTIES => {}
            Ev::Start(t) if t.name == "trait" => {
                if let Some(key) = t.get_nonblank("name") {
                    let value = t.get("value").unwrap_or_default();
                    out.push((key.to_string(), value.to_string()));
                }
            }
            Ev::Start(_) => {}
            Ev::End(_) if xml.depth() < target => return Ok(()),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    const V2: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assemblies timestamp="06/15/2018 18:09:29">
  <assembly name="C:\x\Unit.DLL" test-framework="xUnit.net 2.3.1.3858" run-date="2018-06-15" run-time="18:07:56" total="6" time="1.5">
    <errors>
      <error type="class-cleanup" name="Ns.Calc"><failure exception-type="System.Exception"><message>cleanup</message></failure></error>
    </errors>
    <collection total="6" name="Test collection for Ns.Calc" time="1.2">
      <test name="Ns.Calc.Adds" type="Ns.Calc" method="Adds" time="0.25" result="Pass">
        <output><![CDATA[ line 1
line 2 ]]></output>
        <traits><trait name="Category" value="fast" /></traits>
      </test>
      <test name="Ns.Calc.Fails" type="Ns.Calc" method="Fails" time="0.014" result="Fail">
        <failure exception-type="Xunit.Sdk.TrueException">
          <message><![CDATA[Assert.True() Failure]]></message>
          <stack-trace><![CDATA[   at Ns.Calc.Fails() in Calc.cs:line 16]]></stack-trace>
        </failure>
      </test>
      <test name="Ns.Calc.Skips" type="Ns.Calc" method="Skips" time="0" result="Skip"><reason><![CDATA[On Purpose]]></reason></test>
      <test name="Ns.Calc.Explicit" type="Ns.Calc" method="Explicit" result="NotRun" />
      <test name="Should be even(i: 3)" type="Ns.Calc" method="Even" result="Fail">
        <failure><message>System.DivideByZeroException : Attempted to divide by zero.</message></failure>
      </test>
      <test name="Ns.Calc.Theory(s: &quot;a.b&quot;)" type="Ns.Calc" method="Theory" result="Pass" />
      <test type="" method="" result="Pass" />
    </collection>
  </assembly>
</assemblies>"#;

    #[test]
    fn v2_outcomes_and_fields() {
        let (info, cases) = collect_bytes(V2.as_bytes(), None).unwrap();
        assert_eq!(info.format, Some(Format::Xunit));
        assert_eq!(info.timestamp.as_deref(), Some("06/15/2018 18:09:29"));
        assert_eq!(info.tool.as_deref(), Some("xunit"));
        assert_eq!(info.duration, Some(1.5));
        assert_eq!(
            info.properties,
            vec![(
                "test-framework".to_string(),
                "xUnit.net 2.3.1.3858".to_string()
            )]
        );
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            vec![
                ("Ns.Calc::Adds", Outcome::Passed),
                ("Ns.Calc::Fails", Outcome::Failed),
                ("Ns.Calc::Skips", Outcome::Skipped),
                ("Ns.Calc::Explicit", Outcome::Skipped),
                ("Ns.Calc::Should be even(i: 3)", Outcome::Failed),
                ("Ns.Calc::Theory(s: \"a.b\")", Outcome::Passed),
            ]
        );
        let adds = &cases[0];
        assert_eq!(adds.attempts[0].duration, Some(0.25));
        assert_eq!(adds.attempts[0].stdout.as_deref(), Some("line 1\nline 2"));
        assert_eq!(
            adds.properties,
            vec![("Category".to_string(), "fast".to_string())]
        );
        assert_eq!(
            adds.suite,
            vec!["C:\\x\\Unit.DLL", "Test collection for Ns.Calc"]
        );
        let f = cases[1].attempts[0].failure.as_ref().unwrap();
        assert_eq!(f.kind.as_deref(), Some("Xunit.Sdk.TrueException"));
        assert_eq!(f.message.as_deref(), Some("Assert.True() Failure"));
        assert_eq!(
            f.details.as_deref(),
            Some("at Ns.Calc.Fails() in Calc.cs:line 16")
        );
        let s = cases[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(s.message.as_deref(), Some("On Purpose"));
        let e = cases[4].attempts[0].failure.as_ref().unwrap();
        assert_eq!(e.kind.as_deref(), Some("System.DivideByZeroException"));
    }

    #[test]
    fn v1_assembly_root() {
        let doc = r#"<assembly name="a.dll" run-date="2012-01-14" run-time="10:21:10" time="0.185" test-framework="xUnit.net 1.9.0.1566">
  <class time="0.185" name="Ns.Feature" total="3">
    <test name="Ns.Feature.Ok" type="Ns.Feature" method="Ok" result="Pass" time="0.153" />
    <test name="Ns.Feature.Bad" type="Ns.Feature" method="Bad" result="Fail" time="0.1">
      <failure exception-type="Xunit.Sdk.EqualException"><message>Assert.Equal() Failure</message><stack-trace>at Bad</stack-trace></failure>
    </test>
    <test name="Ns.Feature.Later" type="Ns.Feature" method="Later" result="Skip"><reason><message>later</message></reason></test>
    <test name="Odd.Name" method="Odd" />
    <test name="NoResult" type="Ns.Feature"><failure><message>m</message></failure></test>
  </class>
</assembly>"#;
        let (info, cases) = collect_bytes(doc.as_bytes(), None).unwrap();
        assert_eq!(info.timestamp.as_deref(), Some("2012-01-14T10:21:10"));
        assert_eq!(info.duration, Some(0.185));
        let got: Vec<(&str, Outcome)> = cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            vec![
                ("Ns.Feature::Ok", Outcome::Passed),
                ("Ns.Feature::Bad", Outcome::Failed),
                ("Ns.Feature::Later", Outcome::Skipped),
                ("Odd::Name", Outcome::Passed),
                ("Ns.Feature::NoResult", Outcome::Failed),
            ]
        );
        assert_eq!(
            cases[2].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("later")
        );
        assert_eq!(cases[0].suite, vec!["a.dll", "Ns.Feature"]);
    }

    #[test]
    fn truncated_empty_and_wrong_root() {
        assert!(collect_bytes(&V2.as_bytes()[..V2.len() / 2], None).is_err());
        assert!(collect_bytes(b"<assemblies><assembly>", None).is_err());
        let (_, cases) = collect_bytes(
            b"<assemblies><assembly><errors/></assembly></assemblies>",
            None,
        )
        .unwrap();
        assert!(cases.is_empty());
        let err = collect_bytes(b"<testsuites/>", Some(Format::Xunit)).unwrap_err();
        assert!(err.to_string().contains("not an xUnit.net report"), "{err}");
        assert_eq!(tool_name("Fixie 1.2.3.4").as_deref(), Some("fixie"));
        assert_eq!(tool_name(".net").as_deref(), Some(".net"));
    }
}
