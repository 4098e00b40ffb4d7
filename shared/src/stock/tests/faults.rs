//! Store wrappers for crash, interleaving and cost tests: one that dies at its k-th
//! call (a `kill -9` between two store calls, or in the middle of one), one that lands
//! chosen batches one entry at a time with a hook between entries, and one that counts
//! calls.

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

/// Picks the batches a [`SteppedStore`] lands entry by entry.
type Watch<'a> = Box<dyn Fn(&[(String, Vec<u8>)]) -> bool + 'a>;

/// Wraps a store; a batch that `watch` picks is applied one entry at a time, in order
/// (what a concurrent reader of `MemoryStore`, or of a backend that pipelines its
/// `set`s, may see), and `between` runs after each entry with the key just written:
/// another process acting at every point inside the batch.
pub(super) struct SteppedStore<'a> {
    inner: &'a MemoryStore,
    watch: Watch<'a>,
    between: Box<dyn Fn(&str) + 'a>,
}

impl<'a> SteppedStore<'a> {
    pub(super) fn new(
        inner: &'a MemoryStore,
        watch: impl Fn(&[(String, Vec<u8>)]) -> bool + 'a,
        between: impl Fn(&str) + 'a,
    ) -> Self {
        Self {
            inner,
            watch: Box::new(watch),
            between: Box::new(between),
        }
    }
}

impl KeyValue for SteppedStore<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if !(self.watch)(entries) {
            return self.inner.set_many(entries);
        }
        for (key, value) in entries {
            self.inner.set(key, value)?;
            (self.between)(key);
        }
        Ok(())
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
