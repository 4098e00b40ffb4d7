//! Redis store (`type = "redis"`, `url = "redis://..."`), as Spin v3.6.3's
//! `crates/key-value-redis/src/store.rs` drives it, faults included:
//!
//! - `get_many` sends `KEYS k1 k2 ...` (not `MGET`): with two or more keys
//!   Redis answers "wrong number of arguments for 'keys'" and the guest gets
//!   `other(...)`; with one key Redis lists the names matching it as a
//!   pattern and redis-rs, asked for (key, value) pairs, hits
//!   `unreachable!()` on an odd count: Spin's host panics, the request is a 500;
//! - compare-and-swap: each handle opens its own connection; `current` is
//!   WATCH + GET; `swap` is MULTI / SET / EXEC and then `UNWATCH <key>`,
//!   which Redis rejects (UNWATCH takes no argument), so every swap is
//!   reported as `cas-failed`, also the ones that wrote;
//! - `set_many` is MSET, `delete_many` DEL, `increment` INCRBY (the value is
//!   a decimal string).
//!
//! `--kv-fast` keeps everything but `get_many` (MGET, one entry per key) and
//! compare-and-swap (a correct WATCH / GET / MULTI / SET / EXEC).

use std::sync::{Arc, Mutex};

use redis::{Commands, Connection, RedisResult, Value};

use super::cas::{SnapshotCas, SwapIf};
use super::{CasHandle, KvBackend, KvError, KvResult};

pub struct RedisBackend {
    url: String,
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    fast: bool,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = if self.fast { " (--kv-fast)" } else { "" };
        write!(f, "Redis at {}{mode}", self.url)
    }
}

/// Spin's `log_error`: the guest sees the error's `Debug` text.
fn other(e: redis::RedisError) -> KvError {
    KvError::Other(format!("{e:?}"))
}

impl RedisBackend {
    pub fn open(url: &str, fast: bool) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid url '{url}': {e}"))?;
        let conn = client
            .get_connection()
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        Ok(Self {
            url: url.to_string(),
            client,
            idle: Mutex::new(vec![conn]),
            fast,
        })
    }

    /// Runs one command on a pooled connection. Spin multiplexes one
    /// connection per label instead; for single commands that is the same.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> KvResult<T> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match reused {
            Some(c) => c,
            None => self.client.get_connection().map_err(other)?,
        };
        let out = f(&mut conn);
        // A connection that saw an I/O error is not reused.
        let broken = matches!(&out, Err(e) if e.is_io_error() || e.is_connection_dropped());
        if !broken {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < 16 {
                    idle.push(conn);
                }
            }
        }
        out.map_err(other)
    }
}

/// What Spin's `keys::<_, Vec<(String, Option<Vec<u8>>)>>(keys)` makes of the
/// `KEYS` reply: redis-rs 0.32.5's `from_owned_redis_values` for pairs.
fn keys_reply_as_pairs(reply: Value) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
    let mut items = match reply {
        Value::Array(items) | Value::Set(items) => items,
        Value::Nil => Vec::new(),
        other => {
            return Err(KvError::Other(format!(
                "Response was of incompatible type - TypeError: \"Response type not vector compatible.\" (response was {other:?})"
            )))
        }
    };
    if !items.is_empty()
        && items
            .iter()
            .all(|i| matches!(i, Value::Array(pair) if pair.len() == 2))
    {
        return items
            .into_iter()
            .map(|i| redis::from_owned_redis_value(i).map_err(other))
            .collect();
    }
    items
        .chunks_mut(2)
        .map(|chunk| match chunk {
            [k, v] => Ok((
                redis::from_owned_redis_value(std::mem::replace(k, Value::Nil)).map_err(other)?,
                redis::from_owned_redis_value(std::mem::replace(v, Value::Nil)).map_err(other)?,
            )),
            // redis-rs's own `unreachable!()`, which panics Spin's host.
            _ => unreachable!(),
        })
        .collect()
}

impl KvBackend for RedisBackend {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.with(|c| c.get(key))
    }

    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.with(|c| c.set(key, value))
    }

    fn delete(&self, key: &str) -> KvResult<()> {
        self.with(|c| c.del(key))
    }

    fn exists(&self, key: &str) -> KvResult<bool> {
        self.with(|c| c.exists(key))
    }

    fn keys(&self) -> KvResult<Vec<String>> {
        self.with(|c| c.keys("*"))
    }

    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        if self.fast {
            let values: Vec<Option<Vec<u8>>> =
                self.with(|c| redis::cmd("MGET").arg(keys).query(c))?;
            return Ok(keys.iter().cloned().zip(values).collect());
        }
        let reply: Value = self.with(|c| redis::cmd("KEYS").arg(keys).query(c))?;
        keys_reply_as_pairs(reply)
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        self.with(|c| c.mset(entries))
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        self.with(|c| c.del(keys))
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.with(|c| c.incr(key, delta))
    }

    fn new_cas(self: Arc<Self>, key: &str) -> KvResult<Arc<dyn CasHandle>> {
        if self.fast {
            return SnapshotCas::open(self, key);
        }
        // Spin: "giving it its own connection since Redis transactions are
        // scoped to a connection".
        let conn = self.client.get_connection().map_err(other)?;
        Ok(Arc::new(RedisCas {
            key: key.to_string(),
            conn: Mutex::new(conn),
        }))
    }
}

impl SwapIf for RedisBackend {
    fn swap_if(&self, key: &str, expected: Option<&[u8]>, value: &[u8]) -> KvResult<bool> {
        self.with(|c| {
            redis::cmd("WATCH").arg(key).query::<()>(c)?;
            let current: Option<Vec<u8>> = c.get(key)?;
            if current.as_deref() != expected {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(false);
            }
            let exec: Value = redis::pipe().atomic().set(key, value).ignore().query(c)?;
            Ok(!matches!(exec, Value::Nil))
        })
    }
}

/// Spin's Redis `CompareAndSwap`.
struct RedisCas {
    key: String,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for RedisCas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spin's Redis cas on '{}'", self.key)
    }
}

impl CasHandle for RedisCas {
    fn current(&self) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        redis::cmd("WATCH")
            .arg(&self.key)
            .query::<()>(&mut *c)
            .map_err(other)?;
        c.get(&self.key).map_err(other)
    }

    fn swap(&self, value: &[u8]) -> KvResult<bool> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A watch-aborted EXEC (nil) parses as `()` too: this is Ok either way.
        let res: RedisResult<()> = redis::pipe().atomic().set(&self.key, value).query(&mut *c);
        // Spin's `UNWATCH <key>`: Redis refuses it, and Spin reports cas-failed.
        if redis::cmd("UNWATCH")
            .arg(&self.key)
            .query::<()>(&mut *c)
            .is_err()
        {
            return Ok(false);
        }
        Ok(res.is_ok())
    }
}
