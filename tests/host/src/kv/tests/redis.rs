//! The Redis store against what Spin v3.6.3's
//! `crates/key-value-redis/src/store.rs` does (and SPIN.md measured), and
//! the `--kv-fast` variant. Each test starts a throwaway `redis-server`, and
//! is skipped with a note when it is not installed.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use super::fast::cas_increment;
use super::{cas_seen, panic_message, through_host};
use crate::kv::{KvBackend, KvError, RedisBackend};

/// A throwaway `redis-server` on a free loopback port, stopped on drop.
struct RedisServer {
    child: std::process::Child,
    url: String,
}

impl RedisServer {
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn backend(&self, fast: bool) -> Arc<dyn KvBackend> {
        Arc::new(RedisBackend::open(&self.url, fast).unwrap())
    }

    fn connected_clients(&self) -> usize {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query(
                &mut redis::Client::open(self.url.as_str())
                    .unwrap()
                    .get_connection()
                    .unwrap(),
            )
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

macro_rules! redis_or_skip {
    () => {
        match RedisServer::start() {
            Some(s) => s,
            None => {
                eprintln!("redis-server not installed: skipping");
                return;
            }
        }
    };
}

/// Mirrors `crates/key-value-redis/src/store.rs`: GET / SET / DEL / EXISTS /
/// KEYS *, MSET for set_many, DEL for delete_many, INCRBY for increment
/// (a decimal string; exact under concurrency, as SPIN.md measured).
#[test]
fn spin_redis_plain_operations_and_incrby() {
    let server = redis_or_skip!();
    let b = server.backend(false);
    b.set("a", b"1").unwrap();
    assert_eq!(b.get("a").unwrap(), Some(b"1".to_vec()));
    assert!(b.exists("a").unwrap());
    b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
        .unwrap();
    assert_eq!(b.get("y").unwrap(), Some(b"y".to_vec()));
    b.delete_many(&["x".into(), "y".into()]).unwrap();
    b.delete("a").unwrap();
    assert_eq!(b.keys().unwrap(), Vec::<String>::new());
    let handles: Vec<_> = (0..32)
        .map(|t| {
            let b = b.clone();
            thread::spawn(move || {
                for i in 0..2_000 {
                    if i % 32 == t {
                        b.increment("hits", 1).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(b.get("hits").unwrap(), Some(b"2000".to_vec()));
}

/// Mirrors `crates/key-value-redis/src/store.rs` `get_many`, which sends
/// `KEYS k1 k2 ...`: with two or more keys Redis refuses the arity and the
/// guest gets `other(...)`; with one key that does not exist the answer is
/// empty; with one that exists redis-rs hits `unreachable!()` (an odd reply
/// read as pairs), which panics the host: a trap, so a 500.
#[test]
fn spin_redis_get_many_is_keys() {
    let server = redis_or_skip!();
    let b = server.backend(false);
    b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
        .unwrap();
    match b.get_many(&["x".into(), "y".into()]) {
        Err(KvError::Other(m)) => {
            assert!(m.contains("wrong number of arguments for 'keys'"), "{m}")
        }
        other => panic!("expected the KEYS arity error, got {other:?}"),
    }
    assert_eq!(b.get_many(&["absent".into()]).unwrap(), []);
    let msg = panic_message(|| b.get_many(&["x".into()]));
    assert!(msg.contains("unreachable"), "{msg}");
    let trap = through_host(&b, |b| b.get_many(&["x".into()])).unwrap_err();
    assert!(trap.contains("unreachable"), "{trap}");
    // two names matching one pattern read as one (name, name) pair
    assert_eq!(b.get_many(&["[xy]".into()]).map(|v| v.len()).unwrap(), 1);
}

/// Mirrors `crates/key-value-redis/src/store.rs` `CompareAndSwap`: the swap
/// writes (MULTI / SET / EXEC), then `UNWATCH <key>` fails, so the guest is
/// told `cas-failed` every time; a swap whose WATCH saw a change does not
/// write, and is told the same.
#[test]
fn spin_redis_every_swap_is_reported_as_cas_failed() {
    let server = redis_or_skip!();
    let b = server.backend(false);
    let (h, seen) = cas_seen(&b, "c");
    assert_eq!(seen.unwrap(), None);
    assert!(!h.swap(b"1").unwrap(), "reported as failed");
    assert_eq!(b.get("c").unwrap(), Some(b"1".to_vec()), "but written");

    let (h, seen) = cas_seen(&b, "c");
    assert_eq!(seen.unwrap(), Some(b"1".to_vec()));
    b.set("c", b"2").unwrap();
    assert!(!h.swap(b"3").unwrap());
    assert_eq!(b.get("c").unwrap(), Some(b"2".to_vec()), "EXEC aborted");
}

/// Mirrors `crates/key-value-redis/src/store.rs` `new_compare_and_swap`:
/// every handle opens its own Redis connection (and the host keeps swapped
/// handles until the request ends), so a CAS retry loop piles up clients.
#[test]
fn spin_redis_each_cas_handle_opens_a_connection() {
    let server = redis_or_skip!();
    let b = server.backend(false);
    let before = server.connected_clients();
    let handles: Vec<_> = (0..5).map(|_| b.clone().new_cas("k").unwrap()).collect();
    assert_eq!(server.connected_clients(), before + 5);
    drop(handles);
}

/// The `--kv-fast` Redis store: MGET answers one entry per key, and
/// compare-and-swap is a real one across processes.
#[test]
fn fast_redis_get_many_and_cas_are_correct() {
    let server = redis_or_skip!();
    let (b, b2) = (server.backend(true), server.backend(true));
    b.set("y", b"y").unwrap();
    assert_eq!(
        b.get_many(&["y".into(), "zz".into()]).unwrap(),
        [
            ("y".to_string(), Some(b"y".to_vec())),
            ("zz".to_string(), None)
        ]
    );
    // a second backend on the same server plays a second host process
    for round in 0..20 {
        let key = format!("first{round}");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [b.clone(), b2.clone()]
            .into_iter()
            .enumerate()
            .map(|(w, s)| {
                let (barrier, key) = (barrier.clone(), key.clone());
                thread::spawn(move || {
                    let (h, seen) = cas_seen(&s, &key);
                    assert_eq!(seen.unwrap(), None);
                    barrier.wait();
                    h.swap(&[w as u8]).unwrap()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = if t % 2 == 0 { b.clone() } else { b2.clone() };
            thread::spawn(move || (0..25).for_each(|_| cas_increment(&s, "c")))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(b.get("c").unwrap(), Some(200i64.to_le_bytes().to_vec()));
}
