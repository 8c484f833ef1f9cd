use std::fmt;

/// Why a report could not be read. `byte` is the offset into the (decoded) input where the
/// problem was noticed, `line` the 1-based line when the parser tracks it; callers holding the
/// raw bytes can derive the line from the byte offset with [`line_of`].
#[derive(Debug)]
pub enum Error {
    /// The input is not a valid report.
    Parse {
        reason: String,
        byte: Option<u64>,
        line: Option<u64>,
    },
    /// Reading the input failed.
    Io(std::io::Error),
    /// The sink (usually the store) refused a record; parsing stops.
    Sink(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn parse(reason: impl Into<String>) -> Self {
        Error::Parse {
            reason: reason.into(),
            byte: None,
            line: None,
        }
    }
    pub fn at_byte(reason: impl Into<String>, byte: u64) -> Self {
        Error::Parse {
            reason: reason.into(),
            byte: Some(byte),
            line: None,
        }
    }
    pub fn at_line(reason: impl Into<String>, line: u64) -> Self {
        Error::Parse {
            reason: reason.into(),
            byte: None,
            line: Some(line),
        }
    }
    pub fn sink(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Sink(e.into())
    }
    /// Fills in `line` from `byte` using the raw input.
    pub fn with_line_from(mut self, input: &[u8]) -> Self {
        if let Error::Parse {
            byte: Some(b),
            line,
            ..
        } = &mut self
        {
            if line.is_none() {
                *line = Some(line_of(input, *b));
            }
        }
        self
    }
}

/// 1-based line number of byte offset `byte` in `input`.
pub fn line_of(input: &[u8], byte: u64) -> u64 {
    let end = (byte as usize).min(input.len());
    1 + input[..end].iter().filter(|&&b| b == b'\n').count() as u64
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse { reason, byte, line } => {
                match (line, byte) {
                    (Some(l), _) => write!(f, "line {l}: ")?,
                    (None, Some(b)) => write!(f, "byte {b}: ")?,
                    _ => {}
                }
                f.write_str(reason)
            }
            Error::Io(e) => write!(f, "read error: {e}"),
            Error::Sink(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
