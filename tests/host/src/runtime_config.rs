//! `--runtime-config-file`: Spin's runtime config, key-value part only.
//!
//! ```toml
//! [key_value_store.orders]
//! type = "spin"            # SQLite file; path relative to this file
//! path = "orders.db"
//! [key_value_store.cache]
//! type = "spin"            # no path: in memory, as on Spin
//! [key_value_store.shared]
//! type = "redis"
//! url = "redis://127.0.0.1:6379"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvStoreConfig {
    /// Spin's default backend: SQLite; `None` = in memory (as Spin's
    /// `crates/key-value-spin/src/lib.rs` does without `path`).
    Spin { path: Option<PathBuf> },
    /// A Redis server, shared by every host process pointed at it.
    Redis { url: String },
}

#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, KvStoreConfig>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
}

#[derive(Deserialize)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    path: Option<PathBuf>,
    url: Option<String>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read runtime config {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).with_context(|| format!("{}", path.display()))
    }

    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let raw: Raw = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        let mut key_value_stores = BTreeMap::new();
        for (label, s) in raw.key_value_store {
            let cfg = match s.kind.as_str() {
                "spin" => KvStoreConfig::Spin {
                    path: s.path.map(|p| if p.is_absolute() { p } else { dir.join(p) }),
                },
                "redis" => match s.url {
                    Some(url) => KvStoreConfig::Redis { url },
                    None => bail!("key_value_store.{label}.url: required for type \"redis\""),
                },
                other => bail!(
                    "key_value_store.{label}.type: unsupported type \"{other}\" (orderhub-host supports Spin's \"spin\" and \"redis\"; \"spin\" without `path` is in memory)"
                ),
            };
            key_value_stores.insert(label, cfg);
        }
        Ok(Self { key_value_stores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spin_stores_with_relative_paths() {
        let rc = RuntimeConfig::parse(
            "[key_value_store.orders]\ntype = \"spin\"\npath = \"data/orders.db\"\n\
             [key_value_store.plain]\ntype = \"spin\"\n",
            Path::new("/etc/app"),
        )
        .unwrap();
        assert_eq!(
            rc.key_value_stores["orders"],
            KvStoreConfig::Spin {
                path: Some(PathBuf::from("/etc/app/data/orders.db"))
            }
        );
        assert_eq!(
            rc.key_value_stores["plain"],
            KvStoreConfig::Spin { path: None }
        );
    }

    #[test]
    fn unknown_type_names_the_field() {
        // "memory" is not a Spin type: Spin refuses it, so does the host
        for kind in ["etcd", "memory"] {
            let err = RuntimeConfig::parse(
                &format!("[key_value_store.x]\ntype = \"{kind}\"\n"),
                Path::new("."),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("key_value_store.x.type"), "{err}");
        }
    }
}
