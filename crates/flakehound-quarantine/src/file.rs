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
#[derive(Clone, Debug)]
pub struct QuarantineFile {
    doc: DocumentMut,
    entries: Vec<Entry>,
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
        }
    }

    /// Parses and validates `text`; errors are reported against `<input>`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_named(text, "<input>")
    }

    /// Parses and validates `text`; errors name `origin` (usually the file path).
    pub fn parse_named(text: &str, origin: &str) -> Result<Self, Error> {
        let at = Locator { text, origin };
        let parsed = at.parse()?;
        let mut entries: Vec<Entry> = Vec::new();
        match parsed.get("version") {
            None => {}
            Some(item) if item.as_integer() == Some(1) => {}
            Some(item) => {
                return Err(at.item_error(item, "unsupported `version` (expected 1)".into()));
            }
        }
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
        })
    }

    /// Reads `path`; a missing file is an empty quarantine (the command works with no setup).
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_named(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new()),
            Err(source) => Err(Error::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the file, creating its directory if needed.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
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

/// Turns byte offsets into `line:column` errors.
pub(crate) struct Locator<'a> {
    pub(crate) text: &'a str,
    pub(crate) origin: &'a str,
}

impl<'a> Locator<'a> {
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
        let offset = offset.unwrap_or(0).min(self.text.len());
        let before = &self.text[..offset];
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
}
