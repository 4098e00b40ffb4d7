//! The push-parser contract every importer follows, and the all-or-nothing collector.

use super::error::ImportError;
use super::record::BillLine;

/// Feed the bill's bytes in chunks of any size; complete records are appended to `out`
/// as soon as their line is complete. Memory held between calls is one partial line
/// plus the importer's running totals, whatever the file size.
///
/// Records yielded before an error must be discarded by the caller: a bill is imported
/// whole or not at all (its summary is only checked at [`BillParser::finish`]).
pub trait BillParser {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError>;
    /// End of input: flushes the last line and verifies the summary.
    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError>;
}

/// Run a parser over chunks and return every record, or the first error and nothing.
pub fn import_chunks<'a, P: BillParser>(
    mut parser: P,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<BillLine>, ImportError> {
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out)?;
    }
    parser.finish(&mut out)?;
    Ok(out)
}
