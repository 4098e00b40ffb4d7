//! Key-value stores behind both `fermyon:spin/key-value@2.0.0` and
//! `wasi:keyvalue@0.2.0-draft2`: one backend per store label, shared by every
//! component (and every instance) that lists the label.
//!
//! By default every backend does what Spin v3.6.3's does, faults included
//! ([`sqlite`], [`redis`]), so an app that passes here passes on Spin.
//! `--kv-fast` swaps in backends that are faster and correct under
//! concurrency ([`sqlite_fast`], [`memory`], Redis with `MGET` and a real
//! compare-and-swap); nothing that passes only in that mode is known to
//! pass on Spin.

mod cas;
pub mod memory;
pub mod redis;
mod spin_host;
pub mod sqlite;
pub mod sqlite_fast;
mod wasi_host;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::manifest::AppManifest;
use crate::runtime_config::{KvStoreConfig, RuntimeConfig};

pub use self::redis::RedisBackend;
pub use memory::MemoryBackend;
pub use sqlite::SqliteBackend;
pub use sqlite_fast::{FastSqliteBackend, SqlitePool};

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

/// A store backend, one method per operation of Spin's `Store` trait
/// (`crates/factor-key-value/src/host.rs`). Methods block (SQLite and Redis do
/// I/O); host bindings run them through [`offload`]. Where Spin's backend
/// panics, ours panics at the same point, and [`offload`] turns the panic into
/// the trap the guest sees on Spin.
pub trait KvBackend: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()>;
    fn delete(&self, key: &str) -> KvResult<()>;
    fn exists(&self, key: &str) -> KvResult<bool>;
    fn keys(&self) -> KvResult<Vec<String>>;
    /// What the backend answers: Spin's SQLite store returns only the keys it
    /// finds, its Redis store whatever `KEYS` makes of the list.
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>>;
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()>;
    fn delete_many(&self, keys: &[String]) -> KvResult<()>;
    /// Adds `delta` to the counter under `key` (absent = 0); returns the new value.
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64>;
    /// A compare-and-swap handle (`wasi:keyvalue/atomics.cas.new`).
    fn new_cas(self: Arc<Self>, key: &str) -> KvResult<Arc<dyn CasHandle>>;
    fn blocks(&self) -> bool {
        true
    }
}

/// Spin's `Cas` trait: what one `wasi:keyvalue/atomics.cas` resource does.
pub trait CasHandle: Send + Sync + std::fmt::Debug {
    /// `cas.current`: reads the key now, and remembers what it read as the
    /// value `swap` compares against (Redis also WATCHes the key).
    fn current(&self) -> KvResult<Option<Vec<u8>>>;
    /// `true`: written; `false`: `cas-failed`.
    fn swap(&self, value: &[u8]) -> KvResult<bool>;
}

/// Decodes Spin's SQLite increment encoding (i64, 8 bytes little-endian).
pub fn decode_counter(bytes: &[u8]) -> KvResult<i64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        KvError::Other(format!(
            "value is not a counter: expected 8 bytes (i64 little-endian), found {}",
            bytes.len()
        ))
    })?;
    Ok(i64::from_le_bytes(arr))
}

/// The fast backends' increment: an error, not a panic, on a non-counter.
pub fn add_counter(current: Option<&[u8]>, delta: i64) -> KvResult<i64> {
    let base = match current {
        Some(b) => decode_counter(b)?,
        None => 0,
    };
    base.checked_add(delta)
        .ok_or_else(|| KvError::Other("increment overflows i64".into()))
}

/// Runs one store call, on the blocking pool when it blocks. `Err` is a trap:
/// the call panicked, as Spin's host does there (a host panic ends the
/// guest's request with a 500 on Spin too).
pub async fn offload<T, F>(blocks: bool, f: F) -> wasmtime::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if !blocks {
        return Ok(f());
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Err(wasmtime::Error::msg(format!(
                "key-value host call panicked (as Spin's does): {msg}"
            )))
        }
        Err(e) => Err(wasmtime::Error::msg(format!("key-value task failed: {e}"))),
    }
}

