#![no_main]
//! The JSON an operator PUTs: merge rule sets (validated with explanations), parcel
//! limits, channel configurations and SKU maps. The first byte picks the parser.
use libfuzzer_sys::fuzz_target;
use orderhub_core::channel::{ChannelConfig, SkuMap};
use orderhub_core::merge;

fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 4 {
        0 => {
            if let Ok(rules) = merge::validate(text) {
                // An accepted rule set survives being stored and read back.
                let stored = serde_json::to_string(&rules).unwrap_or_default();
                assert!(merge::validate(&stored).is_ok(), "stored rules no longer validate: {stored}");
            }
        }
        1 => {
            let _ = merge::parse_limits(text);
        }
        2 => {
            let _ = ChannelConfig::from_json(text);
        }
        _ => {
            let _ = serde_json::from_str::<SkuMap>(text);
        }
    }
});
