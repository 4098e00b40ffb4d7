//! Per-channel SKU mapping: the channel's SKU code → our SKU and its catalogue facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::order::{SkuId, TemperatureZone};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuEntry {
    pub sku: SkuId,
    #[serde(default = "ambient")]
    pub zone: TemperatureZone,
    #[serde(default)]
    pub unit_weight_g: u32,
    #[serde(default)]
    pub unit_volume_cm3: u32,
}

fn ambient() -> TemperatureZone {
    TemperatureZone::Ambient
}

/// JSON form: `{"MT-APPLE-1": {"sku": "SKU-APPLE", "zone": "chilled", "unit_weight_g": 500}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SkuMap {
    pub entries: BTreeMap<String, SkuEntry>,
}

impl SkuMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, channel_sku: &str, entry: SkuEntry) -> Self {
        self.entries.insert(channel_sku.to_string(), entry);
        self
    }

    /// Codes are matched exactly after trimming: a channel's codes are opaque.
    pub fn get(&self, channel_sku: &str) -> Option<&SkuEntry> {
        self.entries.get(channel_sku.trim())
    }
}
