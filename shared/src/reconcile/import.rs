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
