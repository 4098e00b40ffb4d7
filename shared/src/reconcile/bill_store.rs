//! Uploaded bills in the `reconcile` store: chunked, resumable, each chunk idempotent,
//! and read back one chunk at a time so an import never holds the whole file.
//!
//! Layout (`{u}` the upload id):
//! - `reconcile/upload-seq` — counter handing out upload ids;
//! - `reconcile/upload/{u}` — the [`UploadSpec`];
//! - `reconcile/upload/{u}/claim/{i}` — elects the first writer of chunk `i`;
//! - `reconcile/upload/{u}/chunk/{i}/{sha256}` — the chunk's bytes, under its digest,
//!   so two racing writers of different bytes never mix halves;
//! - `reconcile/upload/{u}/info/{i}` — its [`ChunkInfo`], written after the bytes (info
//!   present ⇒ bytes present);
//! - `reconcile/upload/{u}/verdict/{statement_id}` — the [`Verdict`] of the import run
//!   when the upload completed, so a retried last chunk answers the same;
//! - `reconcile/bill/{channel}/{date}` — the upload that is the statement of that day:
//!   the last one completed *and imported cleanly* (a corrected statement is a new
//!   upload; a malformed one is refused and the earlier statement stays in force);
//! - `reconcile/bills/{date}/seq|idx/{n}|listed/{channel}` — the channels with a bill.
//!
//! No compare-and-swap: a writer that dies between its claim and its info is repaired by
//! the retry, which finds no info and writes the chunk itself; one that dies between the
//! last info and the verdict is repaired by a retry of any chunk, which finds the upload
//! complete without a verdict and imports it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::ImportError;
use super::import::{BillParser, StatementKind};
use super::own_formats::{PosShift, PosShiftReader};
use super::record::BillLine;
use super::upload::{sha256_hex, ChunkInfo, ChunkOutcome, UploadError, UploadManifest};
use crate::order::ChannelId;
use crate::store::{KeyValue, StoreError};

/// A request never carries more than this: bounds the memory of an upload and an import.
pub const MAX_CHUNK_BYTES: u64 = 1 << 20;
/// 64 GiB at the chunk limit; also bounds the manifest read per chunk.
pub const MAX_CHUNKS: u32 = 65_536;

/// What an uploader announces when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadSpec {
    pub channel: ChannelId,
    pub business_date: NaiveDate,
    pub statement: StatementKind,
    pub total_chunks: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub upload_id: String,
    pub channel: ChannelId,
    pub business_date: NaiveDate,
    pub total_chunks: u32,
    pub received: u32,
    pub missing: Vec<u32>,
    pub bytes: u64,
    pub complete: bool,
    /// The statement's identity, once complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
    /// Why the completed upload was refused (it is not the day's statement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<ImportError>,
}

/// What importing a completed upload said. Stored per statement id, which is the digest
/// of every chunk, so a verdict can never be read for other bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
enum Verdict {
    /// It is (or was) the day's statement.
    Accepted,
    Rejected {
        error: ImportError,
    },
}

#[derive(Debug, Error)]
pub enum BillStoreError {
    #[error("no upload `{0}`")]
    UnknownUpload(String),
    #[error("total_chunks must be 1..={max}, got {got}")]
    BadChunkCount { got: u32, max: u32 },
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("no completed bill for channel `{channel}` on {date}")]
    NoBill { channel: ChannelId, date: NaiveDate },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn spec_key(u: &str) -> String {
    format!("reconcile/upload/{u}")
}
fn info_key(u: &str, i: u32) -> String {
    format!("reconcile/upload/{u}/info/{i}")
}
fn chunk_key(u: &str, i: u32, sha: &str) -> String {
    format!("reconcile/upload/{u}/chunk/{i}/{sha}")
}
fn verdict_key(u: &str, statement_id: &str) -> String {
    format!("reconcile/upload/{u}/verdict/{statement_id}")
}
fn bill_key(channel: &ChannelId, date: NaiveDate) -> String {
    format!("reconcile/bill/{channel}/{date}")
}

