//! `--kv-fast` SQLite store: Spin's file layout, but WAL, a busy timeout,
//! pooled connections shared by every label on one file, and `BEGIN
//! IMMEDIATE` for read-modify-write, so several host processes can share a
//! file without "database is locked" errors and compare-and-swap on an
//! absent key lets exactly one writer win. Spin does none of this (see
//! [`super::sqlite`]): use it for speed, never to decide whether an app
//! works on Spin.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::cas::{SnapshotCas, SwapIf};
use super::sqlite::CREATE_TABLE;
use super::{add_counter, CasHandle, KvBackend, KvError, KvResult};

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Open connections to one database file, reused across requests.
#[derive(Debug)]
pub struct SqlitePool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqlitePool {
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
        let pool = Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        };
        let conn = pool
            .connect()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        conn.execute(CREATE_TABLE, [])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        pool.release(conn);
        Ok(pool)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // journal_mode returns a row, so it cannot go through execute_batch.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        Ok(conn)
    }

    fn acquire(&self) -> KvResult<Connection> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match reused {
            Some(c) => Ok(c),
            None => self.connect().map_err(other),
        }
    }

    fn release(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 16 {
                idle.push(conn);
            }
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<KvResult<T>>,
    ) -> KvResult<T> {
        let mut conn = self.acquire()?;
        let out = f(&mut conn);
        // A connection whose statement failed is still valid; SQLite rolls
        // back the failed transaction when the Transaction guard drops.
        self.release(conn);
        out.map_err(other)?
    }
}

fn other(e: rusqlite::Error) -> KvError {
    KvError::Other(format!("sqlite: {e}"))
}

/// One store label inside a shared SQLite file.
#[derive(Clone)]
pub struct FastSqliteBackend {
    pool: Arc<SqlitePool>,
    label: String,
}

impl std::fmt::Debug for FastSqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fast SQLite (--kv-fast) {} (store '{}')",
            self.pool.path.display(),
            self.label
        )
    }
}

impl FastSqliteBackend {
    pub fn new(pool: Arc<SqlitePool>, label: &str) -> Self {
        Self {
            pool,
            label: label.to_string(),
        }
    }

    pub fn open_file(path: &Path, label: &str) -> Result<Self, String> {
        Ok(Self::new(Arc::new(SqlitePool::open(path)?), label))
    }

    /// A read-modify-write in a `BEGIN IMMEDIATE` transaction: the write
    /// lock is taken before the read, so two writers never act on one old value.
    fn immediate<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<KvResult<T>>,
    ) -> KvResult<T> {
        self.pool.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })
    }
}

fn read(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .query_row(params![store, key], |r| r.get(0))
        .optional()
}

fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])?;
    Ok(())
}

fn remove(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .execute(params![store, key])?;
    Ok(())
}

impl KvBackend for FastSqliteBackend {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.pool.with(|c| Ok(Ok(read(c, &self.label, key)?)))
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.pool
            .with(|c| Ok(Ok(write(c, &self.label, key, value)?)))
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.pool.with(|c| Ok(Ok(remove(c, &self.label, key)?)))
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        Ok(self.get(key)?.is_some())
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.pool.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let keys = stmt
                .query_map(params![self.label], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(Ok(keys))
        })
    }

    /// One entry per requested key, in request order (`None` when absent),
    /// from one consistent read transaction.
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        self.pool.with(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push((k.clone(), read(&tx, &self.label, k)?));
            }
            tx.commit()?;
            Ok(Ok(out))
        })
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        self.immediate(|tx| {
            for (k, v) in entries {
                write(tx, &self.label, k, v)?;
            }
            Ok(Ok(()))
        })
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.immediate(|tx| {
            for k in keys {
                remove(tx, &self.label, k)?;
            }
            Ok(Ok(()))
        })
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.immediate(|tx| {
            let current = read(tx, &self.label, key)?;
            Ok(add_counter(current.as_deref(), delta).and_then(|next| {
                write(tx, &self.label, key, &next.to_le_bytes()).map_err(other)?;
                Ok(next)
            }))
        })
    }

    fn new_cas(self: Arc<Self>, key: &str) -> KvResult<Arc<dyn CasHandle>> {
        SnapshotCas::open(self, key)
    }
}

impl SwapIf for FastSqliteBackend {
    fn swap_if(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<bool> {
        self.immediate(|tx| {
            if read(tx, &self.label, key)?.as_deref() != expected {
                return Ok(Ok(false));
            }
            write(tx, &self.label, key, value)?;
            Ok(Ok(true))
        })
    }
}
