//! Bounded memory whatever the input: byte-stream filters that cut long text *before* any parser
//! buffers it.
//!
//! quick-xml hands out a text node or a start tag as one event, and serde_json a string as one
//! value, so a 600 MB `<system-out>` or a 300 MB `message=` attribute would be held whole (and
//! copied a few times) before any per-record cap could apply. These filters sit between the
//! input and the parser and rewrite the byte stream instead: every text run (XML character data,
//! CDATA, comment and processing-instruction content, attribute values; JSON string literals)
//! longer than [`KEEP`] bytes keeps its first and last [`KEEP`] bytes around a marker such as
//! `[... 598.3 MB cut by flakehound ...]`. A run is never held whole: the head is passed through
//! as it arrives, the tail lives in a ring of [`KEEP`] bytes.
//!
//! Cuts only fall between characters: never inside a UTF-8 sequence, an XML entity reference
//! or a JSON escape (nor between the two halves of a `\uD83D\uDE00` surrogate pair), so the
//! rewritten stream is exactly as well-formed as the original. Head, marker and tail together
//! stay under [`flakehound_model::MAX_TEXT`], so the per-record cap ([`flakehound_model::trim_text`])
//! keeps the marker that says how much was cut.
//!
//! What cannot be cut without changing the document's structure is refused instead: a start
//! tag, or a DOCTYPE, whose markup (attribute values excluded, they are cut) exceeds
//! [`MAX_MARKUP`].

use std::collections::VecDeque;
use std::io::{self, Read};

/// Bytes kept at each end of a long text run. Head + marker + tail < `MAX_TEXT`.
pub const KEEP: usize = (flakehound_model::MAX_TEXT - 192) / 2;

/// Longest start tag or DOCTYPE accepted, attribute values not counted (they are cut).
pub const MAX_MARKUP: usize = 1024 * 1024;

/// How far past [`KEEP`] a head may run while looking for a character boundary (a UTF-8
/// sequence, an entity or a JSON escape with its surrogate pair are all shorter).
const SLACK: u64 = 16;

/// `598.3 MB`, `12.0 kB`, `900 bytes`: decimal units, as file sizes are usually shown.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    for (size, unit) in UNITS {
        if n as f64 >= size {
            return format!("{:.1} {unit}", n as f64 / size);
        }
    }
    format!("{n} bytes")
}

/// The text that replaces `cut` bytes.
pub fn marker(cut: u64) -> String {
    format!("[... {} cut by flakehound ...]", human_bytes(cut))
}

/// Where cutting is safe, for the syntax of the text being cut.
#[derive(Clone, Copy, Default)]
struct Boundary {
    json: bool,
    /// JSON: escape bytes still to come (`\` seen: 1; `\u` seen: 4 hex digits).
    esc_left: u8,
    /// JSON: inside `\u` hex digits (as opposed to a one-character escape).
    hex: bool,
    hex_value: u16,
    /// JSON: the last escape was a high surrogate; its low half must stay with it.
    after_high: bool,
    /// XML: bytes since an unterminated `&` (0: none).
    entity: u8,
}

impl Boundary {
    fn new(json: bool) -> Self {
        Boundary {
            json,
            ..Boundary::default()
        }
    }

    fn feed(&mut self, b: u8) {
        if self.json {
            if self.esc_left > 0 {
                if self.hex {
                    let digit = (b as char).to_digit(16).unwrap_or(0) as u16;
                    self.hex_value = (self.hex_value << 4) | digit;
                    self.esc_left -= 1;
                    if self.esc_left == 0 {
                        self.hex = false;
                        self.after_high = (0xD800..0xDC00).contains(&self.hex_value);
                    }
                } else if b == b'u' {
                    self.hex = true;
                    self.hex_value = 0;
                    self.esc_left = 4;
                } else {
                    self.esc_left = 0;
                    self.after_high = false;
                }
            } else if b == b'\\' {
                self.esc_left = 1;
            } else if b & 0xC0 != 0x80 {
                self.after_high = false;
            }
        } else if b == b'&' {
            self.entity = 1;
        } else if self.entity > 0 {
            // Entity names are short; a lone `&` (invalid, but seen) must not block cutting.
            self.entity = if b == b';' || self.entity > 12 {
                0
            } else {
                self.entity + 1
            };
        }
    }

    /// [`Boundary::feed`] for a whole slice. XML only cares about the last `&` and what
    /// follows it, found without looking at every byte (most text has none).
    fn feed_all(&mut self, bytes: &[u8]) {
        if self.json {
            for &b in bytes {
                self.feed(b);
            }
            return;
        }
        let from = match memchr::memrchr(b'&', bytes) {
            Some(i) => {
                self.entity = 0;
                i
            }
            None if self.entity == 0 => return,
            None => 0,
        };
        for &b in &bytes[from..] {
            self.feed(b);
        }
    }

