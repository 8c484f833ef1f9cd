//! A first-in first-out buffer of parsed items that moves to an anonymous temporary file once
//! it holds more than a few thousand: formats that name what a result means only after the
//! result (TRX definitions after results, a jest file's path after its assertions) would
//! otherwise hold the whole report in memory.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

pub(crate) struct Spill<T> {
    mem: Vec<T>,
    file: Option<BufWriter<File>>,
    /// Items kept in memory before spilling.
    limit: usize,
}

pub(crate) fn spill_error(e: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!(
        "cannot buffer results in a temporary file: {e}"
    )))
}

impl<T: Serialize + DeserializeOwned> Spill<T> {
    pub(crate) fn new(limit: usize) -> Self {
        Spill {
            mem: Vec::new(),
            file: None,
            limit,
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.file.is_none()
    }

    pub(crate) fn push(&mut self, item: T) -> Result<()> {
        if self.file.is_none() && self.mem.len() < self.limit {
            self.mem.push(item);
            return Ok(());
        }
        if self.file.is_none() {
            // Unnamed (deleted on close, even when the process is killed).
            let file = tempfile::tempfile().map_err(spill_error)?;
            self.file = Some(BufWriter::with_capacity(64 * 1024, file));
        }
        let w = self.file.as_mut().expect("just set");
        serde_json::to_writer(&mut *w, &item).map_err(spill_error)?;
        w.write_all(b"\n").map_err(spill_error)
    }

    /// Hands every item to `f`, in the order pushed, and empties the buffer.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
        for item in std::mem::take(&mut self.mem) {
            f(item)?;
        }
        let Some(w) = self.file.take() else {
            return Ok(());
        };
        let mut file = w.into_inner().map_err(|e| spill_error(e.error()))?;
        file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
        for item in JsonLines::new(file, 64 * 1024) {
            f(item?)?;
        }
        Ok(())
    }
}

/// Items written one per line by `serde_json::to_writer` (which escapes newlines in strings),
/// read back a line at a time: parsing a slice is several times faster than serde_json's
/// byte-by-byte reader.
pub(crate) struct JsonLines<T> {
    reader: BufReader<File>,
    line: Vec<u8>,
    failed: bool,
    item: std::marker::PhantomData<T>,
}

impl<T> JsonLines<T> {
    pub(crate) fn new(file: File, buffer: usize) -> Self {
        JsonLines {
            reader: BufReader::with_capacity(buffer, file),
            line: Vec::new(),
            failed: false,
            item: std::marker::PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Iterator for JsonLines<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        if self.failed {
            return None;
        }
        self.line.clear();
        let item = match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => return None,
            Ok(_) => serde_json::from_slice(&self.line).map_err(spill_error),
            Err(e) => Err(spill_error(e)),
        };
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_across_memory_and_file() {
        let mut s = Spill::new(3);
        assert!(s.is_empty());
        for i in 0..10u32 {
            s.push((i, format!("line\n{i}"))).unwrap();
        }
        assert!(s.file.is_some() && s.mem.len() == 3);
        let mut got = Vec::new();
        s.drain(|v| {
            got.push(v);
            Ok(())
        })
        .unwrap();
        let want: Vec<_> = (0..10u32).map(|i| (i, format!("line\n{i}"))).collect();
        assert_eq!(got, want);
        assert!(s.is_empty());
    }
}
