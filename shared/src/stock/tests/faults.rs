//! Store wrappers for crash and cost tests: one that dies at its k-th call (a `kill -9`
//! between two store calls, or in the middle of one), and one that counts calls.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::store::{KeyValue, MemoryStore, StoreError};

/// Whether the call the process died in reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Death {
    /// The k-th call was applied, then the process died before seeing its answer.
    AfterApplying,
    /// The process died before the k-th call reached the store.
    BeforeApplying,
}

/// Wraps a store; after the `k`-th call every call fails (the process is dead). Batch
/// calls count as one call and are applied whole or not at all, like one request.
pub(super) struct CrashStore<'a> {
    inner: &'a MemoryStore,
    k: usize,
    death: Death,
    calls: AtomicUsize,
    dead: AtomicBool,
}

impl<'a> CrashStore<'a> {
    pub(super) fn new(inner: &'a MemoryStore, k: usize, death: Death) -> Self {
        Self {
            inner,
            k,
            death,
            calls: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
        }
    }

    pub(super) fn crashed(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    fn call<T>(
        &self,
        f: impl FnOnce(&MemoryStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.crashed() {
            return Err(StoreError::Backend("process killed".into()));
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.k {
            return f(self.inner);
        }
        self.dead.store(true, Ordering::SeqCst);
        if self.death == Death::AfterApplying {
            let _ = f(self.inner);
        }
        Err(StoreError::Backend("process killed".into()))
    }
}

impl KeyValue for CrashStore<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(|s| s.get(key))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.call(|s| s.set(key, value))
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(|s| s.delete(key))
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.call(|s| s.exists(key))
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.call(|s| s.increment(key, delta))
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.call(|s| s.get_many(keys))
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.call(|s| s.set_many(entries))
    }
}

/// Counts store calls (a batch is one call: one round trip).
pub(super) struct CountingStore<'a> {
    inner: &'a MemoryStore,
    calls: AtomicUsize,
}

impl<'a> CountingStore<'a> {
    pub(super) fn new(inner: &'a MemoryStore) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
        }
    }
    /// Calls since the last `take`.
    pub(super) fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    fn count(&self) -> &MemoryStore {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner
    }
}

impl KeyValue for CountingStore<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count().get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.count().set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count().delete(key)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.count().exists(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.count().increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.count().get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.count().set_many(entries)
    }
}
