//! CTRF (Common Test Report Format, <https://ctrf.io>) JSON reports:
//! `{"reportFormat":"CTRF","results":{"tool":{..},"summary":{..},"tests":[..]}}`.
//!
//! The document is streamed: every element of `results.tests` is pushed as soon as it is read,
//! so a report of any size is handled in bounded memory. Mapping choices:
//!
//! - **Outcome** from `status`: `passed` → passed, `failed` → failed, `skipped`/`pending` →
//!   skipped. `other` (jest's `todo`/`disabled`/`focused`, Playwright's unknown statuses) is
//!   treated as *not run* → skipped, unless it carries evidence of a crash: a `trace`, or a
//!   `rawStatus` of `timedOut`/`interrupted`/`error`/`errored`/`broken`/`crashed` → errored.
//!   Non-standard status words are mapped the same way (`error` → errored, `todo` → skipped...).
//! - **Retries are evidence**: `retryAttempts` become extra attempts in execution order (sorted
//!   by `attempt` when every entry has one). Producers disagree on whether the list holds the
//!   final execution too (Playwright lists only the earlier ones, the spec's comprehensive
//!   example lists all): it is taken to include the final one when it has `retries + 1`
//!   entries, or, without a usable `retries`, when its last entry has the test's own status,
//!   duration and start. Otherwise the test's own result is appended as the last attempt.
//!   Without `retryAttempts`, a `retries: n` count (or `flaky: true` alone, meaning at least
//!   one) adds `n` failed attempts without details before the final one: runners only retry
//!   after a failure. The record's outcome is always the final `status`, so a flaky test that
//!   passed on retry is a passed record with earlier failed attempts. At most 100 synthetic
//!   attempts are added.
//! - **Names**: `suite` (array of strings, or the older `"a > b"` string) gives the enclosing
//!   suites; an entry that is the file itself (jest puts the file name first, Playwright the
//!   spec path) is left out. `classname` = the suites joined by ` › `, `name` = the test's own
//!   title: when `name` is the full title (jest `fullName`, mocha `fullTitle`), the leading
//!   suite titles are stripped. `file` = `filePath` (as written), `line` = `line`. Ids use the
//!   jest style (`path › describe › name`), without the path when there is no `filePath`. A
//!   record with neither name nor suite is dropped.
//! - **Failure**: `message` (first line; the whole text goes to details when it has several
//!   lines) and `trace`; the kind is the error class the trace starts with (`TypeError: ...`).
//!   ANSI colour codes are removed. Skipped records keep their `message` as the skip reason.
//! - **Attempt data**: `duration` (ms) → seconds, `stdout`/`stderr` (arrays of lines or
//!   strings) → captured output; `start` (ms since epoch) → the record's RFC 3339 timestamp.
//! - **Properties**: `browser`, `device` and `tags` (comma-joined).
//! - **Report**: tool = `results.tool.name`; timestamp = top-level `timestamp`, else
//!   `summary.start` as RFC 3339; duration = `summary.duration`, else `stop - start`.
//!
//! The [`json`] module holds helpers shared with the Mocha, RSpec and Dart parsers: a head
//! scanner for sniffing, a streaming document walker, lenient value readers and error mapping.

use crate::{Error, Result, Sink};
use flakehound_model::{Attempt, Format, Outcome, ReportInfo, TestCase};
use json::{JsonDoc, Want};
use serde_json::{Map, Value};
use std::io::BufRead;

pub(crate) fn sniff(head: &str) -> bool {
    let Some(keys) = json::head_keys(head, 2) else {
        return false;
    };
    let top = |k: &str| keys.iter().find(|h| h.path.is_empty() && h.key == k);
    if top("reportFormat").and_then(|h| h.text.as_deref()) == Some("CTRF") {
        return true;
    }
    if !matches!(top("results"), Some(h) if h.value == b'{') {
        return false;
    }
    keys.iter().any(|h| {
        h.path == "results"
            && ((h.key == "tool" && h.value == b'{') || (h.key == "tests" && h.value == b'['))
    })
}

pub(crate) fn parse<R: BufRead>(mut input: R, sink: &mut Sink<'_>) -> Result<ReportInfo> {
    json::skip_bom(&mut input)?;
    let mut doc = CtrfDoc {
        sink,
        info: ReportInfo {
            format: Some(Format::Ctrf),
            ..ReportInfo::default()
        },
        saw_results: false,
        saw_tests: false,
        summary: None,
    };
    json::stream_doc(input, "CTRF", &mut doc)?;
    if !doc.saw_results {
        return Err(Error::parse(
            "not a CTRF report: no top-level \"results\" object",
        ));
    }
    if !doc.saw_tests {
        return Err(Error::parse("CTRF report has no \"results.tests\" array"));
    }
    let mut info = doc.info;
    if let Some(summary) = doc.summary {
        let start = json::number_of(summary.get("start"));
        let stop = json::number_of(summary.get("stop"));
        if info.timestamp.is_none() {
            info.timestamp = start.and_then(json::epoch_ms_to_rfc3339);
        }
        info.duration =
            json::ms_to_secs(json::number_of(summary.get("duration"))).or_else(|| {
                match (start, stop) {
                    (Some(a), Some(b)) if b >= a => json::ms_to_secs(Some(b - a)),
                    _ => None,
                }
            });
    }
    Ok(info)
}

struct CtrfDoc<'a, 's> {
    sink: &'a mut Sink<'s>,
    info: ReportInfo,
    saw_results: bool,
    saw_tests: bool,
    summary: Option<Map<String, Value>>,
}

