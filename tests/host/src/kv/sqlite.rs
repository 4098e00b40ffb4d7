//! Spin's SQLite key-value store (`type = "spin"`, and the `default` store),
//! as `crates/key-value-spin/src/store.rs` of Spin v3.6.3 opens and uses it,
//! statement for statement, so its faults show here first:
//!
//! - one connection per store label behind a mutex (Spin's `KeyValueSqlite`
//!   holds one `Arc<Mutex<Connection>>`), default rollback journal and
//!   synchronous mode, and no busy timeout of Spin's own, so rusqlite's
//!   default applies (`Connection::open` sets 5 s, in 0.34 as in our 0.32): a
//!   second process on the same file makes calls wait up to 5 s and then fail
//!   with "database is locked", or fail at once where SQLite sees a deadlock
//!   between two deferred transactions;
//! - deferred transactions (`connection.transaction()`);
//! - `increment` reads then upserts in one transaction and panics
//!   (`expect("incorrect length")`) on a value that is not 8 bytes; the panic
//!   poisons the connection's mutex, so every later call on the store panics
//!   too (`lock().unwrap()`), as on Spin until it restarts;
//! - compare-and-swap compares against what `current` last read: if that was
//!   nothing (absent key, or `current` never called), `swap` upserts, so two
//!   first writers can both succeed.
//!
//! The file layout (`spin_key_value(store, key, value)`) is Spin's, so a
//! `.spin/sqlite_key_value.db` is readable by either host.

use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{named_params, Connection};

use super::{CasHandle, KvBackend, KvError, KvResult};

/// Spin's table; the fast backend creates the same one.
pub(super) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
                           store TEXT NOT NULL,
                           key   TEXT NOT NULL,
                           value BLOB NOT NULL,

                           PRIMARY KEY (store, key)
                        )";
const SELECT_VALUE: &str = "SELECT value FROM spin_key_value WHERE store=$1 AND key=$2";
const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT(store, key) DO UPDATE SET value=$3";

/// Spin's `log_error`: the guest sees the error's `Debug` text.
fn other(e: impl std::fmt::Debug) -> KvError {
    KvError::Other(format!("{e:?}"))
}

/// One store label on its own connection.
pub struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
    label: String,
    location: String,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Spin's SQLite store, {} (store '{}')",
            self.location, self.label
        )
    }
}

impl SqliteBackend {
    /// Like Spin's `make_store` + `create_connection`: the parent directory
    /// is created, the file opened with SQLite's defaults.
    pub fn open_file(path: &Path, label: &str) -> Result<Self, String> {
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let location = format!("\"{}\"", path.display());
        Self::new(Connection::open(path), label, location)
    }

    /// Spin's store for `type = "spin"` without `path`.
    pub fn in_memory(label: &str) -> Result<Self, String> {
        Self::new(
            Connection::open_in_memory(),
            label,
            "a temporary in-memory store".into(),
        )
    }

    fn new(
        conn: rusqlite::Result<Connection>,
        label: &str,
        location: String,
    ) -> Result<Self, String> {
        let fail = |e: rusqlite::Error| format!("{location}: {e}");
        let conn = conn.map_err(fail)?;
        conn.execute(CREATE_TABLE, []).map_err(fail)?;
        // `rarray`, for get_many / delete_many.
        rusqlite::vtab::array::load_module(&conn).map_err(fail)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            label: label.to_string(),
            location,
        })
    }

    /// Spin's `self.connection.lock().unwrap()`: a mutex poisoned by an
    /// earlier panic panics here.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap()
    }
}

fn read(conn: &Connection, store: &str, key: &str) -> KvResult<Option<Vec<u8>>> {
    conn.prepare_cached(SELECT_VALUE)
        .map_err(other)?
        .query_map([store, key], |row| row.get::<_, Vec<u8>>(0))
        .map_err(other)?
        .next()
        .transpose()
        .map_err(other)
}