/// Start an upload; returns its (empty) status with the new id.
pub fn create_upload<S: KeyValue>(
    store: &S,
    spec: &UploadSpec,
) -> Result<UploadStatus, BillStoreError> {
    if spec.total_chunks == 0 || spec.total_chunks > MAX_CHUNKS {
        return Err(BillStoreError::BadChunkCount {
            got: spec.total_chunks,
            max: MAX_CHUNKS,
        });
    }
    // Fail early on a mapping that cannot work, not after the whole upload.
    spec.statement.streaming_parser()?;
    let n = store.increment("reconcile/upload-seq", 1)?;
    let upload_id = format!("u{n}");
    store.set_json(&spec_key(&upload_id), spec)?;
    status_of(
        &upload_id,
        spec,
        &UploadManifest::new(&upload_id, spec.total_chunks),
        None,
    )
}

fn load_spec<S: KeyValue>(store: &S, upload_id: &str) -> Result<UploadSpec, BillStoreError> {
    store
        .get_json(&spec_key(upload_id))?
        .ok_or_else(|| BillStoreError::UnknownUpload(upload_id.to_string()))
}

fn load_manifest<S: KeyValue>(
    store: &S,
    upload_id: &str,
    spec: &UploadSpec,
) -> Result<UploadManifest, BillStoreError> {
    let mut m = UploadManifest::new(upload_id, spec.total_chunks);
    let keys: Vec<String> = (0..spec.total_chunks)
        .map(|i| info_key(upload_id, i))
        .collect();
    for (i, bytes) in (0..spec.total_chunks).zip(store.get_many(&keys)?) {
        if let Some(bytes) = bytes {
            let info: ChunkInfo = serde_json::from_slice(&bytes)
                .map_err(|e| BillStoreError::Corrupt(format!("chunk info {i}: {e}")))?;
            m.chunks.insert(i, info);
        }
    }
    Ok(m)
}

fn status_of(
    upload_id: &str,
    spec: &UploadSpec,
    m: &UploadManifest,
    verdict: Option<&Verdict>,
) -> Result<UploadStatus, BillStoreError> {
    Ok(UploadStatus {
        upload_id: upload_id.to_string(),
        channel: spec.channel.clone(),
        business_date: spec.business_date,
        total_chunks: spec.total_chunks,
        received: u32::try_from(m.chunks.len()).unwrap_or(u32::MAX),
        missing: m.missing(),
        bytes: m.bytes(),
        complete: m.is_complete(),
        statement_id: m.statement_id().ok(),
        rejected: match verdict {
            Some(Verdict::Rejected { error }) => Some(error.clone()),
            _ => None,
        },
    })
}

/// The stored verdict of a complete upload (`None` while incomplete or not yet judged).
fn load_verdict<S: KeyValue>(
    store: &S,
    upload_id: &str,
    m: &UploadManifest,
) -> Result<Option<Verdict>, BillStoreError> {
    let Ok(statement_id) = m.statement_id() else {
        return Ok(None);
    };
    Ok(store.get_json(&verdict_key(upload_id, &statement_id))?)
}

pub fn upload_status<S: KeyValue>(
    store: &S,
    upload_id: &str,
) -> Result<UploadStatus, BillStoreError> {
    let spec = load_spec(store, upload_id)?;
    let m = load_manifest(store, upload_id, &spec)?;
    let verdict = load_verdict(store, upload_id, &m)?;
    status_of(upload_id, &spec, &m, verdict.as_ref())
}