impl JsonDoc for CtrfDoc<'_, '_> {
    fn want(&mut self, path: &[String], key: &str) -> Want {
        match (path, key) {
            ([], "results") => {
                self.saw_results = true;
                Want::Object
            }
            ([], "timestamp") => Want::Value,
            ([p], "tests") if p == "results" => {
                self.saw_tests = true;
                Want::Elements
            }
            ([p], "tool" | "summary") if p == "results" => Want::Value,
            _ => Want::Skip,
        }
    }

    fn value(&mut self, path: &[String], key: &str, v: Value) -> Result<()> {
        match (path, key) {
            ([], "timestamp") => self.info.timestamp = json::string_of(Some(&v)),
            (_, "tool") => self.info.tool = json::string_of(v.get("name")),
            (_, "summary") => {
                if let Value::Object(m) = v {
                    self.summary = Some(m);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn element(&mut self, _path: &[String], _key: &str, v: Value) -> Result<()> {
        match test_case(&v) {
            Some(case) => (self.sink)(json::finish_js_case(case)),
            None => Ok(()),
        }
    }
}

/// Builds the record of one `results.tests` element; `None` when it has no name and no suite.
fn test_case(v: &Value) -> Option<TestCase> {
    let obj = v.as_object()?;
    let file = json::string_of(obj.get("filePath"));
    let titles = suite_titles(obj.get("suite"), file.as_deref());
    let full_name = json::string_of(obj.get("name")).unwrap_or_default();
    let name = json::own_title(&full_name, &titles);
    let classname = (!titles.is_empty()).then(|| titles.join(" › "));
    if name.trim().is_empty() && classname.is_none() {
        return None;
    }

    let status = json::string_of(obj.get("status"));
    let outcome = map_status(
        status.as_deref(),
        json::string_of(obj.get("rawStatus")).as_deref(),
        json::string_of(obj.get("trace")).is_some(),
    );
    let own = attempt_of(obj, outcome);

    let mut earlier: Vec<(Option<i64>, &Map<String, Value>)> = obj
        .get("retryAttempts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .map(|m| (json::number_of(m.get("attempt")).map(|n| n as i64), m))
                .collect()
        })
        .unwrap_or_default();
    if earlier.iter().all(|(n, _)| n.is_some()) {
        earlier.sort_by_key(|(n, _)| *n);
    }
    let retries = json::number_of(obj.get("retries"))
        .filter(|r| *r >= 0.0)
        .map(|r| r as u64);

    let mut attempts: Vec<Attempt> = Vec::new();
    if let Some(&(_, last)) = earlier.last() {
        let n = earlier.len() as u64;
        let includes_final = match retries {
            Some(r) if n == r.saturating_add(1) => true,
            Some(r) if n == r => false,
            _ => same_execution(last, obj),
        };
        for (_, m) in &earlier {
            let a_status = json::string_of(m.get("status"));
            let a_outcome = map_status(
                a_status.as_deref(),
                None,
                json::string_of(m.get("trace")).is_some(),
            );
            attempts.push(attempt_of(m, a_outcome));
        }
        if includes_final {
            // The final entry is the test's own execution: fill what it lacks from the test.
            if let Some(last) = attempts.last_mut() {
                last.duration = last.duration.or(own.duration);
                if last.failure.is_none() && last.outcome != Outcome::Passed {
                    last.failure = own.failure;
                }
                last.stdout = last.stdout.take().or(own.stdout);
                last.stderr = last.stderr.take().or(own.stderr);
            }
        } else {
            attempts.push(own);
        }
    } else {
        let flaky = obj.get("flaky").and_then(Value::as_bool) == Some(true);
        let mut extra = retries.unwrap_or(0);
        if flaky && outcome == Outcome::Passed {
            extra = extra.max(1);
        }
        if outcome != Outcome::Skipped {
            attempts.extend(json::synthetic_failures(extra));
        }
        attempts.push(own);
    }

    let mut properties = Vec::new();
    for key in ["browser", "device"] {
        if let Some(s) = json::string_of(obj.get(key)) {
            properties.push((key.to_string(), s));
        }
    }
    if let Some(tags) = obj.get("tags").and_then(Value::as_array) {
        let tags: Vec<String> = tags
            .iter()
            .filter_map(|t| json::string_of(Some(t)))
            .collect();
        if !tags.is_empty() {
            properties.push(("tags".to_string(), tags.join(",")));
        }
    }

    Some(TestCase {
        id: String::new(),
        classname,
        name,
        file,
        line: json::line_of_value(obj.get("line")),
        suite: titles,
        outcome,
        attempts,
        properties,
        timestamp: json::number_of(obj.get("start")).and_then(json::epoch_ms_to_rfc3339),
    })
}

/// Whether the last `retryAttempts` entry describes the test's own (final) execution.
fn same_execution(last: &Map<String, Value>, test: &Map<String, Value>) -> bool {
    let eq = |k: &str| json::number_of(last.get(k)) == json::number_of(test.get(k));
    json::string_of(last.get("status")) == json::string_of(test.get("status"))
        && eq("duration")
        && (last.get("start").is_none() || eq("start"))
}

/// One attempt from a test object or a retry-attempt object.
fn attempt_of(m: &Map<String, Value>, outcome: Outcome) -> Attempt {
    let message = json::string_of(m.get("message"));
    let trace = json::string_of(m.get("trace"));
    let failure = match outcome {
        Outcome::Passed => None,
        _ => json::failure(
            trace.as_deref().and_then(json::js_error_kind),
            message.as_deref(),
            trace.as_deref(),
        ),
    };
    Attempt {
        outcome,
        duration: json::ms_to_secs(json::number_of(m.get("duration"))),
        failure,
        stdout: json::lines_of(m.get("stdout")),
        stderr: json::lines_of(m.get("stderr")),
    }
}

/// CTRF status (plus `rawStatus` and whether a trace is present) → outcome.
fn map_status(status: Option<&str>, raw: Option<&str>, has_trace: bool) -> Outcome {
    let word = |s: &str| -> Option<Outcome> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "passed" | "pass" | "success" | "ok" => Outcome::Passed,
            "failed" | "fail" | "failure" => Outcome::Failed,
            "error" | "errored" | "broken" | "crashed" | "timedout" | "timeout" | "interrupted" => {
                Outcome::Errored
            }
            "skipped" | "skip" | "pending" | "todo" | "disabled" | "ignored" | "notrun" => {
                Outcome::Skipped
            }
            _ => return None,
        })
    };
    match status.and_then(word) {
        Some(o) => o,
        // `other`, unknown or missing: not run, unless something crashed.
        None => match raw.and_then(word) {
            Some(Outcome::Errored | Outcome::Failed) => Outcome::Errored,
            _ if has_trace => Outcome::Errored,
            _ => Outcome::Skipped,
        },
    }
}