    /// Whether a cut may fall just before `next`.
    fn safe_before(&self, next: u8) -> bool {
        next & 0xC0 != 0x80
            && self.esc_left == 0
            && self.entity == 0
            && !(self.after_high && next == b'\\')
    }
}

/// A filter that writes its output into its own buffer, a chunk of input at a time. Every
/// filter here serves that buffer the same way ([`filtered_io!`]): as `BufRead`, so the parser
/// reads the bytes where the filter wrote them, and as `Read`.
trait Refill {
    /// The output and how much of it was consumed.
    fn output(&mut self) -> (&[u8], &mut usize);
    /// Replaces the output (all consumed) with the output for the next chunk of input;
    /// `false` at the end of the input (after flushing what was kept). A chunk may produce no
    /// output.
    fn refill(&mut self) -> io::Result<bool>;
}

fn fill_buf<F: Refill>(filter: &mut F) -> io::Result<&[u8]> {
    loop {
        let (out, pos) = filter.output();
        if *pos < out.len() {
            break;
        }
        if !filter.refill()? {
            break;
        }
    }
    let (out, pos) = filter.output();
    Ok(&out[*pos..])
}

fn consume<F: Refill>(filter: &mut F, amount: usize) {
    let (out, pos) = filter.output();
    *pos = (*pos + amount).min(out.len());
}

fn read<F: Refill>(filter: &mut F, buf: &mut [u8]) -> io::Result<usize> {
    let available = fill_buf(filter)?;
    let n = buf.len().min(available.len());
    buf[..n].copy_from_slice(&available[..n]);
    consume(filter, n);
    Ok(n)
}

/// `Read` and `BufRead` for a [`Refill`] filter.
macro_rules! filtered_io {
    ($filter:ident) => {
        impl<R: Read> Read for $filter<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                read(self, buf)
            }
        }

        impl<R: Read> io::BufRead for $filter<R> {
            fn fill_buf(&mut self) -> io::Result<&[u8]> {
                fill_buf(self)
            }

            fn consume(&mut self, amount: usize) {
                consume(self, amount)
            }
        }
    };
}

/// One text run being passed through: head as it comes, then a tail ring.
#[derive(Clone)]
struct Run {
    json: bool,
    /// Set the marker apart with spaces instead of newlines (lines must stay lines).
    inline: bool,
    len: u64,
    cutting: bool,
    dropped: u64,
    head: Boundary,
    front: Boundary,
    tail: VecDeque<u8>,
}

impl Run {
    fn new(json: bool) -> Self {
        Run {
            json,
            inline: false,
            len: 0,
            cutting: false,
            dropped: 0,
            head: Boundary::new(json),
            front: Boundary::new(json),
            tail: VecDeque::new(),
        }
    }

    fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut rest = bytes;
        while !self.cutting {
            let Some((&b, more)) = rest.split_first() else {
                return;
            };
            if self.len >= KEEP as u64
                && (self.head.safe_before(b) || self.len >= KEEP as u64 + SLACK)
            {
                self.cutting = true;
                self.front = Boundary::new(self.json);
                break;
            }
            // Fast path: a whole slice that stays within the head.
            if self.len + (rest.len() as u64) < KEEP as u64 {
                self.head.feed_all(rest);
                out.extend_from_slice(rest);
                self.len += rest.len() as u64;
                return;
            }
            self.head.feed(b);
            out.push(b);
            self.len += 1;
            rest = more;
        }
        self.len += rest.len() as u64;
        self.tail.extend(rest);
        if self.tail.len() > KEEP {
            let excess = self.tail.len() - KEEP;
            for b in self.tail.drain(..excess) {
                self.front.feed(b);
            }
            self.dropped += excess as u64;
        }
    }

    /// Ends the run: marker and tail.
    fn finish(&mut self, out: &mut Vec<u8>) -> i64 {
        if !self.cutting {
            // The common case (a short run, already passed on): only the counters reset.
            self.len = 0;
            self.head = Boundary::new(self.json);
            return 0;
        }
        let mut delta = 0;
        if self.dropped > 0 {
            while let Some(&f) = self.tail.front() {
                if self.front.safe_before(f) {
                    break;
                }
                self.front.feed(f);
                self.tail.pop_front();
                self.dropped += 1;
            }
            let m = marker(self.dropped);
            // Newlines set the marker apart; JSON strings cannot hold a raw one.
            let nl: &[u8] = match (self.inline, self.json) {
                (true, _) => b" ",
                (false, true) => b"\\n",
                (false, false) => b"\n",
            };
            out.extend_from_slice(nl);
            out.extend_from_slice(m.as_bytes());
            out.extend_from_slice(nl);
            delta = self.dropped as i64 - (m.len() + 2 * nl.len()) as i64;
        }
        out.extend(self.tail.drain(..));
        let inline = self.inline;
        *self = Run::new(self.json);
        self.inline = inline;
        delta
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum X {
    Text,
    /// After `<`: deciding between a tag, a comment, CDATA, a PI or a declaration.
    Lt,
    Tag,
    Value(u8),
    Comment,
    CData,
    Pi,
    Decl,
}

/// Input read per refill, at most.
const CHUNK: usize = 64 * 1024;

/// The first refill reads this much; each next one twice as much, up to [`CHUNK`]. A reader
/// that stops early (run identity samples a report's first records) then filters only about
/// what it parsed, not the first 64 kB (most of a typical report, which the sample then paid
/// for twice: 6% of a flat folder's ingest).
const FIRST_READ: usize = 4 * 1024;

/// The XML filter's parsing state between chunks (what a pass over a chunk changes, so that a
/// pass can be undone).
#[derive(Clone)]
struct XmlState {
    state: X,
    run: Run,
    /// Bytes after `<` while deciding what it opens.
    lt: Vec<u8>,
    /// Last two bytes of a comment, CDATA or PI, to see its terminator.
    last2: [u8; 2],
    markup: usize,
    decl_depth: i32,
}

/// The XML filter (see the module documentation).
///
/// Almost every chunk of a real report has nothing to cut: then the chunk itself is handed to
/// the parser ([`XmlCap::passing`]) after a pass that only follows the syntax, and nothing is
/// copied. Only a chunk where a cut or a refusal happens is copied into `out` with the cuts made
/// (a second pass over it, from the state saved before the first).
pub struct XmlCap<R> {
    inner: R,
    st: XmlState,
    out: Vec<u8>,
    pos: usize,
    chunk: Vec<u8>,
    /// Bytes of `chunk` being handed out as they are (0: the output is `out`).
    passing: usize,
    /// Checking pass: where in the chunk the open run's bytes start (`None`: no run open, or
    /// nothing of it in this chunk yet).
    run_from: Option<usize>,
    /// Input bytes consumed.
    read: u64,
    /// Size of the next read (see [`FIRST_READ`]).
    next_read: usize,
    /// Input bytes minus output bytes so far: maps an output offset back to the input.
    delta: i64,
    failed: Option<io::Error>,
    /// Tests: every chunk takes the copying pass (the reference the fast path must equal).
    #[cfg(test)]
    copy_only: bool,
}

thread_local! {
    /// Buffers of dropped XML filters, for the next one on this thread. A filter is made per
    /// report, and fresh 64 kB buffers cost zeroing and page faults each time (several percent
    /// of the parse of a 60 kB report): reusing them is free. At most [`POOLED`] are kept, none
    /// larger than [`POOLED_MAX`], so the pool stays under a megabyte per thread.
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}
const POOLED: usize = 4;
const POOLED_MAX: usize = 4 * CHUNK;

/// A buffer from the pool (or a new one) of length `len`: only bytes it did not hold yet are
/// zeroed (a pooled input buffer is already as long as needed; its old content is overwritten
/// by reads before it is looked at).
fn pooled(len: usize) -> Vec<u8> {
    let mut v = POOL
        .try_with(|p| {
            let mut p = p.borrow_mut();
            let best = (0..p.len()).min_by_key(|&i| p[i].len().abs_diff(len))?;
            Some(p.swap_remove(best))
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    v.truncate(len);
    v.resize(len, 0);
    v
}

fn unpool(v: Vec<u8>) {
    if v.capacity() <= POOLED_MAX {
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOLED {
                p.push(v);
            }
        });
    }
}

impl<R> Drop for XmlCap<R> {
    fn drop(&mut self) {
        unpool(std::mem::take(&mut self.chunk));
        unpool(std::mem::take(&mut self.out));
    }
}

/// A start tag or DOCTYPE too long to keep, with the input offset where it started.
#[derive(Debug)]
pub struct TooLong {
    pub what: &'static str,
    pub offset: u64,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} longer than {} (attribute values not counted): refused, flakehound keeps \
             memory bounded",
            self.what,
            human_bytes(MAX_MARKUP as u64)
        )
    }
}
impl std::error::Error for TooLong {}

impl<R: Read> XmlCap<R> {
    pub fn new(inner: R) -> Self {
        XmlCap {
            inner,
            st: XmlState {
                state: X::Text,
                run: Run::new(false),
                lt: Vec::with_capacity(9),
                last2: [0; 2],
                markup: 0,
                decl_depth: 0,
            },
            out: pooled(0),
            pos: 0,
            chunk: pooled(CHUNK),
            passing: 0,
            run_from: None,
            read: 0,
            next_read: FIRST_READ,
            delta: 0,
            failed: None,
            #[cfg(test)]
            copy_only: false,
        }
    }

