use std::sync::{Arc, Barrier};
use std::thread;

use super::*;

fn backends() -> Vec<(&'static str, Arc<dyn KvBackend>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteBackend::open_file(&dir.path().join("kv.db"), "default").unwrap();
    vec![
        ("memory", Arc::new(MemoryBackend::default()), None),
        ("sqlite", Arc::new(sqlite), Some(dir)),
    ]
}

#[test]
fn basic_operations() {
    for (name, b, _dir) in backends() {
        assert_eq!(b.get("a").unwrap(), None, "{name}");
        b.set("a", b"1").unwrap();
        b.set("b", b"2").unwrap();
        b.set("a", b"3").unwrap();
        assert_eq!(b.get("a").unwrap().as_deref(), Some(&b"3"[..]), "{name}");
        assert!(b.exists("b").unwrap());
        assert_eq!(b.keys().unwrap(), vec!["a".to_string(), "b".to_string()]);
        b.delete("a").unwrap();
        b.delete("never").unwrap();
        assert!(!b.exists("a").unwrap(), "{name}");
        b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
            .unwrap();
        let got = b.get_many(&["y".into(), "zz".into(), "x".into()]).unwrap();
        assert_eq!(
            got,
            vec![
                ("y".to_string(), Some(b"y".to_vec())),
                ("zz".to_string(), None),
                ("x".to_string(), Some(b"x".to_vec())),
            ],
            "{name}"
        );
        b.delete_many(&["x".into(), "y".into()]).unwrap();
        assert_eq!(b.keys().unwrap(), vec!["b".to_string()], "{name}");
    }
}

#[test]
fn increment_uses_spin_encoding_and_rejects_non_counters() {
    for (name, b, _dir) in backends() {
        assert_eq!(b.increment("n", 5).unwrap(), 5, "{name}");
        assert_eq!(b.increment("n", -7).unwrap(), -2, "{name}");
        assert_eq!(b.get("n").unwrap(), Some((-2i64).to_le_bytes().to_vec()));
        b.set("s", b"abc").unwrap();
        assert!(
            matches!(b.increment("s", 1), Err(KvError::Other(_))),
            "{name}"
        );
        b.set("m", &i64::MAX.to_le_bytes()).unwrap();
        assert!(b.increment("m", 1).is_err(), "{name}");
    }
}

