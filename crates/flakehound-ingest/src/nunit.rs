//! NUnit 2 (`<test-results>`) and NUnit 3 (`<test-run>`) reports, and bare NUnit `<test-suite>`
//! documents (an assembly's result saved on its own, either version).
//!
//! Both versions are read by one streaming walker: `<test-suite>` elements nest at any depth
//! (NUnit 2 wraps children in `<results>`), and every `<test-case>` element is one record,
//! pushed as soon as it closes. Mapping choices:
//!
//! - **Outcome** from `result` (case-insensitive, anything after `:`/`(` ignored):
//!   `Success`/`Passed`/`Warning` → passed; `Failure`/`Failed` → failed, whatever the NUnit 3
//!   `label` (`Error`, `Invalid`, `Cancelled`: the corpus counts NUnit 3 exceptions as failures);
//!   NUnit 2 `Error` and `Cancelled` → errored (NUnit 2 summarises both as errors);
//!   `Skipped`/`Ignored`/`NotRunnable`/`Inconclusive`/`NotRun`/`Explicit` → skipped.
//!   Without a known `result` (old NUnit 2 writers): `executed="False"` → skipped,
//!   `success="False"` or a `<failure>` child → failed, otherwise passed.
//! - **Failure**: `<failure><message/><stack-trace/></failure>` gives message and details; the
//!   kind is the exception type when the message starts with one (`System.IO.IOException : ...`).
//!   Skipped records keep `<reason><message/></reason>` as the message.
//! - **Names**: NUnit 3 has `classname` and a short `name` (method plus arguments). NUnit 2 only
//!   has a full `name` (`Ns.Fixture.Method(args)`); it is split at the last `.` before the
//!   argument list, so both versions give the same `Ns.Fixture::Method(args)` id. A short NUnit 2
//!   name takes the nearest enclosing fixture-level suite as classname. A record with neither
//!   name nor classname is dropped.
//! - **Duration** from `duration` (NUnit 3) or `time` (NUnit 2), seconds; `<output>` → stdout.
//! - **Properties**: the case's `<properties>` and NUnit 2 `<categories>` (as `Category`, NUnit
//!   3's own name for them) go to the record; suites' ones to the report's properties.
//! - **Report**: timestamp from `start-time` (NUnit 3) or `date`+`time` (NUnit 2); duration
//!   from the run's `duration` (NUnit 2: sum of top-level suite times); hostname from the first
//!   `<environment machine-name>`.
//!
//! The small reading helpers at the bottom are shared with the xUnit and TRX parsers.

use crate::xml::{Elem, Ev, TextAcc, XmlReader};
use crate::{Result, Sink};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, MAX_PROPERTIES, Outcome, ReportInfo, TestCase, parse_seconds,
};
use std::io::Read;

/// An open `<test-suite>` element.
struct Suite {
    /// Reader depth of the suite element.
    depth: usize,
    name: String,
    /// NUnit `type` attribute (`Assembly`, `TestFixture`, `ParameterizedMethod`, ...).
    kind: Option<String>,
    /// Class name for cases of this suite that lack one (NUnit 3 `classname`/`fullname`).
    class: Option<String>,
    /// Named suites from the root down to this one included (kept so that a record's path is
    /// built without walking the whole stack).
    named_depth: usize,
    /// Index in the stack of the nearest suite, this one included, that names a class.
    class_suite: Option<usize>,
}

impl Suite {
    /// A suite opened inside `parents`.
    fn open(e: &Elem, depth: usize, parents: &[Suite]) -> Suite {
        let mut s = Suite::new(e, depth);
        let parent = parents.last();
        s.named_depth = parent.map_or(0, |p| p.named_depth) + usize::from(!s.name.is_empty());
        s.class_suite = if s.names_a_class() {
            Some(parents.len())
        } else {
            parent.and_then(|p| p.class_suite)
        };
        s
    }