/// Store chunk `index`. The same bytes again: `AlreadyHad`; other bytes under a taken
/// index: `UploadError::ConflictingChunk`.
///
/// The chunk that completes the upload imports it, chunk by chunk as a run will, and
/// only a clean import makes it the statement of its channel and day. A bad bill is
/// [`BillStoreError::Import`] (line and column) for that request and for every retry,
/// and whatever statement the day had stays in force: a malformed correction must not
/// take a good bill's place, nor make the neighbouring days' runs drop it.
pub fn put_chunk<S: KeyValue>(
    store: &S,
    upload_id: &str,
    index: u32,
    bytes: &[u8],
) -> Result<(ChunkOutcome, UploadStatus), BillStoreError> {
    let spec = load_spec(store, upload_id)?;
    let mut m = load_manifest(store, upload_id, &spec)?;
    let mut outcome = m.accept(index, bytes, MAX_CHUNK_BYTES)?;
    if outcome == ChunkOutcome::Stored {
        let info = ChunkInfo {
            len: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        };
        let claim = format!("reconcile/upload/{upload_id}/claim/{index}");
        let theirs = if store.increment(&claim, 1)? == 1 {
            None
        } else {
            // Someone else is writing this index (or died doing so): theirs stands if
            // it made it, else ours repairs it.
            store.get_json::<ChunkInfo>(&info_key(upload_id, index))?
        };
        match theirs {
            Some(theirs) if theirs != info => {
                return Err(UploadError::ConflictingChunk { index }.into())
            }
            Some(_) => outcome = ChunkOutcome::AlreadyHad,
            None => {
                store.set(&chunk_key(upload_id, index, &info.sha256), bytes)?;
                store.set_json(&info_key(upload_id, index), &info)?;
            }
        }
        if !m.is_complete() {
            // Chunks sent in parallel: the other request's chunk may have landed since
            // we read the manifest, and then ours is the one that completes the upload
            // (whichever of two writes its info last sees both).
            m = load_manifest(store, upload_id, &spec)?;
        }
    }
    let verdict = if m.is_complete() {
        Some(judge(store, upload_id, &spec, &m)?)
    } else {
        None
    };
    if let Some(Verdict::Rejected { error }) = verdict {
        return Err(error.into());
    }
    Ok((outcome, status_of(upload_id, &spec, &m, verdict.as_ref())?))
}

/// The verdict on a complete upload: the stored one, or import it now. Two requests may
/// both import (parallel last chunks, or a retry after a crash): both reach the same
/// verdict and repoint to the same upload, so that is only work done twice.
fn judge<S: KeyValue>(
    store: &S,
    upload_id: &str,
    spec: &UploadSpec,
    m: &UploadManifest,
) -> Result<Verdict, BillStoreError> {
    let key = verdict_key(upload_id, &m.statement_id()?);
    if let Some(v) = store.get_json::<Verdict>(&key)? {
        return Ok(v);
    }
    // Only the lines are thrown away, after each chunk: memory is one chunk plus the
    // importer's state, as in a run (a zipped bill is assembled whole there too).
    let verdict = match parse_upload(store, upload_id, spec, m, |lines| lines.clear()) {
        Ok(()) => Verdict::Accepted,
        Err(BillStoreError::Import(error)) => Verdict::Rejected { error },
        // Store trouble or a vanished chunk says nothing about the bill: no verdict,
        // the retry judges again.
        Err(e) => return Err(e),
    };
    if verdict == Verdict::Accepted {
        // Repointed before the verdict is written: a verdict present means this is done.
        complete(store, upload_id, spec)?;
    }
    store.set_json(&key, &verdict)?;
    Ok(verdict)
}

fn complete<S: KeyValue>(store: &S, upload_id: &str, spec: &UploadSpec) -> Result<(), StoreError> {
    let day = spec.business_date;
    store.set(&bill_key(&spec.channel, day), upload_id.as_bytes())?;
    let listed = format!("reconcile/bills/{day}/listed/{}", spec.channel);
    if store.increment(&listed, 1)? == 1 {
        let n = store.increment(&format!("reconcile/bills/{day}/seq"), 1)?;
        store.set(
            &format!("reconcile/bills/{day}/idx/{n}"),
            spec.channel.as_str().as_bytes(),
        )?;
    }
    Ok(())
}

/// The upload that is the statement of (`channel`, `date`), if one completed.
pub fn current_bill<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    date: NaiveDate,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .get(&bill_key(channel, date))?
        .and_then(|b| String::from_utf8(b).ok()))
}

