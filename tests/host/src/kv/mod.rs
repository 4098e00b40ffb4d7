//! Key-value stores behind both `fermyon:spin/key-value@2.0.0` and
//! `wasi:keyvalue@0.2.0-draft2`: one backend per store label, shared by every
//! component (and every instance) that lists the label.

pub mod memory;
pub mod redis;
mod spin_host;
pub mod sqlite;
mod wasi_host;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::manifest::AppManifest;
use crate::runtime_config::{KvStoreConfig, RuntimeConfig};

pub use self::redis::RedisBackend;
pub use memory::MemoryBackend;
pub use sqlite::SqliteBackend;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::NoSuchStore => write!(f, "no such store"),
            KvError::AccessDenied => write!(f, "access denied"),
            KvError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for KvError {}

pub type KvResult<T> = std::result::Result<T, KvError>;

/// A store backend. Methods block (SQLite does I/O); host bindings run them
/// on tokio's blocking pool when [`KvBackend::blocks`] says so.
pub trait KvBackend: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()>;
    fn delete(&self, key: &str) -> KvResult<()>;
    fn exists(&self, key: &str) -> KvResult<bool>;
    fn keys(&self) -> KvResult<Vec<String>>;
    /// One entry per requested key, in request order (`None` when absent).
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>>;
    /// All or nothing.
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()>;
    fn delete_many(&self, keys: &[String]) -> KvResult<()>;
    /// Adds `delta` to the i64 stored as 8 little-endian bytes (absent = 0),
    /// atomically; returns the new value.
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64>;
    /// Writes `value` only if the key still holds `expected` (`None` = the
    /// key must be absent). Atomic: of racing swaps from the same state,
    /// exactly one returns `true`.
    fn swap_if(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<bool>;
    fn blocks(&self) -> bool {
        false
    }
}

/// Decodes Spin's increment encoding (i64, 8 bytes little-endian).
pub fn decode_counter(bytes: &[u8]) -> KvResult<i64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        KvError::Other(format!(
            "value is not a counter: expected 8 bytes (i64 little-endian), found {}",
            bytes.len()
        ))
    })?;
    Ok(i64::from_le_bytes(arr))
}

pub fn add_counter(current: Option<&[u8]>, delta: i64) -> KvResult<i64> {
    let base = match current {
        Some(b) => decode_counter(b)?,
        None => 0,
    };
    base.checked_add(delta)
        .ok_or_else(|| KvError::Other("increment overflows i64".into()))
}

/// All stores of the running app, opened once at startup.
#[derive(Debug, Default, Clone)]
pub struct KvStores {
    stores: HashMap<String, Arc<dyn KvBackend>>,
}

impl KvStores {
    /// Opens a backend for every label any component lists. Labels other
    /// than `default` must be declared in the runtime config (as in Spin).
    pub fn open(
        app: &AppManifest,
        runtime: &RuntimeConfig,
        state_dir: &Path,
        force_memory: bool,
    ) -> Result<Self> {
        let mut labels = BTreeSet::new();
        for c in app.components.values() {
            for l in &c.key_value_stores {
                if l != "default" && !runtime.key_value_stores.contains_key(l) {
                    bail!(
                        "component.{}.key_value_stores: store '{l}' is not defined; add [key_value_store.{l}] to the runtime config (--runtime-config-file)",
                        c.id
                    );
                }
                labels.insert(l.clone());
            }
        }
        let mut stores: HashMap<String, Arc<dyn KvBackend>> = HashMap::new();
        // Several labels may share one SQLite file (Spin's default layout):
        // share the pool too.
        let mut files: HashMap<std::path::PathBuf, Arc<sqlite::SqlitePool>> = HashMap::new();
        for label in labels {
            let cfg = runtime
                .key_value_stores
                .get(&label)
                .cloned()
                .unwrap_or(KvStoreConfig::Spin { path: None });
            let backend: Arc<dyn KvBackend> = if force_memory {
                Arc::new(MemoryBackend::default())
            } else {
                match cfg {
                    KvStoreConfig::Memory => Arc::new(MemoryBackend::default()),
                    KvStoreConfig::Redis { url } => Arc::new(
                        RedisBackend::open(&url)
                            .map_err(|e| anyhow::anyhow!("key_value_store.{label}: {e}"))?,
                    ),
                    KvStoreConfig::Spin { path } => {
                        let path = match path {
                            Some(p) => p,
                            None if label == "default" => state_dir.join("sqlite_key_value.db"),
                            None => state_dir.join(format!("{label}.db")),
                        };
                        let pool = match files.get(&path) {
                            Some(p) => p.clone(),
                            None => {
                                let p = Arc::new(sqlite::SqlitePool::open(&path).map_err(|e| {
                                    anyhow::anyhow!("key_value_store.{label}: {e}")
                                })?);
                                files.insert(path.clone(), p.clone());
                                p
                            }
                        };
                        Arc::new(SqliteBackend::new(pool, &label))
                    }
                }
            };
            stores.insert(label, backend);
        }
        Ok(Self { stores })
    }

    pub fn from_backends(stores: impl IntoIterator<Item = (String, Arc<dyn KvBackend>)>) -> Self {
        Self {
            stores: stores.into_iter().collect(),
        }
    }

    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }

    pub fn describe(&self, label: &str) -> Option<String> {
        self.stores.get(label).map(|b| format!("{b:?}"))
    }

    pub fn get(&self, label: &str) -> Option<Arc<dyn KvBackend>> {
        self.stores.get(label).cloned()
    }
}

/// What one component instance may open: the labels it lists.
#[derive(Debug, Clone)]
pub struct KvAccess {
    stores: KvStores,
    allowed: Arc<HashSet<String>>,
}

impl KvAccess {
    pub fn new(stores: KvStores, allowed: Arc<HashSet<String>>) -> Self {
        Self { stores, allowed }
    }

    pub fn open(&self, label: &str) -> KvResult<Store> {
        if !self.allowed.contains(label) {
            return Err(KvError::AccessDenied);
        }
        match self.stores.get(label) {
            Some(backend) => Ok(Store { backend }),
            None => Err(KvError::NoSuchStore),
        }
    }
}

/// An open store: the host value behind the `store` / `bucket` resources.
#[derive(Debug, Clone)]
pub struct Store {
    pub backend: Arc<dyn KvBackend>,
}

impl Store {
    /// Runs a backend call, off the async runtime when it blocks.
    pub async fn run<T, F>(&self, f: F) -> KvResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn KvBackend) -> KvResult<T> + Send + 'static,
    {
        if self.backend.blocks() {
            let b = self.backend.clone();
            tokio::task::spawn_blocking(move || f(b.as_ref()))
                .await
                .map_err(|e| KvError::Other(format!("store task failed: {e}")))?
        } else {
            f(self.backend.as_ref())
        }
    }
}

/// The host value behind `wasi:keyvalue/store.bucket`. A separate type from
/// [`Store`] because wasmtime identifies resource types by their Rust type,
/// and the two WIT resources must stay distinct.
#[derive(Debug, Clone)]
pub struct Bucket(pub Store);

/// The host value behind `wasi:keyvalue/atomics.cas`: the key and the value
/// it held when the handle was made.
#[derive(Debug, Clone)]
pub struct Cas {
    pub store: Store,
    pub key: String,
    pub current: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests;
