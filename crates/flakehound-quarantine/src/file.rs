//! The quarantine file model: load, validate, edit in place, save.

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

/// Errors of the quarantine and config files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected layout.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// File name (or `<input>`) the text came from.
        origin: String,
        /// 1-based line of the offending item.
        line: usize,
        /// 1-based column of the offending item.
        column: usize,
        message: String,
    },
    /// `add` without `replace` for an id already in the file.
    #[error("{0} is already quarantined (replace it to change the entry)")]
    Duplicate(String),
    /// `remove` of an id not in the file.
    #[error("{0} is not quarantined")]
    NotFound(String),
    /// The path is not something flakehound reads: a FIFO, a device, a directory, a file
    /// larger than [`MAX_FILE_BYTES`].
    #[error("{}: refused: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    /// An edit of a file with entries that were skipped when loading: saving would drop them.
    #[error("{0}; fix the file by hand first (editing it would drop that entry)")]
    HasProblems(Box<Error>),
}

/// Largest quarantine or config file read (a quarantine of 10 000 entries is about 2 MB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a small text file the way flakehound reads its own files: only a regular file (after
/// symlinks), at most `cap` bytes, UTF-8. A FIFO would block the reader forever and a link to
/// `/dev/zero` would grow memory without limit: both are refused with the reason.
/// `Ok(None)` when the file does not exist.
pub fn read_small_file(path: &Path, cap: u64) -> Result<Option<String>, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let refused = |reason: String| Error::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !meta.is_file() {
        return Err(refused(format!(
            "not a regular file (a {}); only regular files are read",
            kind_of(&meta)
        )));
    }
    if meta.len() > cap {
        return Err(refused(format!(
            "{} bytes, more than the {cap} this file may have",
            meta.len()
        )));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // Checked again on the open file: the path may have been replaced since.
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(refused(format!(
            "not a regular file (a {})",
            kind_of(&meta)
        )));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(refused(format!("more than {cap} bytes")));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        refused(format!(
            "not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// One quarantined test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Canonical test id (see `flakehound_model::canonical_id`).
    pub id: String,
    pub reason: String,
    pub owner: String,
    pub added: Date,
    /// Last day the entry is considered current (inclusive).
    pub expires: Date,
    /// Optional issue link.
    pub issue: Option<String>,
}

impl Entry {
    /// Whether the entry is past its expiry date on `today` (`today > expires`).
    pub fn is_expired(&self, today: Date) -> bool {
        today > self.expires
    }
}

/// Quarantine state of one test on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<'a> {
    NotQuarantined,
    /// Quarantined and within its expiry date.
    Active(&'a Entry),
    /// Quarantined and past expiry: still protects, but must be reported.
    Expired(&'a Entry),
}

/// What every run prints: how many tests are quarantined and which are past expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    /// Ids of past-expiry entries, in file order.
    pub expired: Vec<String>,
}

/// `.flakehound/quarantine.toml`: the parsed entries plus the editable document they came from.
#[derive(Debug)]
pub struct QuarantineFile {
    doc: DocumentMut,
    entries: Vec<Entry>,
    /// Entries skipped when loading, with why ([`QuarantineFile::load`]).
    problems: Vec<Error>,
}

impl Clone for QuarantineFile {
    fn clone(&self) -> Self {
        Self {
            doc: self.doc.clone(),
            entries: self.entries.clone(),
            problems: self.problems.iter().map(Error::clone_shallow).collect(),
        }
    }
}

const HEADER: &str = "\
# flakehound quarantine: tests whose failures do not fail the build.
# Quarantined tests still run and their results are still recorded.
# Edit by hand or with `flakehound quarantine add|remove|sync`; keep entries sorted by id.
";

impl Default for QuarantineFile {
    fn default() -> Self {
        Self::new()
    }
}

impl QuarantineFile {
    /// An empty quarantine with an explanatory header comment and `version = 1`.
    pub fn new() -> Self {
        let mut doc = DocumentMut::new();
        doc["version"] = toml_edit::value(1);
        if let Some(mut key) = doc.as_table_mut().key_mut("version") {
            key.leaf_decor_mut().set_prefix(HEADER);
        }
        Self {
            doc,
            entries: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Parses and validates `text`; errors are reported against `<input>`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_named(text, "<input>")
    }

    /// Parses and validates `text`; errors name `origin` (usually the file path).
    pub fn parse_named(text: &str, origin: &str) -> Result<Self, Error> {
        let at = Locator::new(text, origin);
        let parsed = at.parse()?;
        let mut entries: Vec<Entry> = Vec::new();
        check_version(&parsed, &at)?;
        match parsed.get("test") {
            None => {}
            Some(Item::ArrayOfTables(tables)) => {
                for table in tables.iter() {
                    let entry = entry_from_table(table, &at)?;
                    if entries.iter().any(|e| e.id == entry.id) {
                        return Err(at.error(
                            table_offset(table),
                            format!("duplicate entry for {}", entry.id),
                        ));
                    }
                    entries.push(entry);
                }
            }
            Some(item) => {
                return Err(at.item_error(
                    item,
                    "`test` must be an array of tables: write each entry as `[[test]]`".into(),
                ));
            }
        }
        Ok(Self {
            doc: parsed.into_mut(),
            entries,
            problems: Vec::new(),
        })
    }

    /// Like [`Self::parse_named`], but a bad entry is skipped and reported in
    /// [`Self::problems`] instead of failing the whole file: one typo must not make every
    /// quarantined test count again. Whole-file problems (an unsupported `version`, `test` not
    /// an array of tables, invalid TOML outside the entries) are still errors. When the TOML
    /// itself is broken inside an entry, each `[[test]]` section is parsed on its own and only
    /// the broken ones are skipped.
    ///
    /// A file loaded with problems cannot be edited ([`Self::add`], [`Self::remove`] and
    /// [`Self::save`] return [`Error::HasProblems`]): saving would silently delete the entries
    /// that were skipped.
    pub fn parse_lenient(text: &str, origin: &str) -> Result<Self, Error> {
        let at = Locator::new(text, origin);
        match at.parse() {
            Ok(parsed) => {
                let mut q = Self {
                    doc: DocumentMut::new(),
                    entries: Vec::new(),
                    problems: Vec::new(),
                };
                check_version(&parsed, &at)?;
                let mut keep = ArrayOfTables::new();
                match parsed.get("test") {
                    None => {}
                    Some(Item::ArrayOfTables(tables)) => {
                        for table in tables.iter() {
                            match entry_from_table(table, &at) {
                                Ok(e) if q.entries.iter().any(|x| x.id == e.id) => {
                                    q.problems.push(at.error(
                                        table_offset(table),
                                        format!(
                                            "duplicate entry for {} (the first one counts)",
                                            e.id
                                        ),
                                    ));
                                }
                                Ok(e) => {
                                    q.entries.push(e);
                                    keep.push(table.clone());
                                }
                                Err(e) => q.problems.push(e),
                            }
                        }
                    }
                    Some(item) => {
                        return Err(at.item_error(
                            item,
                            "`test` must be an array of tables: write each entry as `[[test]]`"
                                .into(),
                        ));
                    }
                }
                let mut doc = parsed.into_mut();
                if !q.problems.is_empty() {
                    // Entries and tables stay parallel (edits are refused anyway).
                    doc.insert("test", Item::ArrayOfTables(keep));
                }
                q.doc = doc;
                Ok(q)
            }
            Err(whole) => Self::parse_sections(text, origin, whole),
        }
    }

    /// Broken TOML: the text before the first `[[test]]` and each `[[test]]` section alone.
    fn parse_sections(text: &str, origin: &str, whole: Error) -> Result<Self, Error> {
        let mut starts: Vec<usize> = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with("[[test]]") {
                starts.push(offset);
            }
            offset += line.len();
        }
        let Some(&first) = starts.first() else {
            return Err(whole);
        };
        let preamble = Locator::section(text, 0, first, origin);
        // Whatever is wrong is outside the entries: nothing can be trusted.
        let head = preamble.parse().map_err(|_| whole)?;
        check_version(&head, &preamble)?;
        let mut q = Self {
            doc: DocumentMut::new(),
            entries: Vec::new(),
            problems: Vec::new(),
        };
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let at = Locator::section(text, start, end, origin);
            let parsed = match at.parse() {
                Ok(p) => p,
                Err(e) => {
                    q.problems.push(e);
                    continue;
                }
            };
            let Some(Item::ArrayOfTables(tables)) = parsed.get("test") else {
                continue;
            };
            for table in tables.iter() {
                match entry_from_table(table, &at) {
                    Ok(e) if q.entries.iter().any(|x| x.id == e.id) => q.problems.push(at.error(
                        table_offset(table),
                        format!("duplicate entry for {} (the first one counts)", e.id),
                    )),
                    Ok(e) => q.entries.push(e),
                    Err(e) => q.problems.push(e),
                }
            }
        }
        Ok(q)
    }

    /// Entries skipped when the file was loaded, each with its line, column and reason.
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }

    fn editable(&self) -> Result<(), Error> {
        match self.problems.first() {
            None => Ok(()),
            Some(p) => Err(Error::HasProblems(Box::new(p.clone_shallow()))),
        }
    }

    /// Reads `path`; a missing file is an empty quarantine (the command works with no setup).
    /// Only a regular file of at most [`MAX_FILE_BYTES`] is read ([`read_small_file`]). A bad
    /// entry is skipped and reported in [`Self::problems`] ([`Self::parse_lenient`]); the
    /// other entries still protect their tests.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match read_small_file(path, MAX_FILE_BYTES)? {
            Some(text) => Self::parse_lenient(&text, &path.display().to_string()),
            None => Ok(Self::new()),
        }
    }

    /// Writes the file, creating its directory if needed.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        self.editable()?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, self.to_toml_string()).map_err(io)
    }

    /// The file's text, with every comment and unknown key of the loaded file preserved.
    pub fn to_toml_string(&self) -> String {
        self.doc.to_string()
    }

    /// Entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Adds `entry` at its sorted position. An existing entry with the same id is an error unless
    /// `replace`, in which case its table is updated in place (comments and unknown keys kept).
    pub fn add(&mut self, entry: Entry, replace: bool) -> Result<(), Error> {
        self.editable()?;
        if let Some(i) = self.entries.iter().position(|e| e.id == entry.id) {
            if !replace {
                return Err(Error::Duplicate(entry.id));
            }
            let table = self
                .tables_mut()
                .get_mut(i)
                .expect("entries and tables are parallel");
            write_entry(table, &entry);
            self.entries[i] = entry;
            return Ok(());
        }
        let at = self
            .entries
            .iter()
            .position(|e| e.id > entry.id)
            .unwrap_or(self.entries.len());
        let mut table = Table::new();
        write_entry(&mut table, &entry);
        let tables = self.tables_mut();
        // Rendering orders tables by position, a table without one following the previous table;
        // the first one takes its successor's position (stable sort keeps it in front).
        if at == 0 {
            table.set_position(tables.get(0).and_then(Table::position));
        }
        let mut rebuilt = ArrayOfTables::new();
        let mut old = std::mem::take(tables);
        let mut i = 0;
        while !old.is_empty() {
            if i == at {
                rebuilt.push(table.clone());
            }
            rebuilt.push(old.remove(0));
            i += 1;
        }
        if at == i {
            rebuilt.push(table);
        }
        *tables = rebuilt;
        self.entries.insert(at, entry);
        Ok(())
    }

    /// Removes and returns the entry for `id`.
    pub fn remove(&mut self, id: &str) -> Result<Entry, Error> {
        self.editable()?;
        let i = self
            .entries
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        self.tables_mut().remove(i);
        if self.entries.len() == 1 {
            self.doc.remove("test");
        }
        Ok(self.entries.remove(i))
    }

    /// Entries past expiry on `today`.
    pub fn expired(&self, today: Date) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.is_expired(today))
            .collect()
    }

    /// Quarantine state of `id` on `today`.
    pub fn status(&self, id: &str, today: Date) -> Status<'_> {
        match self.get(id) {
            None => Status::NotQuarantined,
            Some(e) if e.is_expired(today) => Status::Expired(e),
            Some(e) => Status::Active(e),
        }
    }

    /// Whether a failure of `id` must not fail the build. Past-expiry entries still protect (see
    /// the crate docs); use [`Self::status`] to tell them apart.
    pub fn is_quarantined(&self, id: &str, today: Date) -> bool {
        !matches!(self.status(id, today), Status::NotQuarantined)
    }

    /// Count and past-expiry ids, for the line every run prints.
    pub fn summary(&self, today: Date) -> Summary {
        Summary {
            total: self.entries.len(),
            expired: self
                .expired(today)
                .into_iter()
                .map(|e| e.id.clone())
                .collect(),
        }
    }

    fn tables_mut(&mut self) -> &mut ArrayOfTables {
        let root = self.doc.as_table_mut();
        if !matches!(root.get("test"), Some(Item::ArrayOfTables(_))) {
            root.insert("test", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        match root.get_mut("test") {
            Some(Item::ArrayOfTables(t)) => t,
            _ => unreachable!("just inserted"),
        }
    }
}

/// Sets `key` to `value`, keeping the old value's comments/whitespace when there was one.
fn set_value(table: &mut Table, key: &str, value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = value;
            *old.decor_mut() = decor;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

fn toml_date(d: Date) -> Value {
    Value::from(toml_edit::Datetime {
        date: Some(toml_edit::Date {
            year: d.year() as u16,
            month: d.month() as u8,
            day: d.day() as u8,
        }),
        time: None,
        offset: None,
    })
}

fn write_entry(table: &mut Table, e: &Entry) {
    set_value(table, "id", e.id.as_str().into());
    set_value(table, "reason", e.reason.as_str().into());
    set_value(table, "owner", e.owner.as_str().into());
    set_value(table, "added", toml_date(e.added));
    set_value(table, "expires", toml_date(e.expires));
    match &e.issue {
        Some(issue) => set_value(table, "issue", issue.as_str().into()),
        None => {
            table.remove("issue");
        }
    }
}

fn check_version(parsed: &toml_edit::Document<&str>, at: &Locator) -> Result<(), Error> {
    match parsed.get("version") {
        None => Ok(()),
        Some(item) if item.as_integer() == Some(1) => Ok(()),
        Some(item) => Err(at.item_error(item, "unsupported `version` (expected 1)".into())),
    }
}

impl Error {
    /// A copy for [`Error::HasProblems`] (`io::Error` is not `Clone`; its text is kept).
    fn clone_shallow(&self) -> Error {
        match self {
            Error::Invalid {
                origin,
                line,
                column,
                message,
            } => Error::Invalid {
                origin: origin.clone(),
                line: *line,
                column: *column,
                message: message.clone(),
            },
            other => Error::Invalid {
                origin: String::new(),
                line: 0,
                column: 0,
                message: other.to_string(),
            },
        }
    }
}

/// Turns byte offsets into `line:column` errors. `text` is the part being parsed, which starts
/// at byte `base` of `full` (the whole file), so that errors in a section name file lines.
pub(crate) struct Locator<'a> {
    pub(crate) text: &'a str,
    pub(crate) origin: &'a str,
    full: &'a str,
    base: usize,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str, origin: &'a str) -> Self {
        Locator {
            text,
            origin,
            full: text,
            base: 0,
        }
    }

    fn section(full: &'a str, start: usize, end: usize, origin: &'a str) -> Self {
        Locator {
            text: &full[start..end],
            origin,
            full,
            base: start,
        }
    }

    /// Parses the text as TOML, locating a syntax error by line and column.
    pub(crate) fn parse(&self) -> Result<toml_edit::Document<&'a str>, Error> {
        toml_edit::Document::parse(self.text).map_err(|e| {
            let first = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string();
            self.error(e.span().map(|s| s.start), format!("invalid TOML: {first}"))
        })
    }

    pub(crate) fn error(&self, offset: Option<usize>, message: String) -> Error {
        let offset = self.base + offset.unwrap_or(0).min(self.text.len());
        let before = &self.full[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Error::Invalid {
            origin: self.origin.to_string(),
            line,
            column,
            message,
        }
    }

    pub(crate) fn item_error(&self, item: &Item, message: String) -> Error {
        self.error(item.span().map(|s| s.start), message)
    }
}

