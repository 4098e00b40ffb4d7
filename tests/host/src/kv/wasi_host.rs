//! `wasi:keyvalue@0.2.0-draft2` store, atomics and batch, as Spin exposes
//! them, on top of [`super::KvAccess`].

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

    /// A CAS handle loaded with the key's value now.
    async fn load_cas(
        &mut self,
        store: Store,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, Error>> {
        let k = key.clone();
        match store.run(move |b| b.get(&k)).await {
            Ok(current) => Ok(Ok(self.table.push(Cas {
                store,
                key,
                current,
            })?)),
            Err(e) => Ok(Err(to_wasi(e))),
        }
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
        Ok(s.run(move |b| b.get(&key)).await.map_err(to_wasi))
    }

    async fn set(
        &mut self,
        r: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.set(&key, &value)).await.map_err(to_wasi))
    }

    async fn delete(
        &mut self,
        r: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.delete(&key)).await.map_err(to_wasi))
    }

    async fn exists(
        &mut self,
        r: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(move |b| b.exists(&key)).await.map_err(to_wasi))
    }

    /// All keys in one page, as Spin does (it ignores the cursor).
    async fn list_keys(
        &mut self,
        r: Resource<Bucket>,
        _cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        let s = self.bucket(&r)?;
        Ok(s.run(|b| b.keys())
            .await
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
        self.load_cas(s, key).await
    }

    async fn current(
        &mut self,
        r: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        Ok(Ok(self.table.get(&r)?.current.clone()))
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
            .await
            .map_err(to_wasi))
    }

    /// Swaps only if the key still holds what the handle saw (absent
    /// included). On a lost race the guest gets `cas-failed` with a fresh
    /// handle already loaded with the current value, as Spin does.
    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CasError>> {
        let Cas {
            store,
            key,
            current,
        } = self.table.delete(cas)?;
        let k = key.clone();
        let swapped = store
            .run(move |b| b.swap_if(&k, current.as_deref(), &value))
            .await;
        match swapped {
            Ok(true) => Ok(Ok(())),
            Ok(false) => match self.load_cas(store, key).await? {
                Ok(fresh) => Ok(Err(CasError::CasFailed(fresh))),
                Err(e) => Ok(Err(CasError::StoreError(e))),
            },
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
        Ok(s.run(move |b| b.get_many(&keys)).await.map_err(to_wasi))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&bucket)?;
        Ok(s.run(move |b| b.set_many(&key_values))
            .await
            .map_err(to_wasi))
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.bucket(&bucket)?;
        Ok(s.run(move |b| b.delete_many(&keys)).await.map_err(to_wasi))
    }
}
