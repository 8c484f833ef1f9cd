//! A small, safe layer over quick-xml shared by the XML report parsers.
//!
//! - Streaming: nothing but the current element's attributes and text is held in memory.
//! - Safe: DTDs are skipped, so no external entity is ever fetched and no entity is expanded
//!   (no XXE, no "billion laughs"); only the five predefined entities and character references
//!   are resolved, unknown ones are kept literally.
//! - Encodings: a UTF-16 or UTF-8 byte-order mark is honoured (UTF-16 is transcoded), and an
//!   ASCII-compatible encoding declared in the prolog (`ISO-8859-1`, `windows-1252`, ...) is used
//!   to decode text and attribute values.
//! - Strict where XML is: control characters other than tab, CR and LF are rejected (as every
//!   conforming parser does), with their byte offset.
//!
//! Events are returned owned ([`Ev`]) so that parsers stay simple state machines; the cost is a
//! few small allocations per element, well below the cost of storing a record.

use crate::cap::{TooLong, XmlCap};
use crate::error::{Error, Result};
use flakehound_model::trim_text;
use quick_xml::events::{BytesStart, Event};
use std::borrow::Cow;
use std::io::Read;

/// An element start (also produced for `<empty/>` elements, followed by a matching [`Ev::End`]).
///
/// Attributes are kept in one string with offsets (three allocations per element, whatever the
/// number of attributes: this is the parsers' hottest allocation site).
#[derive(Debug, Clone, Default)]
pub struct Elem {
    /// Local name, without namespace prefix.
    pub name: Name,
    /// Every attribute's local name and value, concatenated.
    text: String,
    /// Per attribute, in document order: (key start, value start, value end) in `text`.
    spans: Vec<(u32, u32, u32)>,
}

/// An element's local name. The names report formats use are static strings (no allocation for
/// the two names, start and end, of each of the hundreds of thousands of records a history
/// holds); any other name is owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name(Cow<'static, str>);

impl Name {
    fn new(name: &str) -> Name {
        match known_name(name) {
            Some(s) => Name(Cow::Borrowed(s)),
            None => Name(Cow::Owned(name.to_string())),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn known_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "testcase" => "testcase",
        "testsuite" => "testsuite",
        "testsuites" => "testsuites",
        "failure" => "failure",
        "error" => "error",
        "skipped" => "skipped",
        "system-out" => "system-out",
        "system-err" => "system-err",
        "properties" => "properties",
        "property" => "property",
        "flakyFailure" => "flakyFailure",
        "flakyError" => "flakyError",
        "rerunFailure" => "rerunFailure",
        "rerunError" => "rerunError",
        "test-case" => "test-case",
        "test-suite" => "test-suite",
        "UnitTestResult" => "UnitTestResult",
        "UnitTest" => "UnitTest",
        _ => return None,
    })
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::new(name)
    }
}

