//! Redis store (`type = "redis"`, `url = "redis://..."`), so two host
//! processes can share state the way SpinKube replicas share a Redis.
//!
//! Like Spin's Redis backend, `increment` is `INCRBY` (the value is a decimal
//! string). Unlike it, compare-and-swap is a correct WATCH / GET / MULTI /
//! SET / EXEC: a nil EXEC reports the lost race, and a mismatch releases the
//! watch with a plain `UNWATCH` (Spin sends `UNWATCH <key>`, which Redis
//! rejects, and then reports every swap as failed).

use std::sync::Mutex;

use redis::{Commands, Connection, RedisResult, Value};

use super::{KvBackend, KvError, KvResult};

pub struct RedisBackend {
    url: String,
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis {}", self.url)
    }
}

fn other(e: redis::RedisError) -> KvError {
    KvError::Other(format!("redis: {e}"))
}

impl RedisBackend {
    pub fn open(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid url '{url}': {e}"))?;
        let conn = client
            .get_connection()
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        Ok(Self {
            url: url.to_string(),
            client,
            idle: Mutex::new(vec![conn]),
        })
    }

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
        let mut keys: Vec<String> = self.with(|c| c.keys("*"))?;
        keys.sort();
        Ok(keys)
    }

    fn get_many(&self, keys: &[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.with(|c| redis::cmd("MGET").arg(keys).query(c))?;
        Ok(keys.iter().cloned().zip(values).collect())
    }

    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> KvResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let mut p = redis::pipe();
            p.atomic();
            for (k, v) in entries {
                p.set(k, v).ignore();
            }
            p.query(c)
        })
    }

    fn delete_many(&self, keys: &[String]) -> KvResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|c| c.del(keys))
    }

    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.with(|c| c.incr(key, delta))
    }

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

    fn blocks(&self) -> bool {
        true
    }
}
