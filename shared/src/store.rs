//! The small store trait the core decides over.
//!
//! It is deliberately the intersection of what every Spin key-value backend does
//! correctly (see `../shared/SPIN.md` and ARCHITECTURE.md): plain get/set/delete of
//! values nobody races on, batch get/set, and `increment`. There is no compare-and-swap:
//! Spin's Redis CAS reports every successful swap as failed and its SQLite CAS upserts
//! on an absent key, so nothing in the core may depend on it.
//!
//! Counter keys (written with [`KeyValue::increment`]) are stored in a backend-specific
//! encoding (8-byte little-endian i64 on SQLite, a decimal string on Redis). Never
//! `get` a counter key: read it with `increment(key, 0)`.

use std::collections::HashMap;
use std::sync::Mutex;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("access to the store was denied")]
    AccessDenied,
    #[error("no such store")]
    NoSuchStore,
    #[error("store backend error: {0}")]
    Backend(String),
}

/// One key-value bucket.
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }
    /// Atomically add `delta` and return the new value; an absent key counts as 0.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Values in the order of `keys`; `None` for absent keys.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.get(k)).collect()
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }
    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        keys.iter().try_for_each(|k| self.delete(k))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError>
    where
        Self: Sized,
    {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError::Backend(format!("stored value at `{key}` is not valid JSON: {e}"))
            }),
        }
    }

    fn set_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError>
    where
        Self: Sized,
    {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.set(key, &bytes)
    }
}

/// Move the cursor counter `cursor_key` forward by `by` from the value `read`, if this
/// caller's claim on (`read`, hour of `now_secs`) comes first; the new value, or `None`
/// when another caller holds that claim. Moves are then sequential, each from the value
/// its caller read and checked, so no position behind a cursor is skipped without CAS;
/// a claimer that dies stalls the cursor for at most the hour.
pub fn advance_cursor<S: KeyValue + ?Sized>(
    store: &S,
    cursor_key: &str,
    read: i64,
    by: i64,
    now_secs: i64,
) -> Result<Option<i64>, StoreError> {
    if by <= 0 {
        return Ok(None);
    }
    let hour = now_secs.div_euclid(3600);
    if store.increment(&format!("{cursor_key}/advance/{read}/{hour}"), 1)? == 1 {
        return Ok(Some(store.increment(cursor_key, by)?));
    }
    Ok(None)
}

/// Add `name` once to the append-only list `{family}/...` (`seq` counter, `idx/{n}` slots,
/// `claim/{name}` counters): the first caller to claim the name gets a slot, so two
/// callers adding the same name at once list it once, and callers adding different
/// names never overwrite each other (no read-modify-write of a shared value). Repeated
/// calls are harmless.
pub fn index_once<S: KeyValue + ?Sized>(
    store: &S,
    family: &str,
    name: &str,
) -> Result<(), StoreError> {
    if store.increment(&format!("{family}/claim/{}", key_part(name)), 1)? == 1 {
        let n = store.increment(&format!("{family}/seq"), 1)?;
        store.set(&format!("{family}/idx/{n}"), name.as_bytes())?;
    }
    Ok(())
}

/// The names [`index_once`] listed under `family`, in listing order, each once. A slot
/// claimed but not yet written (a writer in flight) is skipped.
pub fn indexed<S: KeyValue + ?Sized>(store: &S, family: &str) -> Result<Vec<String>, StoreError> {
    let n = store.increment(&format!("{family}/seq"), 0)?;
    if n <= 0 {
        return Ok(Vec::new());
    }
    let slots: Vec<String> = (1..=n).map(|i| format!("{family}/idx/{i}")).collect();
    let mut seen = std::collections::HashSet::new();
    Ok(store
        .get_many(&slots)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .filter(|name| seen.insert(name.clone()))
        .collect())
}

/// A name as one part of a store key: ASCII letters, digits, `_`, `-` and `.` kept,
/// every other byte `%XX`; a result longer than 96 bytes becomes `h:` + 40 hex digits
/// of its SHA-256 (backends cap key length). Distinct names give distinct parts.
pub fn key_part(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > 96 {
        let digest = hex::encode(Sha256::digest(name.as_bytes()));
        out = format!("h:{}", &digest[..40]);
    }
    out
}

