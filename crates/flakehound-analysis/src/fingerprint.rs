//! Failure-message fingerprints: the same bug gives the same fingerprint.
//!
//! # Model
//!
//! A failure message is reduced to its *headline*, the first meaningful line (exception type and
//! message), and that line is normalised by masking everything that varies between two failures
//! of the same bug:
//!
//! | what                                             | becomes            |
//! |--------------------------------------------------|--------------------|
//! | quoted values `'…'`, `"…"`, `` `…` ``, `b'…'`      | `<str>`            |
//! | URLs `scheme://…`                                | `<url>`            |
//! | UUIDs `8-4-4-4-12`                               | `<uuid>`           |
//! | dates `2024-03-10`, `2024/03/10`                 | `<date>`           |
//! | timestamps `2024-03-10T12:00:01.5+02:00`         | `<ts>`             |
//! | times of day `12:00`, `12:00:01.123`             | `<time>`           |
//! | IPv4 addresses (with optional `:port`)           | `<ip>`             |
//! | `0x…` hex numbers and addresses                  | `<hex>`            |
//! | numbers: ints, floats, exponents, signs, units (`5.0s`, `120ms`, `3MiB`, `50%`) | `<n>` |
//! | numbers after a separator (`db-1`, `pytest-12`)   | `db-<n>`, `pytest-<n>` |
//! | ids: bare hex words (≥ 7 chars with a digit and a letter: SHAs, object ids), words with ≥ 3 digit runs (`a1b2c3`) or a run of ≥ 4 digits (`tmp8473`, `user12345`), words of ≥ 40 chars | `<id>` |
//! | values of `key=value` pairs whose value is a word (`host=db-a.internal`) | `key=<v>` |
//! | file paths (≥ 2 separators, or `~/`, `./`, `../`, `C:\` prefixed) | `<path>/` + file name |
//!
//! Other digits glued to letters are part of an identifier and stay (`psycopg2`, `int64`,
//! `sha256`, `log4j`), so such names remain readable.
//!
//! **Paths keep their file name** (itself normalised): `/home/ci/work/app/tests/test_orders.py`
//! becomes `<path>/test_orders.py`. The directory differs between runners and checkouts, but the
//! file name usually identifies the code involved, so two different files stay apart. Quoted
//! paths are quoted values and are masked whole.
//!
//! Then whitespace is collapsed, comma-separated runs of one placeholder are collapsed to one
//! (`[<n>, <n>, <n>]` → `[<n>]`, so lists of different lengths match), and the result is capped
//! at [`MAX_LEN`] characters.
//!
//! The headline is chosen as: the exception line after a Python `Traceback (most recent call
//! last):` header (its first unindented line); else, for multi-line pytest reports, the first
//! `E   …` line; else the first non-empty line that is not a stack frame (`at …`, `File "…"`) or a
//! separator (`----`, `====`, `____`).
//!
//! # Clusters and diversity
//!
//! [`cluster`] groups messages by fingerprint. [`diversity`] is the *normalised Shannon entropy*
//! of the cluster sizes, `H / ln N` with `H = −Σ (cᵢ/N) ln(cᵢ/N)` over clusters of sizes `cᵢ` and
//! `N = Σ cᵢ` messages: 0 when every failure has the same fingerprint, 1 when every failure has
//! a different one (0 when `N ≤ 1`). How to read it: a real bug fails the same way every time, so
//! *few consistent fingerprints* (diversity near 0 with many failures) point to a bug; a flake
//! fails wherever the timing or environment happens to break, so *varied fingerprints* (diversity
//! well above 0) point to a flake. It is one signal among several: a flake that always trips the
//! same assertion (an unordered comparison, say) also has diversity 0, and with few failures the
//! measure says little (with `N = 2` it is either 0 or 1), so weigh it by `N`.

use serde::Serialize;
use std::collections::HashMap;

/// Maximum length of a fingerprint, in characters.
pub const MAX_LEN: usize = 200;
/// Headline characters looked at before normalising (bounds the cost on huge messages).
const MAX_HEADLINE: usize = 2000;
/// Longest quoted value masked as `<str>`; longer "quotes" are left alone.
const MAX_QUOTED: usize = 1000;

const PLACEHOLDERS: [&str; 11] = [
    "<n>", "<hex>", "<id>", "<uuid>", "<ts>", "<date>", "<time>", "<ip>", "<str>", "<url>", "<v>",
];

