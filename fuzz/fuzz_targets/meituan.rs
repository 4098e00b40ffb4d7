#![no_main]
//! Meituan: form bodies on every topic URL.
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::{ChannelConfig, Payload};

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = ChannelConfig::builtin("meituan") else { return };
    let topic = ["order", "status", "cancel", "refund", "partrefund"][usize::from(data.first().copied().unwrap_or(0)) % 5];
    let body = data.get(1..).unwrap_or_default();
    let params = Payload::Params(form_urlencoded::parse(body).into_owned().collect());
    let path = format!("/webhooks/meituan/{topic}");
    common::drive(&cfg, &path, "application/x-www-form-urlencoded", body, Some(params));
    common::drive(&cfg, &path, "application/json", body, None);
});