impl Elem {
    /// Attributes as (local name, value), in document order.
    pub fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(k, v, e)| {
            (
                &self.text[k as usize..v as usize],
                &self.text[v as usize..e as usize],
            )
        })
    }
    /// Attribute value by local name.
    pub fn get(&self, key: &str) -> Option<&str> {
        let bytes = self.text.as_bytes();
        let key = key.as_bytes();
        // Length and first byte before the comparison: most keys differ there, and this runs
        // a few times per record.
        self.spans
            .iter()
            .find(|&&(k, v, _)| {
                (v - k) as usize == key.len()
                    && bytes.get(k as usize) == key.first()
                    && bytes.get(k as usize..v as usize) == Some(key)
            })
            .map(|&(_, v, e)| &self.text[v as usize..e as usize])
    }
    /// Attribute value by local name, ignoring ASCII case.
    pub fn get_ci(&self, key: &str) -> Option<&str> {
        self.attrs()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
    /// Non-blank attribute value, trimmed.
    pub fn get_nonblank(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Deepest element nesting accepted. Each open element costs memory (its name, for the end
/// tag check, and the parser's suite stack), so depth is what bounds it; real reports nest a
/// few dozen levels, and 20,000 nested suites (seen in the wild of fuzzing) still pass.
pub const MAX_DEPTH: usize = 50_000;

#[derive(Debug)]
pub enum Ev {
    Start(Elem),
    End(Name),
    Text(String),
    Eof,
}

/// Rejects bytes that XML 1.0 forbids (C0 controls other than TAB, LF, CR).
struct ControlGuard<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Read for ControlGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(i) = find_control(&buf[..n]) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                ControlChar {
                    byte: buf[i],
                    offset: self.offset + i as u64,
                },
            ));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

fn is_control(b: u8) -> bool {
    b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r'
}

/// Position of the first forbidden control byte. A branch-free pass per 64-byte block (which the
/// compiler vectorises) finds blocks with one; only such a block is searched byte by byte.
fn find_control(buf: &[u8]) -> Option<usize> {
    for (block, chunk) in buf.chunks(64).enumerate() {
        let any = chunk.iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r'))
        });
        if any {
            return chunk
                .iter()
                .position(|&b| is_control(b))
                .map(|i| block * 64 + i);
        }
    }
    None
}

#[derive(Debug)]
struct ControlChar {
    byte: u8,
    offset: u64,
}

impl std::fmt::Display for ControlChar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "control character 0x{:02X} is not allowed in XML",
            self.byte
        )
    }
}
impl std::error::Error for ControlChar {}

type Head<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// The input after byte-order-mark handling: UTF-16 is transcoded to UTF-8; anything else is read
/// as is (a UTF-8 BOM dropped), without the transcoder's extra copy.
enum Source<R: Read> {
    Plain(Head<R>),
    Utf16(Box<encoding_rs_io::DecodeReaderBytes<Head<R>, Vec<u8>>>),
    Failed(Option<std::io::Error>),
}

impl<R: Read> Source<R> {
    fn new(mut input: R) -> Self {
        let mut head = Vec::with_capacity(3);
        if let Err(e) = (&mut input).take(3).read_to_end(&mut head) {
            return Source::Failed(Some(e));
        }
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .bom_sniffing(true)
                .strip_bom(true)
                .build(std::io::Cursor::new(head).chain(input));
            return Source::Utf16(Box::new(decoder));
        }
        if head == [0xEF, 0xBB, 0xBF] {
            head.clear();
        }
        Source::Plain(std::io::Cursor::new(head).chain(input))
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Utf16(r) => r.read(buf),
            Source::Failed(e) => Err(e
                .take()
                .unwrap_or_else(|| std::io::Error::other("read failed"))),
        }
    }
}

// The control guard sees every input byte (its offsets are exact); the cap then bounds what
// quick-xml ever buffers (see [`crate::cap`]).
type Inner<R> = XmlCap<ControlGuard<Source<R>>>;

pub struct XmlReader<R: Read> {
    reader: quick_xml::Reader<Inner<R>>,
    buf: Vec<u8>,
    /// Encoding declared in the prolog, when ASCII-compatible and not UTF-8.
    encoding: Option<&'static encoding_rs::Encoding>,
    pending_end: Option<Name>,
    depth: usize,
}

impl<R: Read> XmlReader<R> {
    pub fn new(input: R) -> Self {
        let guarded = ControlGuard {
            inner: Source::new(input),
            offset: 0,
        };
        let mut reader = quick_xml::Reader::from_reader(XmlCap::new(guarded));
        let cfg = reader.config_mut();
        cfg.expand_empty_elements = true;
        cfg.trim_text(false);
        cfg.check_end_names = true;
        XmlReader {
            reader,
            buf: Vec::with_capacity(4096),
            encoding: None,
            pending_end: None,
            depth: 0,
        }
    }

    /// Byte offset of the reader in the (BOM-stripped, UTF-8) input. Text cut by the cap is
    /// counted back in (exactly, unless a cut happened in the read-ahead after this point).
    pub fn position(&self) -> u64 {
        self.shift(self.reader.buffer_position())
    }