/// Why [`update_json`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other writers kept the value busy for as long as the caller would wait.
    #[error("`{0}` is being changed by another writer: try again")]
    Busy(String),
    #[error("stored value at `{0}` is not valid JSON: {1}")]
    Corrupt(String, String),
}

/// Pauses without progress after which a waiting writer takes over a version whose
/// claimer never wrote it (it died between its claim and its write): with the shells'
/// 25 ms pause, ten seconds.
pub const TAKEOVER_PAUSES: u32 = 400;

/// Change one JSON value that several writers may change at once, each change applied
/// to the value as the change before it left it: no update is lost, without CAS.
///
/// `{key}/version` holds how many changes the value has seen. A writer reads value and
/// version `v`, computes `change(value)`, and may write only if it is the first to
/// claim `v` (`increment({key}/claim/{v}, 1) == 1`); it then writes the value and
/// `v + 1`. A writer that lost the claim calls `pause` (the shell sleeps; `false` gives
/// up with [`UpdateError::Busy`]) and starts over from what the winner wrote. Should the
/// winner die between its claim and its write, the version never moves: after
/// [`TAKEOVER_PAUSES`] pauses without progress a waiter claims `{key}/claim/{v}/1` (then
/// `/2`, …) instead. (A winner that is merely slower than that and still writes loses
/// the change of the one that took over: the price of having no CAS.)
///
/// Readers just `get` the value: one key, as cheap as before. `change` may refuse
/// (`Err`): nothing is written and the refusal is returned.
pub fn update_json<S, T, E>(
    store: &S,
    key: &str,
    mut change: impl FnMut(Option<T>) -> Result<T, E>,
    pause: &mut dyn FnMut() -> bool,
) -> Result<Result<T, E>, UpdateError>
where
    S: KeyValue + ?Sized,
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let version_key = format!("{key}/version");
    let corrupt =
        |k: &str, e: serde_json::Error| UpdateError::Corrupt(k.to_string(), e.to_string());
    let mut seen: Option<i64> = None;
    let mut stalled: u32 = 0;
    loop {
        // The version first: the writer writes the value before the version, so the
        // value read after it is at least that new, and a claim on a version older
        // than the value read is always taken already.
        let values = store.get_many(&[version_key.clone(), key.to_string()])?;
        let version: i64 = match &values[0] {
            Some(b) => serde_json::from_slice(b).map_err(|e| corrupt(&version_key, e))?,
            None => 0,
        };
        if seen != Some(version) {
            seen = Some(version);
            stalled = 0;
        }
        let current: Option<T> = match &values[1] {
            Some(b) => Some(serde_json::from_slice(b).map_err(|e| corrupt(key, e))?),
            None => None,
        };
        let next = match change(current) {
            Ok(next) => next,
            Err(refused) => return Ok(Err(refused)),
        };
        let takeover = stalled / TAKEOVER_PAUSES;
        let claim = if takeover == 0 {
            format!("{key}/claim/{version}")
        } else {
            format!("{key}/claim/{version}/{takeover}")
        };
        if store.increment(&claim, 1)? == 1 {
            let bytes =
                serde_json::to_vec(&next).map_err(|e| StoreError::Backend(e.to_string()))?;
            let v = (version + 1).to_string().into_bytes();
            store.set_many(&[(key.to_string(), bytes), (version_key, v)])?;
            return Ok(Ok(next));
        }
        if !pause() {
            return Err(UpdateError::Busy(key.to_string()));
        }
        stalled = stalled.saturating_add(1);
    }
}

impl<T: KeyValue + ?Sized> KeyValue for &T {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        (**self).exists(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        (**self).increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        (**self).get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        (**self).set_many(entries)
    }
    fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        (**self).delete_many(keys)
    }
}

