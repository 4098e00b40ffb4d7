//! The audit trail: who changed a configuration, and who read whose personal data.
//!
//! What is audited is decided here, from the request's method and path, the admitted
//! caller and the answer's status ([`classify`], [`Audited::entry`]); the shell
//! (`orderhub_shell::serve`) only hands them in with the time and appends the entry
//! ([`append`]). Recorded:
//!
//! - every state-changing call of an `/admin/...` route (any outcome: a refused change
//!   is worth knowing too), with the request body as the new value and, for a
//!   successful change, the new value of the previous successful change of the same
//!   target as the old one;
//! - every answer that revealed full personal data: an order read by a role whose view
//!   is [`PersonalView::Full`] (`cs`), and a rider reading its own state (its live
//!   parcels' drop-offs); only successful answers, since a 404 revealed nothing.
//!
//! An entry names the order or configuration key, never the personal data itself: the
//! target is an id from the path, and the query string is never kept for a read.
//!
//! The trail is append-only: an entry's sequence number comes from `increment` of one
//! counter (no compare-and-swap: Spin's is broken on Redis), the entry is written once
//! under it, and nothing deletes it. No route writes the trail; `GET /admin/audit` reads it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::privacy::{view_for, PersonalView};
use super::role::{Principal, Role};
use super::routes::matches;
use crate::store::{KeyValue, StoreError};

/// The counter entries are sequenced by.
pub const SEQ_KEY: &str = "audit/seq";
/// The largest request body kept as an entry's new value; a larger one is kept as its
/// size only (SKU tables of thousands of codes).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// The most entries one page of `GET /admin/audit` holds.
pub const MAX_PAGE: u64 = 500;

/// The key of entry `seq` (zero-padded, so the keys sort in sequence).
pub fn entry_key(seq: u64) -> String {
    format!("audit/e/{seq:020}")
}

/// The counter of successful changes of configuration `target`.
pub fn target_count_key(target: &str) -> String {
    format!("audit/t/{target}/n")
}

/// The sequence number of the `n`th successful change of configuration `target`.
pub fn target_change_key(target: &str, n: i64) -> String {
    format!("audit/t/{target}/{n}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A state-changing call of an `/admin/...` route.
    ConfigChange,
    /// An answer that revealed a customer's full phone number and address, or a
    /// rider's drop-offs.
    PersonalDataRead,
}

/// A request that is audited, before its answer is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub kind: AuditKind,
    /// The route's pattern (`/orders/:id`) or, for configuration, the path itself.
    pub route: String,
    /// The order id, rider id or configuration key (the path below `/admin/`, with
    /// the query string: `dispatch/config?station=s1`).
    pub target: String,
}

/// Whether `method` `path` (without query) called by `who` is audited. `query` is
/// the request's query string (kept for configuration targets only).
pub fn classify(method: &str, path: &str, query: &str, who: &Principal) -> Option<Audited> {
    let method = method.to_ascii_uppercase();
    if let Some(key) = path.strip_prefix("/admin/") {
        if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") || key.is_empty() {
            return None;
        }
        let target = if query.is_empty() {
            key.to_string()
        } else {
            format!("{key}?{query}")
        };
        return Some(Audited {
            kind: AuditKind::ConfigChange,
            route: format!("{method} {path}"),
            target,
        });
    }
    if method != "GET" {
        return None;
    }
    if let Some(caps) = matches("/orders/:id", path) {
        if view_for(&who.role) == PersonalView::Full {
            return Some(Audited {
                kind: AuditKind::PersonalDataRead,
                route: "GET /orders/:id".into(),
                target: caps.get("id").unwrap_or_default().to_string(),
            });
        }
        return None;
    }
    if let Some(caps) = matches("/riders/:id", path) {
        let id = caps.get("id").unwrap_or_default();
        if id != "explain" && matches!(who.role, Role::Rider(_) | Role::AnyRider) {
            return Some(Audited {
                kind: AuditKind::PersonalDataRead,
                route: "GET /riders/:id".into(),
                target: id.to_string(),
            });
        }
    }
    None
}