    fn shift(&self, pos: u64) -> u64 {
        let delta = self.reader.get_ref().delta();
        pos.saturating_add_signed(delta)
    }

    /// Current element depth (0 outside the root).
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::at_byte(reason, self.position())
    }
}

type Enc = Option<&'static encoding_rs::Encoding>;

fn decode(enc: Enc, bytes: &[u8]) -> Cow<'_, str> {
    match enc {
        Some(enc) => enc.decode_without_bom_handling(bytes).0,
        // Strict validation is much faster than the lossy decoder on valid input.
        None => match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(bytes),
        },
    }
}

fn unescape(enc: Enc, bytes: &[u8]) -> String {
    let raw = decode(enc, bytes);
    if !raw.contains('&') {
        return raw.into_owned();
    }
    match quick_xml::escape::unescape_with(&raw, quick_xml::escape::resolve_predefined_entity) {
        Ok(s) => s.into_owned(),
        // Unknown entity (e.g. declared in a DTD we refuse to process): keep the text as is.
        Err(_) => raw.into_owned(),
    }
}

fn elem(enc: Enc, e: &BytesStart<'_>, pos: u64) -> Result<Elem> {
    // UTF-8 input (the norm): validate the whole tag once, then take the name, keys and values
    // as sub-slices of it instead of validating each one again.
    let bytes: &[u8] = e;
    let tag = if enc.is_none() {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    };
    let local = e.local_name();
    // The local name is the end of the tag's first word: its offset in the tag is its length's
    // distance from that word's end.
    let name = match tag {
        Some(tag) => {
            let end = e.name().as_ref().len();
            Name::new(&tag[end - local.as_ref().len()..end])
        }
        None => Name::new(&decode(enc, local.as_ref())),
    };
    let mut out = Elem {
        name,
        text: String::with_capacity(e.len()),
        // Most report elements have under 8 attributes: one allocation, no regrowth.
        spans: Vec::with_capacity(8),
    };
    if let Some(tag) = tag {
        if simple_attrs(tag, e.name().as_ref().len(), &mut out).is_some() {
            return Ok(out);
        }
        out.text.clear();
        out.spans.clear();
    }
    quick_xml_attrs(enc, e, tag, pos, &mut out)?;
    Ok(out)
}

/// Attributes as quick-xml's iterator reads them (any form it accepts, and its errors).
fn quick_xml_attrs(
    enc: Enc,
    e: &BytesStart<'_>,
    tag: Option<&str>,
    pos: u64,
    out: &mut Elem,
) -> Result<()> {
    let bytes: &[u8] = e;
    let sub = |part: &[u8]| -> Option<&str> {
        let tag = tag?;
        let offset = (part.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        tag.get(offset..offset.checked_add(part.len())?)
    };
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| {
            Error::at_byte(format!("bad attribute in <{}>: {err}", out.name), pos)
        })?;
        let k = out.text.len();
        let key = a.key.local_name();
        match sub(key.as_ref()) {
            Some(key) => out.text.push_str(key),
            None => out.text.push_str(&decode(enc, key.as_ref())),
        }
        let v = out.text.len();
        match sub(&a.value) {
            Some(value) if !value.contains('&') => out.text.push_str(value),
            _ => push_unescaped(&mut out.text, enc, &a.value),
        }
        let end = out.text.len();
        // Offsets fit in u32: a start tag is bounded by the input buffer, far below 4 GiB.
        out.spans.push((k as u32, v as u32, end as u32));
    }
    Ok(())
}