#[test]
fn concurrent_increments_are_exact() {
    for (name, b, _dir) in backends() {
        let threads = 32;
        let total = 2_000;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let b = b.clone();
                thread::spawn(move || {
                    for i in 0..total {
                        if i % threads == t {
                            b.increment("hits", 1).unwrap();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            b.get("hits").unwrap(),
            Some(2_000i64.to_le_bytes().to_vec()),
            "{name}"
        );
    }
}

#[test]
fn cas_on_absent_key_lets_exactly_one_first_writer_win() {
    for (name, b, _dir) in backends() {
        for round in 0..40 {
            let key = format!("k{round}");
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2u8)
                .map(|w| {
                    let (b, barrier, key) = (b.clone(), barrier.clone(), key.clone());
                    thread::spawn(move || {
                        // Both handles observed "absent" before either swaps.
                        let seen = b.get(&key).unwrap();
                        assert_eq!(seen, None);
                        barrier.wait();
                        b.swap_if(&key, seen.as_deref(), &[w]).unwrap()
                    })
                })
                .collect();
            let wins: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(
                wins.iter().filter(|w| **w).count(),
                1,
                "{name} round {round}: {wins:?}"
            );
            let winner = wins.iter().position(|w| *w).unwrap() as u8;
            assert_eq!(b.get(&key).unwrap(), Some(vec![winner]), "{name}");
        }
    }
}

#[test]
fn cas_retry_loops_from_many_threads_are_exact() {
    for (name, b, _dir) in backends() {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    for _ in 0..25 {
                        loop {
                            let cur = b.get("c").unwrap();
                            let n = cur
                                .as_deref()
                                .map(|v| decode_counter(v).unwrap())
                                .unwrap_or(0);
                            if b.swap_if("c", cur.as_deref(), &(n + 1).to_le_bytes())
                                .unwrap()
                            {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            b.get("c").unwrap(),
            Some(400i64.to_le_bytes().to_vec()),
            "{name}"
        );
    }
}

#[test]
fn two_pools_share_one_sqlite_file() {
    // Two independent pools on one file behave like two host processes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a: Arc<dyn KvBackend> = Arc::new(SqliteBackend::open_file(&path, "default").unwrap());
    let b: Arc<dyn KvBackend> = Arc::new(SqliteBackend::open_file(&path, "default").unwrap());
    let other_label = SqliteBackend::open_file(&path, "other").unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = if t % 2 == 0 { a.clone() } else { b.clone() };
            thread::spawn(move || {
                for _ in 0..100 {
                    s.increment("n", 1).unwrap();
                }
                // absent-key CAS across "processes": exactly one wins per key
                s.swap_if("first", None, &[t as u8]).unwrap()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .filter(|_| true)
        .map(|h| h.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(a.get("n").unwrap(), Some(800i64.to_le_bytes().to_vec()));
    assert_eq!(b.get("n").unwrap(), Some(800i64.to_le_bytes().to_vec()));
    // labels are separate namespaces in the shared file
    assert_eq!(other_label.get("n").unwrap(), None);
}

#[test]
fn access_is_limited_to_listed_labels() {
    let stores = KvStores::from_backends([(
        "default".to_string(),
        Arc::new(MemoryBackend::default()) as Arc<dyn KvBackend>,
    )]);
    let access = KvAccess::new(stores.clone(), Arc::new(["default".to_string()].into()));
    assert!(access.open("default").is_ok());
    assert_eq!(access.open("orders").unwrap_err(), KvError::AccessDenied);
    let access = KvAccess::new(stores, Arc::new(["ghost".to_string()].into()));
    assert_eq!(access.open("ghost").unwrap_err(), KvError::NoSuchStore);
    assert_eq!(access.open("default").unwrap_err(), KvError::AccessDenied);
}

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
            thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_backend_operations_increments_and_cas() {
    let Some(server) = RedisServer::start() else {
        eprintln!("redis-server not installed: skipping the Redis backend test");
        return;
    };
    let b: Arc<dyn KvBackend> = Arc::new(RedisBackend::open(&server.url).unwrap());
    b.set("a", b"1").unwrap();
    assert_eq!(b.get("a").unwrap(), Some(b"1".to_vec()));
    assert!(b.exists("a").unwrap());
    b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
        .unwrap();
    assert_eq!(
        b.get_many(&["y".into(), "zz".into()]).unwrap(),
        vec![
            ("y".to_string(), Some(b"y".to_vec())),
            ("zz".to_string(), None)
        ]
    );
    b.delete_many(&["x".into(), "y".into()]).unwrap();
    b.delete("a").unwrap();
    assert_eq!(b.keys().unwrap(), Vec::<String>::new());

    // INCRBY from 32 threads is exact (value is a decimal string, as on Spin)
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

    // a second backend on the same server plays a second host process
    let b2: Arc<dyn KvBackend> = Arc::new(RedisBackend::open(&server.url).unwrap());
    for round in 0..20 {
        let key = format!("first{round}");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [b.clone(), b2.clone()]
            .into_iter()
            .enumerate()
            .map(|(w, s)| {
                let (barrier, key) = (barrier.clone(), key.clone());
                thread::spawn(move || {
                    barrier.wait();
                    s.swap_if(&key, None, &[w as u8]).unwrap()
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
            thread::spawn(move || {
                for _ in 0..25 {
                    loop {
                        let cur = s.get("c").unwrap();
                        let n = cur
                            .as_deref()
                            .map(|v| decode_counter(v).unwrap())
                            .unwrap_or(0);
                        if s.swap_if("c", cur.as_deref(), &(n + 1).to_le_bytes())
                            .unwrap()
                        {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(b.get("c").unwrap(), Some(200i64.to_le_bytes().to_vec()));
}
