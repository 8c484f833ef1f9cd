//! Where a run's evidence came from.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Who produced a run: CI (ingested reports or the `run` wrapper) or one of flakehound's local
/// experiments. Stored as its name; a name this version does not know (a newer flakehound wrote
/// it) reads back as [`RunSource::Other`] and counts as CI, so that a new source is never
/// silently left out of the cost.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum RunSource {
    /// Reports stored by `ingest` (or uploaded to the server).
    #[default]
    Ci,
    /// `flakehound run -- CMD`, the CI wrapper.
    Run,
    Hunt,
    Diagnose,
    Repro,
    Verify,
    Polluter,
    /// `flakehound bisect`: executions at past commits.
    Bisect,
    /// Generated histories (`flakehound-synth`).
    Synthetic,
    Other(String),
}

impl RunSource {
    pub fn as_str(&self) -> &str {
        match self {
            RunSource::Ci => "ci",
            RunSource::Run => "run",
            RunSource::Hunt => "hunt",
            RunSource::Diagnose => "diagnose",
            RunSource::Repro => "repro",
            RunSource::Verify => "verify",
            RunSource::Polluter => "polluter",
            RunSource::Bisect => "bisect",
            RunSource::Synthetic => "synthetic",
            RunSource::Other(s) => s,
        }
    }

    /// Reads a stored name; never fails (see [`RunSource::Other`]).
    pub fn parse(s: &str) -> RunSource {
        match s {
            "ci" => RunSource::Ci,
            "run" => RunSource::Run,
            "hunt" => RunSource::Hunt,
            "diagnose" => RunSource::Diagnose,
            "repro" => RunSource::Repro,
            "verify" => RunSource::Verify,
            "polluter" => RunSource::Polluter,
            "bisect" => RunSource::Bisect,
            "synthetic" => RunSource::Synthetic,
            other => RunSource::Other(other.to_string()),
        }
    }

    /// A local experiment (`hunt`, `diagnose`, `repro`, `verify`, `polluter`, `bisect`): evidence for
    /// verdicts and categories, but no cost to the team's CI.
    pub fn is_experiment(&self) -> bool {
        matches!(
            self,
            RunSource::Hunt
                | RunSource::Diagnose
                | RunSource::Repro
                | RunSource::Verify
                | RunSource::Polluter
                | RunSource::Bisect
        )
    }
}

impl From<&str> for RunSource {
    fn from(s: &str) -> RunSource {
        RunSource::parse(s)
    }
}

impl fmt::Display for RunSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(RunSource::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_kept() {
        for s in [
            "ci",
            "run",
            "hunt",
            "diagnose",
            "repro",
            "verify",
            "polluter",
            "bisect",
            "synthetic",
            "future",
        ] {
            assert_eq!(RunSource::parse(s).as_str(), s);
        }
        assert!(!RunSource::parse("future").is_experiment());
        assert!(RunSource::Diagnose.is_experiment());
        assert!(!RunSource::Run.is_experiment());
    }
}