/// Reads the attributes of a UTF-8 start tag (`tag`, the element name ending at `from`) into
/// `out` when they have the form reports write: `key="value"` or `key='value'` pairs, with
/// optional whitespace around `=` (also none between pairs). The result is what quick-xml's
/// attribute iterator gives for such a tag, found in one pass without its per-attribute state
/// machine and re-validation (a third of the cost of an element); `None` for anything else
/// (a key without a value, an unquoted or unterminated value), which that iterator then reads,
/// with its errors.
fn simple_attrs(tag: &str, from: usize, out: &mut Elem) -> Option<()> {
    let b = tag.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\r' | b'\n' | b'\t');
    let skip_ws = |mut i: usize| {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        i
    };
    // One search of the whole tag instead of one per value: most tags have no reference.
    let entities = memchr::memchr(b'&', &b[from..]).is_some();
    let mut i = from;
    loop {
        i = skip_ws(i);
        if i == b.len() {
            return Some(());
        }
        // A key is at least one byte that is neither `=` nor whitespace, as quick-xml reads it.
        let key_start = i;
        // The local name starts after the first `:` (as quick-xml's `local_name`), found in
        // the same loop.
        let mut local = i;
        while i < b.len() && b[i] != b'=' && !ws(b[i]) {
            if b[i] == b':' && local == key_start {
                local = i + 1;
            }
            i += 1;
        }
        let key_end = i;
        i = skip_ws(i);
        if key_end == key_start || b.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_ws(i + 1);
        let quote = *b.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
        let value_start = i + 1;
        let value_end = value_start + memchr::memchr(quote, &b[value_start..])?;
        // Every delimiter is ASCII, so these are character boundaries of `tag`.
        let key = &tag[local..key_end];
        let value = &tag[value_start..value_end];
        let k = out.text.len();
        out.text.push_str(key);
        let v = out.text.len();
        if entities && value.contains('&') {
            push_unescaped(&mut out.text, None, value.as_bytes());
        } else {
            out.text.push_str(value);
        }
        out.spans.push((k as u32, v as u32, out.text.len() as u32));
        i = value_end + 1;
    }
}

/// Appends the unescaped value (see [`unescape`]) without an intermediate allocation when there
/// is nothing to unescape.
fn push_unescaped(out: &mut String, enc: Enc, bytes: &[u8]) {
    let raw = decode(enc, bytes);
    if raw.contains('&') {
        out.push_str(&unescape(enc, bytes));
    } else {
        out.push_str(&raw);
    }
}

