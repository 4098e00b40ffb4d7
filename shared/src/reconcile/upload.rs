//! Bookkeeping of a chunked, resumable bill upload: which chunks arrived, whether a
//! re-sent chunk is the same one (idempotent) or a conflicting one, when the upload is
//! complete, and the statement's identity (a digest of its bytes, in order), which is
//! what makes a rerun of the same bill the same report and a different bill a
//! superseding one. The component keeps the manifest and the chunks in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub len: u64,
    /// Lowercase hex SHA-256 of the chunk.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadManifest {
    pub upload_id: String,
    /// How many chunks the uploader announced.
    pub total_chunks: u32,
    pub chunks: BTreeMap<u32, ChunkInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkOutcome {
    /// New: store its bytes.
    Stored,
    /// The same bytes were already received: nothing to do.
    AlreadyHad,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UploadError {
    #[error("chunk {index} is outside 0..{total}")]
    OutOfRange { index: u32, total: u32 },
    #[error("chunk {index} was already received with other content")]
    ConflictingChunk { index: u32 },
    #[error("chunk {index} is larger than the limit of {limit} bytes")]
    ChunkTooLarge { index: u32, limit: u64 },
    #[error("the upload is missing chunks {missing:?}")]
    Incomplete { missing: Vec<u32> },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl UploadManifest {
    pub fn new(upload_id: impl Into<String>, total_chunks: u32) -> Self {
        Self {
            upload_id: upload_id.into(),
            total_chunks,
            chunks: BTreeMap::new(),
        }
    }

    /// Record a chunk. Re-sending the same chunk is harmless; different bytes under an
    /// index already taken are refused (a retry must not silently change the bill).
    pub fn accept(
        &mut self,
        index: u32,
        bytes: &[u8],
        max_chunk: u64,
    ) -> Result<ChunkOutcome, UploadError> {
        if index >= self.total_chunks {
            return Err(UploadError::OutOfRange {
                index,
                total: self.total_chunks,
            });
        }
        let len = bytes.len() as u64;
        if len > max_chunk {
            return Err(UploadError::ChunkTooLarge {
                index,
                limit: max_chunk,
            });
        }
        let info = ChunkInfo {
            len,
            sha256: sha256_hex(bytes),
        };
        match self.chunks.get(&index) {
            Some(existing) if *existing == info => Ok(ChunkOutcome::AlreadyHad),
            Some(_) => Err(UploadError::ConflictingChunk { index }),
            None => {
                self.chunks.insert(index, info);
                Ok(ChunkOutcome::Stored)
            }
        }
    }

    pub fn missing(&self) -> Vec<u32> {
        (0..self.total_chunks)
            .filter(|i| !self.chunks.contains_key(i))
            .collect()
    }

    pub fn is_complete(&self) -> bool {
        self.chunks.len() as u64 == u64::from(self.total_chunks)
    }

    /// The statement's identity once complete: SHA-256 over the chunk digests in order.
    /// Equal bytes split differently give different ids; the component should use one
    /// chunk size per channel (or hash the assembled bytes with [`sha256_hex`]).
    pub fn statement_id(&self) -> Result<String, UploadError> {
        let missing = self.missing();
        if !missing.is_empty() {
            return Err(UploadError::Incomplete { missing });
        }
        let mut h = Sha256::new();
        for info in self.chunks.values() {
            h.update(info.sha256.as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Total bytes received.
    pub fn bytes(&self) -> u64 {
        self.chunks.values().map(|c| c.len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_idempotent_and_conflicts_refused() {
        let mut m = UploadManifest::new("u1", 3);
        assert_eq!(m.accept(0, b"abc", 10), Ok(ChunkOutcome::Stored));
        assert_eq!(m.accept(0, b"abc", 10), Ok(ChunkOutcome::AlreadyHad));
        assert_eq!(
            m.accept(0, b"abd", 10),
            Err(UploadError::ConflictingChunk { index: 0 })
        );
        assert_eq!(
            m.accept(3, b"x", 10),
            Err(UploadError::OutOfRange { index: 3, total: 3 })
        );
        assert_eq!(
            m.accept(1, &[0; 11], 10),
            Err(UploadError::ChunkTooLarge {
                index: 1,
                limit: 10
            })
        );
        assert_eq!(m.accept(2, b"ghi", 10), Ok(ChunkOutcome::Stored));
        assert_eq!(m.missing(), vec![1]);
        assert_eq!(
            m.statement_id(),
            Err(UploadError::Incomplete { missing: vec![1] })
        );
        m.accept(1, b"def", 10).unwrap();
        assert!(m.is_complete());
        assert_eq!(m.bytes(), 9);
        let id = m.statement_id().unwrap();
        // Arrival order does not matter.
        let mut n = UploadManifest::new("u2", 3);
        for (i, c) in [(2, b"ghi"), (0, b"abc"), (1, b"def")] {
            n.accept(i, c, 10).unwrap();
        }
        assert_eq!(n.statement_id().unwrap(), id);
    }
}