/// In-memory bucket for tests, benchmarks and simulations. Counters are kept as
/// 8-byte little-endian i64 like Spin's SQLite backend, so a core that wrongly `get`s a
/// counter sees the same bytes it would in production.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys with a prefix, sorted (test and report helper; not part of [`KeyValue`]).
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .lock()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-written (every
        // mutation is one HashMap call), so a poisoned lock is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyValue for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut map = self.lock();
        let current = match map.get(key) {
            None => 0,
            Some(bytes) => {
                let arr: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                    StoreError::Backend(format!("`{key}` holds a non-counter value"))
                })?;
                i64::from_le_bytes(arr)
            }
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| StoreError::Backend(format!("counter `{key}` overflowed")))?;
        map.insert(key.to_string(), next.to_le_bytes().to_vec());
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_starts_at_zero_and_is_readable_with_zero_delta() {
        let s = MemoryStore::new();
        assert_eq!(s.increment("c", 3), Ok(3));
        assert_eq!(s.increment("c", -1), Ok(2));
        assert_eq!(s.increment("c", 0), Ok(2));
        s.set("v", b"text").unwrap();
        assert!(s.increment("v", 1).is_err());
    }

    #[test]
    fn index_once_lists_each_name_once_in_order() {
        let s = MemoryStore::new();
        assert!(indexed(&s, "f").unwrap().is_empty());
        for name in ["b", "a", "b", "c/d", "a"] {
            index_once(&s, "f", name).unwrap();
        }
        assert_eq!(indexed(&s, "f").unwrap(), vec!["b", "a", "c/d"]);
        // Families are separate lists.
        index_once(&s, "g", "a").unwrap();
        assert_eq!(indexed(&s, "g").unwrap(), vec!["a"]);
    }

    fn add(store: &MemoryStore, n: u32, pause: &mut dyn FnMut() -> bool) -> Vec<u32> {
        update_json(
            store,
            "list",
            |cur: Option<Vec<u32>>| Ok::<_, ()>([cur.unwrap_or_default(), vec![n]].concat()),
            pause,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn serialized_updates_lose_nothing_even_at_once() {
        let s = std::sync::Arc::new(MemoryStore::new());
        let threads: Vec<_> = (0..16)
            .map(|n| {
                let s = s.clone();
                std::thread::spawn(move || {
                    add(&s, n, &mut || {
                        std::thread::yield_now();
                        true
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut all: Vec<u32> = s.get_json("list").unwrap().unwrap();
        all.sort();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
        assert_eq!(s.get("list/version").unwrap(), Some(b"16".to_vec()));
    }

    #[test]
    fn a_refused_change_writes_nothing_and_a_dead_claimer_is_taken_over() {
        let s = MemoryStore::new();
        add(&s, 1, &mut || true);
        let refused = update_json(&s, "list", |_: Option<Vec<u32>>| Err("no"), &mut || true);
        assert_eq!(refused, Ok(Err("no")));
        // Someone claimed version 1 and died before writing it.
        s.increment("list/claim/1", 1).unwrap();
        let mut pauses = 0;
        let got = add(&s, 2, &mut || {
            pauses += 1;
            true
        });
        assert_eq!(got, vec![1, 2]);
        assert_eq!(pauses, TAKEOVER_PAUSES);
        // A caller that will not wait gives up with Busy, nothing written.
        s.increment("list/claim/2", 1).unwrap();
        let busy = update_json(
            &s,
            "list",
            |cur: Option<Vec<u32>>| Ok::<_, ()>(cur.unwrap_or_default()),
            &mut || false,
        );
        assert_eq!(busy, Err(UpdateError::Busy("list".into())));
        assert_eq!(s.get_json::<Vec<u32>>("list").unwrap(), Some(vec![1, 2]));
    }

    #[test]
    fn key_parts_are_safe_and_distinct() {
        assert_eq!(key_part("store-001.x_y"), "store-001.x_y");
        assert_eq!(key_part("a/b c"), "a%2Fb%20c");
        assert_ne!(key_part("a/b"), key_part("a%2Fb"));
        let long = key_part(&"门店".repeat(40));
        assert!(long.starts_with("h:") && long.len() == 42, "{long}");
    }

    #[test]
    fn json_round_trip_and_batch() {
        let s = MemoryStore::new();
        s.set_json("a", &vec![1, 2]).unwrap();
        assert_eq!(s.get_json::<Vec<i32>>("a").unwrap(), Some(vec![1, 2]));
        s.set_many(&[("b".into(), b"x".to_vec())]).unwrap();
        let got = s.get_many(&["a".into(), "b".into(), "c".into()]).unwrap();
        assert_eq!(got[1].as_deref(), Some(&b"x"[..]));
        assert_eq!(got[2], None);
        assert_eq!(s.keys_with_prefix("a"), vec!["a".to_string()]);
    }
}
