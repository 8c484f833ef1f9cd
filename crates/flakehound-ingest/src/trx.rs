//! Visual Studio TRX reports (`<TestRun>`, 2006 and 2010 schemas), as written by MSTest,
//! `dotnet test --logger trx` and the NUnit and xUnit VSTest adapters.
//!
//! Results (`<Results><UnitTestResult>`) name the test they ran by `testId` (2010) or
//! `executionId` (2006), which points into `<TestDefinitions>` for the class name and categories.
//! Definitions usually follow the results, so: when definitions were read first, each result is
//! pushed as soon as it closes; otherwise results are buffered (the first 2,000 in memory, the
//! rest in an anonymous temporary file) and pushed once the definitions (or the end of the run)
//! have been read.
//!
//! Definitions are held in memory (a hash join) up to a budget (`DEF_BUDGET`, about ten
//! thousand tests). Past it, whichever section comes first, the join moves to disk so that
//! memory stays flat however many tests a report holds: definitions go to a temporary file and
//! an index (id → definition number) to an external sort; every result then waits on disk, and
//! at the end of the run a sort-merge join pairs them: the results' ids (with their sequence
//! number) sorted against the index, the matches sorted by definition number and read along the
//! definitions file, the pairs sorted back by sequence number and read along the results. Records
//! come out in the order of the results, exactly as from the in-memory join (same lookup order:
//! `testId`, `executionId`, the aggregate's `testId`; the first definition of an id wins).
//!
//! Mapping choices:
//!
//! - **Records**: one per `*TestResult` element (`UnitTestResult`, `WebTestResult`, ...,
//!   and `TestResultAggregation`). A result whose `<InnerResults>` hold results (MSTest
//!   data-driven rows, ordered tests) is an aggregate: each inner result is a record and the
//!   aggregate itself is not counted. A record with neither name nor classname is dropped.
//! - **Outcome**: `Passed`, `PassedButRunAborted`, `Warning`, `Completed` → passed; `Failed` and
//!   `Timeout` (the test ran and did not finish in time) → failed; `Error` or a missing outcome →
//!   errored; `NotExecuted`, `NotRunnable`, `Aborted`, `Inconclusive`, `Pending`, `InProgress`,
//!   `Disconnected` and anything else → skipped (the corpus counts `Aborted` and `NotRunnable`
//!   as skipped).
//! - **Failure**: `<Output><ErrorInfo><Message/><StackTrace/>`; kind = the exception type the
//!   message starts with (`System.DivideByZeroException : ...`, MSTest's `... threw
//!   exception: System.X: ...`), `Timeout` for timeouts. Skipped records keep the message.
//! - **Names**: classname = `TestMethod/@className` without its assembly qualifier
//!   (`Ns.C, Asm, Version=...` → `Ns.C`); name = `testName` without a leading `classname.`
//!   (the xUnit adapter writes full names, MSTest and NUnit short ones). Without a definition, a
//!   dotted `testName` is split at the last `.` before its arguments.
//! - **Duration**: `duration` (`[d.]hh:mm:ss.fffffff`), else `endTime - startTime`.
//!   `StdOut`/`StdErr` → stdout/stderr; `startTime` → timestamp; suite = test assembly file;
//!   properties = `TestCategory` items (as `Category`) and `Properties` key/value pairs.
//! - **Report**: timestamp `Times/@start` (else `creation`), duration `finish - start`,
//!   hostname = first result's `computerName`, tool from the adapter (`xunit`, `nunit`,
//!   `mstest`).

use crate::extsort::ExtSort;
use crate::nunit::{exception_kind, read_fields, split_qualified, strip_class};
use crate::spill::Spill;
use crate::xml::{Elem, Ev, XmlReader};
use crate::{Result, Sink};
use flakehound_model::{
    Attempt, Dialect, Failure, Format, MAX_PROPERTIES, Outcome, ReportInfo, TestCase, parse_seconds,
};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::rc::Rc;

/// One test definition (`<UnitTest>` and friends). Kept compact: a report whose results come
/// first holds every definition until the end, so a test costs a few dozen bytes here
/// (class and assembly names are shared, GUIDs are numbers).
#[derive(Default)]
struct Def {
    classname: Option<Rc<str>>,
    /// Definition `name` (else `TestMethod/@name`): the fallback test name.
    name: Option<Box<str>>,
    /// Test assembly file name.
    assembly: Option<Rc<str>>,
    props: Vec<(String, String)>,
}

impl Def {
    fn view(&self) -> DefView<'_> {
        DefView {
            classname: self.classname.as_deref(),
            name: self.name.as_deref(),
            assembly: self.assembly.as_deref(),
            props: &self.props,
        }
    }
}

/// A definition as read: owned, serialisable (definitions beyond the in-memory budget wait in a
/// temporary file). Ordered only so that it can ride along in a sort key's tuple.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
struct DefRec {
    classname: Option<String>,
    name: Option<String>,
    assembly: Option<String>,
    props: Vec<(String, String)>,
}

impl DefRec {
    fn view(&self) -> DefView<'_> {
        DefView {
            classname: self.classname.as_deref(),
            name: self.name.as_deref(),
            assembly: self.assembly.as_deref(),
            props: &self.props,
        }
    }

    /// Heap bytes it owns (roughly: what a sort's memory budget counts).
    fn heap(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        len(&self.classname)
            + len(&self.name)
            + len(&self.assembly)
            + self
                .props
                .iter()
                .map(|(k, v)| k.len() + v.len() + std::mem::size_of::<(String, String)>())
                .sum::<usize>()
    }
}

