//! Copying evidence between stores of any engines (`flakehound merge`): the stores of parallel
//! CI jobs becoming one, or a team moving from SQLite files to a PostgreSQL server.
//!
//! The source [exports](crate::Store::export) each project's reports in the order it stored them,
//! rebuilt as [`StoredReport`]s; [`merge`] replays them into the destination through the ordinary
//! writer ([`crate::Store::begin_report`]), so the destination numbers attempts and positions with
//! its own rules and a report already present (same content hash) is skipped: merging twice
//! changes nothing. Reports of a run replay in their original order, so a run's numbering comes
//! out as the source had it; when the destination already holds reports of the same run (two
//! jobs writing one CI run), the merged results come after them. Notes are copied unless the
//! destination has an identical one.
//!
//! Each report is copied all-or-nothing; a merge that fails half-way leaves the reports copied
//! so far, and running it again completes it.

use crate::{Location, NewReport, Note, Result, RunKey, Store, StoreError};
use flakehound_model::{Format, ReportInfo, RunMeta, RunSource, TestCase};

/// One stored report as an engine rebuilds it for [`merge`]: what its writer was given.
///
/// What the store does not keep is not rebuilt: suite names, the record-level outcome (the
/// attempts are kept), and record boundaries between consecutive records of the same test in
/// one report (they come back as one record with several attempts, numbered the same). A run
/// stored without a start time gets the time it was stored as its start, which is what every
/// read used for it already.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredReport {
    pub hash: String,
    pub path: Option<String>,
    pub format: Option<Format>,
    pub run_key: RunKey,
    pub run: RunMeta,
    pub source: RunSource,
    pub info: ReportInfo,
    pub cases: Vec<TestCase>,
}

/// Properties as the engines store them (a JSON object of strings; `None` when empty).
pub fn properties_to_json(props: &[(String, String)]) -> Option<String> {
    if props.is_empty() {
        return None;
    }
    let obj: serde_json::Map<String, serde_json::Value> = props
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(obj).to_string())
}

/// Properties read back from [`properties_to_json`]'s form (anything else reads as none).
pub fn properties_from_json(json: Option<&str>) -> Vec<(String, String)> {
    let Some(Ok(serde_json::Value::Object(map))) =
        json.map(serde_json::from_str::<serde_json::Value>)
    else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect()
}

/// What a merge added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Merged {
    pub reports: u64,
    /// Reports the destination had already.
    pub skipped: u64,
    pub runs: u64,
    pub results: u64,
    pub notes: u64,
}

impl Merged {
    fn add(&mut self, o: Merged) {
        self.reports += o.reports;
        self.skipped += o.skipped;
        self.runs += o.runs;
        self.results += o.results;
        self.notes += o.notes;
    }
}

/// Copies every report and note of `src`'s project that `dst` does not have into `dst`'s
/// project (the handles may name different projects; [`merge_locations`] pairs them by name).
pub fn merge(dst: &mut dyn Store, src: &mut dyn Store) -> Result<Merged> {
    let mut m = Merged::default();
    src.export(&mut |r: StoredReport| {
        if dst.has_report(&r.hash)? {
            m.skipped += 1;
            return Ok(());
        }
        let new = NewReport {
            hash: &r.hash,
            path: r.path.as_deref(),
            format: r.format,
            run_key: &r.run_key,
            run: &r.run,
            source: r.source.clone(),
        };
        let mut w = dst.begin_report(&new)?;
        for c in r.cases {
            w.add(c)?;
        }
        let written = w.commit(&r.info)?;
        if written.duplicate {
            m.skipped += 1;
        } else {
            m.reports += 1;
            m.results += written.results;
            m.runs += u64::from(written.new_run);
        }
        if dst.flush_due() {
            dst.flush()?;
        }
        Ok(())
    })?;
    let key = |n: &Note| {
        (
            n.test.clone(),
            n.kind.as_str(),
            n.category.map(|c| c.as_str()),
            n.text.clone(),
            n.link.clone(),
            n.author.clone(),
            crate::time::canonical(&n.created_at).unwrap_or_else(|| n.created_at.clone()),
        )
    };
    let have: std::collections::HashSet<_> = dst.notes(None)?.iter().map(key).collect();
    for n in src.notes(None)? {
        if !have.contains(&key(&n)) {
            dst.add_note(&n)?;
            m.notes += 1;
        }
    }
    dst.flush()?;
    Ok(m)
}

/// Merges every project of the store at `src` into the project of the same name at `dst`
/// (created when needed). Returns what each project added, by name.
pub fn merge_locations(dst: &Location, src: &Location) -> Result<Vec<(String, Merged)>> {
    if let Location::Sqlite(p) = src {
        // Opening would create an empty store: a mistyped source is an error, not a no-op.
        if !p.is_file() {
            return Err(StoreError::Open {
                path: src.to_string(),
                reason: "no such file".into(),
            });
        }
    }
    let projects = crate::open_existing(src, crate::DEFAULT_PROJECT)?.projects()?;
    let mut out = Vec::new();
    for p in projects {
        let mut from = crate::open_existing(src, &p)?;
        let mut to = crate::open(dst, &p)?;
        let m = merge(to.as_mut(), from.as_mut())?;
        out.push((p, m));
    }
    Ok(out)
}

/// Sum of what [`merge_locations`] added.
pub fn total(merged: &[(String, Merged)]) -> Merged {
    let mut t = Merged::default();
    for (_, m) in merged {
        t.add(*m);
    }
    t
}
