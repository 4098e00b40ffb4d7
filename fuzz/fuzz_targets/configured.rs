#![no_main]
//! A configured channel: the input is split at the first NUL into a mapping config
//! (JSON) and a payload, so both the config reader and the generic mapper are fuzzed.
//! Without a NUL the documented `dingdong` config is used.
mod common;

use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::{ChannelConfig, SignatureScheme};

const DOC: &str = include_str!("../../docs/channels.md");

fn dingdong() -> Option<ChannelConfig> {
    let open = "```json dingdong-config\n";
    let start = DOC.find(open)? + open.len();
    let len = DOC[start..].find("\n```")?;
    ChannelConfig::from_json(&DOC[start..start + len]).ok()
}

fuzz_target!(|data: &[u8]| {
    let (cfg, payload) = match data.iter().position(|b| *b == 0) {
        Some(i) => match std::str::from_utf8(&data[..i]).ok().and_then(|t| ChannelConfig::from_json(t).ok()) {
            Some(cfg) => (cfg, &data[i + 1..]),
            None => return,
        },
        None => match dingdong() {
            Some(cfg) => (cfg, data),
            None => return,
        },
    };
    let mut cfg = cfg;
    // Sign with our HMAC headers so the fuzzer reaches the mapper through verify too.
    cfg.signature = SignatureScheme::HmacSha256Header {
        timestamp_header: "x-orderhub-timestamp".into(),
        signature_header: "x-orderhub-signature".into(),
        prefix: "v1=".into(),
    };
    common::drive(&cfg, "/webhooks/configured", "application/json", payload, common::json_payload(payload));
});
