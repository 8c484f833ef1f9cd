//! Reports inside artifact archives.

use flakehound_evidence::REPORT_EXTENSIONS;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Unzips the report files of `archive` (the extensions `flakehound ingest` searches a folder
/// for) into `dir/art-LABEL/`, keeping their paths. Returns the files, in path order, and what
/// was refused (unsafe paths, files over the report size cap). An archive that is not a zip is
/// an error.
pub fn unzip_reports(
    archive: &Path,
    dir: &Path,
    label: &str,
) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let max = flakehound_evidence::max_report_bytes()?;
    let file = std::fs::File::open(archive).map_err(|e| format!("cannot read the archive: {e}"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    let root = dir.join(format!("art-{}", safe(label)));
    let mut files = Vec::new();
    let mut refused = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("entry {i} cannot be read: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let shown = entry.name().to_string();
        let Some(rel) = entry.enclosed_name() else {
            refused.push(format!(
                "{label}/{shown}: unsafe path in the archive; skipped"
            ));
            continue;
        };
        let is_report = rel
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| REPORT_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if !is_report {
            continue;
        }
        let to = root.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
        }
        let mut out = std::fs::File::create(&to)
            .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        let copied = std::io::copy(&mut (&mut entry).take(max + 1), &mut out)
            .map_err(|e| format!("{label}/{shown}: cannot unzip: {e}"))?;
        if copied > max {
            drop(out);
            let _ = std::fs::remove_file(&to);
            refused.push(format!(
                "{label}/{shown}: larger than the report size cap ({max} bytes); skipped"
            ));
            continue;
        }
        files.push(to);
    }
    files.sort();
    Ok((files, refused))
}

/// `label` as one path component.
fn safe(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Copies `resp`'s body to `to`, refusing more than `max` bytes.
pub fn save(mut resp: reqwest::blocking::Response, to: &Path, max: u64) -> Result<u64, String> {
    let mut out =
        std::fs::File::create(to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    let n = std::io::copy(&mut (&mut resp).take(max + 1), &mut out)
        .map_err(|e| format!("download interrupted: {e}"))?;
    if n > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reports_are_unzipped_and_unsafe_paths_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("a.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("junit/b.xml", o).unwrap();
        w.write_all(b"<testsuite/>").unwrap();
        w.start_file("junit/a.xml", o).unwrap();
        w.write_all(b"<testsuite/>").unwrap();
        w.start_file("screenshot.png", o).unwrap();
        w.write_all(b"png").unwrap();
        w.start_file("../../evil.xml", o).unwrap();
        w.write_all(b"x").unwrap();
        w.finish().unwrap();
        let (files, refused) = unzip_reports(&zip_path, dir.path(), "junit linux").unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["art-junit_linux/junit/a.xml", "art-junit_linux/junit/b.xml"]
        );
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("unsafe path"));
        assert!(!dir.path().parent().unwrap().join("evil.xml").exists());
        std::fs::write(&zip_path, b"not a zip").unwrap();
        assert!(
            unzip_reports(&zip_path, dir.path(), "x")
                .unwrap_err()
                .contains("not a zip")
        );
    }
}