fn table_offset(table: &Table) -> Option<usize> {
    table.span().map(|s| s.start).or_else(|| {
        table
            .iter()
            .filter_map(|(_, i)| i.span())
            .map(|s| s.start)
            .min()
    })
}

fn entry_from_table(table: &Table, at: &Locator) -> Result<Entry, Error> {
    let required = |key: &str| {
        table.get(key).ok_or_else(|| {
            at.error(
                table_offset(table),
                format!("entry is missing required key `{key}`"),
            )
        })
    };
    let string = |key: &str, item: &Item| -> Result<String, Error> {
        match item.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            Some(_) => Err(at.item_error(item, format!("`{key}` must not be empty"))),
            None => Err(at.item_error(item, format!("`{key}` must be a string"))),
        }
    };
    let date = |key: &str| -> Result<Date, Error> {
        let item = required(key)?;
        parse_date(item).ok_or_else(|| {
            at.item_error(
                item,
                format!("`{key}` must be a date like 2026-12-01 (no time)"),
            )
        })
    };
    let id = string("id", required("id")?)?;
    let entry = Entry {
        id,
        reason: string("reason", required("reason")?)?,
        owner: string("owner", required("owner")?)?,
        added: date("added")?,
        expires: date("expires")?,
        issue: match table.get("issue") {
            None => None,
            Some(item) => Some(string("issue", item)?),
        },
    };
    if entry.expires < entry.added {
        return Err(at.item_error(
            required("expires")?,
            format!(
                "`expires` ({}) is before `added` ({})",
                entry.expires, entry.added
            ),
        ));
    }
    Ok(entry)
}