impl<R: Read> XmlReader<R> {
    /// The next event of interest. Comments, processing instructions and the DTD are skipped.
    // Not an Iterator: it never ends with None (Ev::Eof, then errors) and every call can fail.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Ev> {
        if let Some(name) = self.pending_end.take() {
            return Ok(Ev::End(name));
        }
        loop {
            self.buf.clear();
            let enc = self.encoding;
            let ev = match self.reader.read_event_into(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.convert_error(e)),
            };
            match ev {
                Event::Start(e) => {
                    let elem = elem(enc, &e, self.reader.buffer_position())?;
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.error(format!(
                            "elements nested more than {MAX_DEPTH} deep: refused, flakehound \
                             keeps memory bounded (real reports nest a few dozen levels)"
                        )));
                    }
                    return Ok(Ev::Start(elem));
                }
                Event::Empty(e) => {
                    // Not produced with expand_empty_elements, kept for safety.
                    let elem = elem(enc, &e, self.reader.buffer_position())?;
                    self.pending_end = Some(elem.name.clone());
                    return Ok(Ev::Start(elem));
                }
                Event::End(e) => {
                    let name = Name::new(&decode(enc, e.local_name().as_ref()));
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Ev::End(name));
                }
                Event::Text(t) => {
                    // Indentation between elements is the most common text: no allocation.
                    if t.iter().all(u8::is_ascii_whitespace) {
                        return Ok(Ev::Text(String::new()));
                    }
                    return Ok(Ev::Text(unescape(enc, &t)));
                }
                Event::CData(t) => {
                    let s = decode(enc, &t).into_owned();
                    return Ok(Ev::Text(s));
                }
                Event::Decl(d) => {
                    if let Some(Ok(enc)) = d.encoding() {
                        let label = String::from_utf8_lossy(&enc).to_string();
                        if let Some(enc) = encoding_rs::Encoding::for_label(label.trim().as_bytes())
                        {
                            if enc.is_ascii_compatible() && enc != encoding_rs::UTF_8 {
                                self.encoding = Some(enc);
                            }
                        }
                    }
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(self.error("unexpected end of file: the document is truncated"));
                    }
                    return Ok(Ev::Eof);
                }
                Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    fn convert_error(&self, e: quick_xml::Error) -> Error {
        if let quick_xml::Error::Io(io) = &e {
            if let Some(cc) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ControlChar>())
            {
                return Error::at_byte(cc.to_string(), cc.offset);
            }
            if let Some(t) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TooLong>())
            {
                return Error::at_byte(t.to_string(), t.offset);
            }
        }
        let reason = match &e {
            quick_xml::Error::Syntax(_) if self.depth > 0 => {
                format!("malformed XML (the document may be truncated): {e}")
            }
            _ => format!("malformed XML: {e}"),
        };
        let at = self
            .shift(self.reader.error_position())
            .max(self.position());
        Error::at_byte(reason, at)
    }

    /// The root element; errors if the document has none.
    pub fn root(&mut self) -> Result<Elem> {
        loop {
            match self.next()? {
                Ev::Start(e) => return Ok(e),
                Ev::Text(t) if t.trim().is_empty() => continue,
                // Only replacement characters: bytes the declared or sniffed encoding cannot
                // decode, typically a UTF-16 document cut inside its first character.
                Ev::Text(t) if t.trim().chars().all(|c| c == char::REPLACEMENT_CHARACTER) => {
                    return Err(self.error(
                        "not an XML document: invalid bytes for its encoding before the root \
                         element (the document may be truncated)",
                    ));
                }
                Ev::Text(_) => {
                    return Err(self.error("not an XML document: text before the root element"));
                }
                Ev::End(_) => return Err(self.error("malformed XML: end tag before any element")),
                Ev::Eof => return Err(Error::at_byte("empty document: no root element", 0)),
            }
        }
    }

    /// Reads the remaining content of the element just started, returning all descendant text
    /// (like ElementTree's `itertext`), trimmed and capped with [`trim_text`]. Memory stays
    /// bounded even for huge captured output: only head and tail are kept while reading.
    pub fn read_text(&mut self) -> Result<Option<String>> {
        let mut acc = TextAcc::default();
        let target = self.depth;
        loop {
            match self.next()? {
                Ev::Text(t) => acc.push(&t),
                Ev::Start(_) => {}
                Ev::End(_) if self.depth < target => return Ok(acc.finish()),
                Ev::End(_) => {}
                Ev::Eof => {
                    return Err(self.error("unexpected end of file: the document is truncated"));
                }
            }
        }
    }

    /// Skips the rest of the element just started.
    pub fn skip(&mut self) -> Result<()> {
        let target = self.depth;
        loop {
            match self.next()? {
                Ev::End(_) if self.depth < target => return Ok(()),
                Ev::Eof => {
                    return Err(self.error("unexpected end of file: the document is truncated"));
                }
                _ => {}
            }
        }
    }

    /// After the root element closed: makes sure only whitespace, comments and PIs follow.
    pub fn finish(&mut self) -> Result<()> {
        loop {
            match self.next()? {
                Ev::Eof => return Ok(()),
                Ev::Text(t) if t.trim().is_empty() => {}
                _ => return Err(self.error("malformed XML: content after the root element")),
            }
        }
    }
}

/// Accumulates the text of several events (text, CDATA, nested elements). Up to
/// [`flakehound_model::MAX_TEXT`] bytes are kept whole (so a text already cut by
/// [`crate::cap`] keeps its marker); beyond, a head and a tail of [`crate::cap::KEEP`] bytes
/// around a marker saying how much was cut.
#[derive(Default)]
pub struct TextAcc {
    head: String,
    tail: String,
    dropped: u64,
}

