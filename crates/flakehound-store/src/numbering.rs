//! Attempt and position numbering of the results of one report within its run, shared by the
//! engines so that both number the same way.
//!
//! A run (one CI job execution) may be stored as several reports (a shard per file, a rerun
//! report written after the first). Its results form one sequence:
//! - positions continue: the first result of a later report comes after the last result of
//!   every earlier report of the run (the run keeps its next position);
//! - attempt numbers continue per test: a test's first result in a later report is attempt
//!   `n + 1` when earlier reports of the run stored `n` attempts of it. Within a report, every
//!   attempt of every record of the test counts (a record with a retry is two attempts;
//!   repeated records of one test, as pytest-rerunfailures writes them, continue the count).
//!
//! The engine supplies what its tables know about the run (its next position, and the last
//! attempt of each test of this report that earlier reports stored); this type hands out the
//! numbers in record order.

use foldhash::HashMap;
use std::hash::Hash;

/// Numbers the results of one report of a run. `K` is the engine's test identity (a row id).
#[derive(Debug)]
pub struct Numbering<K> {
    position: i64,
    attempts: HashMap<K, i64>,
}

impl<K: Hash + Eq> Numbering<K> {
    /// Numbering that continues from the run's `next_position` and, per test, the last attempt
    /// number earlier reports of the run stored (tests without one start at 1).
    pub fn new(next_position: i64, last_attempts: impl IntoIterator<Item = (K, i64)>) -> Self {
        Numbering {
            position: next_position,
            attempts: last_attempts.into_iter().collect(),
        }
    }

    /// `(attempt, position)` of the next result, an attempt of `test`.
    pub fn next(&mut self, test: K) -> (i64, i64) {
        let a = self.attempts.entry(test).or_insert(0);
        *a += 1;
        let position = self.position;
        self.position += 1;
        (*a, position)
    }

    /// The position the run's next result gets (what the run stores after this report).
    pub fn next_position(&self) -> i64 {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_from_the_run() {
        let mut n = Numbering::new(5, [(7, 2)]);
        assert_eq!(n.next(7), (3, 5));
        assert_eq!(n.next(8), (1, 6));
        assert_eq!(n.next(7), (4, 7));
        assert_eq!(n.next_position(), 8);
    }
}