const UNITS: [&str; 32] = [
    "ns", "us", "µs", "ms", "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "d", "days", "b", "kb", "mb", "gb", "tb", "kib",
    "mib", "gib", "tib", "k", "x",
];

/// The normalised fingerprint of a failure message (see the module docs). Empty for a message
/// with no visible text.
pub fn fingerprint(message: &str) -> String {
    let line = headline(message);
    let capped: String = line.chars().take(MAX_HEADLINE).collect();
    let normalised = collapse_lists(normalise(&capped));
    truncate(normalised.trim(), MAX_LEN)
}

/// The first meaningful line of a message, trimmed (see the module docs).
pub fn headline(message: &str) -> &str {
    let lines: Vec<&str> = message.lines().collect();
    if let Some(h) = lines.iter().position(|l| {
        l.trim_start()
            .starts_with("Traceback (most recent call last)")
    }) {
        if let Some(l) = lines[h + 1..]
            .iter()
            .find(|l| !l.trim().is_empty() && !l.starts_with(char::is_whitespace))
        {
            return l.trim();
        }
    }
    if lines.len() > 1 {
        if let Some(l) = lines.iter().find_map(|l| {
            l.strip_prefix("E ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
        }) {
            return l;
        }
    }
    let mut non_empty = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let first = non_empty.clone().next().unwrap_or("");
    non_empty.find(|l| !is_noise(l)).unwrap_or(first)
}

fn is_noise(line: &str) -> bool {
    line.starts_with("at ")
        || line.starts_with("File \"")
        || line.starts_with("Traceback")
        || line.starts_with("----")
        || line.starts_with("====")
        || line.starts_with("____")
}

/// One fingerprint with how many messages had it and the headline of the first such message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Cluster {
    pub fingerprint: String,
    pub count: u64,
    /// Headline of the first message with this fingerprint, capped at 500 characters.
    pub example: String,
}

/// Groups messages by fingerprint, largest cluster first (ties by fingerprint, so the order is
/// deterministic). Messages with an empty fingerprint carry no evidence and are skipped.
pub fn cluster<'a>(messages: impl IntoIterator<Item = &'a str>) -> Vec<Cluster> {
    let mut by_fp: HashMap<String, Cluster> = HashMap::new();
    for message in messages {
        let fp = fingerprint(message);
        if fp.is_empty() {
            continue;
        }
        by_fp
            .entry(fp)
            .and_modify(|c| c.count += 1)
            .or_insert_with_key(|fp| Cluster {
                fingerprint: fp.clone(),
                count: 1,
                example: truncate(headline(message), 500),
            });
    }
    let mut clusters: Vec<Cluster> = by_fp.into_values().collect();
    clusters.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    clusters
}

/// Normalised Shannon entropy of the cluster sizes, in `[0, 1]`: 0 = all failures look alike
/// (bug-like), 1 = every failure looks different (flake-like). See the module docs.
pub fn diversity(clusters: &[Cluster]) -> f64 {
    let total: u64 = clusters.iter().map(|c| c.count).sum();
    if total <= 1 {
        return 0.0;
    }
    let n = total as f64;
    let h: f64 = clusters
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| {
            let p = c.count as f64 / n;
            -p * p.ln()
        })
        .sum();
    (h / n.ln()).clamp(0.0, 1.0)
}

/// Share of all clustered messages in the largest cluster (0 when there are none).
pub fn top_share(clusters: &[Cluster]) -> f64 {
    let total: u64 = clusters.iter().map(|c| c.count).sum();
    match clusters.iter().map(|c| c.count).max() {
        Some(top) if total > 0 => top as f64 / total as f64,
        _ => 0.0,
    }
}

/// How the numbers of a message cluster vary across its failures (see [`value_variation`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Variation {
    /// Failures in the cluster.
    pub failures: usize,
    /// The cluster's shape, numbers masked as `#`.
    pub shape: String,
    /// Distinct values of the number slot that varies most.
    pub distinct: usize,
    /// A slot keeps one value across the failures (the expected value).
    pub fixed_slot: bool,
}

/// Words of a comparison: the message states an expected and an actual value.
const COMPARISON: [&str; 12] = [
    "<",
    ">",
    "==",
    "!=",
    "expected",
    "want",
    "got",
    "received",
    "but was",
    "exceeds",
    "actual",
    "should be",
];