/// The channels with a completed bill for `date`, sorted.
pub fn channels_with_bill<S: KeyValue>(
    store: &S,
    date: NaiveDate,
) -> Result<Vec<ChannelId>, StoreError> {
    let n = store.increment(&format!("reconcile/bills/{date}/seq"), 0)?;
    let keys: Vec<String> = (1..=n)
        .map(|i| format!("reconcile/bills/{date}/idx/{i}"))
        .collect();
    let mut out: Vec<ChannelId> = store
        .get_many(&keys)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .map(ChannelId)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A completed upload, imported: the lines, its spec and statement id. Chunks are read
/// and fed one at a time (a zipped bill, whose directory is at its end, is assembled).
/// All or nothing: an [`ImportError`] names the line and column.
pub struct ImportedBill {
    pub spec: UploadSpec,
    pub statement_id: String,
    pub lines: Vec<BillLine>,
}

/// Chunk `i` of a completed upload, as stored under its digest.
fn read_chunk<S: KeyValue>(
    store: &S,
    upload_id: &str,
    i: u32,
    info: &ChunkInfo,
) -> Result<Vec<u8>, BillStoreError> {
    store
        .get(&chunk_key(upload_id, i, &info.sha256))?
        .ok_or_else(|| BillStoreError::Corrupt(format!("chunk {i} of {upload_id} is gone")))
}

/// The shifts of a completed POS shift-totals upload, read one chunk at a time: what
/// our POS orders are summed by before they are matched (see [`pos_shift_records`]).
///
/// [`pos_shift_records`]: super::own_formats::pos_shift_records
pub fn upload_pos_shifts<S: KeyValue>(
    store: &S,
    upload_id: &str,
) -> Result<Vec<PosShift>, BillStoreError> {
    let spec = load_spec(store, upload_id)?;
    let m = load_manifest(store, upload_id, &spec)?;
    m.statement_id()?;
    let mut reader = PosShiftReader::new();
    for (i, info) in &m.chunks {
        reader.feed(&read_chunk(store, upload_id, *i, info)?)?;
    }
    Ok(reader.finish()?)
}

pub fn import_upload<S: KeyValue>(
    store: &S,
    upload_id: &str,
) -> Result<ImportedBill, BillStoreError> {
    let spec = load_spec(store, upload_id)?;
    let m = load_manifest(store, upload_id, &spec)?;
    let statement_id = m.statement_id()?;
    let mut lines = Vec::new();
    parse_upload(store, upload_id, &spec, &m, |batch| lines.append(batch))?;
    Ok(ImportedBill {
        spec,
        statement_id,
        lines,
    })
}

/// Feed a complete upload's chunks, in order and one at a time, through its importer;
/// `take` gets the lines each chunk completed (a zipped bill's all at once). The one
/// parse that both the completing chunk and a run go through, so an upload accepted at
/// completion imports the same way in every later run.
fn parse_upload<S: KeyValue>(
    store: &S,
    upload_id: &str,
    spec: &UploadSpec,
    m: &UploadManifest,
    mut take: impl FnMut(&mut Vec<BillLine>),
) -> Result<(), BillStoreError> {
    let chunk = |i: u32, info: &ChunkInfo| read_chunk(store, upload_id, i, info);
    let mut out = Vec::new();
    match spec.statement.streaming_parser()? {
        Some(mut parser) => {
            for (i, info) in &m.chunks {
                parser.feed(&chunk(*i, info)?, &mut out)?;
                take(&mut out);
            }
            parser.finish(&mut out)?;
        }
        None => {
            let chunk_size = usize::try_from(MAX_CHUNK_BYTES).unwrap_or(usize::MAX);
            let mut whole = Vec::with_capacity(usize::try_from(m.bytes()).unwrap_or(0));
            for (i, info) in &m.chunks {
                whole.extend_from_slice(&chunk(*i, info)?);
            }
            out = spec.statement.import(&whole, chunk_size)?;
        }
    }
    take(&mut out);
    Ok(())
}

#[cfg(test)]
#[path = "bill_store_tests.rs"]
mod tests;
