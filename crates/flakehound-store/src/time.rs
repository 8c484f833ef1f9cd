//! The store's one form of a timestamp: RFC 3339 in UTC, whole seconds (`2024-05-01T10:00:00Z`).
//!
//! Runs are ordered and "last seen" is chosen by comparing these strings, so every timestamp the
//! store writes goes through [`canonical`]. Text comparison equals instant comparison only for
//! one offset and one width: `12:00:00+02:00` sorts after `11:30:00Z` though it is earlier, and
//! `10:00:00.5Z` sorts before `10:00:00Z` ('.' < 'Z'). Sub-second precision is dropped: it has no
//! analytic value for a run's start, and a fixed-width fraction would make every timestamp
//! shown to users longer.

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

/// `raw` in the canonical form, or `None` when it is not a date-time. A time without an offset
/// is taken as UTC (as `flakehound_ci::normalize_timestamp` does for reports).
pub fn canonical(raw: &str) -> Option<String> {
    let s = raw.trim();
    let ts = s.parse::<Timestamp>().ok().or_else(|| {
        // Naive only: the civil parser would silently ignore an offset it does not accept.
        let naive = s
            .get(10..)
            .is_some_and(|t| t.len() > 1 && !t.contains(['+', '-', 'Z', 'z', '[']));
        naive
            .then(|| s.parse::<DateTime>().ok())
            .flatten()
            .and_then(|dt| dt.to_zoned(TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Canonical when it is a date-time, else as written (for columns that are only shown).
pub fn canonical_or_raw(raw: Option<&str>) -> Option<String> {
    raw.map(|r| canonical(r).unwrap_or_else(|| r.to_string()))
}

/// A SQL `GLOB` pattern matching exactly the canonical form (rows to leave alone).
pub const CANONICAL_GLOB: &str =
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z";

/// Now, in the canonical form (whole seconds, UTC): what the engines store as "when it was
/// stored".
pub fn now() -> String {
    let now = Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

#[cfg(test)]
mod tests {
    use super::canonical as c;

    #[test]
    fn one_form() {
        assert_eq!(
            c("2024-05-01T12:00:00+02:00").unwrap(),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            c("2024-05-01T10:00:00.999Z").unwrap(),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(c("2024-05-01 10:00:00").unwrap(), "2024-05-01T10:00:00Z");
        assert_eq!(
            c(" 2024-05-01T10:00:00.5 ").unwrap(),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            c("2024-05-01T10:00:00-00:30").unwrap(),
            "2024-05-01T10:30:00Z"
        );
        for bad in ["", "yesterday", "2024-05-01", "2024-05-01T10:00:00+99:00"] {
            assert_eq!(c(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Text order of canonical strings is instant order, whatever offsets they came with.
        #[test]
        fn text_order_is_instant_order(a in 0i64..4_000_000_000, b in 0i64..4_000_000_000,
                                       oa in -14i32 * 60..=14 * 60, ob in -14i32 * 60..=14 * 60) {
            use jiff::{Timestamp, tz::{Offset, TimeZone}};
            let show = |secs: i64, off: i32| {
                let tz = TimeZone::fixed(Offset::from_seconds(off * 60).unwrap());
                Timestamp::from_second(secs).unwrap().to_zoned(tz).timestamp()
                    .display_with_offset(Offset::from_seconds(off * 60).unwrap()).to_string()
            };
            let (ca, cb) = (c(&show(a, oa)).unwrap(), c(&show(b, ob)).unwrap());
            proptest::prop_assert_eq!(ca.cmp(&cb), a.cmp(&b));
        }
    }
}
