//! Channels: every channel's push in, one order model out.
//!
//! The pipeline the Spin shells run, and the function each step calls:
//!
//! 1. **ingest** (public webhook; holds the channel secret; owns the `ingest` store):
//!    [`verify`] (pure: body limits, UTF-8, content type, envelope parse, signature,
//!    freshness) → [`IngestGate::admit`] (store-level: rate limit, replay, idempotency
//!    claim) → forward the [`VerifiedPush`] (serde) to normalize → [`IngestGate::complete`]
//!    after success → answer with [`acknowledgement`].
//! 2. **normalize** (private; owns the `orders` store; has the SKU mappings):
//!    [`normalize`] turns a [`VerifiedPush`] into [`ChannelEvent`]s, which
//!    [`crate::order::book`] applies idempotently.
//!
//! [`ingest`] and [`normalize_and_apply`] are those two steps as one call each.
//!
//! Architecture invariant: nothing here does I/O or knows HTTP libraries; a request is
//! plain data ([`InboundRequest`]) and an answer is plain data ([`Ack`]). Every adapter
//! keeps its platform's details in its own file and every detail known to vary between
//! deployments is a [`ChannelConfig`] value.

mod ack;
pub mod address;
pub mod catalog;
mod config;
mod configured;
pub mod customer;
mod eleme;
mod error;
mod gate;
pub mod geo;
mod groupbuy;
mod json;
mod lines;
mod meituan;
mod normalize;
mod own;
mod pipeline;
mod pos;
pub mod refetch;
mod request;
mod schema;
pub mod signature;
mod sku;
mod time;

pub use ack::{acknowledgement, Ack, Outcome};
pub use config::{
    AckTemplate, ChannelConfig, ChannelKind, ElemeValueEncoding, RateLimit, SignatureScheme,
};
pub use configured::{
    AddressMapping, ConfiguredMapping, CoordinateMapping, Datum, DiscountMapping, EventMapping,
    FieldPath, LinesMapping, MappedEvent, MoneyMapping, MoneyUnit, TimeField, TimeFormat,
};
pub use error::{IngestError, NormalizeError};
pub use gate::{Admission, Claim, IngestGate};
pub use normalize::{
    map_skus, normalize, normalize_json, normalize_unmapped, ChannelEvent, ChannelNotice,
};
pub use pipeline::{ingest, normalize_and_apply, NormalizeFailure};
pub use request::{verify, InboundRequest, Payload, VerifiedPush};
pub use sku::{SkuEntry, SkuMap};
