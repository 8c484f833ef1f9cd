//! Timestamp normalisation to RFC 3339 UTC.

use jiff::{Timestamp, Zoned, civil::DateTime, tz::TimeZone};

/// Normalises a timestamp as CI systems and test reports write it to RFC 3339 in UTC
/// (`2021-04-01T18:52:37Z`; fractional seconds are kept when non-zero, e.g.
/// `2021-04-01T18:52:37.25Z`). Returns `None` when `raw` is not understood.
///
/// Accepted inputs (surrounding whitespace is ignored):
///
/// * RFC 3339 / ISO 8601 with a zone: `2021-04-01T10:52:37-08:00`, `2021-04-01T18:52:37Z`,
///   `2021-04-01T18:52:37.123+00:00`, and the space-separated form `2017-04-29 20:49:41Z`.
/// * RFC 9557 with a bracketed time-zone annotation: `2021-04-01T10:52:37-07:00[America/Los_Angeles]`
///   (the offset wins) or a bare `2021-04-01T10:52:37[America/Los_Angeles]` (resolved with the
///   system time-zone database; `None` when the zone is unknown).
/// * Naive date-times without a zone: `2021-04-01T10:52:37`, `2021-04-01T10:52:37.123`,
///   `2021-04-01 10:52:37`. These are **interpreted as UTC**: report writers that omit the
///   zone (JUnit `timestamp` attributes from surefire, pytest, ...) mostly use UTC or the
///   runner's local zone, and CI runners run in UTC almost always; guessing the zone of the
///   machine doing the ingest would be wrong more often.
/// * Unix time in seconds, optionally negative and with a fraction: `1617303157`,
///   `1617303157.5`. Milliseconds are *not* recognised (a 13-digit number is out of range and
///   gives `None`).
pub fn normalize_timestamp(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    parse(s).map(|ts| ts.to_string())
}

fn parse(s: &str) -> Option<Timestamp> {
    parse_unix(s)
        // Needs an offset (or `Z`); accepts `T`, `t` or a space as separator.
        .or_else(|| s.parse::<Timestamp>().ok())
        // A bracketed IANA zone without an offset.
        .or_else(|| {
            s.ends_with(']')
                .then(|| s.parse::<Zoned>().ok())
                .flatten()
                .map(|z| z.timestamp())
        })
        .or_else(|| parse_naive_utc(s))
}

/// Naive date-time, interpreted as UTC. A time is required (a bare date is rejected), and the
/// string must really be naive: jiff's civil parser would silently drop an (invalid) offset.
fn parse_naive_utc(s: &str) -> Option<Timestamp> {
    let naive = s
        .get(10..)
        .is_some_and(|t| t.len() > 1 && !t.contains(['+', '-', 'Z', 'z', '[']));
    if !naive {
        return None;
    }
    let dt = s.parse::<DateTime>().ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// `[-]digits[.digits]` as unix seconds.
fn parse_unix(s: &str) -> Option<Timestamp> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((_, "")) => return None,
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    // Up to 12 digits of seconds covers jiff's whole range (years -9999..=9999).
    if int.len() > 12 {
        return None;
    }
    let secs: i128 = int.parse().ok()?;
    let mut nanos: i128 = 0;
    if !frac.is_empty() {
        let digits: i128 = frac.parse().ok()?;
        nanos = digits * 10i128.pow(9 - frac.len() as u32);
    }
    let mut total = secs * 1_000_000_000 + nanos;
    if neg {
        total = -total;
    }
    Timestamp::from_nanosecond(total).ok()
}

#[cfg(test)]
mod tests {
    use super::normalize_timestamp as n;

    #[test]
    fn rfc3339_with_zone() {
        assert_eq!(
            n("2021-04-01T10:52:37-08:00").as_deref(),
            Some("2021-04-01T18:52:37Z")
        );
        assert_eq!(
            n("2021-04-01T18:52:37Z").as_deref(),
            Some("2021-04-01T18:52:37Z")
        );
        assert_eq!(
            n("2021-04-01t18:52:37z").as_deref(),
            Some("2021-04-01T18:52:37Z")
        );
        assert_eq!(
            n("2021-04-02T03:52:37+09:00").as_deref(),
            Some("2021-04-01T18:52:37Z")
        );
        assert_eq!(
            n("2021-04-01T18:52:37.123+00:00").as_deref(),
            Some("2021-04-01T18:52:37.123Z")
        );
        assert_eq!(
            n("  2021-04-01T18:52:37Z \n").as_deref(),
            Some("2021-04-01T18:52:37Z")
        );
    }

    #[test]
    fn space_separated_with_z() {
        assert_eq!(
            n("2021-04-01 10:52:37Z").as_deref(),
            Some("2021-04-01T10:52:37Z")
        );
        assert_eq!(
            n("2017-04-29 20:49:41Z").as_deref(),
            Some("2017-04-29T20:49:41Z")
        );
        assert_eq!(
            n("2017-04-29 20:49:41+02:00").as_deref(),
            Some("2017-04-29T18:49:41Z")
        );
    }

    #[test]
    fn naive_is_utc() {
        assert_eq!(
            n("2021-04-01T10:52:37").as_deref(),
            Some("2021-04-01T10:52:37Z")
        );
        assert_eq!(
            n("2021-04-01T10:52:37.250").as_deref(),
            Some("2021-04-01T10:52:37.25Z")
        );
        assert_eq!(
            n("2021-04-01 10:52:37").as_deref(),
            Some("2021-04-01T10:52:37Z")
        );
    }

    #[test]
    fn zone_annotation() {
        assert_eq!(
            n("2021-04-01T10:52:37-07:00[America/Los_Angeles]").as_deref(),
            Some("2021-04-01T17:52:37Z")
        );
        // A bare IANA annotation needs the time-zone database.
        if jiff::tz::TimeZone::get("America/Los_Angeles").is_ok() {
            assert_eq!(
                n("2021-04-01T10:52:37[America/Los_Angeles]").as_deref(),
                Some("2021-04-01T17:52:37Z")
            );
        }
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(n("1617303157").as_deref(), Some("2021-04-01T18:52:37Z"));
        assert_eq!(n("1617303157.5").as_deref(), Some("2021-04-01T18:52:37.5Z"));
        assert_eq!(n("0").as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(n("-1").as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(n("-1.5").as_deref(), Some("1969-12-31T23:59:58.5Z"));
    }

    #[test]
    fn unparseable() {
        for raw in [
            "",
            "   ",
            "yesterday",
            "2021-04-01",
            "2021-13-01T10:52:37Z",
            "2021-04-01T25:52:37",
            "1617303157000",
            "1617303157.",
            "16173x03157",
            "1.2.3",
            "-",
            ".5",
            "2021-04-01T10:52:37+99:00",
            "2021-04-01T10:52:37[Not/AZone]",
            "2021-04-01T10:52:37-",
        ] {
            assert_eq!(n(raw), None, "{raw:?}");
        }
    }
}
