//! Root-cause categories read from failure-message shapes, and infra-outage shapes.
//!
//! # Model
//!
//! [`from_message`] matches a message (lower-cased, first 8 000 characters) against ordered
//! rules and returns the category of the **first rule that matches**, with the matched phrase as
//! evidence. Phrases are substrings, except short or ambiguous ones (`lock`, `race`, `dst`, `ssl`,
//! `oom`, month names, HTTP status codes…), which must stand as whole words. Besides phrases, three shape
//! detectors look at structure: a *long float tail* (`0.30000000000000004`, `1.9999999999`), *two
//! collections with the same elements in a different order* (`[3, 1, 2] != [1, 2, 3]`,
//! `expected:<[a, b]> but was:<[b, a]>`), *two quoted strings with the same words in a
//! different order* (`assert 'SALE · NEW' == 'NEW · SALE'`, a joined set), and *two dates one
//! day apart*
//! (`2024-03-10` vs `2024-03-11`, `date(2024, 3, 10)`).
//!
//! **Precedence** (first match wins), from causes to symptoms and from specific to generic:
//!
//! 1. `resource` — out of memory, no space left, too many open files: an exhausted machine
//!    explains the timeouts and file errors that follow it;
//! 2. `concurrency` (strong) — deadlock, data race, concurrent modification, lock wait timeout,
//!    database is locked: a lock wait that times out is still a lock problem;
//! 3. `network` — connection refused/reset, DNS, read/connect timeouts, and 502/503/504 when the
//!    message talks HTTP (status, response, server error…): a connection timeout is a network
//!    symptom before it is a slow test;
//! 4. `timeout` — timed out, timeout, deadline exceeded;
//! 5. `filesystem` — FileNotFoundError, ENOENT, File exists, Permission denied, read-only FS;
//! 6. `float` — long float tails, almost equal, approx, isclose, tolerance;
//! 7. `unordered` — same elements in a different order, "reordered", "different order";
//! 8. `time` — dates one day apart, timezone, tzinfo, DST, month and weekday names;
//! 9. `randomness` — random, seed, shuffle, nondeterministic, falsifying example;
//! 10. `order` — leftovers of other tests: duplicate key, unique constraint, already exists;
//! 11. `concurrency` (weak) — race, lock, mutex, semaphore, concurrent, thread-safe;
//! 12. `environment` — missing modules, commands, variables, locales, shared libraries.
//!
//! No match gives `None` (callers report [`Category::Unknown`]). Categories `order` and
//! `environment` mostly come from history (preceding tests, runner concentration), not messages.
//!
//! [`is_infra`] is separate and narrower: it recognises *outages of the CI infrastructure*
//! (a database or service refusing connections, DNS failing, disk full, OOM kills, lost or
//! cancelled runners, 502/503 from a gateway, registry rate limits) rather than a test's own
//! bugs. A single infra-shaped failure is not an incident; see [`crate::incidents`].

pub use flakehound_model::Category;

type Phrases = &'static [(&'static str, bool)];

const RESOURCE: Phrases = &[
    ("too many open files", false),
    ("emfile", true),
    ("no space left", false),
    ("enospc", true),
    ("disk quota exceeded", false),
    ("out of memory", false),
    ("outofmemory", false),
    ("memoryerror", false),
    ("cannot allocate memory", false),
    ("enomem", true),
    ("oomkilled", false),
    ("oom-kill", false),
    ("oom", true),
    ("unable to create new native thread", false),
    ("resource temporarily unavailable", false),
    ("too many processes", false),
    ("exit code 137", false),
];