fn upsert(conn: &Connection, store: &str, key: &str, value: &[u8]) -> KvResult<usize> {
    conn.prepare_cached(UPSERT)
        .map_err(other)?
        .execute(rusqlite::params![store, key, value])
        .map_err(other)
}

fn key_array(keys: &[String]) -> Rc<Vec<rusqlite::types::Value>> {
    Rc::new(keys.iter().cloned().map(Into::into).collect())
}

impl KvBackend for SqliteBackend {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        read(&self.lock(), &self.label, key)
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        upsert(&self.lock(), &self.label, key, value).map(drop)
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.lock()
            .prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key=$2")
            .map_err(other)?
            .execute([&self.label, key])
            .map_err(other)
            .map(drop)
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        Ok(self.get(key)?.is_some())
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.lock()
            .prepare_cached("SELECT key FROM spin_key_value WHERE store=$1")
            .map_err(other)?
            .query_map([&self.label], |row| row.get::<_, String>(0))
            .map_err(other)?
            .map(|r| r.map_err(other))
            .collect()
    }

    /// Only the keys that exist, in the order SQLite finds them.
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        self.lock()
            .prepare_cached(
                "SELECT key, value FROM spin_key_value WHERE store=:name AND key IN rarray(:keys)",
            )
            .map_err(other)?
            .query_map(
                named_params! {":name": &self.label, ":keys": key_array(keys)},
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(other)?
            .map(|r| r.map_err(other))
            .collect()
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(other)?;
        for (k, v) in entries {
            upsert(&tx, &self.label, k, v)?;
        }
        tx.commit().map_err(other)
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.lock()
            .prepare_cached("DELETE FROM spin_key_value WHERE store=:name AND key IN rarray(:keys)")
            .map_err(other)?
            .execute(named_params! {":name": &self.label, ":keys": key_array(keys)})
            .map_err(other)
            .map(drop)
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(other)?;
        let numeric = match read(&tx, &self.label, key)? {
            // Spin's own words: a value of another length panics the host.
            Some(v) => i64::from_le_bytes(v.try_into().expect("incorrect length")),
            None => 0,
        };
        // Spin is a release build: its `numeric + delta` wraps on overflow.
        let new_value = numeric.wrapping_add(delta);
        upsert(&tx, &self.label, key, &new_value.to_le_bytes())?;
        tx.commit().map_err(other)?;
        Ok(new_value)
    }

    fn new_cas(self: Arc<Self>, key: &str) -> KvResult<Arc<dyn CasHandle>> {
        // Nothing is read yet: `current` does that.
        Ok(Arc::new(SqliteCas {
            store: self,
            key: key.to_string(),
            value: Mutex::new(None),
        }))
    }
}

/// Spin's SQLite `CompareAndSwap`.
#[derive(Debug)]
struct SqliteCas {
    store: Arc<SqliteBackend>,
    key: String,
    value: Mutex<Option<Vec<u8>>>,
}

impl CasHandle for SqliteCas {
    fn current(&self) -> KvResult<Option<Vec<u8>>> {
        let value = read(&self.store.lock(), &self.store.label, &self.key)?;
        self.value.lock().unwrap().clone_from(&value);
        Ok(value)
    }

    fn swap(&self, value: &[u8]) -> KvResult<bool> {
        let old_value = self.value.lock().unwrap();
        let mut conn = self.store.lock();
        let rows_changed = match old_value.clone() {
            Some(old) => conn
                .prepare_cached(
                    "UPDATE spin_key_value SET value=:new_value WHERE store=:name and key=:key and value=:old_value",
                )
                .map_err(other)?
                .execute(named_params! {
                    ":name": &self.store.label,
                    ":key": self.key,
                    ":old_value": old,
                    ":new_value": value,
                })
                .map_err(other)?,
            // Nothing seen: Spin upserts, whatever the key holds by now.
            None => {
                let tx = conn.transaction().map_err(other)?;
                let rows = upsert(&tx, &self.store.label, &self.key, value)?;
                tx.commit().map_err(other)?;
                rows
            }
        };
        Ok(rows_changed == 1)
    }
}
