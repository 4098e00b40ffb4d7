//! The default SQLite store against what Spin v3.6.3's
//! `crates/key-value-spin/src/store.rs` does (and what SPIN.md measured).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{cas_seen, panic_message, through_host};
use crate::kv::{KvBackend, KvError, SqliteBackend};

fn on_file(label: &str) -> (Arc<dyn KvBackend>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let b = SqliteBackend::open_file(&dir.path().join("kv.db"), label).unwrap();
    (Arc::new(b), dir)
}

fn in_memory() -> Arc<dyn KvBackend> {
    Arc::new(SqliteBackend::in_memory("default").unwrap())
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Mirrors `crates/key-value-spin/src/store.rs`: get / set / delete /
/// exists / get_keys, set_many in one transaction, delete_many via `rarray`.
#[test]
fn spin_sqlite_plain_operations() {
    let (file, _dir) = on_file("default");
    for b in [file, in_memory()] {
        assert_eq!(b.get("a").unwrap(), None);
        b.set("a", b"1").unwrap();
        b.set("b", b"2").unwrap();
        b.set("a", b"3").unwrap();
        assert_eq!(b.get("a").unwrap(), Some(b"3".to_vec()));
        assert!(b.exists("b").unwrap());
        assert_eq!(sorted(b.keys().unwrap()), ["a", "b"]);
        b.delete("a").unwrap();
        b.delete("never").unwrap();
        assert!(!b.exists("a").unwrap());
        b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
            .unwrap();
        b.delete_many(&["x".into(), "b".into(), "never".into()])
            .unwrap();
        assert_eq!(b.keys().unwrap(), ["y"]);
    }
}

/// Mirrors `crates/key-value-spin/src/store.rs` `get_many`: `key IN
/// rarray(...)` answers only the keys that exist; a missing key is left out,
/// not paired with `None`.
#[test]
fn spin_sqlite_get_many_leaves_out_missing_keys() {
    let b = in_memory();
    b.set_many(&[("x".into(), b"x".to_vec()), ("y".into(), b"y".to_vec())])
        .unwrap();
    let got = b.get_many(&["y".into(), "zz".into(), "x".into()]).unwrap();
    assert_eq!(
        sorted(got),
        [
            ("x".to_string(), Some(b"x".to_vec())),
            ("y".to_string(), Some(b"y".to_vec()))
        ]
    );
    assert_eq!(b.get_many(&["zz".into()]).unwrap(), []);
}

/// Mirrors `crates/key-value-spin/src/store.rs` `increment`: i64
/// little-endian, absent = 0, and (a release build) wrapping on overflow.
#[test]
fn spin_sqlite_increment_is_i64_le_and_wraps() {
    let b = in_memory();
    assert_eq!(b.increment("n", 5).unwrap(), 5);
    assert_eq!(b.increment("n", -7).unwrap(), -2);
    assert_eq!(b.get("n").unwrap(), Some((-2i64).to_le_bytes().to_vec()));
    b.set("m", &i64::MAX.to_le_bytes()).unwrap();
    assert_eq!(b.increment("m", 1).unwrap(), i64::MIN);
}

/// Mirrors `crates/key-value-spin/src/store.rs` `increment`:
/// `expect("incorrect length")` panics the host on a value that is not 8
/// bytes, with the connection's mutex held, so the store stays poisoned:
/// the guest traps, and so does every later call on the store.
#[test]
fn spin_sqlite_increment_of_a_non_counter_traps_and_poisons_the_store() {
    let b = in_memory();
    b.set("s", b"abc").unwrap();
    let msg = panic_message(|| b.increment("s", 1));
    assert!(msg.contains("incorrect length"), "{msg}");
    // through the host bindings both are traps, never a silent success
    let trap = through_host(&b, |b| b.increment("s", 1)).unwrap_err();
    assert!(trap.contains("PoisonError"), "{trap}");
    let trap = through_host(&b, |b| b.get("other")).unwrap_err();
    assert!(trap.contains("panicked"), "{trap}");
    // a fresh store (a restarted Spin) reads the value back unharmed
    let other = in_memory();
    let trap = through_host(&other, |b| {
        b.set("s", b"abc")?;
        b.increment("s", 1)
    })
    .unwrap_err();
    assert!(trap.contains("incorrect length"), "{trap}");
}

/// Mirrors `crates/key-value-spin/src/store.rs`: one connection behind a
/// mutex and a read-then-upsert transaction make concurrent increments exact
/// (SPIN.md: 2,000 from 32 clients gave 2,000).
#[test]
fn spin_sqlite_concurrent_increments_are_exact() {
    let (b, _dir) = on_file("default");
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
        Some(2_000i64.to_le_bytes().to_vec())
    );
}