const CONCURRENCY_STRONG: Phrases = &[
    ("deadlock", false),
    ("data race", false),
    ("race condition", false),
    ("concurrentmodification", false),
    ("concurrent modification", false),
    ("lock wait timeout", false),
    ("database is locked", false),
    ("could not obtain lock", false),
    ("could not acquire lock", false),
    ("failed to acquire lock", false),
    ("threadsanitizer", false),
    ("poisonerror", false),
    ("poisoned lock", false),
    // Python's iteration over a dict or set another thread resized.
    ("changed size during iteration", false),
    // Lost updates under optimistic locking.
    ("optimisticlock", false),
    ("optimistic lock", false),
    ("concurrent update", false),
    ("another transaction", false),
];

const NETWORK: Phrases = &[
    ("connection refused", false),
    ("econnrefused", false),
    ("connection reset", false),
    ("econnreset", false),
    ("connection aborted", false),
    ("econnaborted", false),
    ("connection timed out", false),
    ("connect timeout", false),
    ("connecttimeout", false),
    ("read timed out", false),
    ("readtimeout", false),
    ("could not resolve host", false),
    ("could not resolve", false),
    ("name or service not known", false),
    ("temporary failure in name resolution", false),
    ("nodename nor servname", false),
    ("no such host", false),
    ("getaddrinfo", false),
    ("name resolution", false),
    ("no route to host", false),
    ("network is unreachable", false),
    ("enetunreach", false),
    ("ehostunreach", false),
    ("broken pipe", false),
    ("epipe", true),
    ("remote end closed connection", false),
    ("remotedisconnected", false),
    ("connection closed", false),
    ("socket hang up", false),
    ("could not connect", false),
    ("failed to connect", false),
    ("unable to connect", false),
    ("cannot connect", false),
    ("connectionerror", false),
    ("max retries exceeded", false),
    ("service unavailable", false),
    ("bad gateway", false),
    ("gateway timeout", false),
    ("certificate verify failed", false),
    ("sslerror", false),
    ("ssl", true),
    ("tls handshake", false),
    ("dns", true),
];

const TIMEOUT: Phrases = &[
    ("timed out", false),
    ("timeout", false),
    ("time out", false),
    ("deadline exceeded", false),
    ("deadline_exceeded", false),
    ("deadlineexceeded", false),
    ("took too long", false),
    ("took longer than", false),
    ("exceeded the time limit", false),
];

const FILESYSTEM: Phrases = &[
    ("filenotfounderror", false),
    ("no such file or directory", false),
    ("nosuchfileexception", false),
    ("file not found", false),
    ("enoent", true),
    ("fileexistserror", false),
    ("filealreadyexistsexception", false),
    ("file exists", false),
    ("eexist", true),
    ("permission denied", false),
    ("permissionerror", false),
    ("eacces", true),
    ("isadirectoryerror", false),
    ("notadirectoryerror", false),
    ("directory not empty", false),
    ("enotempty", true),
    ("read-only file system", false),
    ("text file busy", false),
];

const FLOAT: Phrases = &[
    ("almost equal", false),
    ("almostequal", false),
    ("approx", false),
    ("isclose", false),
    ("allclose", false),
    ("rel_tol", false),
    ("abs_tol", false),
    ("tolerance", false),
    ("ulps", true),
    ("floating point", false),
    ("floating-point", false),
];

const UNORDERED: Phrases = &[
    ("reordered", false),
    ("different order", false),
    ("order differs", false),
    ("ordering differs", false),
    ("in any order", false),
    ("unordered", false),
    ("dict ordering", false),
    ("set ordering", false),
    ("iteration order", false),
    // JUnit 5's assertIterableEquals/assertArrayEquals name the first index that differs and
    // one element of each side: in a flaky test, a collection whose order varies.
    ("iterable contents differ at index", false),
    ("array contents differ at index", false),
];

