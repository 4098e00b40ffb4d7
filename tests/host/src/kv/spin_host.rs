//! `fermyon:spin/key-value@2.0.0` on top of [`super::KvAccess`], as Spin's
//! `crates/factor-key-value/src/host.rs` dispatches it. A store call that
//! panics is a trap (`?` on [`super::Store::run`]).

use wasmtime::component::Resource;

use super::{KvError, Store};
use crate::bindings::fermyon::spin::key_value::{self as spin_kv, Error};
use crate::instance::HostState;

fn to_spin(e: KvError) -> Error {
    match e {
        KvError::NoSuchStore => Error::NoSuchStore,
        KvError::AccessDenied => Error::AccessDenied,
        KvError::Other(m) => Error::Other(m),
    }
}

impl HostState {
    fn spin_store(&self, r: &Resource<Store>) -> wasmtime::Result<Store> {
        Ok(self.table.get(r)?.clone())
    }
}

impl spin_kv::Host for HostState {}

impl spin_kv::HostStore for HostState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Store>, Error>> {
        match self.kv.open(&label) {
            Ok(store) => Ok(Ok(self.table.push(store)?)),
            Err(e) => Ok(Err(to_spin(e))),
        }
    }

    async fn get(
        &mut self,
        r: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let s = self.spin_store(&r)?;
        Ok(s.run(move |b| b.get(&key)).await?.map_err(to_spin))
    }

    async fn set(
        &mut self,
        r: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.spin_store(&r)?;
        Ok(s.run(move |b| b.set(&key, &value)).await?.map_err(to_spin))
    }

    async fn delete(
        &mut self,
        r: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let s = self.spin_store(&r)?;
        Ok(s.run(move |b| b.delete(&key)).await?.map_err(to_spin))
    }

    async fn exists(
        &mut self,
        r: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let s = self.spin_store(&r)?;
        Ok(s.run(move |b| b.exists(&key)).await?.map_err(to_spin))
    }

    async fn get_keys(
        &mut self,
        r: Resource<Store>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let s = self.spin_store(&r)?;
        Ok(s.run(|b| b.keys()).await?.map_err(to_spin))
    }

    async fn drop(&mut self, r: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}