impl TextAcc {
    const WHOLE: usize = flakehound_model::MAX_TEXT;
    const LIMIT: usize = crate::cap::KEEP;

    pub fn push(&mut self, t: &str) {
        if self.tail.is_empty() && self.head.len() + t.len() <= Self::WHOLE {
            self.head.push_str(t);
            return;
        }
        if self.tail.is_empty() {
            // Too long to keep whole: the head keeps its first LIMIT bytes, the rest is tail.
            let mut at = Self::LIMIT.min(self.head.len());
            while !self.head.is_char_boundary(at) {
                at -= 1;
            }
            self.tail = self.head.split_off(at);
            let mut t = t;
            if self.head.len() < Self::LIMIT {
                let mut room = (Self::LIMIT - self.head.len()).min(t.len());
                while !t.is_char_boundary(room) {
                    room -= 1;
                }
                self.head.push_str(&t[..room]);
                t = &t[room..];
            }
            self.push_tail(t);
        } else {
            self.push_tail(t);
        }
    }

    fn push_tail(&mut self, t: &str) {
        // Only the last LIMIT bytes of a long piece can end up in the tail.
        let mut t = t;
        if t.len() > Self::LIMIT {
            let mut cut = t.len() - Self::LIMIT;
            while !t.is_char_boundary(cut) {
                cut += 1;
            }
            self.dropped += (cut + self.tail.len()) as u64;
            self.tail.clear();
            t = &t[cut..];
        }
        self.tail.push_str(t);
        if self.tail.len() > 2 * Self::LIMIT {
            self.trim_tail();
        }
    }

    fn trim_tail(&mut self) {
        if self.tail.len() <= Self::LIMIT {
            return;
        }
        let mut cut = self.tail.len() - Self::LIMIT;
        while !self.tail.is_char_boundary(cut) {
            cut += 1;
        }
        self.dropped += cut as u64;
        self.tail.drain(..cut);
    }

    pub fn finish(mut self) -> Option<String> {
        if self.tail.is_empty() {
            return trim_text(&self.head);
        }
        self.trim_tail();
        let mut s = self.head;
        if self.dropped > 0 {
            s.push('\n');
            s.push_str(&crate::cap::marker(self.dropped));
            s.push('\n');
        }
        s.push_str(&self.tail);
        trim_text(&s)
    }
}

#[cfg(test)]
mod attr_tests {
    use super::*;
    use proptest::prelude::*;

    const SEPS: &[&str] = &["", " ", "\n\t", "  "];
    const KEYS: &[&str] = &["k", "ns:k", "a:b:c", "", "=", "x\"y", ":", "k/"];
    const EQS: &[&str] = &["=", " = ", "\t=", "", " ", "=="];
    const QUOTES: &[&str] = &["\"", "'", "", "\"'"];
    const VALUES: &[&str] = &[
        "", "v", "&amp;", "&bad;", "é", ">", "'", "\"", " ", "=", "/",
    ];

    proptest! {
        /// The one-pass reading of attributes gives what quick-xml's iterator gives, or leaves
        /// the tag to it.
        #[test]
        fn simple_attributes_read_as_quick_xml_reads_them(
            attrs in proptest::collection::vec(
                (0..SEPS.len(), 0..KEYS.len(), 0..EQS.len(), 0..QUOTES.len(), 0..VALUES.len(),
                 0..VALUES.len()),
                0..6,
            ),
            tail in 0..SEPS.len(),
        ) {
            let mut content = String::from("t");
            for (k, &(sep, key, eq, quote, v1, v2)) in attrs.iter().enumerate() {
                // Well-formed pairs need whitespace before them (mostly).
                content.push_str(if k % 3 == 2 { SEPS[sep] } else { " " });
                let q = QUOTES[quote];
                content.push_str(KEYS[key]);
                content.push_str(EQS[eq]);
                content.push_str(q);
                content.push_str(VALUES[v1]);
                content.push_str(VALUES[v2]);
                content.push_str(&q[..q.len().min(1)]);
            }
            content.push_str(SEPS[tail]);
            let e = BytesStart::from_content(content.as_str(), 1);
            let empty = || Elem { name: "t".into(), ..Elem::default() };
            let mut quick = empty();
            let expected = quick_xml_attrs(None, &e, Some(&content), 0, &mut quick);
            let mut simple = empty();
            if simple_attrs(&content, 1, &mut simple).is_some() {
                prop_assert!(expected.is_ok(), "{content:?}: {expected:?}");
                prop_assert_eq!(&simple.text, &quick.text, "{:?}", content);
                prop_assert_eq!(&simple.spans, &quick.spans, "{:?}", content);
            }
        }
    }