/// One record of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the trail, from 1.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub subject: String,
    pub role: String,
    pub route: String,
    pub target: String,
    /// The answer's status.
    pub status: u16,
    /// `ok` (2xx), `refused` (4xx: nothing changed or revealed), `failed` (5xx).
    pub outcome: String,
    /// A configuration change's request body: the new value (JSON when it parsed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<serde_json::Value>,
    /// The body's size, always given for a configuration change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value_bytes: Option<usize>,
    /// A successful configuration change's predecessor: the entry of the previous
    /// successful change of the same target, if the trail has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_seq: Option<u64>,
    /// That predecessor's new value: the value this change replaced (as far as it was
    /// set through the API; `null` when it was kept as its size only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_value: Option<serde_json::Value>,
}

/// `ok`, `refused` or `failed` for an answer's status.
pub fn outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        400..=499 => "refused",
        _ => "failed",
    }
}

impl Audited {
    /// The entry to append for this request answered with `status` at `at_secs` (Unix
    /// seconds), or `None` when nothing is recorded (a personal-data read that revealed
    /// nothing). `body` is the request body (read only for a configuration change). The
    /// entry's `seq` is 0 until [`append`] numbers it.
    pub fn entry(
        &self,
        who: &Principal,
        at_secs: i64,
        status: u16,
        body: &[u8],
    ) -> Option<AuditEntry> {
        let (new_value, new_value_bytes) = match self.kind {
            AuditKind::PersonalDataRead if !(200..300).contains(&status) => return None,
            AuditKind::PersonalDataRead => (None, None),
            AuditKind::ConfigChange => {
                let value = (body.len() <= MAX_VALUE_BYTES && !body.is_empty()).then(|| {
                    serde_json::from_slice(body).unwrap_or_else(|_| {
                        serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
                    })
                });
                (value, Some(body.len()))
            }
        };
        Some(AuditEntry {
            seq: 0,
            at: DateTime::from_timestamp(at_secs, 0).unwrap_or_default(),
            kind: self.kind,
            subject: who.subject.clone(),
            role: who.role.to_string(),
            route: self.route.clone(),
            target: self.target.clone(),
            status,
            outcome: outcome(status).into(),
            new_value,
            new_value_bytes,
            previous_seq: None,
            old_value: None,
        })
    }
}

/// Append `entry` to the trail: the next sequence number by `increment`, then one
/// write under it. Returns the number.
///
/// A successful configuration change is also numbered among its target's changes
/// (`increment` again), and takes the previous one's new value as its old value: two
/// concurrent changes of one target are ordered by that counter (no compare-and-swap),
/// and a predecessor not written yet leaves the old value out.
pub fn append<S: KeyValue + ?Sized>(store: &S, mut entry: AuditEntry) -> Result<u64, StoreError> {
    let seq = store.increment(SEQ_KEY, 1)?;
    let seq =
        u64::try_from(seq).map_err(|_| StoreError::Backend(format!("`{SEQ_KEY}` is negative")))?;
    entry.seq = seq;
    if entry.kind == AuditKind::ConfigChange && entry.outcome == outcome(200) {
        let n = store.increment(&target_count_key(&entry.target), 1)?;
        store.set(
            &target_change_key(&entry.target, n),
            seq.to_string().as_bytes(),
        )?;
        if n > 1 {
            let previous = store
                .get(&target_change_key(&entry.target, n - 1))?
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(prev) = previous {
                let before: Option<AuditEntry> = store
                    .get(&entry_key(prev))?
                    .and_then(|b| serde_json::from_slice(&b).ok());
                entry.previous_seq = Some(prev);
                entry.old_value = before.map(|b| b.new_value.unwrap_or_default());
            }
        }
    }
    let bytes = serde_json::to_vec(&entry).map_err(|e| StoreError::Backend(e.to_string()))?;
    store.set(&entry_key(seq), &bytes)?;
    Ok(seq)
}

/// One page of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page (`?cursor=`): the first sequence number not looked at.
    pub next_cursor: u64,
    /// The last sequence number handed out when this page was read.
    pub last_seq: u64,
}

