#![no_main]
//! Store POS shift batches.
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::ChannelConfig;

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = ChannelConfig::builtin("pos") else { return };
    common::drive(&cfg, "/webhooks/pos", "application/json", data, None);
});
