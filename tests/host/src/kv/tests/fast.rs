//! The `--kv-fast` backends (fast SQLite, the in-memory map): correct under
//! concurrency where Spin's are not.

use std::sync::{Arc, Barrier};
use std::thread;

use super::cas_seen;
use crate::kv::{
    decode_counter, FastSqliteBackend, KvAccess, KvBackend, KvError, KvStores, MemoryBackend,
};

fn backends() -> Vec<(&'static str, Arc<dyn KvBackend>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = FastSqliteBackend::open_file(&dir.path().join("kv.db"), "default").unwrap();
    vec![
        ("memory", Arc::new(MemoryBackend::default()), None),
        ("sqlite", Arc::new(sqlite), Some(dir)),
    ]
}

#[test]
fn fast_basic_operations() {
    for (name, b, _dir) in backends() {
        assert_eq!(b.get("a").unwrap(), None, "{name}");
        b.set("a", b"1").unwrap();
        b.set("b", b"2").unwrap();
        b.set("a", b"3").unwrap();
        assert_eq!(b.get("a").unwrap().as_deref(), Some(&b"3"[..]), "{name}");
        assert!(b.exists("b").unwrap());
        assert_eq!(b.keys().unwrap(), ["a", "b"]);
        b.delete("a").unwrap();
        b.delete("never").unwrap();
        assert!(!b.exists("a").unwrap(), "{name}");
        b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
            .unwrap();
        // one entry per requested key, in request order
        let got = b.get_many(&["y".into(), "zz".into(), "x".into()]).unwrap();
        assert_eq!(
            got,
            [
                ("y".to_string(), Some(b"y".to_vec())),
                ("zz".to_string(), None),
                ("x".to_string(), Some(b"x".to_vec())),
            ],
            "{name}"
        );
        b.delete_many(&["x".into(), "y".into()]).unwrap();
        assert_eq!(b.keys().unwrap(), ["b"], "{name}");
    }
}

#[test]
fn fast_increment_rejects_non_counters_with_an_error() {
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
        // the store is still usable
        assert_eq!(b.increment("n", 2).unwrap(), 0, "{name}");
    }
}

#[test]
fn fast_concurrent_increments_are_exact() {
    for (name, b, _dir) in backends() {
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
        assert_eq!(
            b.get("hits").unwrap(),
            Some(2_000i64.to_le_bytes().to_vec()),
            "{name}"
        );
    }
}

#[test]
fn fast_cas_on_an_absent_key_lets_exactly_one_first_writer_win() {
    for (name, b, _dir) in backends() {
        for round in 0..40 {
            let key = format!("k{round}");
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2u8)
                .map(|w| {
                    let (b, barrier, key) = (b.clone(), barrier.clone(), key.clone());
                    thread::spawn(move || {
                        // Both handles observed "absent" before either swaps.
                        let (h, seen) = cas_seen(&b, &key);
                        assert_eq!(seen.unwrap(), None);
                        barrier.wait();
                        h.swap(&[w]).unwrap()
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

/// A CAS increment loop (`cas.new`, `current`, `swap`, retry) on `key`.
pub(super) fn cas_increment(b: &Arc<dyn KvBackend>, key: &str) {
    loop {
        let (h, seen) = cas_seen(b, key);
        let n = seen
            .unwrap()
            .as_deref()
            .map(|v| decode_counter(v).unwrap())
            .unwrap_or(0);
        if h.swap(&(n + 1).to_le_bytes()).unwrap() {
            return;
        }
    }
}

#[test]
fn fast_cas_retry_loops_from_many_threads_are_exact() {
    for (name, b, _dir) in backends() {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || (0..25).for_each(|_| cas_increment(&b, "c")))
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
fn fast_sqlite_two_pools_share_one_file() {
    // Two independent pools on one file behave like two host processes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a: Arc<dyn KvBackend> = Arc::new(FastSqliteBackend::open_file(&path, "default").unwrap());
    let b: Arc<dyn KvBackend> = Arc::new(FastSqliteBackend::open_file(&path, "default").unwrap());
    let other_label = FastSqliteBackend::open_file(&path, "other").unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = if t % 2 == 0 { a.clone() } else { b.clone() };
            thread::spawn(move || {
                for _ in 0..100 {
                    s.increment("n", 1).unwrap();
                }
                cas_increment(&s, "c");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(a.get("n").unwrap(), Some(800i64.to_le_bytes().to_vec()));
    assert_eq!(b.get("c").unwrap(), Some(8i64.to_le_bytes().to_vec()));
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
