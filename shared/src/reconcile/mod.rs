//! Reconciliation: every channel's statement and payment bill against our records.
//!
//! Bird's-eye view: the bytes of a bill go into an importer (a [`BillParser`], a push
//! parser fed chunk by chunk, chosen by [`StatementKind`]) and come out as
//! [`BillLine`]s, all or nothing: any error is an [`ImportError`] naming the line and
//! column, and the lines yielded so far are to be dropped. Our orders become
//! [`OurRecord`]s ([`OurRecord::from_order`]). [`reconcile_day`] matches one channel
//! and one business day and returns a [`Report`]: every [`Difference`], classified,
//! a per-channel [`ChannelSummary`] and the T+1 [`SettlementSummary`]. Reports are
//! deterministic (sorted; same inputs, same bytes); [`Report::superseding`] and
//! [`diff_reports`] say what a corrected statement changed.
//!
//! What the caller passes as `ours` for day D: the records of the orders paid on D-1,
//! D and D+1 (the adjacent days are what turns a midnight straddler into a cross-day
//! item instead of two "missing"), plus the orders with a refund dated D. The same
//! order passed twice counts once. The adjacent days' bills, when already imported,
//! go in [`DayBills`] for the same reason.
//!
//! Memory: an importer holds one partial line and its running totals between chunks,
//! whatever the file size ([`MAX_LINE_BYTES`] bounds a line). A zipped Alipay bill is
//! taken whole (its directory is at its end) but inflated and parsed in chunks.
//!
//! Architecture invariant: no I/O, no clock, no Spin types. Over the store trait,
//! [`create_upload`]/[`put_chunk`] keep uploads chunk by chunk (an [`UploadManifest`]
//! rebuilt from per-chunk keys; the completing chunk imports the upload and only a clean
//! import makes it the day's statement), and [`run_day`] imports the stored chunks one at a
//! time, reads our orders through the order day index (`order::day_index`), calls
//! [`reconcile_day`] and stores the report under [`Report::storage_key`]. The
//! `reconcile` component only parses requests and answers.

mod alipay;
mod bill_store;
mod error;
mod finding;
#[cfg(test)]
mod fixtures;
mod import;
#[cfg(test)]
mod import_tests;
mod mappings;
mod matcher;
mod ours;
mod own_formats;
#[cfg(test)]
mod range_tests;
mod record;
mod report;
mod row;
mod run;
#[cfg(test)]
mod scenario_tests;
mod settlement;
mod statement;
mod text;
mod upload;
mod wechat;

pub use alipay::{import_alipay_zip, AlipayCsvParser, END_OF_DETAIL};
pub use bill_store::{
    channels_with_bill, create_upload, current_bill, import_upload, put_chunk, upload_status,
    BillStoreError, ImportedBill, UploadSpec, UploadStatus, MAX_CHUNKS, MAX_CHUNK_BYTES,
};
pub use error::{ImportError, ImportErrorKind};
pub use import::{import_chunks, BillParser, StatementKind};
pub use matcher::{reconcile_day, reconcile_day_with, DayBills, MatchOptions, ReconcileRequest};
pub use ours::{
    business_date_at, previous_business_day, OurRecord, OurRefund, DEFAULT_UTC_OFFSET_MINUTES,
};
pub use record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind, StatementSource};
pub use report::{
    diff_reports, ChannelSummary, Difference, DifferenceClass, Report, ReportChanges, SideTotals,
    Subject,
};
pub use run::{our_records, run_day, stored_report, RunEffect, RunOutcome};
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
    JsonLinesParser, PosShift, PosShiftReader,
};
pub use upload::{sha256_hex, ChunkInfo, ChunkOutcome, UploadError, UploadManifest};