/// Up to `limit` (at most [`MAX_PAGE`]) entries from sequence number `cursor` (1 is the
/// first), oldest first. A number handed out whose entry is not written (its writer
/// died between the two steps) is skipped.
pub fn page<S: KeyValue + ?Sized>(store: &S, cursor: u64, limit: u64) -> Result<Page, StoreError> {
    let last = u64::try_from(store.increment(SEQ_KEY, 0)?).unwrap_or(0);
    let from = cursor.max(1);
    let end = from
        .saturating_add(limit.clamp(1, MAX_PAGE))
        .min(last.saturating_add(1))
        .max(from);
    let keys: Vec<String> = (from..end).map(entry_key).collect();
    let mut entries = Vec::with_capacity(keys.len());
    for (key, value) in keys.iter().zip(store.get_many(&keys)?) {
        if let Some(bytes) = value {
            entries.push(serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Backend(format!("audit entry `{key}` is not valid JSON: {e}"))
            })?);
        }
    }
    Ok(Page {
        entries,
        next_cursor: end,
        last_seq: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use chrono::TimeZone;

    fn who(role: Role) -> Principal {
        Principal {
            subject: "alice".into(),
            role,
        }
    }

    fn at() -> i64 {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
            .unwrap()
            .timestamp()
    }

    #[test]
    fn configuration_changes_are_audited_whatever_their_outcome() {
        let admin = who(Role::Admin);
        let a = classify("PUT", "/admin/channels/x/skus", "", &admin).unwrap();
        assert_eq!(a.kind, AuditKind::ConfigChange);
        assert_eq!(a.target, "channels/x/skus");
        assert_eq!(a.route, "PUT /admin/channels/x/skus");
        let body = br#"{"sku":"a"}"#;
        let ok = a.entry(&admin, at(), 200, body).unwrap();
        assert_eq!(ok.outcome, "ok");
        assert_eq!(ok.new_value, Some(serde_json::json!({"sku": "a"})));
        assert_eq!(ok.new_value_bytes, Some(body.len()));
        assert_eq!(a.entry(&admin, at(), 422, body).unwrap().outcome, "refused");
        assert_eq!(a.entry(&admin, at(), 503, body).unwrap().outcome, "failed");
        let q = classify("PUT", "/admin/dispatch/config", "station=s1", &admin).unwrap();
        assert_eq!(q.target, "dispatch/config?station=s1");
        assert_eq!(
            classify("DELETE", "/admin/channels/x", "", &admin)
                .unwrap()
                .kind,
            AuditKind::ConfigChange
        );
        assert_eq!(classify("GET", "/admin/stock/audit", "", &admin), None);
        assert_eq!(classify("GET", "/admin/audit", "", &admin), None);
    }

    #[test]
    fn a_large_body_is_kept_as_its_size_only() {
        let admin = who(Role::Admin);
        let a = classify("PUT", "/admin/channels/x/skus", "", &admin).unwrap();
        let big = vec![b' '; MAX_VALUE_BYTES + 1];
        let e = a.entry(&admin, at(), 200, &big).unwrap();
        assert_eq!(e.new_value, None);
        assert_eq!(e.new_value_bytes, Some(MAX_VALUE_BYTES + 1));
    }

    #[test]
    fn only_full_personal_data_reads_are_audited() {
        let cs = classify("GET", "/orders/meituan-1", "", &who(Role::Cs)).unwrap();
        assert_eq!(cs.kind, AuditKind::PersonalDataRead);
        assert_eq!(cs.target, "meituan-1");
        for masked in [Role::Admin, Role::Ops, Role::Finance] {
            assert_eq!(
                classify("GET", "/orders/meituan-1", "", &who(masked.clone())),
                None,
                "{masked}"
            );
        }
        // The history, the list and the dashboard carry no personal data.
        assert_eq!(
            classify("GET", "/orders/meituan-1/history", "", &who(Role::Cs)),
            None
        );
        assert_eq!(classify("GET", "/orders", "", &who(Role::Cs)), None);
        assert_eq!(
            classify("GET", "/dashboard/api/stats", "", &who(Role::Cs)),
            None
        );
        // A rider's own state carries its drop-offs; ops reading it is operations.
        let rider = who(Role::Rider("r1".into()));
        let r = classify("GET", "/riders/r1", "", &rider).unwrap();
        assert_eq!(
            (r.kind, r.target.as_str()),
            (AuditKind::PersonalDataRead, "r1")
        );
        assert_eq!(classify("GET", "/riders/r1", "", &who(Role::Ops)), None);
        assert_eq!(classify("POST", "/riders/r1/report", "", &rider), None);
    }

    #[test]
    fn a_read_that_revealed_nothing_is_not_recorded() {
        let cs = who(Role::Cs);
        let a = classify("GET", "/orders/x", "", &cs).unwrap();
        assert!(a.entry(&cs, at(), 404, b"").is_none());
        let e = a.entry(&cs, at(), 200, b"").unwrap();
        assert_eq!((e.subject.as_str(), e.role.as_str()), ("alice", "cs"));
        assert_eq!(e.new_value, None);
        assert_eq!(e.new_value_bytes, None);
    }

    #[test]
    fn a_read_entry_keeps_ids_and_never_the_query() {
        let cs = who(Role::Cs);
        let a = classify("GET", "/orders/meituan-9", "phone=13812341234", &cs).unwrap();
        let e = a.entry(&cs, at(), 200, b"13812341234").unwrap();
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("1381234"), "{text}");
        assert!(text.contains("meituan-9"), "{text}");
    }

    #[test]
    fn entries_are_sequenced_and_paged_with_a_cursor() {
        let store = MemoryStore::default();
        let cs = who(Role::Cs);
        let a = classify("GET", "/orders/o1", "", &cs).unwrap();
        for _ in 0..5 {
            append(&store, a.entry(&cs, at(), 200, b"").unwrap()).unwrap();
        }
        let first = page(&store, 0, 2).unwrap();
        assert_eq!(
            first.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!((first.next_cursor, first.last_seq), (3, 5));
        let second = page(&store, first.next_cursor, 10).unwrap();
        assert_eq!(
            second.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(second.next_cursor, 6);
        let empty = page(&store, second.next_cursor, 10).unwrap();
        assert!(empty.entries.is_empty());
        assert_eq!(empty.next_cursor, 6);
    }

    #[test]
    fn a_change_keeps_the_value_it_replaced() {
        let store = MemoryStore::default();
        let admin = who(Role::Admin);
        let sku = classify("PUT", "/admin/channels/x/skus/a", "", &admin).unwrap();
        let other = classify("PUT", "/admin/merge/rules", "", &admin).unwrap();
        let first = append(&store, sku.entry(&admin, at(), 200, br#"{"w":1}"#).unwrap()).unwrap();
        append(
            &store,
            other.entry(&admin, at(), 200, br#"{"r":1}"#).unwrap(),
        )
        .unwrap();
        // A refused change replaced nothing and is no predecessor.
        append(
            &store,
            sku.entry(&admin, at(), 422, br#"{"w":-1}"#).unwrap(),
        )
        .unwrap();
        let second = append(&store, sku.entry(&admin, at(), 200, br#"{"w":2}"#).unwrap()).unwrap();
        let entries = page(&store, 1, 10).unwrap().entries;
        let by_seq = |seq: u64| entries.iter().find(|e| e.seq == seq).unwrap();
        assert_eq!(by_seq(first).old_value, None);
        assert_eq!(by_seq(first).previous_seq, None);
        assert_eq!(by_seq(second).previous_seq, Some(first));
        assert_eq!(by_seq(second).old_value, Some(serde_json::json!({"w": 1})));
        assert_eq!(by_seq(second).new_value, Some(serde_json::json!({"w": 2})));
        assert_eq!(by_seq(2).old_value, None, "another target");
        assert_eq!(by_seq(3).old_value, None, "refused");
    }

    #[test]
    fn a_number_whose_entry_was_never_written_is_skipped() {
        let store = MemoryStore::default();
        let cs = who(Role::Cs);
        let a = classify("GET", "/orders/o1", "", &cs).unwrap();
        append(&store, a.entry(&cs, at(), 200, b"").unwrap()).unwrap();
        store.increment(SEQ_KEY, 1).unwrap(); // a writer died after numbering
        append(&store, a.entry(&cs, at(), 200, b"").unwrap()).unwrap();
        let p = page(&store, 1, 10).unwrap();
        assert_eq!(p.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(p.next_cursor, 4);
    }
}