const TIME: Phrases = &[
    ("timezone", false),
    ("time zone", false),
    ("tzinfo", false),
    ("utcoffset", false),
    ("daylight saving", false),
    ("dst", true),
    ("pytz", false),
    ("zoneinfo", false),
    ("offset-naive", false),
    ("offset-aware", false),
    ("naive datetime", false),
    ("leap year", false),
    ("leap second", false),
    ("midnight", false),
    ("end of month", false),
    ("freezegun", false),
    ("freeze_time", false),
    ("clock skew", false),
    ("january", true),
    ("february", true),
    ("march", true),
    ("april", true),
    ("june", true),
    ("july", true),
    ("august", true),
    ("september", true),
    ("october", true),
    ("november", true),
    ("december", true),
    ("monday", true),
    ("tuesday", true),
    ("wednesday", true),
    ("thursday", true),
    ("friday", true),
    ("saturday", true),
    ("sunday", true),
];

const RANDOMNESS: Phrases = &[
    ("random", false),
    ("seed", false),
    ("shuffle", false),
    ("nondetermin", false),
    ("non-determin", false),
    ("falsifying example", false),
    ("hypothesis", true),
];

const ORDER: Phrases = &[
    ("duplicate key", false),
    ("unique constraint", false),
    ("uniqueviolation", false),
    ("integrityerror", false),
    ("already registered", false),
    ("already exists", false),
    ("already initialized", false),
    ("already defined", false),
    ("not cleaned up", false),
    ("leaked", false),
    ("polluted", false),
    ("test isolation", false),
    ("global state", false),
    ("stale state", false),
];

const CONCURRENCY_WEAK: Phrases = &[
    ("race", true),
    ("racy", true),
    ("lock", true),
    ("locked", true),
    ("locking", true),
    ("mutex", false),
    ("semaphore", false),
    ("concurrent", false),
    ("thread-safe", false),
    ("thread safe", false),
    ("thread safety", false),
    ("interleav", false),
    ("goroutine", false),
    ("synchroniz", false),
    ("atomic", true),
];

const ENVIRONMENT: Phrases = &[
    ("environment variable", false),
    ("env var", false),
    ("command not found", false),
    ("no module named", false),
    ("modulenotfounderror", false),
    ("importerror", false),
    ("not installed", false),
    ("executable not found", false),
    ("cannot open shared object", false),
    ("library not loaded", false),
    ("unsupported platform", false),
    ("locale", false),
    ("unicodedecodeerror", false),
    ("unicodeencodeerror", false),
    ("java_home", false),
    ("version mismatch", false),
    ("requires python", false),
];

const INFRA: Phrases = &[
    ("connection refused", false),
    ("econnrefused", false),
    ("could not connect", false),
    ("can't connect to", false),
    ("cannot connect to", false),
    ("failed to connect", false),
    ("unable to connect", false),
    ("could not resolve host", false),
    ("could not resolve", false),
    ("name or service not known", false),
    ("temporary failure in name resolution", false),
    ("nodename nor servname", false),
    ("no such host", false),
    ("getaddrinfo", false),
    ("name resolution", false),
    ("no route to host", false),
    ("network is unreachable", false),
    ("no space left", false),
    ("enospc", true),
    ("disk quota exceeded", false),
    ("oomkilled", false),
    ("oom-kill", false),
    ("oom killed", false),
    ("killed process", false),
    ("out of memory: kill", false),
    ("cannot allocate memory", false),
    ("exit code 137", false),
    ("runner lost", false),
    ("lost communication with the server", false),
    ("runner has received a shutdown signal", false),
    ("the operation was canceled", false),
    ("the operation was cancelled", false),
    ("runner system failure", false),
    ("service unavailable", false),
    ("bad gateway", false),
    ("toomanyrequests", false),
    ("rate limit exceeded", false),
    ("error response from daemon", false),
    ("cannot connect to the docker daemon", false),
];

const MAX_SCAN: usize = 8000;

fn lower(message: &str) -> String {
    let end = message
        .char_indices()
        .nth(MAX_SCAN)
        .map_or(message.len(), |(i, _)| i);
    message[..end].to_lowercase()
}

