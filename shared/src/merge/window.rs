//! Windowed merging over a [`KeyValue`] store with `increment` as the only atomic
//! operation. The protocol is explained in the module doc of [`super`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::adaptive::{window_minutes, FollowStats};
use super::decide::{evaluate, exclusion, MemberView, MergeDecision, MergeOutcome, Verdict};
use super::rules::RuleSet;
use super::{MergeError, ReleaseReason, ReleasedGroup};
use crate::order::{Order, OrderId};
use crate::store::KeyValue;

/// Added to a group's slot counter to seal it: any slot number above it was allocated
/// after the seal and is not a member.
pub const SEAL: i64 = 1 << 40;
/// What a closer adds to a slot's claim counter (a writer adds 1).
const SLOT_CLOSER: i64 = 1 << 20;
/// How long a closer waits for a slot that was allocated but not yet written.
const IN_FLIGHT_GRACE_S: i64 = 120;
/// Due buckets re-scanned behind the cursor, for writers that were slow to index.
const RESCAN_MINUTES: i64 = 5;
/// Epochs walked past sealed groups before giving up on a lane (a lagging hint).
const MAX_EPOCH_WALK: usize = 64;

/// What one offer did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offered {
    pub decision: MergeDecision,
    /// Groups released by this offer (its own when it could not wait, or when it never
    /// merges).
    pub released: Vec<ReleasedGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Externally tagged on purpose: serde_json's `arbitrary_precision` cannot read