/// How the host opens its stores (`up` flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct KvOptions {
    /// Every store in memory (`--kv-memory`).
    pub memory: bool,
    /// The fast, concurrency-correct backends instead of Spin's (`--kv-fast`).
    pub fast: bool,
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
        opts: KvOptions,
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
        // Fast SQLite stores on one file share one pool.
        let mut pools: HashMap<PathBuf, Arc<SqlitePool>> = HashMap::new();
        let mut stores: HashMap<String, Arc<dyn KvBackend>> = HashMap::new();
        for label in labels {
            let cfg = match runtime.key_value_stores.get(&label) {
                Some(c) => c.clone(),
                // Spin's default store: `<state dir>/sqlite_key_value.db`.
                None => KvStoreConfig::Spin {
                    path: Some(state_dir.join("sqlite_key_value.db")),
                },
            };
            let cfg = if opts.memory {
                KvStoreConfig::Spin { path: None }
            } else {
                cfg
            };
            let backend = open_backend(&label, cfg, opts.fast, &mut pools)
                .map_err(|e| anyhow::anyhow!("key_value_store.{label}: {e}"))?;
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

fn open_backend(
    label: &str,
    cfg: KvStoreConfig,
    fast: bool,
    pools: &mut HashMap<PathBuf, Arc<SqlitePool>>,
) -> Result<Arc<dyn KvBackend>, String> {
    Ok(match (cfg, fast) {
        (KvStoreConfig::Redis { url }, fast) => Arc::new(RedisBackend::open(&url, fast)?),
        // Spin: one store manager, so one connection, per label (even when
        // two labels name one file).
        (KvStoreConfig::Spin { path: Some(path) }, false) => {
            Arc::new(SqliteBackend::open_file(&path, label)?)
        }
        // `type = "spin"` without `path` is Spin's in-memory SQLite.
        (KvStoreConfig::Spin { path: None }, false) => Arc::new(SqliteBackend::in_memory(label)?),
        (KvStoreConfig::Spin { path: Some(path) }, true) => {
            let pool = match pools.get(&path) {
                Some(p) => p.clone(),
                None => {
                    let p = Arc::new(SqlitePool::open(&path)?);
                    pools.insert(path, p.clone());
                    p
                }
            };
            Arc::new(FastSqliteBackend::new(pool, label))
        }
        (KvStoreConfig::Spin { path: None }, true) => Arc::new(MemoryBackend::default()),
    })
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
    /// Runs a backend call through [`offload`]: `Err` is a trap.
    pub async fn run<T, F>(&self, f: F) -> wasmtime::Result<KvResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn KvBackend>) -> KvResult<T> + Send + 'static,
    {
        let b = self.backend.clone();
        offload(b.blocks(), move || f(b)).await
    }
}

/// The host value behind `wasi:keyvalue/store.bucket`. A separate type from
/// [`Store`] because wasmtime identifies resource types by their Rust type,
/// and the two WIT resources must stay distinct.
#[derive(Debug, Clone)]
pub struct Bucket(pub Store);

/// The host value behind `wasi:keyvalue/atomics.cas`.
#[derive(Debug, Clone)]
pub struct Cas {
    pub store: Store,
    pub key: String,
    pub handle: Arc<dyn CasHandle>,
}

impl Cas {
    /// Runs a handle call through [`offload`]: `Err` is a trap.
    pub async fn run<T, F>(&self, f: F) -> wasmtime::Result<KvResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&dyn CasHandle) -> KvResult<T> + Send + 'static,
    {
        let h = self.handle.clone();
        offload(self.store.backend.blocks(), move || f(h.as_ref())).await
    }
}

#[cfg(test)]
mod tests;