    /// Input bytes removed so far, net of markers added: add it to an output offset to get
    /// (about) the input offset.
    pub fn delta(&self) -> i64 {
        self.delta
    }

    fn too_long(&mut self, what: &'static str, at: u64) {
        self.failed = Some(io::Error::new(
            io::ErrorKind::InvalidData,
            TooLong { what, offset: at },
        ));
    }

    /// `chunk[at..at + len]` belongs to the current run. Copying: passed on, or cut. Checking:
    /// `false` if the run could reach a cut (longer than [`KEEP`]).
    #[inline]
    fn push<const COPY: bool>(&mut self, chunk: &[u8], at: usize, len: usize) -> bool {
        if COPY {
            self.st.run.push(&chunk[at..at + len], &mut self.out);
            return true;
        }
        let run = &mut self.st.run;
        if run.len + len as u64 > KEEP as u64 {
            return false;
        }
        run.len += len as u64;
        // Where cutting would be safe is only needed for a run still open at the end of the
        // chunk, so it is worked out once then (see `refill`), not for every piece.
        self.run_from.get_or_insert(at);
        true
    }

    /// The current run ended (nothing is written unless it was cut).
    #[inline]
    fn finish(&mut self) {
        let run = &mut self.st.run;
        if run.cutting {
            self.delta += run.finish(&mut self.out);
        } else {
            // Inline, as this runs for every attribute value and text node: what
            // `Run::finish` does for a run that was not cut.
            run.len = 0;
            run.head = Boundary::new(false);
        }
        self.run_from = None;
    }

    /// Runs the syntax over `chunk[..n]`. Copying (`COPY`), the output (the input with long
    /// runs cut) goes to `out`. Checking, nothing is written: the result is `false` as soon as
    /// the output could differ from the input (a run reaching a cut, markup too long), and the
    /// caller restores the state and copies instead; `true` means the chunk is its own output.
    fn process<const COPY: bool>(&mut self, n: usize) -> bool {
        let chunk = std::mem::take(&mut self.chunk);
        let done = self.process_chunk::<COPY>(&chunk, n);
        self.chunk = chunk;
        done
    }

