//! The inputs named on a command line, in the order given: files, directories (searched, see
//! [`crate::discover`]) and `-` for standard input.

use crate::Input;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// What the paths named: the inputs in order, and the paths that name nothing readable.
pub struct Gathered {
    pub inputs: Vec<Input>,
    /// (name, reason) of each path that gave no input.
    pub missing: Vec<(String, String)>,
    /// Standard input's spool files, removed when this is dropped.
    _spooled: Vec<tempfile::NamedTempFile>,
}

/// Gathers `paths` in the order given (it numbers attempts within a run); `-` is standard input,
/// spooled to a temporary file while hashed ([`spool`]).
pub fn gather(paths: &[PathBuf]) -> io::Result<Gathered> {
    let mut g = Gathered {
        inputs: Vec::new(),
        missing: Vec::new(),
        _spooled: Vec::new(),
    };
    for path in paths {
        if path.as_os_str() == "-" {
            let (file, hash) = spool(io::stdin().lock())?;
            g.inputs.push(Input::Spooled {
                name: "<stdin>".into(),
                path: file.path().to_path_buf(),
                hash,
            });
            g._spooled.push(file);
        } else {
            let (found, not_found) = crate::discover(std::slice::from_ref(path));
            g.inputs.extend(found);
            g.missing.extend(not_found);
        }
    }
    Ok(g)
}

/// Copies `reader` to a temporary file while hashing it, in bounded memory: the hash must be
/// known before anything is written (it identifies the report), and the parser then streams
/// from the file. The file is removed when the returned handle drops.
pub fn spool(mut reader: impl Read) -> io::Result<(tempfile::NamedTempFile, String)> {
    let context =
        |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let mut file = tempfile::Builder::new()
        .prefix("flakehound-stdin-")
        .tempfile()
        .map_err(context(
            "cannot create a temporary file to hold standard input".into(),
        ))?;
    let spool_err = format!("cannot spool standard input to {}", file.path().display());
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(context("cannot read standard input".into())(e)),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(context(spool_err.clone()))?;
    }
    file.flush().map_err(context(spool_err))?;
    Ok((file, hasher.finalize().to_hex().to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn spooled_content_is_kept_and_hashed_as_a_file_would_be() {
        let content = "<testsuite><testcase name=\"a\"/></testsuite>".repeat(20_000);
        let (file, hash) = super::spool(content.as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), content);
        assert_eq!(hash, blake3::hash(content.as_bytes()).to_hex().to_string());
        let path = file.path().to_path_buf();
        drop(file);
        assert!(!path.exists(), "the spool file is removed with its handle");
    }

    #[test]
    fn paths_keep_their_order_and_missing_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("b.xml");
        let b = dir.path().join("a.xml");
        std::fs::write(&a, "<testsuite/>").unwrap();
        std::fs::write(&b, "<testsuite/>").unwrap();
        let gone = dir.path().join("gone.xml");
        let g = super::gather(&[a.clone(), gone, b.clone()]).unwrap();
        let files: Vec<_> = g
            .inputs
            .iter()
            .map(|i| match i {
                crate::Input::File(p) => p.clone(),
                _ => panic!("not a file"),
            })
            .collect();
        assert_eq!(files, [a, b]);
        assert_eq!(g.missing.len(), 1);
        assert!(g.missing[0].0.ends_with("gone.xml"), "{:?}", g.missing);
    }
}