fn parse_date(item: &Item) -> Option<Date> {
    if let Some(s) = item.as_str() {
        return s.trim().parse::<Date>().ok();
    }
    let dt = item.as_datetime()?;
    if dt.time.is_some() || dt.offset.is_some() {
        return None;
    }
    let d = dt.date?;
    Date::new(d.year as i16, d.month as i8, d.day as i8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.to_string(),
            reason: "flaky".into(),
            owner: "@qa".into(),
            added: date(2026, 11, 1),
            expires: date(2026, 12, 1),
            issue: None,
        }
    }

    const SAMPLE: &str = r#"# Reviewed in PRs.
version = 1
extra = "kept" # unknown top-level key

# payments
[[test]]
id = "tests/b.py::test_b"
reason = "races the cache" # why
owner = "@pay"
added = 2026-11-01
expires = 2026-12-01
ticket = 7 # unknown key

[[test]]
id = "tests/d.py::test_d"
reason = "network"
owner = "@net"
added = "2026-10-01"
expires = 2026-10-31
issue = "https://example.com/1"
"#;

    #[test]
    fn round_trip_is_byte_identical() {
        let q = QuarantineFile::parse(SAMPLE).unwrap();
        assert_eq!(q.to_toml_string(), SAMPLE);
        assert_eq!(q.len(), 2);
        assert_eq!(q.entries()[1].added, date(2026, 10, 1));
        assert_eq!(
            q.entries()[1].issue.as_deref(),
            Some("https://example.com/1")
        );
    }

    #[test]
    fn add_keeps_comments_and_sorts() {
        let mut q = QuarantineFile::parse(SAMPLE).unwrap();
        q.add(entry("tests/c.py::test_c[a'b]"), false).unwrap();
        q.add(entry("tests/a.py::test_a"), false).unwrap();
        q.add(entry("tests/z.py::test_z"), false).unwrap();
        let text = q.to_toml_string();
        for kept in [
            "# Reviewed in PRs.",
            "extra = \"kept\" # unknown top-level key",
            "# payments",
            "reason = \"races the cache\" # why",
            "ticket = 7 # unknown key",
        ] {
            assert!(text.contains(kept), "{kept} lost in:\n{text}");
        }
        let again = QuarantineFile::parse(&text).unwrap();
        let ids: Vec<&str> = again.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tests/a.py::test_a",
                "tests/b.py::test_b",
                "tests/c.py::test_c[a'b]",
                "tests/d.py::test_d",
                "tests/z.py::test_z"
            ]
        );
        // Text order matches entry order.
        let pos = |s: &str| text.find(s).unwrap();
        assert!(pos("tests/a.py") < pos("tests/b.py"));
        assert!(pos("tests/c.py") < pos("tests/d.py"));
        assert!(pos("tests/d.py") < pos("tests/z.py"));
        assert!(text.contains("added = 2026-11-01\nexpires = 2026-12-01"));
    }

    #[test]
    fn duplicates_rejected_unless_replacing() {
        let mut q = QuarantineFile::parse(SAMPLE).unwrap();
        let err = q.add(entry("tests/b.py::test_b"), false).unwrap_err();
        assert!(matches!(err, Error::Duplicate(ref id) if id == "tests/b.py::test_b"));
        let mut e = entry("tests/b.py::test_b");
        e.reason = "new reason".into();
        e.issue = Some("https://example.com/2".into());
        q.add(e.clone(), true).unwrap();
        assert_eq!(q.get("tests/b.py::test_b"), Some(&e));
        let text = q.to_toml_string();
        assert!(text.contains("reason = \"new reason\" # why"), "{text}");
        assert!(text.contains("ticket = 7 # unknown key"));
        assert_eq!(QuarantineFile::parse(&text).unwrap().len(), 2);

        let dup = format!(
            "{SAMPLE}\n[[test]]\nid = \"tests/b.py::test_b\"\nreason = \"x\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-01-02\n"
        );
        let err = QuarantineFile::parse(&dup).unwrap_err().to_string();
        assert!(err.starts_with("<input>:22:"), "{err}");
        assert!(
            err.contains("duplicate entry for tests/b.py::test_b"),
            "{err}"
        );
    }

    #[test]
    fn remove_and_empty() {
        let mut q = QuarantineFile::parse(SAMPLE).unwrap();
        assert!(matches!(q.remove("nope"), Err(Error::NotFound(_))));
        assert_eq!(q.remove("tests/b.py::test_b").unwrap().owner, "@pay");
        q.remove("tests/d.py::test_d").unwrap();
        let text = q.to_toml_string();
        assert!(!text.contains("[[test]]"), "{text}");
        assert!(text.contains("extra = \"kept\""));
        let mut q = QuarantineFile::parse(&text).unwrap();
        assert!(q.is_empty());
        q.add(entry("t"), false).unwrap();
        assert_eq!(QuarantineFile::parse(&q.to_toml_string()).unwrap().len(), 1);
    }

    #[test]
    fn new_file_round_trips() {
        let mut q = QuarantineFile::new();
        q.add(entry("b"), false).unwrap();
        q.add(entry("a"), false).unwrap();
        let text = q.to_toml_string();
        assert!(text.starts_with("# flakehound quarantine"), "{text}");
        let back = QuarantineFile::parse(&text).unwrap();
        assert_eq!(back.entries(), q.entries());
        assert_eq!(back.entries()[0].id, "a");
    }

    #[test]
    fn expiry_still_protects_but_is_flagged() {
        let q = QuarantineFile::parse(SAMPLE).unwrap();
        let today = date(2026, 11, 1);
        assert!(q.is_quarantined("tests/d.py::test_d", today));
        assert!(matches!(
            q.status("tests/d.py::test_d", today),
            Status::Expired(_)
        ));
        assert!(matches!(
            q.status("tests/b.py::test_b", today),
            Status::Active(_)
        ));
        assert_eq!(q.status("x", today), Status::NotQuarantined);
        assert!(!q.is_quarantined("x", today));
        // `expires` is inclusive.
        assert!(q.expired(date(2026, 10, 31)).is_empty());
        assert_eq!(
            q.summary(date(2026, 12, 2)),
            Summary {
                total: 2,
                expired: vec!["tests/b.py::test_b".into(), "tests/d.py::test_d".into()]
            }
        );
    }

    fn err_of(text: &str) -> String {
        QuarantineFile::parse_named(text, "q.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_files_have_line_numbers() {
        let e = err_of("version = 1\n[[test]]\nid = \"a\"\nreason = \n");
        assert!(e.starts_with("q.toml:4:"), "{e}");
        assert!(e.contains("invalid TOML"), "{e}");

        let e = err_of(
            "\n[[test]]\nid = \"a\"\nreason = \"r\"\nadded = 2026-01-01\nexpires = 2026-02-01\n",
        );
        assert!(e.contains("missing required key `owner`"), "{e}");
        assert!(
            e.starts_with("q.toml:2:") || e.starts_with("q.toml:3:"),
            "{e}"
        );

        let e = err_of(
            "[[test]]\nid = \"a\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-13-01\nexpires = 2026-02-01\n",
        );
        assert!(e.contains("q.toml:5:"), "{e}");

        let e = err_of(
            "[[test]]\nid = \"a\"\nreason = \"r\"\nowner = \"o\"\nadded = \"soon\"\nexpires = 2026-02-01\n",
        );
        assert_eq!(
            e,
            "q.toml:5:9: `added` must be a date like 2026-12-01 (no time)"
        );

        let e = err_of(
            "[[test]]\nid = \"a\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-03-01\nexpires = 2026-02-01\n",
        );
        assert!(
            e.starts_with("q.toml:6:11:") && e.contains("before `added`"),
            "{e}"
        );

        let e = err_of("[[test]]\nid = 3\n");
        assert_eq!(e, "q.toml:2:6: `id` must be a string");

        let e = err_of("[[test]]\nid = \" \"\n");
        assert!(e.contains("`id` must not be empty"), "{e}");

        let e = err_of("[test]\nid = \"a\"\n");
        assert!(e.contains("array of tables"), "{e}");

        let e = err_of("version = 2\n");
        assert_eq!(e, "q.toml:1:11: unsupported `version` (expected 1)");

        let e = err_of(
            "[[test]]\nid = \"a\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01T10:00:00\nexpires = 2026-02-01\n",
        );
        assert!(e.contains("q.toml:5:"), "{e}");
    }

    #[test]
    fn load_missing_is_empty_and_save_creates_dir() {
        let dir = std::env::temp_dir().join(format!("fh-quarantine-{}", std::process::id()));
        let path = dir.join(".flakehound/quarantine.toml");
        let mut q = QuarantineFile::load(&path).unwrap();
        assert!(q.is_empty());
        q.add(entry("a"), false).unwrap();
        q.save(&path).unwrap();
        assert_eq!(QuarantineFile::load(&path).unwrap().entries(), q.entries());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const ONE_BAD: &str = r#"version = 1

[[test]]
id = "a"
reason = "r"
owner = "o"
added = 2026-11-01
expires = 2026-12-01

[[test]]
id = "b"
reason = "r"
added = 2026-11-01
expires = 2026-12-01

[[test]]
id = "c"
reason = "r"
owner = "o"
added = 2026-11-01
expires = 2026-12-01
"#;

    #[test]
    fn a_bad_entry_is_skipped_and_reported_the_rest_protects() {
        let q = QuarantineFile::parse_lenient(ONE_BAD, "q.toml").unwrap();
        let ids: Vec<&str> = q.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(q.problems().len(), 1);
        let p = q.problems()[0].to_string();
        assert!(
            p.starts_with("q.toml:10:") || p.starts_with("q.toml:11:"),
            "{p}"
        );
        assert!(p.contains("missing required key `owner`"), "{p}");
        // Editing would delete the skipped entry: refused, naming the problem.
        let mut q2 = q.clone();
        let err = q2.add(entry("d"), false).unwrap_err().to_string();
        assert!(
            err.contains("missing required key `owner`") && err.contains("fix the file"),
            "{err}"
        );
        assert!(q2.remove("a").is_err());
        assert!(
            q.save(Path::new("/nonexistent/never-written.toml"))
                .is_err()
        );
        // The strict parser still rejects the file as a whole.
        assert!(QuarantineFile::parse_named(ONE_BAD, "q.toml").is_err());
    }

    #[test]
    fn broken_toml_inside_one_entry_loses_only_that_entry() {
        let text = ONE_BAD.replace("owner = \"o\"\nadded = 2026-11-01\nexpires = 2026-12-01\n\n[[test]]\nid = \"b\"", "owner = \"o\"\nadded = 2026-11-01\nexpires = 2026-12-01\n\n[[test]]\nid = \"b\"\nowner = \"o\"\nreason = ");
        let q = QuarantineFile::parse_lenient(&text, "q.toml").unwrap();
        let ids: Vec<&str> = q.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"], "{text}");
        let p = q.problems()[0].to_string();
        assert!(
            p.starts_with("q.toml:13:") && p.contains("invalid TOML"),
            "{p}"
        );
        // Broken outside the entries: nothing can be trusted.
        let err = QuarantineFile::parse_lenient(&format!("version = \n{ONE_BAD}"), "q.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("q.toml:1:"), "{err}");
        assert!(
            QuarantineFile::parse_lenient("version = 2\n[[test]]\nid = \"a\"\nreason = ", "q")
                .is_err()
        );
    }

    /// Loads in a thread so that a regression fails after a minute instead of hanging.
    fn load_or_hang(path: &Path) -> Result<QuarantineFile, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(QuarantineFile::load(&path));
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("load hung")
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = load_or_hang(&fifo).unwrap_err().to_string();
            assert!(
                e.contains("fifo.toml") && e.contains("not a regular file (a FIFO)"),
                "{e}"
            );
        }
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = load_or_hang(&zero).unwrap_err().to_string();
        assert!(
            e.contains("zero.toml") && e.contains("character device"),
            "{e}"
        );
        let e = load_or_hang(dir.path()).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
        let big = dir.path().join("big.toml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = load_or_hang(&big).unwrap_err().to_string();
        assert!(e.contains("big.toml") && e.contains("more than"), "{e}");
        // A link to a regular file is fine.
        let real = dir.path().join("real.toml");
        std::fs::write(&real, SAMPLE).unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(load_or_hang(&link).unwrap().len(), 2);
    }
}