/// What a record takes from its definition, wherever the definition is kept.
#[derive(Clone, Copy)]
struct DefView<'a> {
    classname: Option<&'a str>,
    name: Option<&'a str>,
    assembly: Option<&'a str>,
    props: &'a [(String, String)],
}

/// A test or execution id: GUIDs (what every TRX writer uses) as numbers.
#[derive(PartialEq, Eq, Hash)]
enum Id {
    /// Bytes, not a `u128`: its 16-byte alignment would make every key 32 bytes.
    Guid([u8; 16]),
    Text(Box<str>),
}

impl Id {
    fn of(s: &str) -> Id {
        Id::guid(s).map_or_else(|| Id::Text(s.into()), Id::Guid)
    }

    /// `8-4-4-4-12` hex digits, any case.
    fn guid(s: &str) -> Option<[u8; 16]> {
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut v: u128 = 0;
        for (i, &c) in b.iter().enumerate() {
            if [8, 13, 18, 23].contains(&i) {
                continue;
            }
            v = (v << 4) | (c as char).to_digit(16)? as u128;
        }
        Some(v.to_be_bytes())
    }

    /// The id as a sort key in one of the two id spaces (`T` test ids, `E` execution ids):
    /// GUIDs as lower-case hex, so that `ABC...` and `abc...` meet as in the hash maps.
    fn key(&self, space: char) -> String {
        match self {
            Id::Guid(b) => {
                let mut k = String::with_capacity(34);
                k.push(space);
                k.push('g');
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for byte in b {
                    k.push(char::from(HEX[usize::from(byte >> 4)]));
                    k.push(char::from(HEX[usize::from(byte & 15)]));
                }
                k
            }
            Id::Text(t) => format!("{space}t{t}"),
        }
    }
}

/// Estimated heap bytes of definitions held in memory before the join moves to disk: a
/// definition costs ~200 bytes (its names, two hash-map entries), so ~10,000 tests; real
/// reports stay far below and keep the fast in-memory join.
const DEF_BUDGET: usize = 2_000_000;
/// Memory budget of each external sort's in-memory chunk.
const SORT_BUDGET: usize = 1_000_000;
/// Results kept in memory while they wait (the rest wait in a temporary file).
const PENDING_IN_MEMORY: usize = 2_000;

