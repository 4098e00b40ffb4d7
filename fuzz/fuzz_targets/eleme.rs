#![no_main]
//! Ele.me: the JSON envelope with its embedded `message`.
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::ChannelConfig;

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = ChannelConfig::builtin("eleme") else { return };
    common::drive(&cfg, "/webhooks/eleme", "application/json", data, common::json_payload(data));
});
