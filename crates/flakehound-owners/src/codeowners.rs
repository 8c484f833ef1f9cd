//! CODEOWNERS parsing and matching (GitHub semantics; see the crate docs).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where GitHub looks for the file, in order; the first one found is used.
pub const CODEOWNERS_LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// GitHub ignores CODEOWNERS files of 3 MB or more.
pub const MAX_CODEOWNERS_BYTES: u64 = 3 * 1024 * 1024;

/// A parsed CODEOWNERS file: its valid rules plus the lines that were skipped.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
    errors: Vec<ParseError>,
    path: Option<PathBuf>,
}

/// One valid `pattern owner…` line.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line number in the file.
    pub line: usize,
    /// The pattern as written (escapes kept).
    pub pattern: String,
    /// Owners (`@user`, `@org/team` or an e-mail address); empty means un-assigned.
    pub owners: Vec<String>,
    matcher: Pattern,
}

impl Rule {
    /// Whether this rule's pattern matches a repository-relative path.
    pub fn matches(&self, path: &str) -> bool {
        let norm = normalize_path(path);
        let segs: Vec<&str> = norm.split('/').filter(|s| !s.is_empty()).collect();
        !segs.is_empty() && self.matcher.matches(&segs)
    }
}

/// A line that was skipped because it is not valid CODEOWNERS syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// Why the line was skipped.
    pub message: String,
    /// The offending line, trimmed.
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.message, self.text)
    }
}

impl std::error::Error for ParseError {}

impl CodeOwners {
    /// Finds and parses the CODEOWNERS file where GitHub looks for it
    /// (`.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`; first found wins).
    ///
    /// `Ok(None)` when there is no such file (or it is too large for GitHub to use);
    /// `Err` only for I/O errors other than "not found" on the file that exists.
    pub fn discover(repo_root: impl AsRef<Path>) -> io::Result<Option<Self>> {
        let root = repo_root.as_ref();
        for rel in CODEOWNERS_LOCATIONS {
            let path = root.join(rel);
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.len() >= MAX_CODEOWNERS_BYTES {
                return Ok(None);
            }
            let bytes = std::fs::read(&path)?;
            let text = String::from_utf8_lossy(&bytes);
            let mut parsed = Self::parse(&text);
            parsed.path = Some(path);
            return Ok(Some(parsed));
        }
        Ok(None)
    }

    /// Parses CODEOWNERS text. Never fails: invalid lines are skipped and
    /// reported through [`CodeOwners::errors`], as GitHub does.
    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        // GitLab section default owners, applied to owner-less entries in the section.
        let mut section_defaults: Vec<String> = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| ParseError {
                line: line_no,
                message,
                text: line.to_string(),
            };
            if line.starts_with('[') || line.starts_with("^[") {
                match parse_section(line) {
                    Ok(defaults) => section_defaults = defaults,
                    Err(m) => errors.push(err(m)),
                }
                continue;
            }
            let tokens = tokenize(line);
            let mut tokens = tokens.into_iter();
            let Some(pattern) = tokens.next() else {
                continue;
            };
            let mut owners = Vec::new();
            let mut bad_owner = None;
            for tok in tokens {
                if tok.starts_with('#') {
                    break; // inline comment
                }
                if !valid_owner(&tok) {
                    bad_owner = Some(tok);
                    break;
                }
                owners.push(tok);
            }
            if let Some(bad) = bad_owner {
                errors.push(err(format!("invalid owner `{bad}`")));
                continue;
            }
            let matcher = match Pattern::compile(&pattern) {
                Ok(m) => m,
                Err(m) => {
                    errors.push(err(m));
                    continue;
                }
            };
            if owners.is_empty() {
                owners = section_defaults.clone();
            }
            rules.push(Rule {
                line: line_no,
                pattern,
                owners,
                matcher,
            });
        }
        Self {
            rules,
            errors,
            path: None,
        }
    }

    /// The owners of a repository-relative path (`/` or `\` separated; a
    /// leading `./` or `/` is ignored): those of the last matching rule.
    /// `None` when no rule matches or the last match has no owners.
    pub fn owners_of(&self, path: &str) -> Option<&[String]> {
        self.matching_rule(path)
            .map(|r| r.owners.as_slice())
            .filter(|o| !o.is_empty())
    }

    /// The last rule matching `path` (even one with no owners), if any.
    pub fn matching_rule(&self, path: &str) -> Option<&Rule> {
        let norm = normalize_path(path);
        let segs: Vec<&str> = norm.split('/').filter(|s| !s.is_empty()).collect();
        if segs.is_empty() {
            return None;
        }
        self.rules.iter().rev().find(|r| r.matcher.matches(&segs))
    }

    /// Valid rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Lines skipped as invalid, in file order.
    pub fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    /// The file this was read from, when built by [`CodeOwners::discover`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

fn normalize_path(path: &str) -> String {
    let p = path.replace('\\', "/");
    let mut s = p.as_str();
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            break;
        }
    }
    s.to_string()
}

/// Splits on unescaped whitespace; `\ ` keeps a space inside a token and the
/// backslash is kept (patterns interpret escapes themselves).
fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn valid_owner(tok: &str) -> bool {
    if let Some(handle) = tok.strip_prefix('@') {
        // @user or @org/team
        let mut parts = handle.split('/');
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match (parts.next(), parts.next(), parts.next()) {
            (Some(u), None, None) => ok_part(u),
            (Some(o), Some(t), None) => ok_part(o) && ok_part(t),
            _ => false,
        }
    } else if let Some((local, domain)) = tok.split_once('@') {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !tok.contains(['<', '>', '/', '\\'])
    } else {
        false
    }
}

