//! Reconciliation: every channel's statement and payment bill against our records.
//!
//! Bird's-eye view: bytes of a bill go into an importer ([`BillParser`], a push parser
//! fed chunk by chunk) and come out as [`BillLine`]s, all or nothing. Our orders become
//! [`OurRecord`]s. [`reconcile_day`] matches one channel and one business day and
//! returns a [`Report`]: every difference, classified, with a per-channel summary and
//! the T+1 settlement summary. Reports are deterministic; [`diff_reports`] says what a
//! corrected statement changed. No I/O here: the `reconcile` component stores chunks,
//! runs the importers and persists the reports.

mod alipay;
mod error;
#[cfg(test)]
mod fixtures;
mod import;
#[cfg(test)]
mod import_tests;
mod mappings;
mod matcher;
mod ours;
mod own_formats;
mod record;
mod report;
mod row;
#[cfg(test)]
mod scenario_tests;
mod settlement;
mod statement;
mod text;
mod upload;
mod wechat;

pub use alipay::{import_alipay_zip, AlipayCsvParser, END_OF_DETAIL};
pub use error::{ImportError, ImportErrorKind};
pub use import::{import_chunks, BillParser, StatementKind};
pub use matcher::{reconcile_day, DayBills, ReconcileRequest};
pub use ours::{
    business_date_at, previous_business_day, OurRecord, OurRefund, DEFAULT_UTC_OFFSET_MINUTES,
};
pub use record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind, StatementSource};
pub use report::{
    diff_reports, ChannelSummary, Difference, DifferenceClass, Report, ReportChanges, SideTotals,
    Subject,
};
pub use settlement::SettlementSummary;
pub use statement::{
    AmountFormat, StatementField, StatementFormat, StatementMapping, StatementParser,
};
pub use text::{LineSplitter, TextEncoding, MAX_LINE_BYTES};
pub use wechat::WechatBillParser;
/// The shipped statement mappings (plausible designs; see the module docs).
pub mod statement_mappings {
    pub use super::mappings::{eleme, eleme_json, meituan};
}
pub use own_formats::{
    groupbuy_settlement_parser, pos_shift_parser, pos_shift_records, read_pos_shifts,
    JsonLinesParser, PosShift,
};
pub use upload::{sha256_hex, ChunkInfo, ChunkOutcome, UploadError, UploadManifest};