/// Enclosing suite titles, outermost first, without an entry naming the test file itself.
fn suite_titles(suite: Option<&Value>, file: Option<&str>) -> Vec<String> {
    let raw: Vec<String> = match suite {
        Some(Value::Array(a)) => a.iter().filter_map(|s| json::string_of(Some(s))).collect(),
        Some(Value::String(s)) => s.split(" > ").map(str::to_string).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .filter(|s| !file.is_some_and(|f| is_path_suffix(f, s)))
        .collect()
}

/// `title` names the file `file` (`a/b.test.js` or `b.test.js` for `/w/a/b.test.js`).
fn is_path_suffix(file: &str, title: &str) -> bool {
    let file = file.replace('\\', "/");
    let title = title.replace('\\', "/");
    let title = title.trim_start_matches("./");
    if title.is_empty() || !title.contains('.') {
        return false;
    }
    file == title
        || file
            .strip_suffix(title)
            .is_some_and(|rest| rest.ends_with('/'))
}

/// JSON helpers shared by the JSON parsers (CTRF, Mocha, RSpec, Dart).
pub(crate) mod json {
    use crate::{Error, Result, finish_case};
    use flakehound_model::{Attempt, Dialect, Failure, Outcome, TestCase, canonical_id, trim_text};
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;
    use std::fmt;
    use std::io::{BufRead, Read};

    /// One object key seen in the head of a JSON document.
    #[derive(Debug)]
    pub(crate) struct HeadKey {
        /// Keys of the enclosing containers, `.`-joined; array elements are `[]`
        /// (`""` for top-level keys, `"examples.[]"` for keys of `examples` elements).
        pub path: String,
        pub key: String,
        /// First byte of the value (`{`, `[`, `"`, digit...), 0 when cut off.
        pub value: u8,
        /// The value's text when it is a string.
        pub text: Option<String>,
    }

    /// Object keys of the (possibly cut) JSON document starting `head`, up to `max_depth`
    /// levels deep; `None` when `head` does not start with `{`. Never fails on broken input.
    pub(crate) fn head_keys(head: &str, max_depth: usize) -> Option<Vec<HeadKey>> {
        enum Frame {
            Obj { label: String, want_key: bool },
            Arr { label: String },
        }
        let s = head.trim_start_matches('\u{feff}').trim_start();
        let b = s.as_bytes();
        if b.first() != Some(&b'{') {
            return None;
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut out = Vec::new();
        let mut last_key = String::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                c @ (b'{' | b'[') => {
                    let label = match stack.last() {
                        Some(Frame::Arr { .. }) => "[]".to_string(),
                        Some(Frame::Obj { .. }) => std::mem::take(&mut last_key),
                        None => String::new(),
                    };
                    stack.push(if c == b'{' {
                        Frame::Obj {
                            label,
                            want_key: true,
                        }
                    } else {
                        Frame::Arr { label }
                    });
                    i += 1;
                }
                b'}' | b']' => {
                    stack.pop();
                    if stack.is_empty() {
                        break;
                    }
                    i += 1;
                }
                b',' => {
                    if let Some(Frame::Obj { want_key, .. }) = stack.last_mut() {
                        *want_key = true;
                    }
                    i += 1;
                }
                b'"' => {
                    let (text, next) = read_string(s, i);
                    i = next;
                    let Some(Frame::Obj { want_key, .. }) = stack.last_mut() else {
                        continue;
                    };
                    if !*want_key {
                        continue;
                    }
                    *want_key = false;
                    while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b':') {
                        i += 1;
                    }
                    let value = b.get(i).copied().unwrap_or(0);
                    if stack.len() <= max_depth {
                        let path = stack
                            .iter()
                            .skip(1)
                            .map(|f| match f {
                                Frame::Obj { label, .. } | Frame::Arr { label } => label.as_str(),
                            })
                            .collect::<Vec<_>>()
                            .join(".");
                        out.push(HeadKey {
                            path,
                            key: text.clone(),
                            value,
                            text: (value == b'"').then(|| read_string(s, i).0),
                        });
                    }
                    last_key = text;
                }
                _ => i += 1,
            }
        }
        Some(out)
    }

    /// Reads the JSON string starting at the quote `s[start]`; returns its raw content
    /// (escapes kept) and the index after the closing quote (or the end of `s`).
    fn read_string(s: &str, start: usize) -> (String, usize) {
        let b = s.as_bytes();
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return (s[start + 1..i].to_string(), i + 1),
                _ => i += 1,
            }
        }
        (s.get(start + 1..).unwrap_or("").to_string(), b.len())
    }

    /// What a [`JsonDoc`] wants done with the value of a key.
    pub(crate) enum Want {
        /// Walk into the object, asking again for each of its keys.
        Object,
        /// Stream the elements of the array to [`JsonDoc::element`] one by one.
        Elements,
        /// Walk into each element of the array (objects) as into an [`Want::Object`] at the
        /// array's path, between [`JsonDoc::element_start`] and [`JsonDoc::element_end`]: an
        /// element is never built whole (a jest test file with millions of assertions).
        ObjectElements,
        /// Read the whole value and hand it to [`JsonDoc::value`].
        Value,
        /// Skip it without building it.
        Skip,
    }

    /// A consumer of a streamed JSON document (see [`stream_doc`]).
    pub(crate) trait JsonDoc {
        /// Decides what to do with `key` of the object at `path` (keys from the root).
        fn want(&mut self, path: &[String], key: &str) -> Want;
        fn value(&mut self, path: &[String], key: &str, v: Value) -> Result<()>;
        fn element(&mut self, path: &[String], key: &str, v: Value) -> Result<()>;
        fn element_start(&mut self, _path: &[String], _key: &str) -> Result<()> {
            Ok(())
        }
        fn element_end(&mut self, _path: &[String], _key: &str) -> Result<()> {
            Ok(())
        }
    }

    struct Ctx<'h, H> {
        doc: &'h mut H,
        /// An error raised by the consumer (sink refusal, ...), reported instead of serde's.
        stopped: Option<Error>,
    }

    /// Streams one JSON document (an object) from `input` through `doc`. Syntax and structure
    /// errors carry the line and column; trailing content after the document is an error.
    pub(crate) fn stream_doc<R: Read, H: JsonDoc>(
        input: R,
        format: &str,
        doc: &mut H,
    ) -> Result<()> {
        let mut ctx = Ctx { doc, stopped: None };
        let mut de = serde_json::Deserializer::from_reader(input);
        let res = ObjSeed {
            ctx: &mut ctx,
            path: Vec::new(),
            lenient: false,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if let Some(e) = ctx.stopped.take() {
            return Err(e);
        }
        res.map_err(|e| json_error(format, e))
    }

    struct ObjSeed<'c, 'h, H> {
        ctx: &'c mut Ctx<'h, H>,
        path: Vec<String>,
        /// An array element: anything but an object is skipped, as [`Want::Elements`] consumers
        /// skip such elements.
        lenient: bool,
    }

    impl<'de, H: JsonDoc> DeserializeSeed<'de> for ObjSeed<'_, '_, H> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            // `any`, so that `null` is accepted as an empty object.
            d.deserialize_any(self)
        }
    }

    impl<H: JsonDoc> ObjSeed<'_, '_, H> {
        fn other<E: de::Error>(self, what: de::Unexpected<'_>) -> Result<(), E> {
            if self.lenient {
                Ok(())
            } else {
                Err(de::Error::invalid_type(what, &self))
            }
        }
    }

    impl<'de, H: JsonDoc> Visitor<'de> for ObjSeed<'_, '_, H> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            match self.path.last() {
                Some(k) => write!(f, "an object as \"{k}\""),
                None => f.write_str("a JSON object"),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
            self.other(de::Unexpected::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
            self.other(de::Unexpected::Signed(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
            self.other(de::Unexpected::Unsigned(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
            self.other(de::Unexpected::Float(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
            self.other(de::Unexpected::Str(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            if !self.lenient {
                return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                match self.ctx.doc.want(&self.path, &key) {
                    Want::Object => {
                        let mut path = self.path.clone();
                        path.push(key);
                        map.next_value_seed(ObjSeed {
                            ctx: &mut *self.ctx,
                            path,
                            lenient: false,
                        })?;
                    }
                    Want::Elements => map.next_value_seed(ArrSeed {
                        ctx: &mut *self.ctx,
                        path: &self.path,
                        key: &key,
                        objects: false,
                    })?,
                    Want::ObjectElements => map.next_value_seed(ArrSeed {
                        ctx: &mut *self.ctx,
                        path: &self.path,
                        key: &key,
                        objects: true,
                    })?,
                    Want::Value => {
                        let v: Value = map.next_value()?;
                        if let Err(e) = self.ctx.doc.value(&self.path, &key, v) {
                            self.ctx.stopped = Some(e);
                            return Err(de::Error::custom("stopped"));
                        }
                    }
                    Want::Skip => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }

    struct ArrSeed<'c, 'h, 'p, H> {
        ctx: &'c mut Ctx<'h, H>,
        path: &'p [String],
        key: &'p str,
        /// Walk into each element instead of building it.
        objects: bool,
    }

    impl<'de, H: JsonDoc> DeserializeSeed<'de> for ArrSeed<'_, '_, '_, H> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            // `any`, so that `null` is accepted as an empty array.
            d.deserialize_any(self)
        }
    }

    impl<'de, H: JsonDoc> Visitor<'de> for ArrSeed<'_, '_, '_, H> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an array as \"{}\"", self.key)
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            if self.objects {
                let mut path = self.path.to_vec();
                path.push(self.key.to_string());
                loop {
                    if let Err(e) = self.ctx.doc.element_start(self.path, self.key) {
                        self.ctx.stopped = Some(e);
                        return Err(de::Error::custom("stopped"));
                    }
                    let seed = ObjSeed {
                        ctx: &mut *self.ctx,
                        path: path.clone(),
                        lenient: true,
                    };
                    if seq.next_element_seed(seed)?.is_none() {
                        return Ok(());
                    }
                    if let Err(e) = self.ctx.doc.element_end(self.path, self.key) {
                        self.ctx.stopped = Some(e);
                        return Err(de::Error::custom("stopped"));
                    }
                }
            }
            while let Some(v) = seq.next_element::<Value>()? {
                if let Err(e) = self.ctx.doc.element(self.path, self.key, v) {
                    self.ctx.stopped = Some(e);
                    return Err(de::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }

    /// Maps a serde_json error to a parse error with the line and column it reports.
    pub(crate) fn json_error(format: &str, e: serde_json::Error) -> Error {
        use serde_json::error::Category;
        if e.is_io() {
            return Error::Io(e.into());
        }
        let (line, column) = (e.line(), e.column());
        let text = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let msg = text.strip_suffix(&suffix).unwrap_or(&text);
        let what = match e.classify() {
            Category::Eof => "is truncated",
            Category::Syntax => "is not valid JSON",
            _ => "has an unexpected structure",
        };
        let reason = format!("{format} report {what}: {msg} (column {column})");
        if line > 0 {
            Error::at_line(reason, line as u64)
        } else {
            Error::parse(reason)
        }
    }

    /// Skips a UTF-8 byte-order mark at the start of `input`.
    pub(crate) fn skip_bom<R: BufRead>(input: &mut R) -> Result<()> {
        if input.fill_buf()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
            input.consume(3);
        }
        Ok(())
    }

    /// A non-blank string from a string, number or boolean value.
    pub(crate) fn string_of(v: Option<&Value>) -> Option<String> {
        let s = match v? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!s.trim().is_empty()).then_some(s)
    }

    /// A finite number from a number or a numeric string.
    pub(crate) fn number_of(v: Option<&Value>) -> Option<f64> {
        let n = match v? {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        n.is_finite().then_some(n)
    }

    /// Milliseconds → seconds; negative values are dropped.
    pub(crate) fn ms_to_secs(ms: Option<f64>) -> Option<f64> {
        ms.filter(|m| m.is_finite() && *m >= 0.0)
            .map(|m| m / 1000.0)
    }

    /// A 1-based line number.
    pub(crate) fn line_of_value(v: Option<&Value>) -> Option<u32> {
        number_of(v)
            .filter(|n| *n >= 1.0 && *n <= f64::from(u32::MAX))
            .map(|n| n as u32)
    }

    /// Captured output written as an array of lines (CTRF) or one string.
    pub(crate) fn lines_of(v: Option<&Value>) -> Option<String> {
        match v? {
            Value::Array(a) => {
                let lines: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                trim_text(&strip_ansi(&lines.join("\n")))
            }
            Value::String(s) => trim_text(&strip_ansi(s)),
            _ => None,
        }
    }

    /// Milliseconds since the Unix epoch → `YYYY-MM-DDTHH:MM:SS.mmmZ`. Zero (what reporters
    /// write for "unknown") and values past year 9999 give `None`.
    pub(crate) fn epoch_ms_to_rfc3339(ms: f64) -> Option<String> {
        if !ms.is_finite() || ms <= 0.0 || ms > 253_402_300_799_999.0 {
            return None;
        }
        let total = ms as i64;
        let (secs, milli) = (total.div_euclid(1000), total.rem_euclid(1000));
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Some(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        ))
    }

    /// Removes ANSI escape sequences (colours) from `s`.
    pub(crate) fn strip_ansi(s: &str) -> String {
        if !s.contains('\u{1b}') {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\u{1b}' {
                out.push(c);
                continue;
            }
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        }
        out
    }

    /// First non-blank line of `text`, trimmed and capped at 500 bytes.
    pub(crate) fn first_line(text: &str) -> Option<String> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        let mut end = line.len().min(500);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        Some(line[..end].to_string())
    }

    /// Builds a failure from an error kind, a message and a trace. The message's first line
    /// becomes the one-line message; a multi-line message not already in the trace is kept
    /// in the details before the trace. `None` when there is nothing to say.
    pub(crate) fn failure(
        kind: Option<String>,
        message: Option<&str>,
        trace: Option<&str>,
    ) -> Option<Failure> {
        let message = message.map(strip_ansi);
        let trace = trace.map(strip_ansi);
        let mut details = String::new();
        if let Some(m) = message.as_deref().map(str::trim) {
            let multi_line = m.lines().filter(|l| !l.trim().is_empty()).count() > 1;
            if multi_line && !trace.as_deref().is_some_and(|t| t.contains(m)) {
                details.push_str(m);
            }
        }
        if let Some(t) = trace.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if !details.is_empty() {
                details.push('\n');
            }
            details.push_str(t);
        }
        let f = Failure {
            kind: kind.map(|k| k.trim().to_string()).filter(|k| !k.is_empty()),
            message: message
                .as_deref()
                .and_then(first_line)
                .or_else(|| trace.as_deref().and_then(first_line)),
            details: trim_text(&details),
        };
        (!f.is_empty()).then_some(f)
    }

    /// The error class a JavaScript (or Dart) error text starts with: `TypeError` for
    /// `TypeError: x is undefined`, `AssertionError` for `AssertionError [ERR_ASSERTION]: ..`.
    pub(crate) fn js_error_kind(text: &str) -> Option<String> {
        let line = strip_ansi(text.trim_start().lines().next()?);
        let end = line
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
            .unwrap_or(line.len());
        let (kind, rest) = line.split_at(end);
        let starts_ok = kind
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$');
        let followed_ok = rest.starts_with(':') || rest.starts_with(" [") || rest.is_empty();
        (starts_ok && followed_ok && kind.len() <= 120 && !rest.is_empty())
            .then(|| kind.to_string())
    }

    /// Whether a JavaScript error class is an assertion failure (as opposed to an exception).
    pub(crate) fn is_assertion_kind(kind: &str) -> bool {
        let k = kind.to_ascii_lowercase();
        k.contains("assert") || k.contains("expectation") || kind == "UnexpectedError"
    }

    /// The own title of a test whose `full` title may start with its suite titles
    /// (`"A B does x"` with suites `["A", "B"]` → `"does x"`).
    pub(crate) fn own_title(full: &str, suites: &[String]) -> String {
        let full = full.trim();
        if suites.is_empty() {
            return full.to_string();
        }
        let prefix = suites.join(" ");
        match full.strip_prefix(prefix.as_str()) {
            Some(rest) if rest.starts_with(' ') && !rest.trim().is_empty() => {
                rest.trim().to_string()
            }
            _ => full.to_string(),
        }
    }

    /// Sets the jest-style id of a JavaScript/Dart record: `file › describe › name`, or
    /// `describe › name` when the file is unknown.
    pub(crate) fn finish_js_case(mut case: TestCase) -> TestCase {
        if case.file.is_some() {
            return finish_case(case, Dialect::Jest);
        }
        case.id = canonical_id(
            Dialect::Jest,
            case.classname.as_deref(),
            &case.name,
            None,
            None,
        );
        case
    }

    /// `n` failed attempts without details (retries a report only counts), at most 100.
    pub(crate) fn synthetic_failures(n: u64) -> impl Iterator<Item = Attempt> {
        (0..n.min(100)).map(|_| Attempt::new(Outcome::Failed))
    }
}

#[cfg(test)]
mod tests {
    use super::json;
    use super::*;
    use crate::collect_bytes;

    fn parse_doc(doc: &str) -> (ReportInfo, Vec<TestCase>) {
        collect_bytes(doc.as_bytes(), None).unwrap()
    }

    fn outcomes(cases: &[TestCase]) -> Vec<Outcome> {
        cases.iter().map(|c| c.outcome).collect()
    }

    fn attempt_outcomes(case: &TestCase) -> Vec<Outcome> {
        case.attempts.iter().map(|a| a.outcome).collect()
    }

    const REPORT: &str = r#"{
  "reportFormat": "CTRF",
  "specVersion": "0.0.0",
  "results": {
    "tool": { "name": "jest", "version": "29.7.0" },
    "summary": { "tests": 8, "passed": 2, "failed": 1, "skipped": 1, "pending": 1, "other": 3,
                 "start": 1609459200000, "stop": 1609459212500 },
    "tests": [
      { "name": "Widget renders", "status": "passed", "duration": 120, "start": 1609459200000,
        "filePath": "/w/src/widget.test.js", "suite": "widget.test.js > Widget",
        "browser": "chromium 120", "tags": ["smoke", "ui"] },
      { "name": "Widget updates on click", "status": "failed", "duration": 250,
        "filePath": "/w/src/widget.test.js", "suite": "widget.test.js > Widget", "line": 17,
        "message": "\u001b[31mexpect(received).toBe(expected)\u001b[39m\n\nExpected: 2\nReceived: 1",
        "trace": "Error: expect(received).toBe(expected)\n    at Object.<anonymous> (widget.test.js:17:5)",
        "stdout": ["clicked", "rendered"], "stderr": "warn: slow" },
      { "name": "not yet", "status": "skipped", "duration": 0, "message": "waiting for API",
        "suite": ["Auth", "Login"] },
      { "name": "later", "status": "pending", "duration": 0 },
      { "name": "todo thing", "status": "other", "rawStatus": "todo", "duration": 0 },
      { "name": "hung", "status": "other", "rawStatus": "timedOut", "duration": 30000 },
      { "name": "crashed", "status": "other", "duration": 5, "trace": "Error: worker died" },
      { "name": "nameless sibling", "status": "passed", "duration": 1 },
      { "name": "", "status": "passed", "duration": 1 }
    ]
  }
}"#;

    #[test]
    fn sniffs_ctrf_only() {
        assert!(sniff(REPORT));
        // Cut in the middle of the document, without reportFormat.
        assert!(sniff(
            r#"{"results": {"tool": {"name": "pytest"}, "summary": {"tests": 3, "#
        ));
        assert!(sniff(
            r#"{"results":{"summary":{},"tests":[{"name":"a","stat"#
        ));
        assert!(!sniff(r#"{"stats":{"tests":1},"results":[{"uuid":"x"}]}"#)); // mochawesome
        assert!(!sniff(r#"{"results": [1, 2], "tool": {}}"#));
        assert!(!sniff(r#"{"other": {"results": {"tool": {}}}}"#));
        assert!(!sniff(r#"{"key": "val", malformed: "key"}"#));
        assert!(!sniff("this is not json"));
        assert!(!sniff(
            r#"{"Time":"2021-01-01T00:00:00Z","Action":"run","Test":"TestA"}"#
        ));
    }

    #[test]
    fn maps_statuses_names_and_details() {
        let (info, cases) = parse_doc(REPORT);
        assert_eq!(info.format, Some(Format::Ctrf));
        assert_eq!(info.tool.as_deref(), Some("jest"));
        assert_eq!(info.timestamp.as_deref(), Some("2021-01-01T00:00:00.000Z"));
        assert_eq!(info.duration, Some(12.5));
        // The record with neither name nor suite is dropped.
        assert_eq!(cases.len(), 8);
        assert_eq!(
            outcomes(&cases),
            [
                Outcome::Passed,
                Outcome::Failed,
                Outcome::Skipped,
                Outcome::Skipped,
                Outcome::Skipped,
                Outcome::Errored,
                Outcome::Errored,
                Outcome::Passed,
            ]
        );

        let pass = &cases[0];
        assert_eq!(pass.id, "/w/src/widget.test.js › Widget › renders");
        assert_eq!(pass.classname.as_deref(), Some("Widget"));
        assert_eq!(pass.name, "renders");
        assert_eq!(pass.suite, ["Widget"]);
        assert_eq!(pass.timestamp.as_deref(), Some("2021-01-01T00:00:00.000Z"));
        assert_eq!(pass.attempts[0].duration, Some(0.12));
        assert_eq!(
            pass.properties,
            [
                ("browser".to_string(), "chromium 120".to_string()),
                ("tags".to_string(), "smoke,ui".to_string())
            ]
        );

        let fail = &cases[1];
        assert_eq!(fail.id, "/w/src/widget.test.js › Widget › updates on click");
        assert_eq!(fail.line, Some(17));
        let a = &fail.attempts[0];
        let f = a.failure.as_ref().unwrap();
        assert_eq!(f.kind.as_deref(), Some("Error"));
        assert_eq!(
            f.message.as_deref(),
            Some("expect(received).toBe(expected)")
        );
        let details = f.details.as_deref().unwrap();
        assert!(details.starts_with("expect(received).toBe(expected)\n\nExpected: 2"));
        assert!(details.contains("at Object.<anonymous>"));
        assert!(!details.contains('\u{1b}'));
        assert_eq!(a.stdout.as_deref(), Some("clicked\nrendered"));
        assert_eq!(a.stderr.as_deref(), Some("warn: slow"));

        let skipped = &cases[2];
        assert_eq!(skipped.id, "Auth › Login › not yet");
        let reason = skipped.attempts[0].failure.as_ref().unwrap();
        assert_eq!(reason.message.as_deref(), Some("waiting for API"));
        assert_eq!(cases[3].id, "later");
        assert_eq!(
            cases[6].attempts[0]
                .failure
                .as_ref()
                .unwrap()
                .kind
                .as_deref(),
            Some("Error")
        );
    }

    #[test]
    fn retry_attempts_before_the_final_result() {
        // Playwright: retryAttempts hold only the earlier executions, retries = their count.
        let doc = r#"{"results":{"tool":{"name":"playwright"},"tests":[
          {"name":"logs in","status":"passed","duration":900,"retries":2,"flaky":true,
           "filePath":"/w/tests/login.spec.ts","suite":"chromium > login.spec.ts > Login",
           "retryAttempts":[
             {"attempt":2,"status":"failed","duration":700,"message":"Timeout 5000ms exceeded"},
             {"attempt":1,"status":"failed","duration":800,"message":"boom",
              "trace":"TypeError: x is undefined\n    at login.spec.ts:4:1","stdout":["a"]}]}]}}"#;
        let (_, cases) = parse_doc(doc);
        assert_eq!(cases.len(), 1);
        let c = &cases[0];
        assert_eq!(c.outcome, Outcome::Passed);
        assert_eq!(c.id, "/w/tests/login.spec.ts › chromium › Login › logs in");
        assert_eq!(
            attempt_outcomes(c),
            [Outcome::Failed, Outcome::Failed, Outcome::Passed]
        );
        // Sorted by attempt number.
        let first = c.attempts[0].failure.as_ref().unwrap();
        assert_eq!(first.kind.as_deref(), Some("TypeError"));
        assert_eq!(first.message.as_deref(), Some("boom"));
        assert_eq!(c.attempts[0].stdout.as_deref(), Some("a"));
        assert_eq!(c.attempts[0].duration, Some(0.8));
        assert_eq!(c.attempts[2].duration, Some(0.9));
        assert_eq!(c.duration(), Some(2.4));
    }

    #[test]
    fn retry_attempts_including_the_final_result() {
        // The spec's comprehensive example lists every execution, the last being the final one.
        let doc = r#"{"results":{"tool":{"name":"x"},"tests":[
          {"name":"checkout","status":"passed","duration":5200,"retries":1,"flaky":true,
           "retryAttempts":[{"attempt":1,"status":"failed","duration":5100,"message":"gateway"},
                            {"attempt":2,"status":"passed","duration":5200}]},
          {"name":"no count","status":"failed","duration":30,"message":"final msg",
           "retryAttempts":[{"attempt":1,"status":"failed","duration":20},
                            {"attempt":2,"status":"failed","duration":30}]},
          {"name":"still failing","status":"failed","duration":30,"message":"m",
           "retryAttempts":[{"attempt":1,"status":"failed","duration":20}]}]}}"#;
        let (_, cases) = parse_doc(doc);
        assert_eq!(
            attempt_outcomes(&cases[0]),
            [Outcome::Failed, Outcome::Passed]
        );
        assert_eq!(cases[0].outcome, Outcome::Passed);
        // No `retries`: the last entry matches the test's status and duration, so it is the
        // final execution, completed with the test's own message.
        assert_eq!(
            attempt_outcomes(&cases[1]),
            [Outcome::Failed, Outcome::Failed]
        );
        let last = cases[1].attempts[1].failure.as_ref().unwrap();
        assert_eq!(last.message.as_deref(), Some("final msg"));
        // Different duration: an earlier execution, the test's own result is appended.
        assert_eq!(
            attempt_outcomes(&cases[2]),
            [Outcome::Failed, Outcome::Failed]
        );
        assert_eq!(cases[2].outcome, Outcome::Failed);
    }

    #[test]
    fn retry_counts_without_attempt_details() {
        let doc = r#"{"results":{"tool":{"name":"jest"},"tests":[
          {"name":"flaky by count","status":"passed","duration":10,"retries":2,"flaky":true},
          {"name":"flaky flag only","status":"passed","duration":10,"flaky":true},
          {"name":"failed thrice","status":"failed","duration":10,"retries":2},
          {"name":"skipped","status":"skipped","duration":0,"retries":3},
          {"name":"absurd","status":"failed","duration":1,"retries":1e12}]}}"#;
        let (_, cases) = parse_doc(doc);
        assert_eq!(
            attempt_outcomes(&cases[0]),
            [Outcome::Failed, Outcome::Failed, Outcome::Passed]
        );
        assert_eq!(
            attempt_outcomes(&cases[1]),
            [Outcome::Failed, Outcome::Passed]
        );
        assert_eq!(cases[1].outcome, Outcome::Passed);
        assert_eq!(
            attempt_outcomes(&cases[2]),
            [Outcome::Failed, Outcome::Failed, Outcome::Failed]
        );
        assert_eq!(attempt_outcomes(&cases[3]), [Outcome::Skipped]);
        assert_eq!(cases[4].attempts.len(), 101);
    }

    #[test]
    fn rejects_broken_documents_with_a_line() {
        let cut = &REPORT[..REPORT.find("todo thing").unwrap()];
        let line = cut.lines().count();
        let err = collect_bytes(cut.as_bytes(), None).unwrap_err().to_string();
        let want = format!("line {line}: CTRF report is truncated");
        assert!(err.starts_with(&want), "{err}");
        assert!(err.contains("column"), "{err}");

        let err = collect_bytes(
            br#"{"results":{"tool":{"name":"x"},"tests":{"a":1}}}"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expected an array as \"tests\""), "{err}");

        // `null` is read as empty.
        let null_tests = br#"{"results":{"tool":null,"tests":null}}"#;
        let (_, cases) = collect_bytes(null_tests, Some(Format::Ctrf)).unwrap();
        assert!(cases.is_empty());

        let err = collect_bytes(br#"{"results":{"tool":{"name":"x"}}}"#, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no \"results.tests\" array"), "{err}");

        let err = collect_bytes(br#"[1, 2]"#, Some(Format::Ctrf))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a JSON object"), "{err}");

        let err = collect_bytes(br#"{"a": 1}"#, Some(Format::Ctrf))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a CTRF report"), "{err}");

        let trailing = format!("{REPORT}\n{{\"results\":{{}}}}");
        let err = collect_bytes(trailing.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("trailing characters"), "{err}");
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let doc = format!("\u{feff}{REPORT}");
        let (_, cases) = collect_bytes(doc.as_bytes(), None).unwrap();
        assert_eq!(cases.len(), 8);
    }

    #[test]
    fn sink_errors_stop_parsing() {
        let mut seen = 0;
        let err = crate::parse_bytes(REPORT.as_bytes(), None, &mut |_| {
            seen += 1;
            Err(Error::parse("store is full"))
        })
        .unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(err.to_string(), "store is full");
    }

    #[test]
    fn never_panics_on_prefixes() {
        for n in 0..REPORT.len() {
            if REPORT.is_char_boundary(n) {
                let _ = collect_bytes(&REPORT.as_bytes()[..n], None);
                let _ = collect_bytes(&REPORT.as_bytes()[..n], Some(Format::Ctrf));
            }
        }
    }

    #[test]
    fn head_keys_reads_cut_documents() {
        let keys = json::head_keys(r#"{"a": {"b": [{"c": "x\"y", "d": 1}], "e": {"f"#, 3).unwrap();
        let found: Vec<(&str, &str, u8)> = keys
            .iter()
            .map(|k| (k.path.as_str(), k.key.as_str(), k.value))
            .collect();
        assert_eq!(
            found,
            [
                ("", "a", b'{'),
                ("a", "b", b'['),
                ("a", "e", b'{'),
                ("a.e", "f", 0)
            ]
        );
        let keys = json::head_keys(r#"{"a": {"b": [{"c": "x\"y", "d": 1}]}}"#, 4).unwrap();
        assert_eq!(keys[2].path, "a.b.[]");
        assert_eq!(keys[2].text.as_deref(), Some("x\\\"y"));
        assert!(json::head_keys("[1]", 3).is_none());
        assert!(json::head_keys("", 3).is_none());
    }

    #[test]
    fn json_helpers() {
        assert_eq!(json::epoch_ms_to_rfc3339(0.0), None);
        assert_eq!(
            json::epoch_ms_to_rfc3339(1.0).as_deref(),
            Some("1970-01-01T00:00:00.001Z")
        );
        assert_eq!(
            json::epoch_ms_to_rfc3339(951_782_400_123.0).as_deref(),
            Some("2000-02-29T00:00:00.123Z")
        );
        assert_eq!(
            json::epoch_ms_to_rfc3339(1_700_000_000_000.0).as_deref(),
            Some("2023-11-14T22:13:20.000Z")
        );
        assert_eq!(json::epoch_ms_to_rfc3339(-1.0), None);
        assert_eq!(json::epoch_ms_to_rfc3339(f64::NAN), None);
        assert_eq!(json::epoch_ms_to_rfc3339(1e300), None);
        assert_eq!(json::strip_ansi("\u{1b}[31mred\u{1b}[39m \u{1b}"), "red ");
        assert_eq!(
            json::js_error_kind("AssertionError [ERR_ASSERTION]: 1 == 2").as_deref(),
            Some("AssertionError")
        );
        assert_eq!(
            json::js_error_kind("TypeError: x").as_deref(),
            Some("TypeError")
        );
        assert_eq!(json::js_error_kind("expected 1 to equal 2"), None);
        assert_eq!(json::js_error_kind("Error"), None);
        assert_eq!(
            json::own_title("A B does x", &["A".into(), "B".into()]),
            "does x"
        );
        assert_eq!(json::own_title("A Bx", &["A".into(), "B".into()]), "A Bx");
        assert_eq!(json::own_title("A B", &["A".into(), "B".into()]), "A B");
        assert!(json::failure(None, Some("  "), None).is_none());
        assert!(is_path_suffix("/w/src/a.test.js", "a.test.js"));
        assert!(is_path_suffix("/w/src/a.test.js", "src/a.test.js"));
        assert!(!is_path_suffix("/w/src/ba.test.js", "a.test.js"));
        assert!(!is_path_suffix("/w/src/a.test.js", "Widget"));
    }
}