/// `[Name]`, `^[Name]`, `[Name][2]`, optionally followed by default owners.
fn parse_section(line: &str) -> Result<Vec<String>, String> {
    let body = line.strip_prefix('^').unwrap_or(line);
    let body = body.strip_prefix('[').ok_or("malformed section header")?;
    let close = body.find(']').ok_or("unterminated section header")?;
    if body[..close].trim().is_empty() {
        return Err("empty section name".into());
    }
    let mut rest = &body[close + 1..];
    if let Some(r) = rest.strip_prefix('[') {
        let end = r.find(']').ok_or("unterminated approval count")?;
        if r[..end].is_empty() || !r[..end].chars().all(|c| c.is_ascii_digit()) {
            return Err("invalid approval count".into());
        }
        rest = &r[end + 1..];
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err("malformed section header".into());
    }
    let mut owners = Vec::new();
    for tok in rest.split_whitespace() {
        if tok.starts_with('#') {
            break;
        }
        if !valid_owner(tok) {
            return Err(format!("invalid owner `{tok}`"));
        }
        owners.push(tok.to_string());
    }
    Ok(owners)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Star,
    /// Only while compiling: a run of two or more `*`.
    DoubleStar,
    Question,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// `**`: zero or more whole path segments.
    AnyDirs,
    Glob(Vec<Tok>),
}

#[derive(Debug, Clone)]
struct Pattern {
    segs: Vec<Seg>,
    /// Trailing `/`: matches only what is inside a directory.
    dir_only: bool,
    /// Last segment is a lone `*` (`docs/*`): direct children only.
    children_only: bool,
}

impl Pattern {
    fn compile(raw: &str) -> Result<Self, String> {
        if raw.starts_with('!') {
            return Err("negated patterns (`!`) are not supported in CODEOWNERS".into());
        }
        // Split on unescaped '/', resolving escapes into literal tokens.
        let mut segs_raw: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            let cur = segs_raw.last_mut().expect("never empty");
            match c {
                '\\' => match chars.next() {
                    Some(n) => cur.push(Tok::Lit(n)),
                    None => return Err("pattern ends with a lone `\\`".into()),
                },
                '/' => segs_raw.push(Vec::new()),
                '*' => {
                    // Collapse runs of `*`; `**` is only special as a whole segment.
                    let mut n = 1;
                    while chars.peek() == Some(&'*') {
                        chars.next();
                        n += 1;
                    }
                    cur.push(if n >= 2 { Tok::DoubleStar } else { Tok::Star });
                }
                '?' => cur.push(Tok::Question),
                '[' | ']' => {
                    return Err("character ranges (`[ ]`) are not supported in CODEOWNERS".into());
                }
                c => cur.push(Tok::Lit(c)),
            }
        }
        let anchored_lead = segs_raw.len() > 1 && segs_raw[0].is_empty();
        if anchored_lead {
            segs_raw.remove(0);
        }
        let dir_only = segs_raw.len() > 1 && segs_raw.last().is_some_and(|s| s.is_empty());
        if dir_only {
            segs_raw.pop();
        }
        if segs_raw.iter().any(|s| s.is_empty()) {
            return Err("empty path segment in pattern".into());
        }
        // A slash at the start or in the middle anchors the pattern to the root.
        let anchored = anchored_lead || segs_raw.len() > 1;
        let mut segs: Vec<Seg> = segs_raw
            .into_iter()
            .map(|toks| {
                if toks == [Tok::DoubleStar] {
                    Seg::AnyDirs
                } else {
                    // `**` inside a segment behaves like `*`.
                    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
                    for mut t in toks {
                        if t == Tok::DoubleStar {
                            t = Tok::Star;
                        }
                        if t == Tok::Star && out.last() == Some(&Tok::Star) {
                            continue;
                        }
                        out.push(t);
                    }
                    Seg::Glob(out)
                }
            })
            .collect();
        let children_only = segs.len() > 1 && segs.last() == Some(&Seg::Glob(vec![Tok::Star]));
        if !anchored && segs.first() != Some(&Seg::AnyDirs) {
            segs.insert(0, Seg::AnyDirs);
        }
        Ok(Self {
            segs,
            dir_only,
            children_only,
        })
    }

    /// Matches the path itself, or (unless `children_only`) any directory
    /// containing it; with `dir_only`, only containing directories.
    fn matches(&self, path: &[&str]) -> bool {
        let n = path.len();
        if self.children_only {
            return !self.dir_only && match_segs(&self.segs, path);
        }
        let max = if self.dir_only { n - 1 } else { n };
        (1..=max).any(|len| match_segs(&self.segs, &path[..len]))
    }
}

fn match_segs(pats: &[Seg], path: &[&str]) -> bool {
    match pats.split_first() {
        None => path.is_empty(),
        Some((Seg::AnyDirs, rest)) => {
            // A trailing `**` needs at least one segment (`docs/**` is inside docs).
            let min = usize::from(rest.is_empty());
            (min..=path.len()).any(|skip| match_segs(rest, &path[skip..]))
        }
        Some((Seg::Glob(toks), rest)) => match path.split_first() {
            Some((first, tail)) => {
                let chars: Vec<char> = first.chars().collect();
                match_glob(toks, &chars) && match_segs(rest, tail)
            }
            None => false,
        },
    }
}

fn match_glob(toks: &[Tok], s: &[char]) -> bool {
    match toks.split_first() {
        None => s.is_empty(),
        Some((Tok::Star | Tok::DoubleStar, rest)) => {
            (0..=s.len()).any(|i| match_glob(rest, &s[i..]))
        }
        Some((Tok::Question, rest)) => !s.is_empty() && match_glob(rest, &s[1..]),
        Some((Tok::Lit(c), rest)) => s.first() == Some(c) && match_glob(rest, &s[1..]),
    }
}