    fn process_chunk<const COPY: bool>(&mut self, chunk: &[u8], n: usize) -> bool {
        let mut i = 0;
        while i < n && self.failed.is_none() {
            let b = chunk[i];
            match self.st.state {
                X::Text => {
                    let rest = &chunk[i..n];
                    let end = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                    if !self.push::<COPY>(chunk, i, end) {
                        return false;
                    }
                    i += end;
                    if end < rest.len() {
                        self.finish();
                        if COPY {
                            self.out.push(b'<');
                        }
                        self.st.lt.clear();
                        self.st.state = X::Lt;
                        i += 1;
                    }
                    continue;
                }
                X::Value(q) => {
                    let rest = &chunk[i..n];
                    let end = memchr::memchr(q, rest).unwrap_or(rest.len());
                    if !self.push::<COPY>(chunk, i, end) {
                        return false;
                    }
                    i += end;
                    if end < rest.len() {
                        self.finish();
                        if COPY {
                            self.out.push(q);
                        }
                        self.st.state = X::Tag;
                        self.st.markup += 1;
                        i += 1;
                    }
                    continue;
                }
                X::Comment | X::CData | X::Pi => {
                    let state = self.st.state;
                    let close = if state == X::Pi {
                        b'?'
                    } else if state == X::CData {
                        b']'
                    } else {
                        b'-'
                    };
                    let ends = |l: [u8; 2]| match state {
                        X::Pi => l[1] == close,
                        _ => l == [close, close],
                    };
                    if b == b'>' && ends(self.st.last2) {
                        self.finish();
                        if COPY {
                            self.out.push(b'>');
                        }
                        self.st.state = X::Text;
                    } else {
                        // Whole stretches without `>` go to the run at once.
                        let rest = &chunk[i..n];
                        let end = memchr::memchr(b'>', rest).unwrap_or(rest.len());
                        let take = end.max(1);
                        if !self.push::<COPY>(chunk, i, take) {
                            return false;
                        }
                        let last2 = &mut self.st.last2;
                        for &c in &rest[take.saturating_sub(2)..take] {
                            *last2 = [last2[1], c];
                        }
                        i += take;
                        continue;
                    }
                }
                X::Lt if self.st.lt.is_empty() && b != b'!' && b != b'?' => {
                    // A start or end tag (the common case): no need to look further.
                    if COPY {
                        self.out.push(b);
                    }
                    self.st.markup = 1;
                    self.st.state = match b {
                        b'>' => X::Text,
                        b'"' | b'\'' => X::Value(b),
                        _ => X::Tag,
                    };
                }
                X::Lt => {
                    if COPY {
                        self.out.push(b);
                    }
                    let st = &mut self.st;
                    st.lt.push(b);
                    const COMMENT: &[u8] = b"!--";
                    const CDATA: &[u8] = b"![CDATA[";
                    if st.lt == COMMENT || st.lt == CDATA {
                        st.state = if st.lt == COMMENT {
                            X::Comment
                        } else {
                            X::CData
                        };
                        st.last2 = [0; 2];
                    } else if !(COMMENT.starts_with(&st.lt) || CDATA.starts_with(&st.lt)) {
                        st.markup = st.lt.len();
                        st.state = match st.lt[0] {
                            b'?' => {
                                st.last2 = [0, 0];
                                X::Pi
                            }
                            b'!' => {
                                st.decl_depth = i32::from(b == b'[');
                                X::Decl
                            }
                            _ if b == b'>' => X::Text,
                            _ if b == b'"' || b == b'\'' => X::Value(b),
                            _ => X::Tag,
                        };
                    }
                }
                X::Tag => {
                    // Up to the next byte that changes state, in one copy.
                    let rest = &chunk[i..n];
                    let end =
                        memchr::memchr3(b'>', b'"', b'\'', rest).map_or(rest.len(), |k| k + 1);
                    if COPY {
                        self.out.extend_from_slice(&rest[..end]);
                    }
                    self.st.markup += end;
                    match rest[end - 1] {
                        b'>' => self.st.state = X::Text,
                        q @ (b'"' | b'\'') => self.st.state = X::Value(q),
                        _ => {}
                    }
                    if self.st.markup > MAX_MARKUP {
                        if !COPY {
                            return false;
                        }
                        let at =
                            self.read - (n - i) as u64 + (MAX_MARKUP + end - self.st.markup) as u64;
                        self.too_long("start tag", at);
                    }
                    i += end;
                    continue;
                }
                X::Decl => {
                    if COPY {
                        self.out.push(b);
                    }
                    self.st.markup += 1;
                    // Brackets only, as quick-xml reads a DOCTYPE: quotes are not tracked, an
                    // apostrophe in a DTD comment must not hide the end.
                    match b {
                        b'[' => self.st.decl_depth += 1,
                        b']' => self.st.decl_depth -= 1,
                        b'>' if self.st.decl_depth <= 0 => self.st.state = X::Text,
                        _ => {}
                    }
                    if self.st.markup > MAX_MARKUP {
                        if !COPY {
                            return false;
                        }
                        let at = self.read - (n - i) as u64;
                        self.too_long("DOCTYPE or declaration", at);
                    }
                }
            }
            i += 1;
        }
        if !COPY {
            // The run still open goes on in the next chunk: where a cut may fall there depends
            // on its last bytes (an entity reference not yet closed).
            if let Some(from) = self.run_from.take() {
                self.st.run.head.feed_all(&chunk[from..n]);
            }
        }
        true
    }
}

impl<R: Read> Refill for XmlCap<R> {
    fn output(&mut self) -> (&[u8], &mut usize) {
        if self.passing > 0 {
            (&self.chunk[..self.passing], &mut self.pos)
        } else {
            (&self.out, &mut self.pos)
        }
    }

    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        self.passing = 0;
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let want = self.next_read.min(self.chunk.len());
        self.next_read = (want * 2).min(CHUNK);
        let n = self.inner.read(&mut self.chunk[..want])?;
        if n == 0 {
            // End of input inside a run (a truncated document): flush what was kept, the
            // parser reports the truncation.
            self.finish();
            return Ok(false);
        }
        self.read += n as u64;
        // A run being cut goes on being cut: only a chunk that starts outside of one can be
        // its own output.
        #[cfg(test)]
        let fast = !self.copy_only;
        #[cfg(not(test))]
        let fast = true;
        if fast && !self.st.run.cutting {
            let saved = self.st.clone();
            self.run_from = None;
            if self.process::<false>(n) {
                self.passing = n;
                return Ok(true);
            }
            self.st = saved;
            self.run_from = None;
        }
        self.process::<true>(n);
        Ok(true)
    }
}

filtered_io!(XmlCap);

/// The JSON filter: cuts long string literals (see the module documentation). Also used for
/// JSON-lines streams: a raw newline cannot occur inside a JSON string, so it ends any string
/// state, and a non-JSON line with a stray quote cannot swallow the lines after it.
pub struct JsonCap<R> {
    inner: R,
    in_string: bool,
    escaped: bool,
    run: Run,
    out: Vec<u8>,
    pos: usize,
    chunk: Vec<u8>,
}

impl<R: Read> JsonCap<R> {
    pub fn new(inner: R) -> Self {
        JsonCap {
            inner,
            in_string: false,
            escaped: false,
            run: Run::new(true),
            out: Vec::with_capacity(64 * 1024),
            pos: 0,
            chunk: vec![0; 64 * 1024],
        }
    }

