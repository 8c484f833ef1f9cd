//! External merge sort in bounded memory: items are sorted in chunks of a fixed memory budget,
//! each chunk written to an anonymous temporary file (a "run"), and the runs merged. For joins
//! whose two sides can each be larger than memory (a TRX report's results and definitions).
//!
//! Runs are merged as they accumulate, `FAN_IN` at a time, into a run one level up (a tiered
//! merge, as in log-structured stores): open files stay under `FAN_IN` per level, and every item
//! is rewritten once per level (log base `FAN_IN` of the number of chunks), never once per chunk.

use crate::error::Result;
use crate::spill::{JsonLines, spill_error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// Runs merged at once: readers' buffers (`FAN_IN` × `READ_BUF`) stay well under a megabyte.
const FAN_IN: usize = 16;
const READ_BUF: usize = 16 * 1024;

pub(crate) struct ExtSort<T> {
    mem: Vec<T>,
    /// Estimated heap bytes of `mem`.
    mem_bytes: usize,
    budget: usize,
    /// Sorted runs and their level (a level-n run holds `FAN_IN`^n chunks); levels never
    /// increase along the vector.
    runs: Vec<(u32, File)>,
}

impl<T: Serialize + DeserializeOwned + Ord> ExtSort<T> {
    /// `budget`: estimated bytes of items held in memory before a chunk is written out.
    pub(crate) fn new(budget: usize) -> Self {
        ExtSort {
            mem: Vec::new(),
            mem_bytes: 0,
            budget,
            runs: Vec::new(),
        }
    }

    /// Adds an item; `heap` is what it owns on the heap (its strings), as far as the caller
    /// can tell cheaply.
    pub(crate) fn push(&mut self, item: T, heap: usize) -> Result<()> {
        self.mem_bytes += std::mem::size_of::<T>() + heap;
        self.mem.push(item);
        if self.mem_bytes >= self.budget {
            self.write_chunk()?;
        }
        Ok(())
    }

    fn write_chunk(&mut self) -> Result<()> {
        let mut chunk = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        chunk.sort();
        let file = write_run(chunk.into_iter().map(Ok))?;
        self.runs.push((0, file));
        // Merge the newest FAN_IN runs while they share a level.
        while self.runs.len() >= FAN_IN {
            let tail = &self.runs[self.runs.len() - FAN_IN..];
            let level = tail[0].0;
            if tail.iter().any(|(l, _)| *l != level) {
                break;
            }
            let group: Vec<File> = self
                .runs
                .drain(self.runs.len() - FAN_IN..)
                .map(|(_, f)| f)
                .collect();
            let merged = write_run(Merge::<T>::new(group)?)?;
            self.runs.push((level + 1, merged));
        }
        Ok(())
    }

    /// Every item, in order.
    pub(crate) fn finish(mut self) -> Result<Sorted<T>> {
        if self.runs.is_empty() {
            self.mem.sort();
            return Ok(Sorted::Mem(self.mem.into_iter()));
        }
        if !self.mem.is_empty() {
            self.write_chunk()?;
        }
        let runs = self.runs.into_iter().map(|(_, f)| f).collect();
        Ok(Sorted::Merge(Merge::new(runs)?))
    }
}

/// Writes items (JSON lines) to a new anonymous temporary file, rewound for reading.
fn write_run<T: Serialize>(items: impl Iterator<Item = Result<T>>) -> Result<File> {
    let file = tempfile::tempfile().map_err(spill_error)?;
    let mut w = BufWriter::with_capacity(64 * 1024, file);
    for item in items {
        serde_json::to_writer(&mut w, &item?).map_err(spill_error)?;
        w.write_all(b"\n").map_err(spill_error)?;
    }
    let mut file = w.into_inner().map_err(|e| spill_error(e.error()))?;
    file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
    Ok(file)
}

pub(crate) enum Sorted<T> {
    Mem(std::vec::IntoIter<T>),
    Merge(Merge<T>),
}

impl<T: DeserializeOwned + Ord> Iterator for Sorted<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        match self {
            Sorted::Mem(items) => items.next().map(Ok),
            Sorted::Merge(m) => m.next(),
        }
    }
}

/// The head item of a run; ties go to the earlier run, so the merge is stable.
struct Head<T> {
    item: T,
    run: usize,
}

impl<T: Ord> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Ord> Eq for Head<T> {}
impl<T: Ord> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.item.cmp(&other.item).then(self.run.cmp(&other.run))
    }
}

/// K-way merge of sorted runs.
pub(crate) struct Merge<T> {
    readers: Vec<JsonLines<T>>,
    heap: BinaryHeap<Reverse<Head<T>>>,
    /// A read error, reported once in place of the next item.
    failed: bool,
}

impl<T: DeserializeOwned + Ord> Merge<T> {
    fn new(runs: Vec<File>) -> Result<Self> {
        let mut m = Merge {
            readers: runs
                .into_iter()
                .map(|f| JsonLines::new(f, READ_BUF))
                .collect(),
            heap: BinaryHeap::new(),
            failed: false,
        };
        for run in 0..m.readers.len() {
            m.refill(run)?;
        }
        Ok(m)
    }

    fn refill(&mut self, run: usize) -> Result<()> {
        if let Some(item) = self.readers[run].next() {
            let item = item?;
            self.heap.push(Reverse(Head { item, run }));
        }
        Ok(())
    }
}

impl<T: DeserializeOwned + Ord> Iterator for Merge<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        if self.failed {
            return None;
        }
        let Reverse(Head { item, run }) = self.heap.pop()?;
        if let Err(e) = self.refill(run) {
            self.failed = true;
            return Some(Err(e));
        }
        Some(Ok(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(items: &[(u32, String)], budget: usize) -> Vec<(u32, String)> {
        let mut s = ExtSort::new(budget);
        for item in items {
            s.push(item.clone(), item.1.len()).unwrap();
        }
        s.finish().unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn many_levels_of_runs() {
        // A budget of one item: every item is a chunk, so runs merge over three levels.
        let items: Vec<(u32, String)> = (0..5_000u32)
            .map(|i| ((i * 7919) % 5_000, format!("v\n{i}")))
            .collect();
        let mut want = items.clone();
        want.sort();
        assert_eq!(sorted(&items, 1), want);
        assert_eq!(sorted(&items, usize::MAX), want);
    }

    proptest! {
        #[test]
        fn sorts_like_a_vec(items in proptest::collection::vec((0u32..50, "[a-z\u{e9}\"\\\\]{0,4}"), 0..300),
                            budget in 1usize..2_000) {
            let mut want = items.clone();
            want.sort();
            prop_assert_eq!(sorted(&items, budget), want);
        }
    }
}
