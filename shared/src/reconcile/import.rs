//! The push-parser contract every importer follows, and the all-or-nothing collector.

use super::error::ImportError;
use super::record::BillLine;
use super::text::LineSplitter;

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

/// A parser that reads its bill one line at a time through its own [`LineSplitter`]:
/// the splitting is written once here, each importer only says what a line means.
pub(super) trait LineImporter {
    fn splitter(&mut self) -> &mut LineSplitter;
    fn on_line(
        &mut self,
        no: u64,
        bytes: &[u8],
        out: &mut Vec<BillLine>,
    ) -> Result<(), ImportError>;

    fn feed_lines(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        // The splitter is taken out for the call so the line callback may borrow `self`.
        let mut lines = std::mem::take(self.splitter());
        let r = lines.feed(chunk, |no, bytes| self.on_line(no, bytes, out));
        *self.splitter() = lines;
        r
    }

    /// Flushes the last line; answers the number of the last line read.
    fn finish_lines(&mut self, out: &mut Vec<BillLine>) -> Result<u64, ImportError> {
        let mut lines = std::mem::take(self.splitter());
        let r = lines.finish(|no, bytes| self.on_line(no, bytes, out));
        let last = lines.line_no();
        *self.splitter() = lines;
        r.map(|()| last)
    }
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

/// Which importer a channel's bill goes through: what the `reconcile` component's
/// configuration names per channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StatementKind {
    WechatPay,
    /// A zipped Alipay bill: the archive is needed whole (its directory is at the end).
    AlipayZip,
    /// The CSV inside an Alipay bill, already extracted.
    AlipayCsv,
    Platform {
        mapping: super::statement::StatementMapping,
    },
    PosShift,
    GroupBuySettlement,
}

impl StatementKind {
    pub fn source(&self) -> super::record::StatementSource {
        use super::record::StatementSource as S;
        match self {
            StatementKind::WechatPay => S::WechatPay,
            StatementKind::AlipayZip | StatementKind::AlipayCsv => S::Alipay,
            StatementKind::Platform { .. } => S::PlatformStatement,
            StatementKind::PosShift => S::PosShift,
            StatementKind::GroupBuySettlement => S::GroupBuySettlement,
        }
    }

    /// A push parser to feed stored chunks to, one at a time; `None` for a zipped
    /// bill, which [`StatementKind::import`] takes whole.
    pub fn streaming_parser(&self) -> Result<Option<Box<dyn BillParser>>, ImportError> {
        Ok(Some(match self {
            StatementKind::WechatPay => Box::new(super::wechat::WechatBillParser::new()),
            StatementKind::AlipayZip => return Ok(None),
            StatementKind::AlipayCsv => Box::new(super::alipay::AlipayCsvParser::new()),
            StatementKind::Platform { mapping } => {
                Box::new(super::statement::StatementParser::new(mapping.clone())?)
            }
            StatementKind::PosShift => Box::new(super::own_formats::pos_shift_parser()),
            StatementKind::GroupBuySettlement => {
                Box::new(super::own_formats::groupbuy_settlement_parser())
            }
        }))
    }

    /// Import a whole bill (the assembled upload), parsing in `chunk_size` pieces.
    pub fn import(&self, bytes: &[u8], chunk_size: usize) -> Result<Vec<BillLine>, ImportError> {
        match self.streaming_parser()? {
            Some(mut parser) => {
                let mut out = Vec::new();
                for chunk in bytes.chunks(chunk_size.max(1)) {
                    parser.feed(chunk, &mut out)?;
                }
                parser.finish(&mut out)?;
                Ok(out)
            }
            None => super::alipay::import_alipay_zip(bytes, chunk_size),
        }
    }
}

impl<P: BillParser + ?Sized> BillParser for Box<P> {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        (**self).feed(chunk, out)
    }
    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        (**self).finish(out)
    }
}
