//! Root-cause categories of flaky tests, shared by the verdict engine, the synthetic history
//! generator and (later) the detective.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The usual suspects behind a flaky test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Races, deadlocks, shared state between threads or tasks.
    Concurrency,
    /// Depends on which tests ran before it (state leaked by a polluter).
    Order,
    /// Time of day, time zones, dates, DST, clocks.
    Time,
    /// Unseeded random values.
    Randomness,
    /// Relies on the order of an unordered collection (sets, dicts, hash order).
    Unordered,
    /// External network services.
    Network,
    /// Runs close to a time limit.
    Timeout,
    /// Memory, file descriptors, disk, threads.
    Resource,
    /// One runner, OS or machine setup.
    Environment,
    /// Shared files and directories, permissions.
    Filesystem,
    /// Floating-point comparison.
    Float,
    /// No recognisable cause.
    Unknown,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Concurrency,
        Category::Order,
        Category::Time,
        Category::Randomness,
        Category::Unordered,
        Category::Network,
        Category::Timeout,
        Category::Resource,
        Category::Environment,
        Category::Filesystem,
        Category::Float,
        Category::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Concurrency => "concurrency",
            Category::Order => "order",
            Category::Time => "time",
            Category::Randomness => "randomness",
            Category::Unordered => "unordered",
            Category::Network => "network",
            Category::Timeout => "timeout",
            Category::Resource => "resource",
            Category::Environment => "environment",
            Category::Filesystem => "filesystem",
            Category::Float => "float",
            Category::Unknown => "unknown",
        }
    }

    /// The category named `s` (case-insensitive, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Category, String> {
        Category::parse(s).ok_or_else(|| format!("unknown category {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(c.to_string().parse::<Category>(), Ok(c));
        }
        assert_eq!(Category::parse(" Time "), Some(Category::Time));
        assert!("nope".parse::<Category>().is_err());
    }
}