/// Mirrors `crates/key-value-spin/src/store.rs` `CompareAndSwap::swap`: a
/// handle whose `current` saw no value upserts, so two first writers both
/// succeed and the second silently overwrites the first.
#[test]
fn spin_sqlite_cas_on_an_absent_key_lets_both_first_writers_win() {
    let b = in_memory();
    let (first, seen1) = cas_seen(&b, "k");
    let (second, seen2) = cas_seen(&b, "k");
    assert_eq!((seen1.unwrap(), seen2.unwrap()), (None, None));
    assert!(first.swap(b"first").unwrap());
    assert!(second.swap(b"second").unwrap());
    assert_eq!(b.get("k").unwrap(), Some(b"second".to_vec()));
}

/// Mirrors `crates/key-value-spin/src/store.rs`: `new_compare_and_swap`
/// reads nothing; a handle swapped without `current` upserts whatever the
/// key holds.
#[test]
fn spin_sqlite_cas_without_current_overwrites() {
    let b = in_memory();
    let h = b.clone().new_cas("k").unwrap();
    b.set("k", b"someone else's").unwrap();
    assert!(h.swap(b"mine").unwrap());
    assert_eq!(b.get("k").unwrap(), Some(b"mine".to_vec()));
}

/// Mirrors `crates/key-value-spin/src/store.rs`: on a key that exists,
/// `UPDATE ... WHERE value = old` is a real compare-and-swap: a changed
/// value fails the swap, and retry loops from many threads are exact
/// (SPIN.md: 2,000 CAS increments from 32 clients gave 2,000).
#[test]
fn spin_sqlite_cas_on_an_existing_key_is_exact() {
    let b = in_memory();
    b.set("a", b"old").unwrap();
    let (h, seen) = cas_seen(&b, "a");
    assert_eq!(seen.unwrap(), Some(b"old".to_vec()));
    b.set("a", b"changed").unwrap();
    assert!(!h.swap(b"mine").unwrap());
    assert_eq!(b.get("a").unwrap(), Some(b"changed".to_vec()));

    b.set("c", &0i64.to_le_bytes()).unwrap();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let b = b.clone();
            thread::spawn(move || {
                for _ in 0..25 {
                    loop {
                        let (h, seen) = cas_seen(&b, "c");
                        let n = i64::from_le_bytes(seen.unwrap().unwrap().try_into().unwrap());
                        if h.swap(&(n + 1).to_le_bytes()).unwrap() {
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
    assert_eq!(b.get("c").unwrap(), Some(400i64.to_le_bytes().to_vec()));
}

/// Mirrors `crates/key-value-spin/src/store.rs` `create_connection`:
/// SQLite's rollback journal, and no busy timeout but rusqlite's default
/// 5 s (`Connection::open`, rusqlite 0.34 `src/inner_connection.rs`), so
/// while another process holds the file's lock a call waits 5 s and fails
/// with "database is locked", as SPIN.md saw two Spin processes do.
#[test]
fn spin_sqlite_another_process_holding_the_lock_gives_database_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.db");
    let b = SqliteBackend::open_file(&path, "default").unwrap();
    b.set("k", b"v").unwrap();
    assert!(!dir.path().join("kv.db-wal").exists(), "no WAL");
    let other = Connection::open(&path).unwrap();
    let mode: String = other
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");

    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    match b.set("k", b"w") {
        Err(KvError::Other(m)) => assert!(m.contains("database is locked"), "{m}"),
        other => panic!("expected a locked error, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(9),
        "rusqlite's 5 s busy timeout: waited {waited:?}"
    );
    other.execute_batch("COMMIT").unwrap();
    b.set("k", b"w").unwrap();
}

/// Mirrors Spin's runtime config (`crates/factor-key-value/src/runtime_config/spin.rs`):
/// every label is its own store manager on its own connection, even when two
/// labels name one file; they are separate namespaces in it.
#[test]
fn spin_sqlite_labels_on_one_file_are_separate_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.db");
    let a = SqliteBackend::open_file(&path, "a").unwrap();
    let b = SqliteBackend::open_file(&path, "b").unwrap();
    a.set("k", b"from a").unwrap();
    assert_eq!(b.get("k").unwrap(), None);
    b.set("k", b"from b").unwrap();
    assert_eq!(a.get("k").unwrap(), Some(b"from a".to_vec()));
    assert_eq!(a.keys().unwrap(), ["k"]);
}
