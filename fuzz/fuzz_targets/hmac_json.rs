#![no_main]
//! Own app and mini-program: HMAC-signed JSON events (signed correctly here).
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::ChannelConfig;

fuzz_target!(|data: &[u8]| {
    for id in ["app", "miniprogram"] {
        let Some(cfg) = ChannelConfig::builtin(id) else { return };
        common::drive(&cfg, "/webhooks/app", "application/json", data, None);
    }
});