/// The numbers of a message (standalone: not glued to letters, so `psycopg2` or `int64` are
/// not numbers; a `-` is a sign only after a space, `(`, `=`, `<`, `[` or the start) and its
/// shape with each number masked as `#`. Looks at the first three non-empty lines (Jest and
/// JUnit put the values on the lines after the headline), at most 400 characters.
pub fn numbers(message: &str) -> (String, Vec<f64>) {
    let text: String = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let cs: Vec<char> = text.chars().take(400).collect();
    let mut shape = String::new();
    let mut values = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let prev = i.checked_sub(1).map(|p| cs[p]);
        let glued = prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '.');
        let sign = cs[i] == '-'
            && prev.is_none_or(|p| " (=<[".contains(p))
            && cs.get(i + 1).is_some_and(char::is_ascii_digit);
        if !glued && (cs[i].is_ascii_digit() || sign) {
            let start = i;
            i += 1;
            while i < cs.len()
                && (cs[i].is_ascii_digit()
                    || (cs[i] == '.' && cs.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            if !cs.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                let token: String = cs[start..i].iter().collect();
                if let Ok(v) = token.parse::<f64>() {
                    values.push(v);
                    shape.push('#');
                    continue;
                }
            }
            shape.extend(&cs[start..i]);
            continue;
        }
        shape.push(cs[i]);
        i += 1;
    }
    (shape, values)
}

/// Value variation, the evidence of non-deterministic values: among messages that state a
/// comparison (`assert 4821 < 4790`, `expected: <97> but was: <133>`, `got 133, want <= 97`),
/// the largest group of one shape (numbers masked) with at least 3 failures, where one number
/// slot takes a different value in most failures (≥ 3 distinct values, at least half as many as
/// failures) while another slot keeps one value (the expected value is fixed, the actual one
/// varies), or two slots both vary without a fixed difference (a value computed from another
/// would keep it). Constant values (`expected: <true> but was: <false>`), or values that vary
/// in lockstep (`12.68`, got `12.67`), are not variation.
pub fn value_variation<'a>(messages: impl IntoIterator<Item = &'a str>) -> Option<Variation> {
    let mut groups: HashMap<String, Vec<Vec<f64>>> = HashMap::new();
    for m in messages {
        let (shape, values) = numbers(m);
        if values.len() < 2 {
            continue;
        }
        let lower = shape.to_lowercase();
        if !COMPARISON.iter().any(|w| lower.contains(w)) {
            continue;
        }
        groups.entry(shape).or_default().push(values);
    }
    let mut best: Option<Variation> = None;
    for (shape, rows) in groups {
        let n = rows.len();
        if n < 3 {
            continue;
        }
        let slots = rows[0].len();
        let distinct = |k: usize| {
            let mut v: Vec<u64> = rows.iter().map(|r| r[k].to_bits()).collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        let counts: Vec<usize> = (0..slots).map(distinct).collect();
        let varying: Vec<usize> = (0..slots)
            .filter(|&k| counts[k] >= 3 && 2 * counts[k] >= n)
            .collect();
        if varying.is_empty() {
            continue;
        }
        let fixed_slot = counts.contains(&1);
        let unlinked = varying.iter().enumerate().any(|(i, &a)| {
            varying[i + 1..].iter().any(|&b| {
                let d0 = rows[0][a] - rows[0][b];
                rows.iter().any(|r| ((r[a] - r[b]) - d0).abs() > 1e-9)
            })
        });
        // One varying slot needs a fixed one beside it (the expectation); several varying
        // slots must not move in lockstep.
        if !(if varying.len() >= 2 {
            unlinked
        } else {
            fixed_slot
        }) {
            continue;
        }
        let most = varying.iter().map(|&k| counts[k]).max().unwrap_or(0);
        let better = best
            .as_ref()
            .is_none_or(|b| (n, most) > (b.failures, b.distinct));
        if better {
            best = Some(Variation {
                failures: n,
                shape,
                distinct: most,
                fixed_slot,
            });
        }
    }
    best
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].trim_end().to_string(),
        None => s.to_string(),
    }
}

