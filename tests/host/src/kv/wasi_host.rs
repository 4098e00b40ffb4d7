//! `wasi:keyvalue@0.2.0-draft2` store, atomics and batch on top of
//! [`super::KvAccess`], dispatched as Spin's
//! `crates/factor-key-value/src/host.rs` (v3.6.3) does: empty batches never
//! reach the backend, `list-keys` refuses a cursor, a CAS handle reads
//! nothing until `current`, and a failed swap hands back a fresh handle
//! already loaded with `current`. A store call that panics is a trap.

use wasmtime::component::Resource;

use super::{Bucket, Cas, KvError, Store};
use crate::bindings::wasi::keyvalue::{
    atomics::{self, CasError},
    batch,
    store::{self, Error, KeyResponse},
};
use crate::instance::HostState;

fn to_wasi(e: KvError) -> Error {
    match e {
        KvError::NoSuchStore => Error::NoSuchStore,
        KvError::AccessDenied => Error::AccessDenied,
        KvError::Other(m) => Error::Other(m),
    }
}

impl HostState {
    fn bucket(&self, r: &Resource<Bucket>) -> wasmtime::Result<Store> {
        Ok(self.table.get(r)?.0.clone())
    }

    /// `cas.new`: the backend's handle, nothing read yet.
    async fn new_cas(&mut self, store: Store, key: String) -> wasmtime::Result<Result<Cas, Error>> {
        let k = key.clone();
        let handle = store.run(move |b| b.new_cas(&k)).await?;
        Ok(handle
            .map(|handle| Cas { store, key, handle })
            .map_err(to_wasi))
    }
}

impl store::Host for HostState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        match self.kv.open(&identifier) {
            Ok(s) => Ok(Ok(self.table.push(Bucket(s))?)),
            Err(e) => Ok(Err(to_wasi(e))),
        }
    }
}

impl store::HostBucket for HostState {
    async fn get(
        &mut self,
        r: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.get(&key)).await?.map_err(to_wasi))
    }

    async fn set(
        &mut self,
        r: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.set(&key, &value)).await?.map_err(to_wasi))
    }

    async fn delete(
        &mut self,
        r: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.delete(&key)).await?.map_err(to_wasi))
    }

    async fn exists(
        &mut self,
        r: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.exists(&key)).await?.map_err(to_wasi))
    }

    /// All keys in one page; Spin refuses a cursor.
    async fn list_keys(
        &mut self,
        r: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        if cursor.is_some() {
            return Ok(Err(Error::Other(
                "list_keys: cursor not supported".to_owned(),
            )));
        }
        let s = self.bucket(&r)?;
        Ok(s.run(|b| b.keys())
            .await?
            .map(|keys| KeyResponse { keys, cursor: None })
            .map_err(to_wasi))
    }

    async fn drop(&mut self, r: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, Error>> {
        let s = self.bucket(&bucket)?;
        match self.new_cas(s, key).await? {
            Ok(cas) => Ok(Ok(self.table.push(cas)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn current(
        &mut self,
        r: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let cas = self.table.get(&r)?.clone();
        Ok(cas.run(|h| h.current()).await?.map_err(to_wasi))
    }

    async fn drop(&mut self, r: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let s = self.bucket(&bucket)?;
        Ok(s.run(move |b| b.increment(&key, delta))
            .await?
            .map_err(to_wasi))
    }

    /// On `cas-failed` the guest gets a fresh handle already loaded with the
    /// current value, as Spin does.
    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CasError>> {
        let cas = self.table.delete(cas)?;
        let swapped = cas.run(move |h| h.swap(&value)).await?;
        // Spin never takes a swapped handle out of its table: it (and, on
        // Redis, its connection) lives until the instance ends.
        self.spent_cas.push(cas.handle.clone());
        match swapped {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                let fresh = match self.new_cas(cas.store, cas.key).await? {
                    Ok(f) => f,
                    Err(e) => return Ok(Err(CasError::StoreError(e))),
                };
                if let Err(e) = fresh.run(|h| h.current()).await? {
                    return Ok(Err(CasError::StoreError(to_wasi(e))));
                }
                Ok(Err(CasError::CasFailed(self.table.push(fresh)?)))
            }
            Err(e) => Ok(Err(CasError::StoreError(to_wasi(e)))),
        }
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, Error>> {
        let s = self.bucket(&bucket)?;
        if keys.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        Ok(s.run(move |b| b.get_many(&keys)).await?.map_err(to_wasi))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&bucket)?;
        if key_values.is_empty() {
            return Ok(Ok(()));
        }
        Ok(s.run(move |b| b.set_many(&key_values))
            .await?
            .map_err(to_wasi))
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&bucket)?;
        if keys.is_empty() {
            return Ok(Ok(()));
        }
        Ok(s.run(move |b| b.delete_many(&keys)).await?.map_err(to_wasi))
    }
}
