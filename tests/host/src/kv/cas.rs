//! The fast backends' compare-and-swap: a real one. The handle compares
//! against the value it last read (at creation, then at each `current`),
//! absent included, so of two racing swaps from one state exactly one wins.
//! Spin's SQLite and Redis backends do not do this (see their modules).

use std::sync::{Arc, Mutex};

use super::{CasHandle, KvBackend, KvResult};

/// A backend that can write `value` only if `key` still holds `expected`
/// (`None` = absent), atomically.
pub(crate) trait SwapIf: KvBackend + 'static {
    fn swap_if(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<bool>;
}

pub(crate) struct SnapshotCas<B: SwapIf> {
    backend: Arc<B>,
    key: String,
    seen: Mutex<Option<Vec<u8>>>,
}

impl<B: SwapIf> std::fmt::Debug for SnapshotCas<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cas on '{}' in {:?}", self.key, self.backend)
    }
}

impl<B: SwapIf> SnapshotCas<B> {
    pub(crate) fn open(backend: Arc<B>, key: &str) -> KvResult<Arc<dyn CasHandle>> {
        let seen = backend.get(key)?;
        Ok(Arc::new(Self {
            backend,
            key: key.to_string(),
            seen: Mutex::new(seen),
        }))
    }
}

impl<B: SwapIf> CasHandle for SnapshotCas<B> {
    fn current(&self) -> KvResult<Option<Vec<u8>>> {
        let now = self.backend.get(&self.key)?;
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone_from(&now);
        Ok(now)
    }

    fn swap(&self, value: &[u8]) -> KvResult<bool> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.backend.swap_if(&self.key, seen.as_deref(), value)
    }
}
