//! orderhub's functional core.
//!
//! Everything that decides lives here; everything that does I/O lives in the Spin
//! components under `functions/`. This crate knows nothing about Spin, HTTP or the
//! wire format of a key-value backend: the shells hand it bytes and a [`store::KeyValue`]
//! and apply what it returns.
//!
//! Modules follow the pipeline: [`channel`] (ingest + normalize) → [`merge`] and
//! [`split`] → [`stock`] → [`pricing`] → [`dispatch`] → [`reconcile`].

pub mod limits;
pub mod money;
pub mod order;
pub mod stats;
pub mod store;

pub mod intake;

pub mod access;
pub mod channel;
pub mod dispatch;
pub mod merge;
pub mod pricing;
pub mod reconcile;
pub mod split;
pub mod stock;