fn collapse_lists(mut s: String) -> String {
    for ph in PLACEHOLDERS {
        for sep in [", ", ","] {
            let pair = format!("{ph}{sep}{ph}");
            while s.contains(&pair) {
                s = s.replace(&pair, ph);
            }
        }
    }
    s
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn at(cs: &[char], i: usize) -> Option<char> {
    cs.get(i).copied()
}

/// True when position `i` is past the end or not a word character: a token may end there.
fn boundary(cs: &[char], i: usize) -> bool {
    !at(cs, i).is_some_and(is_word)
}

fn digits(cs: &[char], i: usize) -> usize {
    cs[i.min(cs.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

fn normalise(line: &str) -> String {
    let cs: Vec<char> = line.chars().collect();
    let n = cs.len();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < n {
        let c = cs[i];
        let prev = if i > 0 { Some(cs[i - 1]) } else { None };
        let word_start = !prev.is_some_and(is_word);
        if c.is_whitespace() {
            while i < n && cs[i].is_whitespace() {
                i += 1;
            }
            out.push(' ');
            continue;
        }
        if let Some(end) = quoted(&cs, i) {
            out.push_str("<str>");
            i = end;
            continue;
        }
        if word_start {
            if let Some(end) = url(&cs, i) {
                out.push_str("<url>");
                i = end;
                continue;
            }
            if let Some((end, ph)) = special(&cs, i) {
                out.push_str(ph);
                i = end;
                continue;
            }
            if let Some((end, base)) = path(&cs, i) {
                out.push_str("<path>/");
                out.push_str(&normalise(&base));
                i = end;
                continue;
            }
            if is_word(c) {
                let mut j = i;
                while j < n && is_word(cs[j]) {
                    j += 1;
                }
                push_word(&mut out, &cs[i..j]);
                i = j;
                // key=value with a word value: mask the value.
                if at(&cs, i) == Some('=') && at(&cs, i + 1).is_some_and(char::is_alphabetic) {
                    let mut j = i + 1;
                    while j < n && !cs[j].is_whitespace() && !",;)]}>&\"'".contains(cs[j]) {
                        j += 1;
                    }
                    out.push_str("=<v>");
                    i = j;
                }
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A quoted value starting at `i`: returns the index after the closing quote.
fn quoted(cs: &[char], i: usize) -> Option<usize> {
    let (q, start) = match cs[i] {
        q @ ('"' | '`') => (q, i),
        '\'' => {
            // An apostrophe inside a word ("don't") is not a quote, except a string prefix (b'', r'').
            let prev = if i > 0 { Some(cs[i - 1]) } else { None };
            let prefix =
                prev.is_some_and(|p| "brufBRUF".contains(p)) && (i < 2 || !is_word(cs[i - 2]));
            if prev.is_some_and(is_word) && !prefix {
                return None;
            }
            ('\'', i)
        }
        _ => return None,
    };
    let mut j = start + 1;
    while j < cs.len() && j - start <= MAX_QUOTED {
        match cs[j] {
            '\\' => j += 2,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

fn url(cs: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    while j < cs.len() && (cs[j].is_ascii_alphanumeric() || "+-.".contains(cs[j])) {
        j += 1;
    }
    if j == i || !cs[i].is_ascii_alphabetic() {
        return None;
    }
    if at(cs, j) != Some(':') || at(cs, j + 1) != Some('/') || at(cs, j + 2) != Some('/') {
        return None;
    }
    j += 3;
    while j < cs.len() && !cs[j].is_whitespace() && !"\"'`)]>,;".contains(cs[j]) {
        j += 1;
    }
    Some(j)
}

/// Tokens with a fixed shape starting at a word start: UUIDs, dates, times, IPs, hex, numbers.
fn special(cs: &[char], i: usize) -> Option<(usize, &'static str)> {
    let c = cs[i];
    if c.is_ascii_hexdigit() {
        if let Some(end) = uuid(cs, i) {
            return Some((end, "<uuid>"));
        }
    }
    if c == '-' || c == '+' {
        let prev = if i > 0 { Some(cs[i - 1]) } else { None };
        if at(cs, i + 1).is_some_and(|d| d.is_ascii_digit())
            && !prev.is_some_and(|p| ")]".contains(p))
        {
            return number(cs, i + 1).map(|end| (end, "<n>"));
        }
        return None;
    }
    if !c.is_ascii_digit() {
        return None;
    }
    if let Some(r) = date(cs, i) {
        return Some(r);
    }
    if let Some(end) = time(cs, i) {
        return Some((end, "<time>"));
    }
    if let Some(end) = ipv4(cs, i) {
        return Some((end, "<ip>"));
    }
    if c == '0' && matches!(at(cs, i + 1), Some('x' | 'X')) {
        let h = cs[i + 2..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if h > 0 && boundary(cs, i + 2 + h) {
            return Some((i + 2 + h, "<hex>"));
        }
    }
    number(cs, i).map(|end| (end, "<n>"))
}

fn uuid(cs: &[char], i: usize) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut j = i;
    for (g, len) in groups.iter().enumerate() {
        if g > 0 {
            if at(cs, j) != Some('-') {
                return None;
            }
            j += 1;
        }
        for _ in 0..*len {
            if !at(cs, j).is_some_and(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            j += 1;
        }
    }
    boundary(cs, j).then_some(j)
}

fn date(cs: &[char], i: usize) -> Option<(usize, &'static str)> {
    if digits(cs, i) != 4 {
        return None;
    }
    let sep = at(cs, i + 4).filter(|s| *s == '-' || *s == '/')?;
    let m = digits(cs, i + 5);
    if !(1..=2).contains(&m) || at(cs, i + 5 + m) != Some(sep) {
        return None;
    }
    let d = digits(cs, i + 6 + m);
    if !(1..=2).contains(&d) {
        return None;
    }
    let end = i + 6 + m + d;
    if matches!(at(cs, end), Some('T' | ' ')) && at(cs, end + 1).is_some_and(|c| c.is_ascii_digit())
    {
        if let Some(t) = time(cs, end + 1) {
            return Some((t, "<ts>"));
        }
    }
    boundary(cs, end).then_some((end, "<date>"))
}

/// `H:MM[:SS][.fff][Z|±HH:MM]`.
fn time(cs: &[char], i: usize) -> Option<usize> {
    let h = digits(cs, i);
    if !(1..=2).contains(&h) || at(cs, i + h) != Some(':') || digits(cs, i + h + 1) != 2 {
        return None;
    }
    let mut j = i + h + 3;
    if at(cs, j) == Some(':') && digits(cs, j + 1) == 2 {
        j += 3;
    }
    if matches!(at(cs, j), Some('.' | ',')) && digits(cs, j + 1) > 0 {
        j += 1 + digits(cs, j + 1);
    }
    if at(cs, j) == Some('Z') {
        j += 1;
    } else if matches!(at(cs, j), Some('+' | '-')) && digits(cs, j + 1) == 2 {
        let k = j + 3;
        j = if at(cs, k) == Some(':') && digits(cs, k + 1) == 2 {
            k + 3
        } else if digits(cs, k) == 2 {
            k + 2
        } else {
            k
        };
    }
    boundary(cs, j).then_some(j)
}

fn ipv4(cs: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    for part in 0..4 {
        if part > 0 {
            if at(cs, j) != Some('.') {
                return None;
            }
            j += 1;
        }
        let d = digits(cs, j);
        if !(1..=3).contains(&d) {
            return None;
        }
        j += d;
    }
    if at(cs, j) == Some(':') && digits(cs, j + 1) > 0 {
        j += 1 + digits(cs, j + 1);
    }
    (boundary(cs, j) && !(at(cs, j) == Some('.') && digits(cs, j + 1) > 0)).then_some(j)
}

/// `digits[.digits][e±digits][unit|%]`, ending at a word boundary.
fn number(cs: &[char], i: usize) -> Option<usize> {
    let mut j = i + digits(cs, i);
    if j == i {
        return None;
    }
    if at(cs, j) == Some('.') && digits(cs, j + 1) > 0 {
        j += 1 + digits(cs, j + 1);
    }
    if matches!(at(cs, j), Some('e' | 'E')) {
        let k = if matches!(at(cs, j + 1), Some('+' | '-')) {
            j + 2
        } else {
            j + 1
        };
        if digits(cs, k) > 0 {
            j = k + digits(cs, k);
        }
    }
    if at(cs, j) == Some('%') {
        return Some(j + 1);
    }
    let letters = cs[j..].iter().take_while(|c| c.is_alphabetic()).count();
    if letters > 0 {
        let unit: String = cs[j..j + letters].iter().collect::<String>().to_lowercase();
        if UNITS.contains(&unit.as_str()) && boundary(cs, j + letters) {
            return Some(j + letters);
        }
        return None;
    }
    boundary(cs, j).then_some(j)
}

/// A path starting at `i` (a word start): returns its end and its file name.
fn path(cs: &[char], i: usize) -> Option<(usize, String)> {
    let is_path_char = |c: char| is_word(c) || "./\\-~+@%".contains(c);
    let drive = cs[i].is_ascii_alphabetic()
        && at(cs, i + 1) == Some(':')
        && matches!(at(cs, i + 2), Some('\\' | '/'));
    let start = if drive { i + 2 } else { i };
    if !is_path_char(cs[start]) {
        return None;
    }
    let mut end = start;
    while end < cs.len() && is_path_char(cs[end]) {
        end += 1;
    }
    while end > start && ".,".contains(cs[end - 1]) {
        end -= 1;
    }
    let token: String = cs[start..end].iter().collect();
    let seps = token.chars().filter(|c| *c == '/' || *c == '\\').count();
    let rooted = drive
        || token.starts_with("~/")
        || token.starts_with("./")
        || token.starts_with("../")
        || token.starts_with(".\\");
    if seps >= 2 || (rooted && seps >= 1) {
        let base = token.rsplit(['/', '\\']).next().unwrap_or("").to_string();
        Some((end, base))
    } else {
        None
    }
}

fn push_word(out: &mut String, word: &[char]) {
    let len = word.len();
    let has_digit = word.iter().any(|c| c.is_ascii_digit());
    let all_hex = word.iter().all(|c| c.is_ascii_hexdigit());
    let mut runs = 0;
    let mut longest = 0;
    let mut current = 0;
    for c in word {
        if c.is_ascii_digit() {
            if current == 0 {
                runs += 1;
            }
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    let hex_id = all_hex && len >= 7 && has_digit && word.iter().any(|c| c.is_ascii_alphabetic());
    if hex_id || runs >= 3 || longest >= 4 || len >= 40 {
        out.push_str("<id>");
    } else {
        out.extend(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: &str, b: &str) {
        assert_eq!(fingerprint(a), fingerprint(b), "\n{a}\n{b}");
    }

    fn differ(a: &str, b: &str) {
        assert_ne!(fingerprint(a), fingerprint(b), "\n{a}\n{b}");
    }

    #[test]
    fn numbers_are_masked() {
        assert_eq!(
            fingerprint("AssertionError: assert order.total == 173.00"),
            "AssertionError: assert order.total == <n>"
        );
        same(
            "AssertionError: assert order.total == 173.00",
            "AssertionError: assert order.total == 518.00",
        );
        same("took 5.0s (limit 3s)", "took 120ms (limit 1e3s)");
        same("expected -5 got 7", "expected 12 got -3.5e-7");
        same("used 95% of 2GiB", "used 3% of 512MiB");
        assert_eq!(fingerprint("x == 1.5E+10"), "x == <n>");
    }

    #[test]
    fn hosts_ports_and_key_values_are_masked() {
        let a = "psycopg2.OperationalError: could not connect to server: Connection refused (host=db-1.internal port=5432)";
        let b = "psycopg2.OperationalError: could not connect to server: Connection refused (host=db-2.internal port=6432)";
        let c = "psycopg2.OperationalError: could not connect to server: Connection refused (host=replica.internal port=5432)";
        same(a, b);
        same(a, c);
        assert_eq!(
            fingerprint(a),
            "psycopg2.OperationalError: could not connect to server: Connection refused (host=<v> port=<n>)"
        );
        same(
            "connect to 10.0.0.12:5432 failed",
            "connect to 192.168.1.1:80 failed",
        );
        same(
            "GET http://api-3.example.com/v1/orders?id=7 returned 503",
            "GET https://api.example.com/v2/users returned 502",
        );
    }

    #[test]
    fn hex_uuids_and_ids_are_masked() {
        same(
            "<Order object at 0x7f3a2c1d9e80> is not valid",
            "<Order object at 0x10aa> is not valid",
        );
        same(
            "missing order 123e4567-e89b-12d3-a456-426614174000",
            "missing order 00000000-0000-0000-0000-00000000000a",
        );
        same("commit 3f2a9c1 not found", "commit deadbee1cafe not found");
        same("token a1b2c3d4e5 expired", "token x9y8z7w6 expired");
        same("user12345 not found", "user98765 not found");
        same("worker-3 crashed", "worker-12 crashed");
        assert_eq!(
            fingerprint("psycopg2 int64 sha256 log4j"),
            "psycopg2 int64 sha256 log4j"
        );
        assert_eq!(fingerprint("deadbeef stays"), "deadbeef stays");
    }

    #[test]
    fn dates_and_times_are_masked() {
        same(
            "expected 2024-03-10 but was 2024-03-11",
            "expected 2023-12-31 but was 2024-01-01",
        );
        same(
            "at 2024-03-10T02:30:00.123+01:00 job failed",
            "at 2025-01-01 23:59:59Z job failed",
        );
        same(
            "started 12:03:44.120 ended 12:04",
            "started 1:00:00 ended 23:59",
        );
        assert_eq!(fingerprint("on 2024/01/02"), "on <date>");
    }

    #[test]
    fn paths_keep_the_file_name() {
        let a = "FileNotFoundError: /home/runner/work/app/tests/data/fixture.json";
        let b = "FileNotFoundError: /Users/dev/src/app/tests/data/fixture.json";
        same(a, b);
        assert_eq!(fingerprint(a), "FileNotFoundError: <path>/fixture.json");
        differ(
            a,
            "FileNotFoundError: /home/runner/work/app/tests/data/other.json",
        );
        same(
            r"error in C:\agent\_work\1\s\src\main.rs:12",
            "error in ./src/main.rs:99",
        );
        same(
            "cannot write /tmp/pytest-of-runner/pytest-12/out0/result.txt",
            "cannot write /tmp/pytest-of-ci/pytest-7/out3/result.txt",
        );
    }

    #[test]
    fn quoted_values_are_masked() {
        same("KeyError: 'user_42'", "KeyError: 'account'");
        same(
            r#"expected "hello world" got "bye""#,
            r#"expected "x" got "it's \"quoted\"""#,
        );
        same("b'abc' != b'abd'", "b'x' != b'y'");
        assert_eq!(fingerprint("don't panic"), "don't panic");
    }

    #[test]
    fn lists_collapse_and_whitespace_normalises() {
        same("assert [1, 2, 3] == [1, 2]", "assert [4, 5] == [6]");
        same("a   \t b", "a b");
        assert_eq!(fingerprint("  spaced   out  "), "spaced out");
    }

    #[test]
    fn headline_picks_the_meaningful_line() {
        let tb = "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n    foo()\nValueError: bad value 17\n";
        assert_eq!(headline(tb), "ValueError: bad value 17");
        assert_eq!(fingerprint(tb), "ValueError: bad value <n>");
        let pytest = "def test_total():\n>       assert order.total == 173.00\nE       AssertionError: assert 518.0 == 173.0\nE        +  where 518.0 = total()";
        assert_eq!(headline(pytest), "AssertionError: assert 518.0 == 173.0");
        let java = "java.lang.AssertionError: expected:<5> but was:<6>\n\tat org.junit.Assert.fail(Assert.java:88)";
        assert_eq!(
            fingerprint(java),
            "java.lang.AssertionError: expected:<<n>> but was:<<n>>"
        );
        assert_eq!(headline("\n\n  \n"), "");
        assert_eq!(headline("----\n"), "----");
    }

    #[test]
    fn fingerprints_are_capped() {
        let long = "word ".repeat(500);
        assert!(fingerprint(&long).chars().count() <= MAX_LEN);
        let unicode = "é".repeat(5000);
        assert!(fingerprint(&unicode).chars().count() <= MAX_LEN);
    }

    #[test]
    fn clusters_sorted_and_diversity() {
        let msgs = [
            "assert total == 1",
            "assert total == 2",
            "assert total == 3",
            "timeout after 5s",
            "",
        ];
        let c = cluster(msgs.iter().copied());
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].fingerprint, "assert total == <n>");
        assert_eq!(c[0].count, 3);
        assert_eq!(c[0].example, "assert total == 1");
        assert_eq!(c[1].count, 1);
        assert_eq!(top_share(&c), 0.75);
        let d = diversity(&c);
        assert!(d > 0.0 && d < 1.0, "{d}");

        let same = cluster(["x 1", "x 2", "x 3"]);
        assert_eq!(diversity(&same), 0.0);
        let all = cluster(["a", "b", "c", "d"]);
        assert!((diversity(&all) - 1.0).abs() < 1e-12);
        assert_eq!(diversity(&[]), 0.0);
        assert_eq!(top_share(&[]), 0.0);
    }

    proptest! {
        #[test]
        fn never_panics_and_is_bounded(s in "\\PC{0,400}") {
            let fp = fingerprint(&s);
            prop_assert!(fp.chars().count() <= MAX_LEN);
            prop_assert_eq!(fp.trim(), fp.as_str());
            prop_assert!(!fp.contains("  "));
        }

        #[test]
        fn shaped_input_never_panics(s in "[0-9a-fx:./\\\\ '\"=_-]{0,200}") {
            let _ = fingerprint(&s);
        }

        #[test]
        fn idempotent_on_numbers(a in 0u64..1_000_000, b in 0u64..1_000_000, fa in 0u32..100, fb in 0u32..100) {
            let x = format!("Error: expected {a}.{fa} got {b} after {fb}ms");
            let y = format!("Error: expected {b}.{fb} got {a} after {fa}ms");
            prop_assert_eq!(fingerprint(&x), fingerprint(&y));
        }

        #[test]
        fn diversity_in_unit_interval(msgs in proptest::collection::vec("[a-c]{1,2}", 0..50)) {
            let c = cluster(msgs.iter().map(String::as_str));
            let d = diversity(&c);
            prop_assert!((0.0..=1.0).contains(&d));
            let total: u64 = c.iter().map(|c| c.count).sum();
            prop_assert_eq!(total, msgs.len() as u64);
            prop_assert!(c.windows(2).all(|w| w[0].count >= w[1].count));
        }
    }
}

#[cfg(test)]
mod variation_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_are_standalone() {
        let (shape, v) = numbers("assert 4821 < 4790 in psycopg2 at int64 -3 x-1");
        assert_eq!(shape, "assert # < # in psycopg2 at int64 # x-#");
        assert_eq!(v, vec![4821.0, 4790.0, -3.0, 1.0]);
        let (_, v) = numbers(
            "Error: expect(received).toBeLessThan(expected)\n\nExpected: < 97\nReceived:   133",
        );
        assert_eq!(v, vec![97.0, 133.0]);
    }

    #[test]
    fn varying_actual_against_a_fixed_bound_is_variation() {
        let m = [
            "assert 4821 < 4790",
            "assert 133 < 4790",
            "assert 9000 < 4790",
        ];
        let v = value_variation(m).expect("variation");
        assert_eq!((v.failures, v.distinct, v.fixed_slot), (3, 3, true));
        // Both vary, unlinked.
        assert!(value_variation(["got 3, want 9", "got 8, want 1", "got 5, want 4"]).is_some());
    }

    #[test]
    fn constant_or_lockstep_values_are_not() {
        let same = ["expected: <1> but was: <2>"; 5];
        assert_eq!(value_variation(same), None);
        // One value computed from the other: both vary, the difference is fixed.
        let lockstep = [
            "assert round(x, 2) == 12.68 (got 12.67)",
            "assert round(x, 2) == 40.68 (got 40.67)",
            "assert round(x, 2) == 3.68 (got 3.67)",
        ];
        assert_eq!(value_variation(lockstep), None);
        // No comparison: a varying number in a plain message.
        assert_eq!(
            value_variation([
                "worker 3 crashed 1",
                "worker 9 crashed 1",
                "worker 7 crashed 1"
            ]),
            None
        );
        // Too few failures.
        assert_eq!(value_variation(["assert 1 < 0", "assert 5 < 0"]), None);
    }

    proptest! {
        /// Fresh actual values against one bound are variation whenever they are mostly
        /// distinct; the same message repeated never is.
        #[test]
        fn fresh_values_vary_repeats_do_not(bound in 1i64..10_000, draws in proptest::collection::btree_set(0i64..100_000, 3..12)) {
            let msgs: Vec<String> = draws.iter().map(|x| format!("AssertionError: assert {x} < {bound}")).collect();
            let v = value_variation(msgs.iter().map(String::as_str));
            prop_assert!(v.is_some());
            let repeated = vec![msgs[0].clone(); msgs.len()];
            prop_assert!(value_variation(repeated.iter().map(String::as_str)).is_none());
        }

        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = numbers(&s);
            let _ = value_variation([s.as_str(), s.as_str(), s.as_str()]);
        }
    }
}