    #[test]
    fn common_tags_take_the_one_pass_reading() {
        let content = "testcase classname=\"a.B\" name = 'x &amp; y' xsi:type=\"t\"";
        let mut simple = Elem::default();
        assert!(simple_attrs(content, 8, &mut simple).is_some());
        let got: Vec<_> = simple.attrs().collect();
        assert_eq!(
            got,
            [("classname", "a.B"), ("name", "x & y"), ("type", "t")]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(s: &[u8]) -> Result<Vec<String>> {
        let mut r = XmlReader::new(s);
        let mut out = vec![];
        loop {
            match r.next()? {
                Ev::Start(e) => out.push(format!("<{}>", e.name)),
                Ev::End(n) => out.push(format!("</{n}>")),
                Ev::Text(t) => out.push(t),
                Ev::Eof => return Ok(out),
            }
        }
    }

    #[test]
    fn latin1_and_bom() {
        let mut doc =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a t=\"\xe9\">\xe9</a>".to_vec();
        let ev = events(&doc).unwrap();
        assert_eq!(ev, vec!["<a>", "é", "</a>"]);
        doc = b"\xef\xbb\xbf<a/>".to_vec();
        assert_eq!(events(&doc).unwrap(), vec!["<a>", "</a>"]);
        // UTF-16LE with BOM.
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "<a>x</a>".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(events(&utf16).unwrap(), vec!["<a>", "x", "</a>"]);
    }

    #[test]
    fn entities_are_never_expanded() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><a>&xxe;&amp;</a>"#;
        assert_eq!(events(doc).unwrap(), vec!["<a>", "&xxe;&amp;", "</a>"]);
    }

    #[test]
    fn control_scan_matches_naive() {
        let mut data = vec![b'a'; 300];
        data[7] = b'\n';
        data[70] = b'\t';
        assert_eq!(find_control(&data), None);
        for pos in [0, 63, 64, 65, 299] {
            let mut d = data.clone();
            d[pos] = 0x01;
            assert_eq!(find_control(&d), Some(pos));
        }
    }

    #[test]
    fn control_chars_rejected_with_offset() {
        let err = events(b"<a>\x00</a>").unwrap_err();
        assert!(err.to_string().contains("byte 3"), "{err}");
        assert!(err.to_string().contains("0x00"), "{err}");
    }

    #[test]
    fn truncated_is_an_error() {
        assert!(events(b"<a><b>").is_err());
        assert!(events(b"<a><b></a>").is_err());
    }

    #[test]
    fn text_acc_bounds_memory() {
        let mut acc = TextAcc::default();
        for _ in 0..10_000 {
            acc.push("0123456789");
        }
        let s = acc.finish().unwrap();
        assert!(s.len() <= flakehound_model::MAX_TEXT, "{}", s.len());
        assert!(s.contains("[... 92.0 kB cut by flakehound ...]"), "{s}");
        // A text the stream filter already cut is kept whole, with its marker.
        let mut acc = TextAcc::default();
        let cut = format!(
            "{}\n{}\n{}",
            "a".repeat(4000),
            crate::cap::marker(1 << 30),
            "b".repeat(4000)
        );
        acc.push(&cut);
        assert_eq!(acc.finish().unwrap(), cut);
        assert!(s.starts_with("0123456789") && s.ends_with("0123456789"));
    }
}