// floats (coordinates) back through an internally tagged enum's buffer.
#[serde(rename_all = "snake_case")]
enum Slot {
    Member {
        view: Box<MemberView>,
        offered_at: DateTime<Utc>,
        window_minutes: u32,
    },
    /// The order took the slot, then found a member it may not join.
    Declined { order_id: OrderId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Placement {
    group_id: String,
    slot: i64,
    /// The open group it joined (absent for groups released at once).
    #[serde(default)]
    group: Option<GroupRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GroupRef {
    anchor: String,
    lane: u32,
    epoch: i64,
}

impl GroupRef {
    fn id(&self) -> String {
        format!("{}.{}.{}", self.anchor, self.lane, self.epoch)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    count: i64,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DueEntry {
    group: GroupRef,
    at: DateTime<Utc>,
}

fn anchor_of(customer_key: &str) -> String {
    let digest = Sha256::digest(customer_key.as_bytes());
    hex::encode(&digest[..12])
}
fn k_hint(anchor: &str, lane: u32) -> String {
    format!("merge/lane/{anchor}/{lane}/epoch")
}
fn k_slots(g: &GroupRef) -> String {
    format!("merge/g/{}/slots", g.id())
}
fn k_slot(g: &GroupRef, n: i64) -> String {
    format!("merge/g/{}/slot/{n}", g.id())
}
fn k_slot_claim(g: &GroupRef, n: i64) -> String {
    format!("merge/g/{}/slot/{n}/claim", g.id())
}
fn k_sealed(group_id: &str) -> String {
    format!("merge/g/{group_id}/sealed")
}
fn k_released(group_id: &str) -> String {
    format!("merge/g/{group_id}/released")
}
fn k_release_claim(group_id: &str) -> String {
    format!("merge/g/{group_id}/claim")
}
fn k_order(id: &OrderId) -> String {
    format!("merge/o/{id}")
}
fn k_stats(anchor: &str) -> String {
    format!("merge/stats/{anchor}")
}
fn k_due_count(minute: i64) -> String {
    format!("merge/due/{minute}/n")
}
fn k_due(minute: i64, i: i64) -> String {
    format!("merge/due/{minute}/{i}")
}
const K_CURSOR: &str = "merge/due/cursor";
/// The minute up to which a closer is scanning (set before the scan).
const K_SCANNING: &str = "merge/due/scanning";

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, MergeError> {
    serde_json::to_vec(v).map_err(|e| MergeError::Corrupt(e.to_string()))
}
fn from_json<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, MergeError> {
    serde_json::from_slice(bytes).map_err(|e| MergeError::Corrupt(format!("`{key}`: {e}")))
}

/// Offer an order to the merger. Idempotent: the same order offered again returns
/// `AlreadyPlaced` with the group it is in.
pub fn offer(
    store: &impl KeyValue,
    rules: &RuleSet,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Offered, MergeError> {
    let mut dues = Dues::default();
    let offered = offer_deferring(store, rules, order, now, &mut dues, false)?;
    dues.index(store, now)?;
    Ok(offered)
}

/// Groups to put on the closer's due index, collected over a batch of offers and
/// indexed together ([`Dues::index`]): a few round trips per batch instead of five per
/// order. Until then a placed order's group is not on the index; a crash in between is
/// repaired by the retry, which finds the order placed and indexes its group again.
#[derive(Debug, Default)]
pub struct Dues(Vec<(GroupRef, DateTime<Utc>)>);

impl Dues {
    fn push(&mut self, g: &GroupRef, at: DateTime<Utc>) {
        self.0.push((g.clone(), at));
    }

    /// Index every collected group at the minute it is due.
    pub fn index(self, store: &impl KeyValue, now: DateTime<Utc>) -> Result<(), MergeError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let scanning = read_minute(store, K_SCANNING)?;
        // The very first due entry starts the closer's cursor.
        if !store.exists(K_CURSOR)? {
            store.set(K_CURSOR, &to_json(&(now.timestamp().div_euclid(60) - 1))?)?;
        }
        let entries: Vec<(i64, GroupRef, DateTime<Utc>)> = self
            .0
            .into_iter()
            .map(|(g, at)| {
                // Never index behind a scan that may already have passed: the entry is
                // due then anyway, and the next scan starts at or before that minute.
                let at = at.max(now);
                let minute = at
                    .timestamp()
                    .div_euclid(60)
                    .max(scanning.unwrap_or(i64::MIN));
                (minute, g, at)
            })
            .collect();
        write_dues(store, &entries)?;
        // A closer that began scanning after we read `scanning` may have passed our
        // buckets before we wrote them: index those again where the next scan looks.
        if let Some(now_scanning) = read_minute(store, K_SCANNING)? {
            if Some(now_scanning) != scanning {
                let behind: Vec<_> = entries
                    .into_iter()
                    .filter(|(minute, _, _)| *minute < now_scanning)
                    .map(|(_, g, at)| (now_scanning, g, at))
                    .collect();
                write_dues(store, &behind)?;
            }
        }
        Ok(())
    }
}

/// [`offer`], leaving the due index to the caller's [`Dues::index`]. `never_offered`:
/// the caller knows this order was never offered (the order book saw it for the first
/// time), so there is no placement to look up.
pub fn offer_deferring(
    store: &impl KeyValue,
    rules: &RuleSet,
    order: &Order,
    now: DateTime<Utc>,
    dues: &mut Dues,
    never_offered: bool,
) -> Result<Offered, MergeError> {
    let view = MemberView::of(order);
    let placed = if never_offered {
        None
    } else {
        store.get(&k_order(&view.order_id))?
    };
    if let Some(bytes) = placed {
        let p: Placement = from_json(&k_order(&view.order_id), &bytes)?;
        // A retry may follow a crash between placing and indexing the group: index
        // it again (the closer re-schedules an entry that is not due yet).
        if let Some(g) = &p.group {
            if !store.exists(&k_released(&p.group_id))? {
                dues.push(g, now);
            }
        }
        return Ok(Offered {
            decision: decision(
                &view,
                MergeOutcome::AlreadyPlaced {
                    group_id: p.group_id,
                },
                "idempotent",
                "offered before: first decision stands",
            ),
            released: Vec::new(),
        });
    }
    let anchor = anchor_of(view.identity());
    if let Some(v) = exclusion(rules, &view) {
        return release_alone(store, &anchor, view, now, v, ReleaseReason::NeverMerges);
    }
    let window = adaptive_window(store, rules, &anchor, &view)?;
    place(store, rules, view, &anchor, window, now, dues)
}

/// Find or open a group for `view` (no idempotency check: also used to re-place an
/// order whose slot a closer abandoned).
fn place(
    store: &impl KeyValue,
    rules: &RuleSet,
    view: MemberView,
    anchor: &str,
    window: u32,
    now: DateTime<Utc>,
    dues: &mut Dues,
) -> Result<Offered, MergeError> {
    let latest_close = view.latest_close(rules);
    let mut last_refusal: Option<Verdict> = None;
    for lane in 0..rules.max_lanes {
        let Some((group, count)) = current_group(store, anchor, lane)? else {
            continue;
        };
        let seen = read_members(store, &group, 1, count)?;
        let group_window = seen.first().map(|(_, _, w)| *w).unwrap_or(window);
        let members: Vec<MemberView> = seen.iter().map(|(_, m, _)| m.clone()).collect();
        if !members.is_empty() {
            let v = evaluate(rules, &view, &members, group_window);
            if !v.join {
                last_refusal = Some(v);
                continue;
            }
        }
        let n = store.increment(&k_slots(&group), 1)?;
        if n > SEAL {
            // Sealed between our read and our claim: the lane has moved to a new
            // epoch; start over (a seal happens once per group, so this ends).
            return place(store, rules, view, anchor, window, now, dues);
        }
        // Members that slipped in between our read and our claim.
        let late = read_members(store, &group, count + 1, n - 1)?;
        let mut all = members.clone();
        all.extend(late.iter().map(|(_, m, _)| m.clone()));
        let group_window = seen
            .first()
            .or(late.first())
            .map(|(_, _, w)| *w)
            .unwrap_or(window);
        let verdict = if all.is_empty() {
            None
        } else {
            let v = evaluate(rules, &view, &all, group_window);
            if !v.join {
                store.set(
                    &k_slot(&group, n),
                    &to_json(&Slot::Declined {
                        order_id: view.order_id.clone(),
                    })?,
                )?;
                last_refusal = Some(v);
                continue;
            }
            Some(v)
        };
        let opened_at = seen
            .first()
            .or(late.first())
            .map(|(at, _, _)| *at)
            .unwrap_or(now);
        let close_at = all
            .iter()
            .map(|m| m.latest_close(rules))
            .chain([
                latest_close,
                opened_at + super::decide::minutes(group_window),
            ])
            .min()
            .unwrap_or(now);
        let slot = Slot::Member {
            view: Box::new(view.clone()),
            offered_at: now,
            window_minutes: group_window,
        };
        let placement = Placement {
            group_id: group.id(),
            slot: n,
            group: Some(group.clone()),
        };
        store.set_many(&[
            (k_slot(&group, n), to_json(&slot)?),
            (k_order(&view.order_id), to_json(&placement)?),
        ])?;
        // Commit the slot. Written *before* this claim, so a closer that claims second
        // is sure to read it; a closer that claimed first gave the slot up (we were
        // too slow) and released without us: place the order again.
        if store.increment(&k_slot_claim(&group, n), 1)? > 1 {
            return place(store, rules, view, anchor, window, now, dues);
        }
        let (outcome, rule_id, reason) = match verdict {
            None => (
                MergeOutcome::Opened {
                    group_id: group.id(),
                },
                "open".to_string(),
                format!("no open group to join: opened one with a {group_window}-minute window"),
            ),
            Some(v) => (
                MergeOutcome::Joined {
                    group_id: group.id(),
                },
                v.rule_id,
                v.reason,
            ),
        };
        let decision = decision(&view, outcome, &rule_id, &reason);
        if close_at <= now {
            let released = close_group(
                store,
                rules,
                &group,
                now,
                Some(ReleaseReason::PromiseCannotWait),
            )?;
            return Ok(Offered { decision, released });
        }
        dues.push(&group, close_at);
        return Ok(Offered {
            decision,
            released: Vec::new(),
        });
    }
    let refusal = last_refusal.unwrap_or(Verdict {
        join: false,
        rule_id: "lanes".into(),
        reason: "every lane is busy".into(),
    });
    release_alone(store, anchor, view, now, refusal, ReleaseReason::Refused)
}

fn decision(
    view: &MemberView,
    outcome: MergeOutcome,
    rule_id: &str,
    reason: &str,
) -> MergeDecision {
    MergeDecision {
        order_id: view.order_id.clone(),
        outcome,
        rule_id: rule_id.to_string(),
        reason: reason.to_string(),
    }
}

fn adaptive_window(
    store: &impl KeyValue,
    rules: &RuleSet,
    anchor: &str,
    view: &MemberView,
) -> Result<u32, MergeError> {
    let cfg = &rules.adaptive;
    if !cfg.enabled {
        return Ok(rules.window.default_minutes);
    }
    let key = k_stats(anchor);
    let mut stats: FollowStats = match store.get(&key)? {
        Some(b) => from_json(&key, &b)?,
        None => FollowStats::default(),
    };
    // Area and global rates are plain counters (increment: exact under any race);
    // each is the Beta prior of the level below it.
    let levels: Vec<String> = std::iter::once("global".to_string())
        .chain(
            view.area
                .as_deref()
                .map(|a| format!("area/{}", anchor_of(a))),
        )
        .collect();
    let mut prior = cfg.prior_follow_rate;
    for level in &levels {
        let sessions = store.increment(&k_level(level, "sessions"), 0)?;
        let followed = store.increment(&k_level(level, "followed"), 0)?;
        let counts = FollowStats {
            sessions: u32::try_from(sessions).unwrap_or(u32::MAX),
            followed: u32::try_from(followed).unwrap_or(u32::MAX),
            ..FollowStats::default()
        };
        prior = counts.follow_probability(prior, cfg.prior_strength);
    }
    let w = window_minutes(Some(&stats), prior, &rules.window, cfg);
    let before = (stats.sessions, stats.followed);
    stats.observe(view.placed_at, rules.window.max_minutes);
    // The customer's own record is read-modify-write: under a same-customer race the
    // last writer wins and one observation is lost (statistics tolerate it).
    store.set(&key, &to_json(&stats)?)?;
    for level in &levels {
        if stats.sessions > before.0 {
            store.increment(&k_level(level, "sessions"), 1)?;
        }
        if stats.followed > before.1 {
            store.increment(&k_level(level, "followed"), 1)?;
        }
    }
    Ok(w)
}

fn k_level(level: &str, counter: &str) -> String {
    format!("merge/stats/{level}/{counter}")
}

/// The lane's current (unsealed) group and its slot count, walking past sealed epochs.
fn current_group(
    store: &impl KeyValue,
    anchor: &str,
    lane: u32,
) -> Result<Option<(GroupRef, i64)>, MergeError> {
    let hint = store.increment(&k_hint(anchor, lane), 0)?;
    for epoch in (hint..).take(MAX_EPOCH_WALK) {
        let g = GroupRef {
            anchor: anchor.to_string(),
            lane,
            epoch,
        };
        let count = store.increment(&k_slots(&g), 0)?;
        if count < SEAL {
            return Ok(Some((g, count)));
        }
    }
    Ok(None)
}

/// Written members in slots `from..=to`: (offered_at, view, window).
fn read_members(
    store: &impl KeyValue,
    g: &GroupRef,
    from: i64,
    to: i64,
) -> Result<Vec<(DateTime<Utc>, MemberView, u32)>, MergeError> {
    if to < from {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = (from..=to).map(|n| k_slot(g, n)).collect();
    let mut out = Vec::new();
    for (key, bytes) in keys.iter().zip(store.get_many(&keys)?) {
        if let Some(b) = bytes {
            if let Slot::Member {
                view,
                offered_at,
                window_minutes,
            } = from_json(key, &b)?
            {
                out.push((offered_at, *view, window_minutes));
            }
        }
    }
    Ok(out)
}

/// Put one group on the due index (a batch of one, [`Dues::index`]).
fn add_due(
    store: &impl KeyValue,
    g: &GroupRef,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), MergeError> {
    let mut dues = Dues::default();
    dues.push(g, at);
    dues.index(store, now)
}

fn read_minute(store: &impl KeyValue, key: &str) -> Result<Option<i64>, MergeError> {
    store
        .get(key)?
        .map(|b| from_json::<i64>(key, &b))
        .transpose()
}

/// Many due entries: one `increment` per minute for its slots, one batch write.
fn write_dues(
    store: &impl KeyValue,
    entries: &[(i64, GroupRef, DateTime<Utc>)],
) -> Result<(), MergeError> {
    let mut per_minute: std::collections::BTreeMap<i64, Vec<DueEntry>> = Default::default();
    for (minute, g, at) in entries {
        per_minute.entry(*minute).or_default().push(DueEntry {
            group: g.clone(),
            at: *at,
        });
    }
    let mut writes = Vec::with_capacity(entries.len());
    for (minute, list) in per_minute {
        let k = i64::try_from(list.len()).unwrap_or(i64::MAX);
        let top = store.increment(&k_due_count(minute), k)?;
        for (i, entry) in list.iter().enumerate() {
            writes.push((k_due(minute, top - k + 1 + i as i64), to_json(entry)?));
        }
    }
    if !writes.is_empty() {
        store.set_many(&writes)?;
    }
    Ok(())
}

fn release_alone(
    store: &impl KeyValue,
    anchor: &str,
    view: MemberView,
    now: DateTime<Utc>,
    v: Verdict,
    reason: ReleaseReason,
) -> Result<Offered, MergeError> {
    let group_id = format!("{anchor}.alone.{}", view.order_id);
    let placement = Placement {
        group_id: group_id.clone(),
        slot: 0,
        group: None,
    };
    let group = ReleasedGroup {
        group_id: group_id.clone(),
        members: vec![view.clone()],
        opened_at: now,
        released_at: now,
        reason,
    };
    store.set_many(&[
        (k_order(&view.order_id), to_json(&placement)?),
        (k_released(&group_id), to_json(&group)?),
    ])?;
    Ok(Offered {
        decision: decision(
            &view,
            MergeOutcome::Alone { group_id },
            &v.rule_id,
            &v.reason,
        ),
        released: vec![group],
    })
}

/// Close every group whose window is due at `now`; returns the released groups.
/// Safe to run concurrently and repeatedly: a group is released once.
pub fn close_due(
    store: &impl KeyValue,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Result<Vec<ReleasedGroup>, MergeError> {
    let now_min = now.timestamp().div_euclid(60);
    let cursor: i64 = match store.get(K_CURSOR)? {
        Some(b) => from_json(K_CURSOR, &b)?,
        None => return Ok(Vec::new()), // nothing was ever indexed
    };
    // Announce the scan before it starts: an offer racing with it sees the change
    // and indexes its group where the next scan will look (see `add_due`).
    store.set(K_SCANNING, &to_json(&now_min)?)?;
    let mut released = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for minute in (cursor - RESCAN_MINUTES)..=now_min {
        // `exists` first: reading an absent counter with `increment(_, 0)` would
        // create a key for every empty minute.
        if !store.exists(&k_due_count(minute))? {
            continue;
        }
        let n = store.increment(&k_due_count(minute), 0)?;
        if n == 0 {
            continue;
        }
        let keys: Vec<String> = (1..=n).map(|i| k_due(minute, i)).collect();
        for (key, bytes) in keys.iter().zip(store.get_many(&keys)?) {
            let Some(b) = bytes else { continue };
            let entry: DueEntry = from_json(key, &b)?;
            if entry.at > now || !seen.insert(entry.group.id()) {
                continue;
            }
            released.extend(close_group(store, rules, &entry.group, now, None)?);
        }
    }
    store.set(K_CURSOR, &to_json(&now_min)?)?;
    Ok(released)
}

/// Seal and release one group if it is due (or `force`). Returns nothing when it is
/// not due yet (re-indexed), already released, or waiting for an in-flight member.
fn close_group(
    store: &impl KeyValue,
    rules: &RuleSet,
    g: &GroupRef,
    now: DateTime<Utc>,
    force: Option<ReleaseReason>,
) -> Result<Vec<ReleasedGroup>, MergeError> {
    let gid = g.id();
    if store.exists(&k_released(&gid))? {
        return Ok(Vec::new());
    }
    let count_now = store.increment(&k_slots(g), 0)?;
    let sealed = if count_now < SEAL {
        let members = read_members(store, g, 1, count_now)?;
        let close_at = group_close_at(rules, &members);
        if force.is_none() && close_at.is_some_and(|c| c > now) {
            add_due(store, g, close_at.unwrap_or(now), now)?;
            return Ok(Vec::new());
        }
        let v = store.increment(&k_slots(g), SEAL)?;
        if v < 2 * SEAL {
            let s = Sealed {
                count: v - SEAL,
                at: now,
            };
            store.set(&k_sealed(&gid), &to_json(&s)?)?;
            store.increment(&k_hint(&g.anchor, g.lane), 1)?;
            s
        } else {
            match read_sealed(store, &gid)? {
                Some(s) => s,
                None => return Ok(Vec::new()), // the other sealer is writing it
            }
        }
    } else {
        match read_sealed(store, &gid)? {
            Some(s) => s,
            // Sealed by a closer that died before recording the count: every slot up
            // to the counter's low part may be a member.
            None => Sealed {
                count: count_now % SEAL,
                at: now - Duration::seconds(IN_FLIGHT_GRACE_S),
            },
        }
    };
    release_sealed(
        store,
        rules,
        g,
        &sealed,
        now,
        force.unwrap_or(ReleaseReason::WindowClosed),
    )
}

fn read_sealed(store: &impl KeyValue, gid: &str) -> Result<Option<Sealed>, MergeError> {
    let key = k_sealed(gid);
    match store.get(&key)? {
        Some(b) => Ok(Some(from_json(&key, &b)?)),
        None => Ok(None),
    }
}

fn group_close_at(
    rules: &RuleSet,
    members: &[(DateTime<Utc>, MemberView, u32)],
) -> Option<DateTime<Utc>> {
    let (opened, _, w) = members.first()?;
    members
        .iter()
        .map(|(_, m, _)| m.latest_close(rules))
        .chain([*opened + super::decide::minutes(*w)])
        .min()
}

fn release_sealed(
    store: &impl KeyValue,
    rules: &RuleSet,
    g: &GroupRef,
    sealed: &Sealed,
    now: DateTime<Utc>,
    reason: ReleaseReason,
) -> Result<Vec<ReleasedGroup>, MergeError> {
    let gid = g.id();
    let keys: Vec<String> = (1..=sealed.count).map(|n| k_slot(g, n)).collect();
    let slots = store.get_many(&keys)?;
    if slots.iter().any(Option::is_none) && (now - sealed.at).num_seconds() < IN_FLIGHT_GRACE_S {
        // A member is between claiming its slot and writing it: come back shortly.
        add_due(store, g, now + Duration::minutes(1), now)?;
        return Ok(Vec::new());
    }
    // One releaser per group. A releaser that died mid-way is taken over once the
    // group has been sealed for twice the grace period (then dispatch may see the
    // group twice and dedups by group id).
    let claim = store.increment(&k_release_claim(&gid), 1)?;
    if claim > 1
        && ((now - sealed.at).num_seconds() < 2 * IN_FLIGHT_GRACE_S
            || store.exists(&k_released(&gid))?)
    {
        return Ok(Vec::new());
    }
    // Decide every slot once, by increment: the writer adds 1 after writing its slot,
    // closers add SLOT_CLOSER. The first closer on a slot sees whether the writer
    // committed before it (member) or not (the writer will see our mark and place the
    // order again). A later closer (takeover) relies on the placement record below.
    let mut slots = slots;
    let mut reread = Vec::new();
    for (i, slot) in slots.iter_mut().enumerate() {
        let n = i as i64 + 1;
        let prior = store.increment(&k_slot_claim(g, n), SLOT_CLOSER)? - SLOT_CLOSER;
        // First closer: the writer's 1 must be there already. Later closer: an
        // earlier closer decided; the placement record check below settles it.
        let committed = prior >= 1;
        if !committed {
            *slot = None;
        } else if slot.is_none() {
            reread.push(i);
        }
    }
    if !reread.is_empty() {
        let again = store.get_many(&reread.iter().map(|i| keys[*i].clone()).collect::<Vec<_>>())?;
        for (i, bytes) in reread.into_iter().zip(again) {
            slots[i] = bytes;
        }
    }
    let mut candidates: Vec<(i64, DateTime<Utc>, MemberView, u32)> = Vec::new();
    for (i, (key, bytes)) in keys.iter().zip(slots).enumerate() {
        if let Some(b) = bytes {
            if let Slot::Member {
                view,
                offered_at,
                window_minutes,
            } = from_json(key, &b)?
            {
                candidates.push((i as i64 + 1, offered_at, *view, window_minutes));
            }
        }
    }
    // The order record is the truth of membership: a duplicate offer that landed
    // elsewhere is not ours. A missing record (writer died between the two writes) is
    // adopted here so a retry finds the order placed.
    let rec_keys: Vec<String> = candidates
        .iter()
        .map(|(_, _, v, _)| k_order(&v.order_id))
        .collect();
    let records = store.get_many(&rec_keys)?;
    let mut writes = Vec::new();
    let mut members: Vec<(i64, DateTime<Utc>, MemberView, u32)> = Vec::new();
    for ((slot, at, view, w), rec) in candidates.into_iter().zip(records) {
        let ours = match rec {
            Some(b) => {
                let p: Placement = from_json(&k_order(&view.order_id), &b)?;
                p.group_id == gid && p.slot == slot
            }
            None => {
                writes.push((
                    k_order(&view.order_id),
                    to_json(&Placement {
                        group_id: gid.clone(),
                        slot,
                        group: Some(g.clone()),
                    })?,
                ));
                true
            }
        };
        if ours
            && !members
                .iter()
                .any(|(_, _, m, _)| m.order_id == view.order_id)
        {
            members.push((slot, at, view, w));
        }
    }
    let opened_at = members.first().map(|(_, at, _, _)| *at).unwrap_or(now);
    let window = members
        .first()
        .map(|(_, _, _, w)| *w)
        .unwrap_or(rules.window.default_minutes);
    // Re-validate in slot order: an offer that could not see an in-flight member may
    // have joined without checking it; such a member leaves as its own group.
    let mut accepted: Vec<MemberView> = Vec::new();
    let mut out = Vec::new();
    for (slot, _, view, _) in members {
        if accepted.is_empty() || evaluate(rules, &view, &accepted, window).join {
            accepted.push(view);
        } else {
            let split_id = format!("{gid}.s{slot}");
            writes.push((
                k_order(&view.order_id),
                to_json(&Placement {
                    group_id: split_id.clone(),
                    slot: 0,
                    group: None,
                })?,
            ));
            let group = ReleasedGroup {
                group_id: split_id.clone(),
                members: vec![view],
                opened_at,
                released_at: now,
                reason: ReleaseReason::Refused,
            };
            writes.push((k_released(&split_id), to_json(&group)?));
            out.push(group);
        }
    }
    if !accepted.is_empty() {
        let group = ReleasedGroup {
            group_id: gid.clone(),
            members: accepted,
            opened_at,
            released_at: now,
            reason,
        };
        writes.push((k_released(&gid), to_json(&group)?));
        out.insert(0, group);
    } else {
        writes.push((
            k_released(&gid),
            to_json(&ReleasedGroup {
                group_id: gid.clone(),
                members: Vec::new(),
                opened_at,
                released_at: now,
                reason: ReleaseReason::WindowClosed,
            })?,
        ));
    }
    store.set_many(&writes)?;
    Ok(out)
}

/// The released group an order ended up in, if released.
pub fn released_group_of(
    store: &impl KeyValue,
    order_id: &OrderId,
) -> Result<Option<ReleasedGroup>, MergeError> {
    let Some(b) = store.get(&k_order(order_id))? else {
        return Ok(None);
    };
    let p: Placement = from_json(&k_order(order_id), &b)?;
    match store.get(&k_released(&p.group_id))? {
        Some(b) => Ok(Some(from_json(&k_released(&p.group_id), &b)?)),
        None => Ok(None),
    }
}

/// Erase the personal data merge keeps of `order_id` (a finished order past its
/// retention, `access::erasure`): its member view in its group's slot, in the released
/// group and in the delivery record, rewritten with [`MemberView::erased`] in one
/// write. Each of these keys is otherwise written once, when its group forms or is
/// released, long before an order is finished for the retention period. Idempotent;
/// `false` when merge never saw the order or nothing was left to erase.
pub fn erase_member(store: &impl KeyValue, order_id: &OrderId) -> Result<bool, MergeError> {
    let Some(b) = store.get(&k_order(order_id))? else {
        return Ok(false);
    };
    let p: Placement = from_json(&k_order(order_id), &b)?;
    let erase = |m: &mut MemberView| {
        let erased = m.erased();
        let changed = m.order_id == *order_id && *m != erased;
        if changed {
            *m = erased;
        }
        changed
    };
    // Every member is looked at (`any` would stop at the first change).
    let erase_all = |members: &mut [MemberView]| {
        members
            .iter_mut()
            .map(erase)
            .filter(|changed| *changed)
            .count()
            > 0
    };
    let mut writes = Vec::new();
    if let Some(g) = &p.group {
        let key = k_slot(g, p.slot);
        if let Some(b) = store.get(&key)? {
            if let Slot::Member {
                mut view,
                offered_at,
                window_minutes,
            } = from_json(&key, &b)?
            {
                if erase(&mut view) {
                    let slot = Slot::Member {
                        view,
                        offered_at,
                        window_minutes,
                    };
                    writes.push((key, to_json(&slot)?));
                }
            }
        }
    }
    let key = k_released(&p.group_id);
    if let Some(b) = store.get(&key)? {
        let mut group: ReleasedGroup = from_json(&key, &b)?;
        if erase_all(&mut group.members) {
            writes.push((key, to_json(&group)?));
        }
    }
    let key = super::delivery::k_delivery(&p.group_id);
    if let Some(b) = store.get(&key)? {
        let mut delivery: super::GroupDelivery = from_json(&key, &b)?;
        if erase_all(&mut delivery.group.members) {
            writes.push((key, to_json(&delivery)?));
        }
    }
    let erased = !writes.is_empty();
    store.set_many(&writes)?;
    Ok(erased)
}

/// The ids of the parcels `order_id` went out in (from its group's delivery record):
/// what erasure hands to dispatch. Empty when merge never delivered it.
pub fn parcels_of(store: &impl KeyValue, order_id: &OrderId) -> Result<Vec<String>, MergeError> {
    let Some(b) = store.get(&k_order(order_id))? else {
        return Ok(Vec::new());
    };
    let p: Placement = from_json(&k_order(order_id), &b)?;
    let key = super::delivery::k_delivery(&p.group_id);
    let Some(b) = store.get(&key)? else {
        return Ok(Vec::new());
    };
    let delivery: super::GroupDelivery = from_json(&key, &b)?;
    Ok(delivery
        .plan
        .map(|plan| {
            plan.parcels
                .into_iter()
                .filter(|parcel| parcel.orders.contains(order_id))
                .map(|parcel| parcel.parcel_id)
                .collect()
        })
        .unwrap_or_default())
}