    fn process(&mut self, n: usize) {
        let chunk = std::mem::take(&mut self.chunk);
        let mut i = 0;
        while i < n {
            let rest = &chunk[i..n];
            if !self.in_string {
                let end = memchr::memchr(b'"', rest).unwrap_or(rest.len());
                self.out.extend_from_slice(&rest[..end]);
                i += end;
                if end < rest.len() {
                    self.out.push(b'"');
                    self.in_string = true;
                    self.escaped = false;
                    i += 1;
                }
                continue;
            }
            // Content up to the closing quote (or a newline, which ends a broken line).
            let mut end = rest.len();
            let mut escaped = self.escaped;
            for (k, &c) in rest.iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    end = k;
                    break;
                }
                if c == b'\n' {
                    end = k;
                    break;
                }
            }
            self.escaped = escaped;
            self.run.push(&rest[..end], &mut self.out);
            i += end;
            if end < rest.len() {
                self.run.finish(&mut self.out);
                self.out.push(rest[end]);
                self.in_string = false;
                self.escaped = false;
                i += 1;
            }
        }
        self.chunk = chunk;
    }
}

impl<R: Read> Refill for JsonCap<R> {
    fn output(&mut self) -> (&[u8], &mut usize) {
        (&self.out, &mut self.pos)
    }

    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        let n = self.inner.read(&mut self.chunk)?;
        if n == 0 {
            self.run.finish(&mut self.out);
            return Ok(false);
        }
        self.process(n);
        Ok(true)
    }
}

filtered_io!(JsonCap);

/// Longest line passed on by [`LineCap`] (line-oriented formats: TAP, go test -json, libtest,
/// Dart). Far above any real line once [`JsonCap`] has cut the strings in it.
pub const MAX_LINE: usize = 1024 * 1024;

/// Cuts lines longer than [`MAX_LINE`]: their first [`MAX_LINE`] bytes, a marker, their last
/// [`KEEP`] bytes.
/// A cut JSON line is no longer valid JSON; the format's parser treats it as it treats any
/// other non-event line.
pub struct LineCap<R> {
    inner: R,
    line: u64,
    cutting: bool,
    run: Run,
    out: Vec<u8>,
    pos: usize,
    chunk: Vec<u8>,
}

impl<R: Read> LineCap<R> {
    pub fn new(inner: R) -> Self {
        LineCap {
            inner,
            line: 0,
            cutting: false,
            run: Run::new(false),
            out: Vec::with_capacity(64 * 1024),
            pos: 0,
            chunk: vec![0; 64 * 1024],
        }
    }

    fn process(&mut self, n: usize) {
        let chunk = std::mem::take(&mut self.chunk);
        let mut i = 0;
        while i < n {
            let rest = &chunk[i..n];
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            let part = &rest[..end];
            if self.cutting {
                self.run.push(part, &mut self.out);
            } else if self.line + (part.len() as u64) <= MAX_LINE as u64 {
                self.out.extend_from_slice(part);
            } else {
                // Too long: the first MAX_LINE bytes were passed on; of the rest, only a tail
                // is kept, after a marker.
                let room = MAX_LINE - self.line as usize;
                self.out.extend_from_slice(&part[..room]);
                self.cutting = true;
                self.run = Run::new(false);
                self.run.inline = true;
                self.run.len = KEEP as u64 + SLACK;
                self.run.cutting = true;
                self.run.push(&part[room..], &mut self.out);
            }
            self.line += part.len() as u64;
            i += end;
            if end < rest.len() {
                if self.cutting {
                    self.run.finish(&mut self.out);
                }
                self.out.push(b'\n');
                self.line = 0;
                self.cutting = false;
                i += 1;
            }
        }
        self.chunk = chunk;
    }
}

impl<R: Read> Refill for LineCap<R> {
    fn output(&mut self) -> (&[u8], &mut usize) {
        (&self.out, &mut self.pos)
    }

    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.pos = 0;
        let n = self.inner.read(&mut self.chunk)?;
        if n == 0 {
            if self.cutting {
                self.run.finish(&mut self.out);
                self.cutting = false;
            }
            return Ok(false);
        }
        self.process(n);
        Ok(true)
    }
}