fn find_phrase(hay: &str, phrases: Phrases) -> Option<&'static str> {
    phrases
        .iter()
        .find(|(p, word)| {
            if *word {
                contains_word(hay, p)
            } else {
                hay.contains(p)
            }
        })
        .map(|(p, _)| *p)
}

/// `needle` occurs in `hay` with no alphanumeric character on either side, nor a decimal point
/// joining it to a digit (so `503` is not found in `503.5` or `1.503`).
fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle)
        .any(|(i, _)| !joined(hay[..i].chars().rev()) && !joined(hay[i + needle.len()..].chars()))
}

fn joined(mut side: impl Iterator<Item = char>) -> bool {
    match side.next() {
        Some(c) if c.is_alphanumeric() => true,
        Some('.') => side.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The category a message's shape points to, with the evidence (the matched phrase or shape).
/// First matching rule wins; see the module docs for the precedence.
pub fn from_message(message: &str) -> Option<(Category, &'static str)> {
    let m = lower(message);
    let phrase = |c: Category, p: Phrases| find_phrase(&m, p).map(|e| (c, e));
    phrase(Category::Resource, RESOURCE)
        .or_else(|| phrase(Category::Concurrency, CONCURRENCY_STRONG))
        .or_else(|| phrase(Category::Network, NETWORK))
        .or_else(|| http_status(&m).map(|e| (Category::Network, e)))
        .or_else(|| phrase(Category::Timeout, TIMEOUT))
        .or_else(|| phrase(Category::Filesystem, FILESYSTEM))
        .or_else(|| long_float_tail(&m).then_some((Category::Float, "long float tail")))
        .or_else(|| phrase(Category::Float, FLOAT))
        .or_else(|| {
            same_elements_reordered(&m)
                .then_some((Category::Unordered, "same elements in a different order"))
        })
        .or_else(|| {
            same_words_reordered(&m)
                .then_some((Category::Unordered, "same words in a different order"))
        })
        .or_else(|| phrase(Category::Unordered, UNORDERED))
        .or_else(|| dates_one_day_apart(&m).then_some((Category::Time, "dates one day apart")))
        .or_else(|| phrase(Category::Time, TIME))
        .or_else(|| phrase(Category::Randomness, RANDOMNESS))
        .or_else(|| phrase(Category::Order, ORDER))
        .or_else(|| phrase(Category::Concurrency, CONCURRENCY_WEAK))
        .or_else(|| phrase(Category::Environment, ENVIRONMENT))
}

/// [`from_message`], defaulting to [`Category::Unknown`] with empty evidence.
pub fn categorize(message: &str) -> (Category, &'static str) {
    from_message(message).unwrap_or((Category::Unknown, ""))
}

/// A gateway status (502, 503, 504) as a word, in a message that talks HTTP.
fn http_status(m: &str) -> Option<&'static str> {
    const CONTEXT: [&str; 6] = [
        "http",
        "status",
        "server error",
        "response",
        "gateway",
        "service",
    ];
    if !CONTEXT.iter().any(|c| m.contains(c)) {
        return None;
    }
    ["503", "502", "504"]
        .into_iter()
        .find(|code| contains_word(m, code))
}

/// Categories of many messages, most frequent first (ties in [`Category`] order), each with its
/// count and the evidence of its first message. Messages matching nothing count as `Unknown`.
pub fn tally<'a>(
    messages: impl IntoIterator<Item = &'a str>,
) -> Vec<(Category, u64, &'static str)> {
    let mut counts: Vec<(Category, u64, &'static str)> = Vec::new();
    for m in messages {
        let (c, e) = categorize(m);
        match counts.iter_mut().find(|x| x.0 == c) {
            Some(x) => x.1 += 1,
            None => counts.push((c, 1, e)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

/// The message looks like an infrastructure outage rather than the test's own failure
/// (see the module docs).
pub fn is_infra(message: &str) -> bool {
    infra_evidence(message).is_some()
}

/// The infra-outage phrase a message matches, if any.
pub fn infra_evidence(message: &str) -> Option<&'static str> {
    find_phrase(&lower(message), INFRA)
}

/// A decimal with ≥ 7 fractional digits showing binary-float residue: a run of five 0s followed
/// later by a non-zero digit (`0.30000000000000004`), or a run of five 9s (`0.19999999999`).
fn long_float_tail(m: &str) -> bool {
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' && i > 0 && b[i - 1].is_ascii_digit() {
            let frac_end = b[i + 1..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(b.len(), |p| i + 1 + p);
            let frac = &m[i + 1..frac_end];
            if frac.len() >= 7 {
                let zeros = frac
                    .find("00000")
                    .is_some_and(|z| frac[z..].bytes().any(|c| c != b'0'));
                if zeros || frac.contains("99999") {
                    return true;
                }
            }
            i = frac_end.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// Top-level bracketed groups (`[..]`, `{..}`, `(..)`) with their elements split at top-level
/// commas and trimmed.
fn collections(m: &str) -> Vec<(char, Vec<&str>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    for (i, c) in m.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' => quote = Some(c),
            '[' | '{' | '(' => stack.push((c, i)),
            ']' | '}' | ')' => {
                let open = match c {
                    ']' => '[',
                    '}' => '{',
                    _ => '(',
                };
                match stack.pop() {
                    Some((o, start)) if o == open => {
                        if stack.is_empty() || stack.iter().all(|s| s.0 == '(') {
                            let inner = &m[start + 1..i];
                            let items = split_top(inner);
                            if items.len() >= 2 {
                                out.push((open, items));
                            }
                        }
                    }
                    _ => stack.clear(),
                }
                if out.len() >= 32 {
                    break;
                }
            }
            _ => {}
        }
    }
    out
}

fn split_top(s: &str) -> Vec<&str> {
    // Go prints slices space-separated (`[3 1 2]`): without a top-level comma, a flat
    // bracket of several space-separated tokens is a list too.
    if !s.contains(',') && !s.contains(['[', '{', '(', '\'', '"']) {
        let items: Vec<&str> = s.split_whitespace().collect();
        if items.len() >= 2 {
            return items;
        }
    }
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' | '{' | '(' => depth += 1,
            ']' | '}' | ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(s[start..].trim());
    items.retain(|x| !x.is_empty());
    items
}

/// Two collections of the same kind hold the same elements (as a multiset) in a different order.
fn same_elements_reordered(m: &str) -> bool {
    let cs = collections(m);
    cs.iter().enumerate().any(|(i, (ka, a))| {
        cs[i + 1..]
            .iter()
            .any(|(kb, b)| ka == kb && reordered(a, b))
    })
}

/// `a` and `b` hold the same items (as a multiset) in a different order.
fn reordered(a: &[&str], b: &[&str]) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let (mut sa, mut sb) = (a.to_vec(), b.to_vec());
    sa.sort_unstable();
    sb.sort_unstable();
    sa == sb
}

/// Two quoted strings (`'…'` or `"…"`) made of the same words (runs of letters and digits), at
/// least two, in a different order: a joined set or dict (`", ".join(tags)`).
fn same_words_reordered(m: &str) -> bool {
    let mut quoted: Vec<&str> = Vec::new();
    let mut rest = m;
    while quoted.len() < 16 {
        let Some(start) = rest.find(['\'', '"']) else {
            break;
        };
        let q = rest[start..].chars().next().unwrap_or('"');
        let body = &rest[start + 1..];
        let Some(end) = body.find(q) else { break };
        quoted.push(&body[..end]);
        rest = &body[end + 1..];
    }
    let lists: Vec<Vec<&str>> = quoted.iter().map(|q| words(q)).collect();
    lists
        .iter()
        .enumerate()
        .any(|(i, a)| a.len() >= 2 && lists[i + 1..].iter().any(|b| reordered(a, b)))
}

/// Runs of letters and digits.
fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Days since 1970-01-01 of a date; `None` for dates that do not exist (such as Feb 30).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let date = jiff::civil::Date::new(i16::try_from(y).ok()?, m as i8, d as i8).ok()?;
    let epoch = jiff::civil::date(1970, 1, 1);
    Some(i64::from(epoch.until(date).ok()?.get_days()))
}

/// Dates written `YYYY-MM-DD`, `YYYY/MM/DD` or `date(YYYY, M, D` (also `datetime(`) as day
/// numbers.
fn dates(m: &str) -> Vec<i64> {
    let b = m.as_bytes();
    let num = |i: usize, max: usize| -> (i64, usize) {
        let mut j = i;
        let mut v = 0i64;
        while j < b.len() && j - i < max && b[j].is_ascii_digit() {
            v = v * 10 + i64::from(b[j] - b'0');
            j += 1;
        }
        (v, j - i)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= b.len() && out.len() < 64 {
        let boundary = i == 0 || !b[i - 1].is_ascii_digit();
        let (y, ly) = num(i, 4);
        if !boundary || ly != 4 {
            i += 1;
            continue;
        }
        let mut j = i + 4;
        let sep_ok = |j: usize| j < b.len() && matches!(b[j], b'-' | b'/' | b',');
        if !sep_ok(j) {
            i += 1;
            continue;
        }
        let sep = b[j];
        if sep == b',' && !m[..i].ends_with("date(") {
            i += 1;
            continue;
        }
        j += 1;
        while sep == b',' && j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let (mo, lm) = num(j, 2);
        j += lm;
        if lm == 0 || j >= b.len() || b[j] != sep {
            i += 1;
            continue;
        }
        j += 1;
        while sep == b',' && j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let (d, ld) = num(j, 2);
        j += ld;
        let end_ok = j >= b.len() || !b[j].is_ascii_digit();
        if let Some(day) = (ld > 0 && end_ok)
            .then(|| days_from_civil(y, mo, d))
            .flatten()
        {
            out.push(day);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn dates_one_day_apart(m: &str) -> bool {
    let ds = dates(m);
    ds.iter()
        .enumerate()
        .any(|(i, a)| ds[i + 1..].iter().any(|b| (a - b).abs() == 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cat(m: &str) -> Option<Category> {
        from_message(m).map(|x| x.0)
    }

    #[test]
    fn names() {
        assert_eq!(Category::Unordered.to_string(), "unordered");
        assert_eq!(
            serde_json::to_string(&Category::Filesystem).unwrap(),
            "\"filesystem\""
        );
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert!("nope".parse::<Category>().is_err());
    }

    #[test]
    fn shapes() {
        use Category::*;
        let cases: &[(&str, Option<Category>)] = &[
            ("Failed: Timeout >5.0s", Some(Timeout)),
            ("TimeoutError: operation timed out after 30s", Some(Timeout)),
            ("grpc: DEADLINE_EXCEEDED", Some(Timeout)),
            ("context deadline exceeded", Some(Timeout)),
            (
                "ConnectionResetError: [Errno 104] Connection reset by peer",
                Some(Network),
            ),
            ("Error: connect ECONNREFUSED 127.0.0.1:6379", Some(Network)),
            (
                "curl: (6) Could not resolve host: example.com",
                Some(Network),
            ),
            ("HTTPError: 503 Server Error", Some(Network)),
            (
                "requests.exceptions.ReadTimeout: Read timed out. (read timeout=10)",
                Some(Network),
            ),
            (
                "AssertionError: race detected in worker pool",
                Some(Concurrency),
            ),
            ("Found one Java-level deadlock", Some(Concurrency)),
            (
                "java.util.ConcurrentModificationException",
                Some(Concurrency),
            ),
            (
                "Lock wait timeout exceeded; try restarting transaction",
                Some(Concurrency),
            ),
            (
                "sqlite3.OperationalError: database is locked",
                Some(Concurrency),
            ),
            ("could not take lock on queue", Some(Concurrency)),
            ("OSError: [Errno 24] Too many open files", Some(Resource)),
            ("MemoryError", Some(Resource)),
            (
                "java.lang.OutOfMemoryError: Java heap space",
                Some(Resource),
            ),
            (
                "OSError: [Errno 28] No space left on device",
                Some(Resource),
            ),
            (
                "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/x'",
                Some(Filesystem),
            ),
            (
                "FileExistsError: [Errno 17] File exists: '/tmp/cache'",
                Some(Filesystem),
            ),
            (
                "Error: ENOENT: no such file, open 'a.txt'",
                Some(Filesystem),
            ),
            (
                "PermissionError: [Errno 13] Permission denied: '/tmp/lock.db'",
                Some(Filesystem),
            ),
            ("assert 0.30000000000000004 == 0.3", Some(Float)),
            ("AssertionError: 1.9999999999 != 2.0", Some(Float)),
            ("assert 0.1 == approx(0.2)", Some(Float)),
            (
                "AssertionError: 1.0 != 1.1 within 7 places (not almost equal)",
                Some(Float),
            ),
            ("assert [3, 1, 2] == [1, 2, 3]", Some(Unordered)),
            ("expected:<[a, b, c]> but was:<[c, a, b]>", Some(Unordered)),
            (
                "assert {'b': 1, 'a': 2} == {'a': 2, 'b': 1}",
                Some(Unordered),
            ),
            ("items were reordered", Some(Unordered)),
            (
                "org.opentest4j.AssertionFailedError: iterable contents differ at index 0, expected: <alpha> but was: <gamma>",
                Some(Unordered),
            ),
            (
                "array contents differ at index [2], expected: <beta> but was: <delta>",
                Some(Unordered),
            ),
            ("assert '2024-03-10' == '2024-03-11'", Some(Time)),
            ("expected 2024-12-31 got 2025-01-01", Some(Time)),
            ("assert date(2024, 3, 10) == date(2024, 3, 9)", Some(Time)),
            (
                "ValueError: offset-naive and offset-aware datetimes",
                Some(Time),
            ),
            ("tzinfo mismatch", Some(Time)),
            ("expected 'March' got 'April'", Some(Time)),
            ("failed during DST transition", Some(Time)),
            ("random value 17 not in range", Some(Randomness)),
            ("test failed with seed=12345", Some(Randomness)),
            ("Falsifying example: test_x(n=3)", Some(Randomness)),
            (
                "IntegrityError: duplicate key value violates unique constraint",
                Some(Order),
            ),
            (
                "ModuleNotFoundError: No module named 'numpy'",
                Some(Environment),
            ),
            ("sh: 1: convert: command not found", Some(Environment)),
            ("AssertionError: assert order.total == 173.00", None),
            ("assert [1, 2, 3] == [1, 2, 4]", None),
            (
                "Exception in thread \"main\" java.lang.NullPointerException",
                None,
            ),
            ("Traceback: block not found in clock", None),
            ("assert x == 503.5", None),
            ("assert [503, 1] == [2, 3]", None),
            ("assert [2024, 1, 2] == [2024, 1, 3]", None),
            (
                "order_test.go:88: got [3 1 2], want [1 2 3]",
                Some(Unordered),
            ),
            ("got [east north], want [north south]", None),
            (
                "RuntimeError: dictionary changed size during iteration",
                Some(Concurrency),
            ),
            ("upstream response 502", Some(Network)),
            ("", None),
        ];
        for (m, want) in cases {
            assert_eq!(cat(m), *want, "{m}");
        }
    }

    #[test]
    fn evidence_and_precedence() {
        assert_eq!(
            from_message("Connection timed out"),
            Some((Category::Network, "connection timed out"))
        );
        // A full disk explains the file error it causes.
        assert_eq!(
            cat("OSError: No space left on device: FileNotFoundError"),
            Some(Category::Resource)
        );
        // A timed-out lock wait is a lock problem.
        assert_eq!(
            cat("lock wait timeout exceeded"),
            Some(Category::Concurrency)
        );
        // Float residue wins over reordering.
        assert_eq!(
            cat("[0.30000000000000004, 1] != [1, 0.3]"),
            Some(Category::Float)
        );
        assert_eq!(
            from_message("assert [2, 1] == [1, 2]").unwrap().1,
            "same elements in a different order"
        );
        // A joined set: the same words, reordered.
        assert_eq!(
            from_message("AssertionError: assert 'SALE · NEW' == 'NEW · SALE'").unwrap(),
            (Category::Unordered, "same words in a different order")
        );
        assert_eq!(
            cat(r#"expected "red, green, blue" but got "blue, red, green""#),
            Some(Category::Unordered)
        );
        // Different words, one word, or the same order are not reordering.
        for m in [
            "assert 'SALE · NEW' == 'NEW · OLD'",
            "assert 'a' == 'b'",
            "assert 'x y' == 'x  y'",
            "it's 'quoted' and it's not",
        ] {
            assert_eq!(cat(m), None, "{m}");
        }
        assert_eq!(categorize("plain"), (Category::Unknown, ""));
    }

    #[test]
    fn infra_shapes() {
        for m in [
            "psycopg2.OperationalError: could not connect to server: Connection refused",
            "Temporary failure in name resolution",
            "OSError: [Errno 28] No space left on device",
            "The runner has received a shutdown signal.",
            "The operation was canceled.",
            "Container killed: OOMKilled",
            "Error response from daemon: toomanyrequests: You have reached your pull rate limit",
            "runner lost",
        ] {
            assert!(is_infra(m), "{m}");
        }
        for m in [
            "AssertionError: assert 1 == 2",
            "Timeout >5.0s",
            "MemoryError",
            "Connection reset by peer",
        ] {
            assert!(!is_infra(m), "{m}");
        }
        assert_eq!(infra_evidence("ECONNREFUSED"), Some("econnrefused"));
    }

    #[test]
    fn tally_counts() {
        let t = tally(["timed out", "timeout 5s", "assert 1 == 2", "deadlock"]);
        assert_eq!(t[0], (Category::Timeout, 2, "timed out"));
        assert_eq!(t.len(), 3);
        assert_eq!(t.iter().map(|x| x.1).sum::<u64>(), 4);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(
            days_from_civil(2000, 3, 1).unwrap() - days_from_civil(2000, 2, 28).unwrap(),
            2
        );
        assert_eq!(days_from_civil(2023, 2, 30), None);
        assert_eq!(dates("2024-03-10 and 2024/3/11").len(), 2);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = from_message(&s);
            let _ = is_infra(&s);
        }

        #[test]
        fn shaped_never_panics(s in "[0-9\\[\\]{}(),.' \"-/a-e]{0,200}") {
            let _ = from_message(&s);
        }

        #[test]
        fn shuffled_lists_are_unordered(v in proptest::collection::vec(0u32..100_000, 2..10), rot in 1usize..9) {
            let mut w = v.clone();
            let r = rot % w.len();
            w.rotate_left(r);
            prop_assume!(v != w);
            let fmt = |x: &[u32]| x.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            let m = format!("assert [{}] == [{}]", fmt(&v), fmt(&w));
            prop_assert_eq!(cat(&m), Some(Category::Unordered));
        }

        #[test]
        fn infra_is_case_insensitive(upper in any::<bool>()) {
            let m = "Could Not Connect to server";
            let m = if upper { m.to_uppercase() } else { m.to_lowercase() };
            prop_assert!(is_infra(&m));
        }
    }
}