#[cfg(test)]
thread_local! {
    /// Tests lower the definition budget to drive small reports through the on-disk join.
    static TEST_DEF_BUDGET: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn def_budget() -> usize {
    #[cfg(test)]
    if let Some(budget) = TEST_DEF_BUDGET.with(std::cell::Cell::get) {
        return budget;
    }
    DEF_BUDGET
}

#[derive(Default)]
struct Defs {
    list: Vec<Def>,
    by_test_id: HashMap<Id, u32>,
    by_execution_id: HashMap<Id, u32>,
    /// Class and assembly names, shared between definitions.
    names: HashSet<Rc<str>>,
    /// Estimated heap bytes held.
    bytes: usize,
}

impl Defs {
    fn add(&mut self, rec: DefRec, test_id: Option<&str>, execution_id: Option<&str>) {
        // Two map entries (key, index, hash table slack) and the definition itself.
        self.bytes += std::mem::size_of::<Def>() + 2 * 48 + rec.heap();
        let def = Def {
            classname: rec.classname.as_deref().map(|c| self.share(c)),
            name: rec.name.map(Into::into),
            assembly: rec.assembly.as_deref().map(|a| self.share(a)),
            props: rec.props,
        };
        let index = self.list.len() as u32;
        self.list.push(def);
        if let Some(id) = test_id {
            self.by_test_id.entry(Id::of(id)).or_insert(index);
        }
        if let Some(id) = execution_id {
            self.by_execution_id.entry(Id::of(id)).or_insert(index);
        }
    }

    fn find(&self, res: &Res) -> Option<&Def> {
        let look = |map: &HashMap<Id, u32>, id: &Option<String>| {
            id.as_deref().and_then(|id| map.get(&Id::of(id))).copied()
        };
        look(&self.by_test_id, &res.test_id)
            .or_else(|| look(&self.by_execution_id, &res.execution_id))
            .or_else(|| look(&self.by_test_id, &res.parent_test_id))
            .and_then(|i| self.list.get(i as usize))
    }

    fn share(&mut self, name: &str) -> Rc<str> {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        let shared: Rc<str> = name.into();
        self.names.insert(shared.clone());
        shared
    }
}

/// Definitions past the in-memory budget: the definitions in a temporary file, in the order
/// read (a definition's number is its position), and the index of their ids.
struct DiskDefs {
    list: Spill<DefRec>,
    count: u64,
    /// (id key, definition number): sorted, the first definition of an id comes first.
    index: ExtSort<(String, u64)>,
}

impl DiskDefs {
    /// Moves the in-memory definitions to disk, keeping their numbers.
    fn from_memory(defs: Defs) -> Result<DiskDefs> {
        let mut disk = DiskDefs {
            list: Spill::new(0),
            count: 0,
            index: ExtSort::new(SORT_BUDGET),
        };
        for (space, map) in [('T', &defs.by_test_id), ('E', &defs.by_execution_id)] {
            for (id, &index) in map {
                let key = id.key(space);
                let heap = key.len();
                disk.index.push((key, u64::from(index)), heap)?;
            }
        }
        for def in &defs.list {
            let v = def.view();
            disk.list.push(DefRec {
                classname: v.classname.map(str::to_string),
                name: v.name.map(str::to_string),
                assembly: v.assembly.map(str::to_string),
                props: v.props.to_vec(),
            })?;
            disk.count += 1;
        }
        Ok(disk)
    }

    fn add(
        &mut self,
        rec: DefRec,
        test_id: Option<&str>,
        execution_id: Option<&str>,
    ) -> Result<()> {
        for (space, id) in [('T', test_id), ('E', execution_id)] {
            if let Some(id) = id {
                let key = Id::of(id).key(space);
                let heap = key.len();
                self.index.push((key, self.count), heap)?;
            }
        }
        self.list.push(rec)?;
        self.count += 1;
        Ok(())
    }
}

/// One result element, open or closed (serialisable: results waiting for their definitions
/// may be spilled to a temporary file).
#[derive(serde::Serialize, serde::Deserialize)]
struct Res {
    /// Reader depth of the result element.
    depth: usize,
    test_id: Option<String>,
    execution_id: Option<String>,
    /// `testId` of the enclosing aggregate, for inner results without a definition of their own.
    parent_test_id: Option<String>,
    test_name: Option<String>,
    outcome: Option<String>,
    duration: Option<f64>,
    start_time: Option<String>,
    computer: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    message: Option<String>,
    stack_trace: Option<String>,
    /// Holds inner results: an aggregate, not a record.
    has_inner: bool,
}

impl Res {
    fn new(e: &Elem, depth: usize, parent_test_id: Option<String>) -> Res {
        let owned = |key: &str| e.get_nonblank(key).map(str::to_string);
        let duration = e
            .get("duration")
            .and_then(parse_timespan)
            .or_else(|| elapsed(e.get("startTime")?, e.get("endTime")?));
        Res {
            depth,
            test_id: owned("testId"),
            execution_id: owned("executionId"),
            parent_test_id,
            test_name: owned("testName"),
            outcome: owned("outcome"),
            duration,
            start_time: owned("startTime"),
            computer: owned("computerName"),
            stdout: None,
            stderr: None,
            message: None,
            stack_trace: None,
            has_inner: false,
        }
    }
}

/// Where finished results go: the sink, or a buffer until the definitions are known.
struct State<'s, 'a> {
    sink: &'s mut Sink<'a>,
    defs: Defs,
    /// Set once the definitions outgrow memory: from then on every result waits for the
    /// on-disk join at the end of the run.
    disk: Option<DiskDefs>,
    defs_read: bool,
    pending: Spill<Res>,
    info: ReportInfo,
}

impl State<'_, '_> {
    fn result(&mut self, res: Res) -> Result<()> {
        if self.info.hostname.is_none() {
            self.info.hostname = res.computer.clone();
        }
        if self.defs_read && self.disk.is_none() {
            self.emit(res)
        } else {
            self.pending.push(res)
        }
    }

    fn add_def(
        &mut self,
        rec: DefRec,
        test_id: Option<&str>,
        execution_id: Option<&str>,
    ) -> Result<()> {
        if let Some(disk) = &mut self.disk {
            return disk.add(rec, test_id, execution_id);
        }
        self.defs.add(rec, test_id, execution_id);
        if self.defs.bytes > def_budget() {
            self.disk = Some(DiskDefs::from_memory(std::mem::take(&mut self.defs))?);
        }
        Ok(())
    }

    /// All definitions and results have been read: push what waits.
    fn finish(&mut self) -> Result<()> {
        self.defs_read = true;
        match self.disk.take() {
            Some(disk) => self.join(disk),
            None => self.flush(),
        }
    }

    /// The on-disk sort-merge join (see the module docs); records in the results' order.
    fn join(&mut self, disk: DiskDefs) -> Result<()> {
        let DiskDefs {
            list: mut defs,
            index,
            ..
        } = disk;
        // The results' ids, each with the result's sequence number and its lookup priority.
        let mut lookups: ExtSort<(String, u64, u8)> = ExtSort::new(SORT_BUDGET);
        let mut results = Spill::new(PENDING_IN_MEMORY);
        let mut seq = 0u64;
        std::mem::replace(&mut self.pending, Spill::new(0)).drain(|res| {
            let ids = [
                ('T', &res.test_id),
                ('E', &res.execution_id),
                ('T', &res.parent_test_id),
            ];
            for (priority, (space, id)) in (0u8..).zip(ids) {
                if let Some(id) = id {
                    let key = Id::of(id).key(space);
                    let heap = key.len();
                    lookups.push((key, seq, priority), heap)?;
                }
            }
            seq += 1;
            results.push(res)
        })?;

        // Lookups against the index, both sorted by key: (definition, sequence, priority).
        let mut matches: ExtSort<(u64, u64, u8)> = ExtSort::new(SORT_BUDGET);
        let mut index = index.finish()?;
        let mut entry = index.next().transpose()?;
        for lookup in lookups.finish()? {
            let (key, seq, priority) = lookup?;
            while entry.as_ref().is_some_and(|(k, _)| *k < key) {
                entry = index.next().transpose()?;
            }
            // The index's first entry of a key is its first definition.
            if let Some((k, def)) = &entry {
                if *k == key {
                    matches.push((*def, seq, priority), 0)?;
                }
            }
        }
        drop(index);

        // Matches along the definitions file: (sequence, priority, definition).
        let mut paired: ExtSort<(u64, u8, DefRec)> = ExtSort::new(SORT_BUDGET);
        let mut matches = matches.finish()?;
        let mut next = matches.next().transpose()?;
        let mut number = 0u64;
        defs.drain(|def| {
            // A result usually names one definition twice (its testId and its executionId):
            // those are adjacent here, and the first has the better priority.
            let mut last_seq = None;
            while let Some((_, seq, priority)) = next.filter(|m| m.0 == number) {
                if last_seq != Some(seq) {
                    paired.push((seq, priority, def.clone()), def.heap())?;
                    last_seq = Some(seq);
                }
                next = matches.next().transpose()?;
            }
            number += 1;
            Ok(())
        })?;
        drop(matches);

        // Back in the results' order; the best-priority definition of each result.
        let mut paired = paired.finish()?;
        let mut next = paired.next().transpose()?;
        let mut seq = 0u64;
        results.drain(|res| {
            let mut def = None;
            while next.as_ref().is_some_and(|p| p.0 == seq) {
                let (_, _, d) = next.take().expect("checked");
                def.get_or_insert(d);
                next = paired.next().transpose()?;
            }
            seq += 1;
            match build_case(res, def.as_ref().map(DefRec::view)) {
                Some(case) => (self.sink)(case),
                None => Ok(()),
            }
        })
    }

    fn flush(&mut self) -> Result<()> {
        let mut pending = std::mem::replace(&mut self.pending, Spill::new(0));
        pending.drain(|res| self.emit(res))
    }

    fn emit(&mut self, res: Res) -> Result<()> {
        let def = self.defs.find(&res).map(Def::view);
        match build_case(res, def) {
            Some(case) => (self.sink)(case),
            None => Ok(()),
        }
    }
}

pub(crate) fn parse<R: Read>(
    xml: &mut XmlReader<R>,
    root: Elem,
    sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    if root.name != "TestRun" {
        return Err(xml.error(format!(
            "not a TRX report: root element is <{}>, expected <TestRun>",
            root.name
        )));
    }
    let mut st = State {
        sink,
        defs: Defs::default(),
        disk: None,
        defs_read: false,
        // A result is at most a few capped texts; past this many, they wait on disk.
        pending: Spill::new(PENDING_IN_MEMORY),
        info: ReportInfo {
            format: Some(Format::Trx),
            ..ReportInfo::default()
        },
    };
    let root_depth = xml.depth();
    loop {
        match xml.next()? {
            // Every handler consumes its element, so each start here is a child of the root.
            Ev::Start(e) => match e.name.as_str() {
                "Times" => {
                    st.info.timestamp = e
                        .get_nonblank("start")
                        .or_else(|| e.get_nonblank("creation"))
                        .map(str::to_string);
                    st.info.duration = e
                        .get("start")
                        .zip(e.get("finish"))
                        .and_then(|(start, finish)| elapsed(start, finish));
                    xml.skip()?;
                }
                "TestDefinitions" => {
                    read_definitions(xml, &mut st)?;
                    st.defs_read = true;
                    // Past the budget, results wait for the join at the end of the run.
                    if st.disk.is_none() {
                        st.flush()?;
                    }
                }
                "Results" => read_results(xml, &mut st)?,
                _ => xml.skip()?,
            },
            Ev::End(_) if xml.depth() < root_depth => {
                // Definitions missing or after everything: push what is left as it is.
                st.finish()?;
                return Ok(st.info);
            }
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

fn is_result(name: &str) -> bool {
    name.ends_with("TestResult") || name == "TestResultAggregation"
}

/// Reads the rest of `<Results>`, handing every leaf result to `st`.
fn read_results<R: Read>(xml: &mut XmlReader<R>, st: &mut State<'_, '_>) -> Result<()> {
    let results_depth = xml.depth();
    // Open result elements: an aggregate and its inner results (explicit stack, no recursion).
    let mut open: Vec<Res> = Vec::new();
    loop {
        match xml.next()? {
            Ev::Start(e) => {
                let depth = xml.depth();
                if is_result(&e.name) {
                    let parent = open.last().and_then(|p| p.test_id.clone());
                    open.push(Res::new(&e, depth, parent));
                    continue;
                }
                match open.last_mut() {
                    Some(r) if r.depth + 1 == depth && e.name == "Output" => read_output(xml, r)?,
                    // Descend: inner results are handled by the branch above.
                    Some(r) if r.depth + 1 == depth && e.name == "InnerResults" => {}
                    _ => xml.skip()?,
                }
            }
            Ev::End(_) => {
                let depth = xml.depth();
                if depth < results_depth {
                    return Ok(());
                }
                // Not the end of a result element (`Output`, `InnerResults`...): nothing to do.
                if open.last().is_none_or(|r| r.depth <= depth) {
                    continue;
                }
                let Some(res) = open.pop() else { continue };
                if let Some(parent) = open.last_mut() {
                    parent.has_inner = true;
                }
                if !res.has_inner {
                    st.result(res)?;
                }
            }
            Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

/// Reads the rest of a result's `<Output>`.
fn read_output<R: Read>(xml: &mut XmlReader<R>, res: &mut Res) -> Result<()> {
    let target = xml.depth();
    loop {
        match xml.next()? {
            Ev::Start(c) => match c.name.as_str() {
                "StdOut" => {
                    let text = xml.read_text()?;
                    res.stdout = res.stdout.take().or(text);
                }
                "StdErr" => {
                    let text = xml.read_text()?;
                    res.stderr = res.stderr.take().or(text);
                }
                "ErrorInfo" => {
                    let ([message, trace], text) = read_fields(xml, ["Message", "StackTrace"])?;
                    if res.message.is_none() && res.stack_trace.is_none() {
                        res.message = message.or(text);
                        res.stack_trace = trace;
                    }
                }
                _ => xml.skip()?,
            },
            Ev::End(_) if xml.depth() < target => return Ok(()),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

/// Reads the rest of `<TestDefinitions>`.
fn read_definitions<R: Read>(xml: &mut XmlReader<R>, st: &mut State<'_, '_>) -> Result<()> {
    let target = xml.depth();
    loop {
        match xml.next()? {
            // Each child is one definition (`UnitTest`, `OrderedTest`, `GenericTest`, ...).
            Ev::Start(d) => {
                let (def, execution_id) = read_definition(xml, &d, &mut st.info)?;
                st.add_def(def, d.get_nonblank("id"), execution_id.as_deref())?;
            }
            Ev::End(_) if xml.depth() < target => return Ok(()),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

/// Reads the rest of one definition; returns it with its execution id.
fn read_definition<R: Read>(
    xml: &mut XmlReader<R>,
    d: &Elem,
    info: &mut ReportInfo,
) -> Result<(DefRec, Option<String>)> {
    let target = xml.depth();
    let mut def = DefRec {
        name: d.get_nonblank("name").map(Into::into),
        assembly: d.get_nonblank("storage").map(file_name),
        ..DefRec::default()
    };
    let mut execution_id = None;
    loop {
        match xml.next()? {
            Ev::Start(c) => match c.name.as_str() {
                "Execution" if execution_id.is_none() => {
                    execution_id = c.get_nonblank("id").map(str::to_string);
                }
                "TestMethod" => {
                    def.classname = c
                        .get_nonblank("className")
                        .map(strip_assembly)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string);
                    if def.name.is_none() {
                        def.name = c.get_nonblank("name").map(Into::into);
                    }
                    if let Some(code_base) = c.get_nonblank("codeBase") {
                        def.assembly = Some(file_name(code_base));
                    }
                    if info.tool.is_none() {
                        info.tool = c.get_nonblank("adapterTypeName").and_then(tool_name);
                    }
                }
                "TestCategoryItem" | "Property" if def.props.len() >= MAX_PROPERTIES => {}
                "TestCategoryItem" => {
                    if let Some(cat) = c.get_nonblank("TestCategory") {
                        def.props.push(("Category".to_string(), cat.to_string()));
                    }
                }
                "Property" => {
                    if let ([Some(key), value], _) = read_fields(xml, ["Key", "Value"])? {
                        def.props.push((key, value.unwrap_or_default()));
                    }
                }
                // Descend into containers (`TestCategory`, `Properties`, ...); text is ignored.
                _ => {}
            },
            Ev::End(_) if xml.depth() < target => return Ok((def, execution_id)),
            Ev::End(_) | Ev::Text(_) => {}
            Ev::Eof => return Err(xml.error("unexpected end of file: the document is truncated")),
        }
    }
}

/// Builds the record of a leaf result (`None`: no name nor classname).
fn build_case(res: Res, def: Option<DefView<'_>>) -> Option<TestCase> {
    let raw_name = res
        .test_name
        .as_deref()
        .or_else(|| def.and_then(|d| d.name));
    let (classname, name) = match def.and_then(|d| d.classname) {
        Some(class) => (Some(class), raw_name.map(|n| strip_class(n, class))),
        None => match raw_name.and_then(split_qualified) {
            Some((class, method)) => (Some(class), Some(method)),
            None => (None, raw_name),
        },
    };
    if classname.is_none() && name.is_none() {
        return None;
    }
    let outcome = trx_outcome(res.outcome.as_deref());
    let mut attempt = Attempt::new(outcome);
    attempt.duration = res.duration;
    attempt.stdout = res.stdout;
    attempt.stderr = res.stderr;
    let timeout = res
        .outcome
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case("Timeout"));
    attempt.failure = match outcome {
        Outcome::Passed => None,
        Outcome::Skipped => Some(Failure {
            kind: None,
            message: res.message,
            details: None,
        }),
        Outcome::Failed | Outcome::Errored => Some(Failure {
            kind: res
                .message
                .as_deref()
                .and_then(exception_kind)
                .or_else(|| timeout.then(|| "Timeout".to_string())),
            message: res.message,
            details: res.stack_trace,
        }),
    }
    .filter(|f| !f.is_empty());
    let case = TestCase {
        id: String::new(),
        classname: classname.map(str::to_string),
        name: name.unwrap_or_default().to_string(),
        file: None,
        line: None,
        suite: def
            .and_then(|d| d.assembly)
            .map(str::to_string)
            .into_iter()
            .collect(),
        outcome,
        attempts: vec![attempt],
        properties: def.map(|d| d.props.to_vec()).unwrap_or_default(),
        timestamp: res.start_time,
    };
    Some(crate::finish_case(case, Dialect::Other))
}

/// Outcome of a TRX result (see the module docs).
fn trx_outcome(outcome: Option<&str>) -> Outcome {
    let Some(outcome) = outcome else {
        return Outcome::Errored;
    };
    match outcome.trim().to_ascii_lowercase().as_str() {
        "passed" | "passedbutrunaborted" | "warning" | "completed" => Outcome::Passed,
        "failed" | "timeout" => Outcome::Failed,
        "error" => Outcome::Errored,
        _ => Outcome::Skipped,
    }
}

/// `Ns.C, Asm, Version=1.0.0.0, ...` → `Ns.C` (commas inside generic brackets kept).
fn strip_assembly(class: &str) -> &str {
    let mut nesting = 0usize;
    for (i, c) in class.char_indices() {
        match c {
            '[' | '<' => nesting += 1,
            ']' | '>' => nesting = nesting.saturating_sub(1),
            ',' if nesting == 0 => return class.get(..i).unwrap_or(class).trim(),
            _ => {}
        }
    }
    class.trim()
}

/// Last path segment of a Windows or Unix path.
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .trim()
        .to_string()
}

/// The test framework behind a VSTest adapter.
fn tool_name(adapter: &str) -> Option<String> {
    let a = adapter.to_ascii_lowercase();
    let tool = if a.contains("xunit") {
        "xunit"
    } else if a.contains("nunit") {
        "nunit"
    } else if a.contains("mstest") || a.contains("unittestadapter") {
        "mstest"
    } else {
        return None;
    };
    Some(tool.to_string())
}

/// A .NET `TimeSpan` as TRX writes it, `[d.]hh:mm:ss[.fffffff]`, in seconds.
fn parse_timespan(s: &str) -> Option<f64> {
    let mut parts = s.trim().split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (days, hours) = match h.split_once('.') {
        Some((d, h)) => (d.parse::<u32>().ok()?, h.parse::<u32>().ok()?),
        None => (0, h.parse::<u32>().ok()?),
    };
    let minutes = m.parse::<u32>().ok()?;
    let seconds = parse_seconds(sec)?;
    Some(
        f64::from(days) * 86_400.0
            + f64::from(hours) * 3_600.0
            + f64::from(minutes) * 60.0
            + seconds,
    )
}

/// Seconds from `start` to `end` (timestamps as [`instant`] reads them); `None` when either is
/// unreadable or `end` is before `start`.
fn elapsed(start: &str, end: &str) -> Option<f64> {
    let d = instant(end)?.duration_since(instant(start)?).as_secs_f64();
    (d >= 0.0).then_some(d)
}

/// `YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]` (`T` or a space); a missing offset is taken as UTC: only
/// differences between times of one file are computed.
fn instant(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    s.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil: jiff::civil::DateTime = s.parse().ok()?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// Whole seconds since the Unix epoch and the fraction of a second of a timestamp ([`instant`]).
#[cfg(test)]
fn epoch_seconds(s: &str) -> Option<(i64, f64)> {
    let t = instant(s)?;
    Some((t.as_second(), f64::from(t.subsec_nanosecond()) / 1e9))
}

#[cfg(test)]
mod tests_support {
    use super::*;

    fn ids(cases: &[TestCase]) -> Vec<(&str, Outcome)> {
        cases.iter().map(|c| (c.id.as_str(), c.outcome)).collect()
    }

    pub(super) const RESULTS: &str = r#"
  <Results>
    <UnitTestResult executionId="e1" testId="t1" testName="Ns.Calc.Passes" computerName="BOX" duration="00:00:01.5000000" startTime="2021-04-20T08:31:32.96+02:00" outcome="Passed">
      <Output><StdOut>  out  </StdOut><StdErr>err</StdErr></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e2" testId="t2" testName="Even(i: 3)" outcome="Failed" duration="1.00:00:02">
      <Output><ErrorInfo><Message>System.DivideByZeroException : Attempted to divide by zero.</Message><StackTrace>at Div()</StackTrace></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult executionId="e3" testId="t3" testName="Errs" outcome="Error" />
    <UnitTestResult executionId="e4" testId="t3" testName="TimesOut" outcome="Timeout" />
    <UnitTestResult executionId="e5" testId="t3" testName="NotRun" outcome="NotExecuted" startTime="2021-04-02T08:51:03.25+10:00" endTime="2021-04-02T08:51:04.5+10:00">
      <Output><ErrorInfo><Message>Ignore test</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testId="t3" testName="Aborted" outcome="Aborted" />
    <UnitTestResult testId="t3" testName="Inconclusive" outcome="Inconclusive" />
    <UnitTestResult testId="t3" testName="Pending" outcome="Pending" />
    <UnitTestResult testId="t3" testName="Warns" outcome="Warning" />
    <UnitTestResult testId="t3" testName="NoOutcome" />
    <UnitTestResult testId="unknown" testName="Other.Place.Test(1.5)" outcome="Passed" />
    <UnitTestResult testId="unknown" outcome="Passed" />
    <UnitTestResult executionId="p" testId="t4" testName="DataDriven" outcome="Failed" resultType="DataDrivenTest">
      <InnerResults>
        <UnitTestResult executionId="r1" parentExecutionId="p" testId="t4" testName="DataDriven (1)" outcome="Passed" resultType="DataDrivenDataRow" />
        <UnitTestResult executionId="r2" parentExecutionId="p" testName="DataDriven (2)" outcome="Failed" resultType="DataDrivenDataRow" />
      </InnerResults>
    </UnitTestResult>
  </Results>"#;

    pub(super) const DEFINITIONS: &str = r#"
  <TestDefinitions>
    <UnitTest name="Passes" storage="c:\x\calc.tests.dll" id="t1">
      <Execution id="e1" />
      <TestCategory><TestCategoryItem TestCategory="fast" /></TestCategory>
      <Properties><Property><Key>Owner</Key><Value>me</Value></Property></Properties>
      <TestMethod codeBase="C:\x\Calc.Tests.dll" adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="Ns.Calc" name="Passes" />
    </UnitTest>
    <UnitTest name="Even" id="t2"><Execution id="e2" /><TestMethod className="Ns.Calc, Calc.Tests, Version=1.0.0.0" name="Even" /></UnitTest>
    <UnitTest name="Misc" id="t3"><TestMethod className="Ns.Misc" name="Misc" /></UnitTest>
    <UnitTest name="DataDriven" id="t4"><TestMethod className="Ns.Data" name="DataDriven" /></UnitTest>
  </TestDefinitions>"#;

    pub(super) fn doc(first: &str, second: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<TestRun id="x" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Times creation="2021-04-20T08:31:33+02:00" start="2021-04-20T08:31:31.5+02:00" finish="2021-04-20T08:31:33.5+02:00" />
  <TestSettings name="default" id="s"><Deployment runDeploymentRoot="r" /></TestSettings>{first}{second}
  <ResultSummary outcome="Failed"><Counters total="1" /></ResultSummary>
</TestRun>"#
        )
    }

    pub(super) fn check(cases: &[TestCase], info: &ReportInfo) {
        assert_eq!(info.format, Some(Format::Trx));
        assert_eq!(
            info.timestamp.as_deref(),
            Some("2021-04-20T08:31:31.5+02:00")
        );
        assert_eq!(info.duration, Some(2.0));
        assert_eq!(info.hostname.as_deref(), Some("BOX"));
        assert_eq!(info.tool.as_deref(), Some("xunit"));
        assert_eq!(
            ids(cases),
            vec![
                ("Ns.Calc::Passes", Outcome::Passed),
                ("Ns.Calc::Even(i: 3)", Outcome::Failed),
                ("Ns.Misc::Errs", Outcome::Errored),
                ("Ns.Misc::TimesOut", Outcome::Failed),
                ("Ns.Misc::NotRun", Outcome::Skipped),
                ("Ns.Misc::Aborted", Outcome::Skipped),
                ("Ns.Misc::Inconclusive", Outcome::Skipped),
                ("Ns.Misc::Pending", Outcome::Skipped),
                ("Ns.Misc::Warns", Outcome::Passed),
                ("Ns.Misc::NoOutcome", Outcome::Errored),
                ("Other.Place::Test(1.5)", Outcome::Passed),
                ("Ns.Data::DataDriven (1)", Outcome::Passed),
                ("Ns.Data::DataDriven (2)", Outcome::Failed),
            ]
        );
        let passes = &cases[0];
        let a = &passes.attempts[0];
        assert_eq!(a.duration, Some(1.5));
        assert_eq!(a.stdout.as_deref(), Some("out"));
        assert_eq!(a.stderr.as_deref(), Some("err"));
        assert_eq!(passes.suite, vec!["Calc.Tests.dll"]);
        assert_eq!(
            passes.properties,
            vec![
                ("Category".to_string(), "fast".to_string()),
                ("Owner".to_string(), "me".to_string())
            ]
        );
        assert_eq!(
            passes.timestamp.as_deref(),
            Some("2021-04-20T08:31:32.96+02:00")
        );
        let even = &cases[1].attempts[0];
        assert_eq!(even.duration, Some(86_402.0));
        let f = even.failure.as_ref().unwrap();
        assert_eq!(f.kind.as_deref(), Some("System.DivideByZeroException"));
        assert_eq!(f.details.as_deref(), Some("at Div()"));
        let timeout = cases[3].attempts[0].failure.as_ref().unwrap();
        assert_eq!(timeout.kind.as_deref(), Some("Timeout"));
        let not_run = &cases[4].attempts[0];
        assert_eq!(not_run.duration, Some(1.25));
        assert_eq!(
            not_run.failure.as_ref().unwrap().message.as_deref(),
            Some("Ignore test")
        );
        assert!(cases[2].attempts[0].failure.is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use crate::collect_bytes;

    #[test]
    fn results_before_definitions() {
        let (info, cases) = collect_bytes(doc(RESULTS, DEFINITIONS).as_bytes(), None).unwrap();
        check(&cases, &info);
    }

    #[test]
    fn definitions_before_results() {
        let (info, cases) = collect_bytes(doc(DEFINITIONS, RESULTS).as_bytes(), None).unwrap();
        check(&cases, &info);
    }

    #[test]
    fn definitions_missing() {
        let (_, cases) = collect_bytes(doc(RESULTS, "").as_bytes(), None).unwrap();
        assert_eq!(cases.len(), 13);
        assert_eq!(cases[0].id, "Ns.Calc::Passes");
        assert_eq!(cases[2].id, "Errs");
    }

    #[test]
    fn truncated_and_wrong_root() {
        let full = doc(DEFINITIONS, RESULTS);
        for cut in [full.len() / 3, full.len() / 2, full.len() - 12] {
            assert!(
                collect_bytes(&full.as_bytes()[..cut], None).is_err(),
                "{cut}"
            );
        }
        let err = collect_bytes(b"<testsuites/>", Some(Format::Trx)).unwrap_err();
        assert!(err.to_string().contains("not a TRX report"), "{err}");
        let (_, cases) = collect_bytes(b"<TestRun><Results/></TestRun>", None).unwrap();
        assert!(cases.is_empty());
    }

    #[test]
    fn times_and_names() {
        assert_eq!(parse_timespan("00:00:00.1084258"), Some(0.1084258));
        assert_eq!(parse_timespan("01:02:03"), Some(3723.0));
        assert_eq!(parse_timespan("-00:00:01"), None);
        assert_eq!(parse_timespan("garbage"), None);
        let d = elapsed(
            "2015-10-24T04:19:00.8945590-03:00",
            "2015-10-24T07:19:28.7161503Z",
        );
        assert!((d.unwrap() - 27.8215913).abs() < 1e-9, "{d:?}");
        assert_eq!(elapsed("2021-01-01T00:00:01", "2021-01-01T00:00:00"), None);
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some((0, 0.0)));
        assert_eq!(
            epoch_seconds("2000-03-01 00:00:00.25+01:00"),
            Some((951_865_200, 0.25))
        );
        assert_eq!(epoch_seconds("2000-13-01T00:00:00"), None);
        assert_eq!(epoch_seconds("2000-01-01T00:00:00.5e3"), None);
        assert_eq!(epoch_seconds("2000-01-01T25:00:00"), None);
        assert_eq!(epoch_seconds("é"), None);
        assert_eq!(epoch_seconds("2000-01-01Té"), None);
        assert_eq!(
            strip_assembly("Ns.G`1[[System.Int32, mscorlib]], Asm"),
            "Ns.G`1[[System.Int32, mscorlib]]"
        );
        assert_eq!(file_name("c:\\a\\b.dll"), "b.dll");
        assert_eq!(
            tool_name("executor://nunit3testexecutor/").as_deref(),
            Some("nunit")
        );
        assert_eq!(
            tool_name("Microsoft.VisualStudio.TestTools.TestTypes.Unit.UnitTestAdapter, x")
                .as_deref(),
            Some("mstest")
        );
    }
}

#[cfg(test)]
mod disk_join_tests {
    use super::tests_support::*;
    use super::*;
    use crate::collect_bytes;
    use proptest::prelude::*;

    /// Parses with the in-memory definition budget lowered to `budget` bytes.
    fn parse_with_budget(doc: &str, budget: Option<usize>) -> (ReportInfo, Vec<TestCase>) {
        TEST_DEF_BUDGET.with(|b| b.set(budget));
        let out = collect_bytes(doc.as_bytes(), None);
        TEST_DEF_BUDGET.with(|b| b.set(None));
        out.unwrap()
    }

    #[test]
    fn on_disk_join_gives_the_same_records() {
        let both = format!("{DEFINITIONS}{RESULTS}{DEFINITIONS}");
        for doc in [
            doc(RESULTS, DEFINITIONS),
            doc(DEFINITIONS, RESULTS),
            doc(RESULTS, ""),
            doc(&both, RESULTS),
        ] {
            let memory = parse_with_budget(&doc, None);
            // 0: on disk from the first definition; 700: after a few.
            for budget in [0, 700] {
                assert_eq!(parse_with_budget(&doc, Some(budget)), memory, "{budget}");
            }
        }
        let (info, cases) = parse_with_budget(&doc(RESULTS, DEFINITIONS), Some(0));
        check(&cases, &info);
    }

    /// Ids drawn from a small pool so that results and definitions meet, miss and repeat:
    /// GUIDs in both cases, text ids differing only in case, none.
    fn id() -> impl Strategy<Value = Option<&'static str>> {
        proptest::sample::select(vec![
            None,
            Some("0000000a-0000-4000-8000-000000000001"),
            Some("0000000A-0000-4000-8000-000000000001"),
            Some("0000000b-0000-4000-8000-000000000002"),
            Some("t1"),
            Some("T1"),
            Some("t2"),
        ])
    }

    fn attr(name: &str, value: Option<&str>) -> String {
        value.map_or(String::new(), |v| format!(r#" {name}="{v}""#))
    }

    prop_compose! {
        fn result()(test in id(), exec in id(), named in any::<bool>(), inner in proptest::collection::vec((id(), id()), 0..3), n in 0u32..1000) -> String {
            let name = if named { format!(r#" testName="N{n}""#) } else { String::new() };
            let inner: String = inner.iter().enumerate().map(|(i, (t, e))| format!(
                r#"<UnitTestResult{}{} testName="Row{i}" outcome="Failed"/>"#, attr("testId", *t), attr("executionId", *e))).collect();
            let inner = if inner.is_empty() { inner } else { format!("<InnerResults>{inner}</InnerResults>") };
            format!(r#"<UnitTestResult{}{}{name} outcome="Passed">{inner}</UnitTestResult>"#, attr("testId", test), attr("executionId", exec))
        }
    }

    prop_compose! {
        fn definition()(test in id(), exec in id(), class in 0u32..4, n in 0u32..1000) -> String {
            format!(r#"<UnitTest name="D{n}" storage="/x/a{class}.dll"{}><Execution{}/><TestMethod className="Ns.C{class}" name="M{n}"/><TestCategory><TestCategoryItem TestCategory="c{n}"/></TestCategory></UnitTest>"#,
                attr("id", test), attr("id", exec))
        }
    }

    proptest! {
        #[test]
        fn on_disk_join_is_the_in_memory_join(
            results in proptest::collection::vec(result(), 0..25),
            defs in proptest::collection::vec(definition(), 0..15),
            results_first in any::<bool>(),
            budget in 0usize..2_000,
        ) {
            let results = format!("<Results>{}</Results>", results.concat());
            let defs = format!("<TestDefinitions>{}</TestDefinitions>", defs.concat());
            let doc = if results_first { doc(&results, &defs) } else { doc(&defs, &results) };
            let memory = parse_with_budget(&doc, None);
            prop_assert_eq!(parse_with_budget(&doc, Some(budget)), memory);
        }
    }
}