filtered_io!(LineCap);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn through<R: Read>(mut r: R) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // Small reads, to cross every internal buffer boundary.
        let mut buf = [0u8; 7];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads `data` in chunks of `step` bytes.
    struct Dribble<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn marker_sizes() {
        assert_eq!(marker(598_300_000), "[... 598.3 MB cut by flakehound ...]");
        assert_eq!(marker(999), "[... 999 bytes cut by flakehound ...]");
        assert!(2 * KEEP + marker(u64::MAX).len() + 4 < flakehound_model::MAX_TEXT);
    }

    #[test]
    fn xml_runs_of_every_kind_are_cut() {
        let big = "x".repeat(100_000);
        let doc = format!(
            "<?xml version=\"1.0\"?><!-- {big} --><r a=\"{big}\" b='{big}'><![CDATA[{big}]]>{big}<?pi {big}?></r>"
        );
        let out = String::from_utf8(through(XmlCap::new(doc.as_bytes())).unwrap()).unwrap();
        assert_eq!(out.matches("cut by flakehound").count(), 6, "{}", out.len());
        assert!(out.len() < 7 * flakehound_model::MAX_TEXT);
        let mut r = crate::xml::XmlReader::new(doc.as_bytes());
        let root = r.root().unwrap();
        assert!(
            root.get("a")
                .unwrap()
                .contains("[... 92.0 kB cut by flakehound ...]")
        );
        assert!(root.get("b").unwrap().len() < flakehound_model::MAX_TEXT);
        let text = r.read_text().unwrap().unwrap();
        assert!(text.len() <= flakehound_model::MAX_TEXT, "{}", text.len());
    }

    #[test]
    fn doctype_with_an_apostrophe_in_a_comment_ends_where_it_ends() {
        let big = "t".repeat(20_000);
        let doc =
            format!("<!DOCTYPE r [<!-- it's a comment --><!ENTITY e 'v'>]><r a='1'>{big}</r>");
        let out = String::from_utf8(through(XmlCap::new(doc.as_bytes())).unwrap()).unwrap();
        assert!(out.starts_with("<!DOCTYPE r [<!-- it's a comment --><!ENTITY e 'v'>]><r a='1'>"));
        assert!(out.contains("cut by flakehound"));
    }

    #[test]
    fn xml_short_runs_pass_unchanged() {
        let doc = b"<a x='1'>t&amp;<!--c--><![CDATA[<>]]><?p?><!DOCTYPE a [<!ENTITY e 'v'>]></a>";
        assert_eq!(through(XmlCap::new(&doc[..])).unwrap(), doc);
    }

    /// A run that the fast path passed on in one chunk and that is cut in the next: the cut
    /// still knows about the entity reference open at the chunk's end.
    #[test]
    fn a_cut_after_a_passed_chunk_keeps_entities_whole() {
        let text = format!("{}&amp;{}", "x".repeat(KEEP - 2), "y".repeat(3 * KEEP));
        let doc = format!("<r>{text}</r>");
        for step in KEEP - 2..KEEP + 6 {
            let run = |copy_only: bool| {
                let mut cap = XmlCap::new(Dribble {
                    data: doc.as_bytes(),
                    step,
                });
                cap.copy_only = copy_only;
                String::from_utf8(through(&mut cap).unwrap()).unwrap()
            };
            let out = run(false);
            assert_eq!(out, run(true), "step {step}");
            assert!(out.contains("&amp;\n[... "), "step {step}");
        }
    }

    #[test]
    fn huge_start_tag_is_refused() {
        let mut doc = String::from("<r>\n<testcase");
        for i in 0..200_000 {
            doc.push_str(&format!(" a{i}=\"\""));
        }
        doc.push_str("/></r>");
        let err = through(XmlCap::new(doc.as_bytes())).unwrap_err();
        let e = err.get_ref().unwrap().downcast_ref::<TooLong>().unwrap();
        assert!(
            (4..4 + MAX_MARKUP as u64 + 2).contains(&e.offset),
            "{}",
            e.offset
        );
    }

    #[test]
    fn json_lines_with_stray_quotes_stay_lines() {
        let big = "y".repeat(50_000);
        let doc = format!("plain \" text\n{{\"k\":\"{big}\"}}\nmore\n");
        let out = String::from_utf8(through(JsonCap::new(doc.as_bytes())).unwrap()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "plain \" text");
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert!(
            v["k"]
                .as_str()
                .unwrap()
                .contains("\n[... 42.0 kB cut by flakehound ...]\n")
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let doc = format!("ok 1\n{}\nok 2\n", "z".repeat(3 * MAX_LINE));
        let out = through(LineCap::new(doc.as_bytes())).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].len() < MAX_LINE + 2 * KEEP);
        assert!(lines[1].contains("[... 2.1 MB cut by flakehound ...]"));
        assert_eq!(lines[2], "ok 2");
    }

    /// Pieces of (not always well-formed) XML; `TEXT` is a run of a random length.
    const XML_PARTS: &[&str] = &[
        "TEXT",
        "TEXT",
        "TEXT",
        "<a x=\"",
        "\">",
        "<b y='",
        "'/>",
        "</a>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?pi ",
        "?>",
        "<!DOCTYPE d [",
        "]>",
        "&",
        "&amp;",
        "\"",
        "'",
        "<",
        ">",
        "\n",
    ];

    const UNITS: &[&str] = &["a", " ", "é", "€", "😀", "&amp;", "&#x1F600;", "&lt;", "\n"];
    const JSON_UNITS: &[(&str, &str)] = &[
        ("a", "a"),
        ("é", "é"),
        ("😀", "😀"),
        ("\\n", "\n"),
        ("\\\\", "\\"),
        ("\\\"", "\""),
        ("\\u00e9", "é"),
        ("\\ud83d\\ude00", "😀"),
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Cuts never break a character, an entity or the document: the cut text is a head and
        /// a tail of the original text.
        #[test]
        fn xml_cuts_fall_between_characters(
            units in proptest::collection::vec(0..UNITS.len(), 0..6000),
            step in 1usize..5000,
        ) {
            let raw: String = units.iter().map(|&i| UNITS[i]).collect();
            let doc = format!("<r v=\"{raw}\"><t>{raw}</t><c><![CDATA[{raw}]]></c></r>");
            let capped = through(XmlCap::new(Dribble { data: doc.as_bytes(), step })).unwrap();
            let capped = String::from_utf8(capped).expect("valid UTF-8");
            if doc.len() < KEEP {
                prop_assert_eq!(&capped, &doc);
            }
            let mut r = crate::xml::XmlReader::new(doc.as_bytes());
            let root = r.root().unwrap();
            let value = root.get("v").unwrap().to_string();
            let plain = raw.replace("&amp;", "&").replace("&#x1F600;", "😀").replace("&lt;", "<");
            check_cut(&value, &plain)?;
            prop_assert!(matches!(r.next().unwrap(), crate::xml::Ev::Start(_)));
            let text = r.read_text().unwrap().unwrap_or_default();
            check_cut(&text, plain.trim())?;
        }

        /// Handing a chunk over as it is gives exactly the output of copying it, whatever the
        /// syntax and wherever chunks end (runs around the cut length, entities, comments,
        /// CDATA, PIs, DOCTYPEs, stray quotes and brackets).
        #[test]
        fn xml_fast_path_equals_copying(
            parts in proptest::collection::vec(0..XML_PARTS.len(), 0..200),
            lens in proptest::collection::vec(0usize..2 * KEEP, 200),
            step in 1usize..70_000,
        ) {
            let mut doc = String::new();
            for (k, &p) in parts.iter().enumerate() {
                let part = XML_PARTS[p];
                if part == "TEXT" {
                    doc.push_str(&"é&amp;x".repeat(lens[k] / 8));
                } else {
                    doc.push_str(part);
                }
            }
            let run = |copy_only: bool| {
                let mut cap = XmlCap::new(Dribble { data: doc.as_bytes(), step });
                cap.copy_only = copy_only;
                let out = through(&mut cap).map_err(|e| e.to_string());
                (out, cap.delta())
            };
            prop_assert_eq!(run(false), run(true));
        }

        #[test]
        fn json_cuts_fall_between_characters(
            units in proptest::collection::vec(0..JSON_UNITS.len(), 0..6000),
            step in 1usize..5000,
        ) {
            let raw: String = units.iter().map(|&i| JSON_UNITS[i].0).collect();
            let plain: String = units.iter().map(|&i| JSON_UNITS[i].1).collect();
            let doc = format!("{{\"{raw}\": [\"{raw}\", 1]}}");
            let v: serde_json::Value =
                serde_json::from_reader(JsonCap::new(Dribble { data: doc.as_bytes(), step }))
                    .expect("still valid JSON");
            let (key, value) = v.as_object().unwrap().iter().next().unwrap();
            check_cut(key, &plain)?;
            check_cut(value[0].as_str().unwrap(), &plain)?;
        }
    }

    fn check_cut(got: &str, original: &str) -> std::result::Result<(), TestCaseError> {
        if got == original {
            return Ok(());
        }
        let at = got.find("\n[... ").expect("a marker");
        let (head, rest) = got.split_at(at);
        let tail = &rest[rest.find(" cut by flakehound ...]\n").unwrap() + 24..];
        prop_assert!(original.starts_with(head), "head");
        prop_assert!(original.ends_with(tail), "tail");
        // Escapes and entities decode shorter than they are written.
        prop_assert!(head.len() >= KEEP / 4 && tail.len() >= KEEP / 4);
        Ok(())
    }
}

#[cfg(test)]
mod positions {
    /// An error after a cut still names its real line: offsets are mapped back to the input.
    #[test]
    fn errors_after_a_cut_name_the_input_line() {
        let mut doc = String::from("<testsuite>\n<testcase name='a'><system-out>");
        doc.push_str(&"some output\n".repeat(20_000));
        doc.push_str("</system-out></testcase>\n<testcase name='b'></wrong></testsuite>\n");
        let err = crate::collect_bytes(doc.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 20003:"), "{err}");
    }
}