    fn new(e: &Elem, depth: usize) -> Suite {
        Suite {
            named_depth: 0,
            class_suite: None,
            depth,
            name: e.get_nonblank("name").unwrap_or_default().to_string(),
            kind: e.get_nonblank("type").map(str::to_string),
            class: e
                .get_nonblank("classname")
                .or_else(|| e.get_nonblank("fullname"))
                .map(str::to_string),
        }
    }

    /// Suites that stand for a method (their children are its parameter sets) or an assembly
    /// do not name a class.
    fn names_a_class(&self) -> bool {
        !matches!(
            self.kind.as_deref(),
            Some(
                "ParameterizedTest"
                    | "ParameterizedMethod"
                    | "Theory"
                    | "GenericMethod"
                    | "Assembly"
                    | "Project"
            )
        ) && !self.name.is_empty()
    }
}

/// Does a `<test-suite>` root look like NUnit 3 (vs NUnit 2)?
fn is_nunit3_suite(e: &Elem) -> bool {
    [
        "runstate",
        "testcasecount",
        "fullname",
        "start-time",
        "duration",
    ]
    .iter()
    .any(|a| e.get(a).is_some())
}

pub(crate) fn parse<R: Read>(
    xml: &mut XmlReader<R>,
    root: Elem,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    let format = match root.name.as_str() {
        "test-run" => Format::Nunit3,
        "test-results" => Format::Nunit2,
        "test-suite" if is_nunit3_suite(&root) => Format::Nunit3,
        "test-suite" => Format::Nunit2,
        other => {
            return Err(xml.error(format!(
                "not an NUnit report: root element is <{other}>, expected <test-run> (NUnit 3), \
                 <test-results> (NUnit 2) or <test-suite>"
            )));
        }
    };
    let mut info = ReportInfo {
        format: Some(format),
        tool: Some("nunit".into()),
        ..ReportInfo::default()
    };
    info.timestamp = root
        .get_nonblank("start-time")
        .map(str::to_string)
        .or_else(|| nunit2_timestamp(&root));
    info.duration = root
        .get("duration")
        .or_else(|| root.get("time").filter(|_| root.name == "test-suite"))
        .and_then(parse_seconds);
    let sum_top_level_times = root.name == "test-results" && info.duration.is_none();

    let root_depth = xml.depth();
    let mut suites: Vec<Suite> = Vec::new();
    if root.name == "test-suite" {
        suites.push(Suite::open(&root, root_depth, &[]));
    }
    loop {
        match xml.next()? {
            Ev::Start(e) => {
                let depth = xml.depth();
                match e.name.as_str() {
                    "test-suite" => {
                        let top_level = sum_top_level_times && suites.is_empty();
                        if let Some(t) = e.get("time").filter(|_| top_level).and_then(parse_seconds)
                        {
                            *info.duration.get_or_insert(0.0) += t;
                        }
                        let suite = Suite::open(&e, depth, &suites);
                        suites.push(suite);
                    }
                    // NUnit 2 container of a suite's children.
                    "results" => {}
                    "test-case" => {
                        if let Some(case) = read_case(xml, &e, &suites)? {
                            sink(case)?;
                        }
                    }
                    "properties" | "categories" => {
                        read_props(xml, &mut info.properties)?;
                    }
                    "environment" => {
                        if info.hostname.is_none() {
                            info.hostname = e.get_nonblank("machine-name").map(str::to_string);
                        }
                        xml.skip()?;
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

/// NUnit 2 writes the run's local date and time in two attributes.
fn nunit2_timestamp(root: &Elem) -> Option<String> {
    let date = root.get_nonblank("date")?;
    Some(match root.get_nonblank("time") {
        // ISO date and clock time: join them the RFC 3339 way.
        Some(time) if date.len() == 10 && date.get(4..5) == Some("-") && time.contains(':') => {
            format!("{date}T{time}")
        }
        Some(time) => format!("{date} {time}"),
        None => date.to_string(),
    })
}

/// Reads the rest of a `<test-case>` element into a record (`None`: no name nor classname).
fn read_case<R: Read>(
    xml: &mut XmlReader<R>,
    e: &Elem,
    suites: &[Suite],
) -> Result<Option<TestCase>> {
    let case_depth = xml.depth();
    let mut failure: Option<(Option<String>, Option<String>)> = None;
    let mut reason: Option<String> = None;
    let mut output: Option<String> = None;
    let mut properties = Vec::new();
    loop {
        match xml.next()? {
            Ev::Start(c) => match c.name.as_str() {
                "failure" => {
                    let ([message, trace], text) = read_fields(xml, ["message", "stack-trace"])?;
                    if failure.is_none() {
                        failure = Some((message.or(text), trace));
                    }
                }
                "reason" => {
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
                "properties" | "categories" => read_props(xml, &mut properties)?,
                _ => xml.skip()?,
            },
            Ev::End(_) if xml.depth() < case_depth => break,
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }

    let raw_name = e.get_nonblank("name");
    if raw_name.is_none()
        && e.get_nonblank("classname").is_none()
        && e.get_nonblank("fullname").is_none()
    {
        return Ok(None);
    }
    let (classname, name) = match e.get_nonblank("classname") {
        Some(class) => (
            Some(class.to_string()),
            raw_name
                .or_else(|| e.get_nonblank("fullname"))
                .map(|n| strip_class(n, class)),
        ),
        None => match e
            .get_nonblank("fullname")
            .or(raw_name)
            .and_then(split_qualified)
        {
            Some((class, method)) => (Some(class.to_string()), Some(method)),
            None => (
                suites
                    .last()
                    .and_then(|s| s.class_suite)
                    .and_then(|i| suites.get(i))
                    .map(|s| s.class.clone().unwrap_or_else(|| s.name.clone())),
                raw_name,
            ),
        },
    };

    let outcome = case_outcome(e, failure.is_some());
    let mut attempt = Attempt::new(outcome);
    attempt.duration = e
        .get("duration")
        .or_else(|| e.get("time"))
        .and_then(parse_seconds);
    attempt.stdout = output;
    attempt.failure = match outcome {
        Outcome::Failed | Outcome::Errored => failure.map(|(message, details)| Failure {
            kind: message.as_deref().and_then(exception_kind),
            message,
            details,
        }),
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
        classname,
        name: name.unwrap_or_default().to_string(),
        file: None,
        line: None,
        suite: {
            let named = suites.iter().filter(|s| !s.name.is_empty());
            let total = suites.last().map_or(0, |s| s.named_depth);
            crate::suite_path(named.map(|s| s.name.as_str()), total)
        },
        outcome,
        attempts: vec![attempt],
        properties,
        timestamp: e.get_nonblank("start-time").map(str::to_string),
    };
    Ok(Some(crate::finish_case(case, Dialect::Other)))
}

/// Outcome of one `<test-case>` (see the module docs).
fn case_outcome(e: &Elem, has_failure: bool) -> Outcome {
    if let Some(result) = e.get_nonblank("result") {
        let state = result
            .split([':', '('])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match state.as_str() {
            "success" | "passed" | "warning" => return Outcome::Passed,
            "failure" | "failed" => return Outcome::Failed,
            "error" | "cancelled" => return Outcome::Errored,
            "skipped" | "ignored" | "notrunnable" | "inconclusive" | "notrun" | "explicit" => {
                return Outcome::Skipped;
            }
            _ => {}
        }
    }
    let is_false = |attr: &str| {
        e.get(attr)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    };
    if is_false("executed") {
        Outcome::Skipped
    } else if is_false("success") || has_failure {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// Reads the rest of a `<properties>` or `<categories>` element: `<property name value/>`
/// become pairs, `<category name/>` becomes `("Category", name)`; `out` holds at most
/// [`MAX_PROPERTIES`].
fn read_props<R: Read>(xml: &mut XmlReader<R>, out: &mut Vec<(String, String)>) -> Result<()> {
    let target = xml.depth();
    loop {
        match xml.next()? {
            Ev::Start(_) if out.len() >= MAX_PROPERTIES => {}
            Ev::Start(p) => match p.name.as_str() {
                "property" => {
                    if let Some(key) = p.get_nonblank("name") {
                        let value = p.get("value").unwrap_or_default();
                        out.push((key.to_string(), value.to_string()));
                    }
                }
                "category" => {
                    if let Some(value) = p.get_nonblank("name") {
                        out.push(("Category".to_string(), value.to_string()));
                    }
                }
                _ => {}
            },
            Ev::End(_) if xml.depth() < target => return Ok(()),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

// ---- Helpers shared with the xUnit and TRX parsers ----

/// Reads the rest of the element just started. The text of the first direct child named
/// `names[i]` (ASCII case-insensitive) goes to slot `i`; other children are skipped; the
/// element's own text (outside children) is returned second. All text is trimmed and capped.
pub(crate) fn read_fields<R: Read, const N: usize>(
    xml: &mut XmlReader<R>,
    names: [&str; N],
) -> Result<([Option<String>; N], Option<String>)> {
    let target = xml.depth();
    let mut fields: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut own = TextAcc::default();
    loop {
        match xml.next()? {
            Ev::Start(c) => match names.iter().position(|n| c.name.eq_ignore_ascii_case(n)) {
                Some(i) => {
                    let text = xml.read_text()?;
                    if let Some(slot) = fields.get_mut(i).filter(|slot| slot.is_none()) {
                        *slot = text;
                    }
                }
                None => xml.skip()?,
            },
            Ev::Text(t) => own.push(&t),
            Ev::End(_) if xml.depth() < target => return Ok((fields, own.finish())),
            Ev::End(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

/// The exception type a .NET failure message starts with: `System.IO.IOException : boom`
/// (NUnit, xUnit), `System.Exception: boom` (.NET), also after MSTest's
/// `Test method X threw exception:` prefix.
pub(crate) fn exception_kind(message: &str) -> Option<String> {
    let mut m = message.trim_start();
    if let Some((_, rest)) = m.split_once("threw exception") {
        m = rest.trim_start_matches(|c: char| c == ':' || c == '.' || c.is_whitespace());
    }
    let end = m
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '`' | '+')))
        .unwrap_or(m.len());
    let (token, rest) = m.split_at(end);
    let is_type = ["Exception", "Error", "Fault"]
        .iter()
        .any(|s| token.ends_with(s));
    (is_type && rest.trim_start().starts_with(':')).then(|| token.to_string())
}

/// Splits a qualified test name at the last `.` before its argument list:
/// `Ns.Class.Method("a.b")` → (`Ns.Class`, `Method("a.b")`). Dots inside `<>`/`[]` (generic
/// arguments) do not count. `None` when either part does not start like an identifier or the
/// class part has spaces or slashes (display names such as `Checks v1.2 output`, file names).
pub(crate) fn split_qualified(name: &str) -> Option<(&str, &str)> {
    let mut nesting = 0usize;
    let mut last_dot = None;
    for (i, c) in name.char_indices() {
        match c {
            '(' if nesting == 0 => break,
            '(' | '[' | '<' => nesting += 1,
            ')' | ']' | '>' => nesting = nesting.saturating_sub(1),
            '.' if nesting == 0 => last_dot = Some(i),
            _ => {}
        }
    }
    let dot = last_dot?;
    let class = name.get(..dot)?.trim();
    let rest = name.get(dot + 1..)?.trim();
    // Both parts must look like .NET identifiers: `collection1\test.xml` or `took 1.5 s` are
    // not qualified names.
    let starts_like_identifier = |s: &str| s.starts_with(|c: char| c.is_alphabetic() || c == '_');
    let plain = !class.contains(|c: char| c.is_whitespace() || c == '/' || c == '\\');
    (plain && starts_like_identifier(class) && starts_like_identifier(rest))
        .then_some((class, rest))
}

/// `Ns.Class.Method(1)` with class `Ns.Class` → `Method(1)`; other names unchanged.
pub(crate) fn strip_class<'a>(name: &'a str, class: &str) -> &'a str {
    name.strip_prefix(class)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|rest| !rest.trim().is_empty())
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect_bytes;

    fn parse_doc(doc: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(doc.as_bytes(), None).unwrap()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<(&str, Outcome)> {
        cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect()
    }

    const NUNIT3: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<test-run id="2" testcasecount="8" result="Failed" start-time="2022-09-20 21:16:48Z" duration="2.5">
  <command-line><![CDATA[nunit3-console x.dll]]></command-line>
  <test-suite type="Assembly" name="X.dll" fullname="/w/X.dll">
    <environment machine-name="ci-box" />
    <properties><property name="_PID" value="1" /><property name="platform" value="EditMode" /></properties>
    <failure><message>One or more child tests had errors</message></failure>
    <test-suite type="TestFixture" name="Calc" fullname="Ns.Calc" classname="Ns.Calc">
      <properties><property name="Category" value="slow" /></properties>
      <test-case id="1" name="Adds" fullname="Ns.Calc.Adds" classname="Ns.Calc" result="Passed" duration="0.25" start-time="2022-09-20 21:16:49Z">
        <output><![CDATA[  hello  ]]></output>
      </test-case>
      <test-case id="2" name="Fails" fullname="Ns.Calc.Fails" classname="Ns.Calc" result="Failed">
        <failure><message><![CDATA[Expected: 2 But was: 1]]></message><stack-trace>at Ns.Calc.Fails()</stack-trace></failure>
      </test-case>
      <test-case id="3" name="Throws" classname="Ns.Calc" result="Failed" label="Error">
        <failure><message>System.InvalidOperationException : boom</message></failure>
      </test-case>
      <test-suite type="ParameterizedMethod" name="Div" fullname="Ns.Calc.Div" classname="Ns.Calc">
        <test-case id="4" name="Div(1.5)" fullname="Ns.Calc.Div(1.5)" classname="Ns.Calc" result="Skipped" label="Ignored">
          <properties><property name="_SKIPREASON" value="later" /></properties>
          <reason><message>later</message></reason>
        </test-case>
        <test-case id="5" name="Div(2)" fullname="Ns.Calc.Div(2)" result="Inconclusive" />
      </test-suite>
      <test-case id="6" name="Warns" classname="Ns.Calc" result="Warning" />
      <test-case id="7" name="Explicit" classname="Ns.Calc" result="Skipped" label="Explicit" />
      <test-case id="8" result="Passed" />
    </test-suite>
  </test-suite>
</test-run>"#;

    #[test]
    fn nunit3_outcomes_and_fields() {
        let (info, cases) = parse_doc(NUNIT3);
        assert_eq!(info.format, Some(Format::Nunit3));
        assert_eq!(info.timestamp.as_deref(), Some("2022-09-20 21:16:48Z"));
        assert_eq!(info.duration, Some(2.5));
        assert_eq!(info.hostname.as_deref(), Some("ci-box"));
        assert_eq!(info.tool.as_deref(), Some("nunit"));
        assert_eq!(
            outcomes(&cases),
            vec![
                ("Ns.Calc::Adds", Outcome::Passed),
                ("Ns.Calc::Fails", Outcome::Failed),
                ("Ns.Calc::Throws", Outcome::Failed),
                ("Ns.Calc::Div(1.5)", Outcome::Skipped),
                ("Ns.Calc::Div(2)", Outcome::Skipped),
                ("Ns.Calc::Warns", Outcome::Passed),
                ("Ns.Calc::Explicit", Outcome::Skipped),
            ]
        );
        let adds = &cases[0];
        assert_eq!(adds.attempts[0].duration, Some(0.25));
        assert_eq!(adds.attempts[0].stdout.as_deref(), Some("hello"));
        assert_eq!(adds.suite, vec!["X.dll", "Calc"]);
        assert_eq!(adds.timestamp.as_deref(), Some("2022-09-20 21:16:49Z"));
        assert!(adds.properties.is_empty());
        assert_eq!(
            info.properties,
            vec![
                ("_PID".to_string(), "1".to_string()),
                ("platform".to_string(), "EditMode".to_string()),
                ("Category".to_string(), "slow".to_string())
            ]
        );
        let fails = cases[1].attempts[0].failure.as_ref().unwrap();
        assert_eq!(fails.message.as_deref(), Some("Expected: 2 But was: 1"));
        assert_eq!(fails.details.as_deref(), Some("at Ns.Calc.Fails()"));
        assert_eq!(fails.kind, None);
        let throws = cases[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(
            throws.kind.as_deref(),
            Some("System.InvalidOperationException")
        );
        let skipped = &cases[3];
        assert_eq!(
            skipped.attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("later")
        );
        assert_eq!(
            skipped.properties,
            vec![("_SKIPREASON".to_string(), "later".to_string())]
        );
        assert_eq!(skipped.suite, vec!["X.dll", "Calc", "Div"]);
        // No classname attribute: taken from fullname.
        assert_eq!(cases[4].classname.as_deref(), Some("Ns.Calc"));
    }

    #[test]
    fn nunit2_outcomes_and_names() {
        let doc = r#"<?xml version="1.0"?>
<test-results name="T.dll" total="9" date="2010-04-19" time="13:38:35">
  <environment nunit-version="2.5.3" machine-name="BOX" />
  <test-suite type="Assembly" name="T.dll" time="3.5">
    <results>
      <test-suite type="TestFixture" name="Fix">
        <categories><category name="fast" /></categories>
        <results>
          <test-case name="Ns.Fix.Ok" executed="True" result="Success" success="True" time="1.0" />
          <test-case name="Ns.Fix.Bad" executed="True" result="Failure" success="False">
            <failure><message>nope</message><stack-trace>at Bad</stack-trace></failure>
          </test-case>
          <test-case name="Ns.Fix.Err" executed="True" result="Error" success="False">
            <failure><message>System.Exception : x</message></failure>
          </test-case>
          <test-case name="Ns.Fix.Ign" executed="False" result="Ignored"><reason><message>why</message></reason></test-case>
          <test-case name="Ns.Fix.Nr" executed="False" result="NotRunnable" />
          <test-case name="Ns.Fix.Inc" executed="True" result="Inconclusive" />
          <test-case name="Ns.Fix.Cx" executed="True" result="Cancelled" />
          <test-suite type="ParameterizedTest" name="P">
            <results>
              <test-case name="Ns.Fix.P(&quot;a.b&quot;,1.5)" executed="True" result="Success" />
            </results>
          </test-suite>
          <test-case name="Short" executed="True" />
          <test-case name="ShortFail" executed="True"><failure><message>m</message></failure></test-case>
          <test-case name="ShortNotRun" executed="False" />
          <test-case name="Weird" executed="True" success="False" />
          <test-case name="Typo" executed="True" success="Turue" />
          <test-case executed="True" />
        </results>
      </test-suite>
    </results>
  </test-suite>
</test-results>"#;
        let (info, cases) = parse_doc(doc);
        assert_eq!(info.format, Some(Format::Nunit2));
        assert_eq!(info.timestamp.as_deref(), Some("2010-04-19T13:38:35"));
        assert_eq!(info.hostname.as_deref(), Some("BOX"));
        assert_eq!(info.duration, Some(3.5));
        assert_eq!(
            outcomes(&cases),
            vec![
                ("Ns.Fix::Ok", Outcome::Passed),
                ("Ns.Fix::Bad", Outcome::Failed),
                ("Ns.Fix::Err", Outcome::Errored),
                ("Ns.Fix::Ign", Outcome::Skipped),
                ("Ns.Fix::Nr", Outcome::Skipped),
                ("Ns.Fix::Inc", Outcome::Skipped),
                ("Ns.Fix::Cx", Outcome::Errored),
                ("Ns.Fix::P(\"a.b\",1.5)", Outcome::Passed),
                ("Fix::Short", Outcome::Passed),
                ("Fix::ShortFail", Outcome::Failed),
                ("Fix::ShortNotRun", Outcome::Skipped),
                ("Fix::Weird", Outcome::Failed),
                ("Fix::Typo", Outcome::Passed),
            ]
        );
        assert_eq!(cases[0].attempts[0].duration, Some(1.0));
        assert!(cases[0].properties.is_empty());
        assert_eq!(
            info.properties,
            vec![("Category".to_string(), "fast".to_string())]
        );
        let err = cases[2].attempts[0].failure.as_ref().unwrap();
        assert_eq!(err.kind.as_deref(), Some("System.Exception"));
        let ign = cases[3].attempts[0].failure.as_ref().unwrap();
        assert_eq!(ign.message.as_deref(), Some("why"));
        assert_eq!(
            cases[9].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("m")
        );
    }

    #[test]
    fn bare_test_suite_root() {
        let doc = br#"<test-suite type="Assembly" name="A.dll" testcasecount="1" duration="0.5">
  <test-suite type="TestFixture" name="C" fullname="N.C" classname="N.C">
    <test-case name="T" classname="N.C" result="Failed" label="Error"><failure><message>m</message></failure></test-case>
  </test-suite>
</test-suite>"#;
        let mut xml = XmlReader::new(&doc[..]);
        let root = xml.root().unwrap();
        let mut cases = Vec::new();
        let info = parse(&mut xml, root, &mut |c| {
            cases.push(c);
            Ok(())
        })
        .unwrap();
        xml.finish().unwrap();
        assert_eq!(info.format, Some(Format::Nunit3));
        assert_eq!(info.duration, Some(0.5));
        assert_eq!(outcomes(&cases), vec![("N.C::T", Outcome::Failed)]);
        assert_eq!(cases[0].suite, vec!["A.dll", "C"]);
    }

    #[test]
    fn truncated_and_wrong_root_are_errors() {
        let truncated = &NUNIT3[..NUNIT3.len() / 2];
        assert!(collect_bytes(truncated.as_bytes(), None).is_err());
        assert!(collect_bytes(b"<test-run><test-suite>", None).is_err());
        let err = collect_bytes(b"<testsuites/>", Some(Format::Nunit3)).unwrap_err();
        assert!(err.to_string().contains("not an NUnit report"), "{err}");
        // Empty but valid documents have no records.
        let (_, cases) = parse_doc("<test-run/>");
        assert!(cases.is_empty());
        let (_, cases) = parse_doc("<test-results><test-suite/></test-results>");
        assert!(cases.is_empty());
    }

    #[test]
    fn helpers() {
        assert_eq!(
            split_qualified("Ns.C.M(\"a.b\")"),
            Some(("Ns.C", "M(\"a.b\")"))
        );
        assert_eq!(
            split_qualified("Ns.G<System.String>.M<T.U>(1)"),
            Some(("Ns.G<System.String>", "M<T.U>(1)"))
        );
        assert_eq!(split_qualified("Checks v1.2 output"), None);
        assert_eq!(split_qualified("Ends with a dot."), None);
        assert_eq!(split_qualified("NoDots"), None);
        assert_eq!(split_qualified(".M"), None);
        assert_eq!(split_qualified("collection1\\test.xml"), None);
        assert_eq!(split_qualified("took 1.5 s"), None);
        assert_eq!(split_qualified("v1.2"), None);
        assert_eq!(split_qualified("_a._b"), Some(("_a", "_b")));
        assert_eq!(
            strip_class("Ns.C.M(1)", "Ns.C"),
            "Ns.C.M(1)".get(5..).unwrap()
        );
        assert_eq!(strip_class("Custom name", "Ns.C"), "Custom name");
        assert_eq!(strip_class("Ns.C.", "Ns.C"), "Ns.C.");
        assert_eq!(
            exception_kind("System.IO.IOException : disk"),
            Some("System.IO.IOException".into())
        );
        assert_eq!(
            exception_kind("Test method A.B threw exception: \nSystem.ArgumentException: x"),
            Some("System.ArgumentException".into())
        );
        assert_eq!(exception_kind("Assert.True() Failure"), None);
        assert_eq!(exception_kind("Expected: 2"), None);
        assert_eq!(exception_kind(""), None);
    }
}
