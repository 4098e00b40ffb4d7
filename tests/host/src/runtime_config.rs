//! `--runtime-config-file`: Spin's runtime config, key-value part only.
//!
//! ```toml
//! [key_value_store.orders]
//! type = "spin"            # SQLite file; path relative to this file
//! path = "orders.db"       # absent: <state-dir>/orders.db
//! [key_value_store.cache]
//! type = "memory"
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
    /// Spin's default backend: SQLite; `None` = under the state dir.
    Spin {
        path: Option<PathBuf>,
    },
    Memory,
    /// A Redis server, shared by every host process pointed at it.
    Redis {
        url: String,
    },
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
                "memory" => {
                    if s.path.is_some() {
                        bail!("key_value_store.{label}.path: not used by type \"memory\"");
                    }
                    KvStoreConfig::Memory
                }
                "redis" => match s.url {
                    Some(url) => KvStoreConfig::Redis { url },
                    None => bail!("key_value_store.{label}.url: required for type \"redis\""),
                },
                other => bail!(
                    "key_value_store.{label}.type: unsupported type \"{other}\" (orderhub-host supports \"spin\", \"memory\" and \"redis\")"
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
    fn parses_spin_and_memory_stores_with_relative_paths() {
        let rc = RuntimeConfig::parse(
            "[key_value_store.orders]\ntype = \"spin\"\npath = \"data/orders.db\"\n\
             [key_value_store.default]\ntype = \"memory\"\n\
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
        assert_eq!(rc.key_value_stores["default"], KvStoreConfig::Memory);
        assert_eq!(
            rc.key_value_stores["plain"],
            KvStoreConfig::Spin { path: None }
        );
    }

    #[test]
    fn unknown_type_names_the_field() {
        let err = RuntimeConfig::parse("[key_value_store.x]\ntype = \"etcd\"\n", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("key_value_store.x.type"), "{err}");
    }
}
