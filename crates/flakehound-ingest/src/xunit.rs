//! TODO: parser being written.
use crate::xml::{Elem, XmlReader};
use crate::{Result, Sink};
use flakehound_model::ReportInfo;
use std::io::Read;

pub(crate) fn parse<R: Read>(
    _xml: &mut XmlReader<R>,
    _root: Elem,
    _sink: &mut Sink<'_>,
) -> Result<ReportInfo> {
    Err(crate::Error::parse("not implemented yet"))
}
