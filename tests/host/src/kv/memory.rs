//! `--kv-fast` in-memory store (with `--kv-memory`, or `type = "spin"`
//! without `path`): a map behind a mutex, gone when the host stops. Without
//! `--kv-fast` those stores are Spin's in-memory SQLite instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::cas::{SnapshotCas, SwapIf};
use super::{add_counter, CasHandle, KvBackend, KvError, KvResult};

#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fast in-memory map (--kv-fast, lost when the host stops)")
    }
}

impl MemoryBackend {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Vec<u8>>) -> KvResult<T>) -> KvResult<T> {
        let mut guard = self
            .map
            .lock()
            .map_err(|_| KvError::Other("memory store lock poisoned".into()))?;
        f(&mut guard)
    }
}

impl KvBackend for MemoryBackend {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.with(|m| Ok(m.get(key).cloned()))
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.with(|m| {
            m.insert(key.to_string(), value.to_vec());
            Ok(())
        })
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.with(|m| {
            m.remove(key);
            Ok(())
        })
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        self.with(|m| Ok(m.contains_key(key)))
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.with(|m| {
            let mut k: Vec<String> = m.keys().cloned().collect();
            k.sort();
            Ok(k)
        })
    }

    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        self.with(|m| {
            Ok(keys
                .iter()
                .map(|k| (k.clone(), m.get(k).cloned()))
                .collect())
        })
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        self.with(|m| {
            for (k, v) in entries {
                m.insert(k.clone(), v.clone());
            }
            Ok(())
        })
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.with(|m| {
            for k in keys {
                m.remove(k);
            }
            Ok(())
        })
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.with(|m| {
            let next = add_counter(m.get(key).map(Vec::as_slice), delta)?;
            m.insert(key.to_string(), next.to_le_bytes().to_vec());
            Ok(next)
        })
    }

    fn new_cas(self: Arc<Self>, key: &str) -> KvResult<Arc<dyn CasHandle>> {
        SnapshotCas::open(self, key)
    }

    fn blocks(&self) -> bool {
        false
    }
}

impl SwapIf for MemoryBackend {
    fn swap_if(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<bool> {
        self.with(|m| {
            if m.get(key).map(Vec::as_slice) != expected {
                return Ok(false);
            }
            m.insert(key.to_string(), value.to_vec());
            Ok(true)
        })
    }
}
