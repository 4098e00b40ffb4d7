#![no_main]
//! Community group-buying leader batches.
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::ChannelConfig;

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = ChannelConfig::builtin("groupbuy") else { return };
    common::drive(&cfg, "/webhooks/groupbuy", "application/json", data, None);
});
