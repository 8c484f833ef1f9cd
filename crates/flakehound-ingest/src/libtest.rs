//! TODO: parser being written.
use crate::{Result, Sink};
use flakehound_model::ReportInfo;
use std::io::BufRead;

pub(crate) fn sniff(_head: &str) -> bool {
    false
}

pub(crate) fn parse<R: BufRead>(_input: R, _sink: &mut Sink<'_>) -> Result<ReportInfo> {
    Err(crate::Error::parse("not implemented yet"))
}
