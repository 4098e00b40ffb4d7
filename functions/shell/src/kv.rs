//! `wasi:keyvalue` (0.2.0-draft2) behind the core's store trait.
//!
//! Bindings are generated here from the vendored `wit/` (world `orderhub:app/keyvalue`)
//! rather than taken from spin-sdk's hidden `spin_sdk::wit` module, so the atomics the
//! ledger and the ingest gates depend on are typed from a WIT file in this repo.
//! Only `increment` is used of the atomics: CAS is broken on Spin's Redis backend and
//! unsafe on absent keys on its SQLite backend (see `../shared/SPIN.md`).

use orderhub_core::store::{KeyValue, StoreError};

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "orderhub:app/keyvalue",
        generate_all,
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// An opened key-value store (Spin's `key_value_stores` label).
pub struct Bucket {
    inner: store::Bucket,
}

impl Bucket {
    /// Open the store with this label; the component must list it in `key_value_stores`.
    pub fn open(label: &str) -> Result<Self, StoreError> {
        store::open(label)
            .map(|inner| Self { inner })
            .map_err(map_err)
    }
}

fn map_err(e: store::Error) -> StoreError {
    match e {
        store::Error::NoSuchStore => StoreError::NoSuchStore,
        store::Error::AccessDenied => StoreError::AccessDenied,
        store::Error::Other(msg) => StoreError::Backend(msg),
    }
}

impl KeyValue for Bucket {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).map_err(map_err)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.set(key, value).map_err(map_err)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).map_err(map_err)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key).map_err(map_err)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.inner, key, delta).map_err(map_err)
    }
    /// One `get` per key, never `wasi:keyvalue/batch.get-many`: Spin's Redis backend
    /// (v3.6.3, `crates/key-value-redis/src/store.rs`, same on main) serves `get-many`
    /// with the Redis `KEYS` command instead of `MGET`, so two or more keys come back as
    /// an error and a single key panics the host. Plain `get` is right on every backend;
    /// on SQLite each is a cheap in-process read.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.get(k)).collect()
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        batch::set_many(&self.inner, entries).map_err(map_err)
    }
    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        batch::delete_many(&self.inner, keys).map_err(map_err)
    }
}
