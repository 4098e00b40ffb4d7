//! Intent records: what a counter-changing operation is about to do, written before
//! its first counter effect, so that a process killed mid-way leaves a trace that
//! repair can find and undo.
//!
//! # Why undo, never finish
//! A killed operation's last store call may or may not have happened, and with only
//! `increment` there is no way to tell afterwards (others moved the counters since). So
//! repair never tries to complete what the dead operation did with its counters: it
//! discards the operation as a whole (state `Undone`) and its caller, who never got an
//! answer, redoes it on retry. What the dead operation left in the counters is put
//! right in two steps:
//!
//! 1. at once, only ever in the conservative direction (stock looks *less* available):
//!    every ledger operation orders its effects so that each prefix is conservative
//!    (reserve adds to `reserved` before checking; settle takes from `out` before it
//!    lowers `reserved`, and lowers `on_hand` before `reserved`), and the undo of a
//!    settle first raises `reserved` by the units it gives back to the hold, and the
//!    undo of a receipt first takes its units off `on_hand` (see `repair`);
//! 2. exactly, when nothing is in flight on the SKU@warehouse: its counters are
//!    recounted from the journal, which holds every *finished* operation's deltas and
//!    nothing of a dead one (the journal entry goes in the operation's last batch).
//!
//! # Lease
//! An operation whose intent is older than the lease (30 s unless the ledger is built
//! with [`super::ReservationLedger::with_lease`]) and still `Running` is dead. This
//! assumes no request runs that long (Spin's request timeout is shorter) and that
//! instance clocks agree to within the lease.
//!
//! # Ownership and takeover
//! One-shot operations (a reserve attempt, a settle request, a referenced adjustment)
//! keep their existing ticket; the ticket winner runs generation 0 with its intent at
//! `{base}:try:0`. A caller that lost the ticket and finds no result looks at the
//! current generation: running within its lease → `in_flight`; `Done` → answer from the
//! result; dead or undone → the first to claim `{base}:take:{g}` undoes it and runs
//! generation g+1. A winner killed between its ticket and its intent leaves no intent:
//! the first waiter notes the time (`{base}:stall:{g}`) and the generation is taken
//! over one lease later (nothing can have happened: intents precede effects).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{OrderId, SkuId};
use crate::store::KeyValue;

use super::counters::read;
use super::error::StockResult;
use super::expiry::bucket_of;
use super::keys;
use super::ledger::to_bytes;
use super::model::WarehouseId;

/// The lease unless configured: an operation still running after this long is dead.
pub const DEFAULT_LEASE_SECONDS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Reserve,
    Commit,
    Release,
    Expire,
    Adjust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    Running,
    /// Finished; its journal entry and result were written in the same batch.
    Done,
    /// Dead, and discarded by repair: its caller redoes it.
    Undone,
}

/// Units one settle/expire operation moved out of one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub index: usize,
    /// Taken from the allocation's `out` counter.
    pub out: i64,
    /// Of those, shipped (commit).
    pub shipped: i64,
}

/// One SKU at one warehouse: the grain of the stock counters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    pub sku: SkuId,
    pub warehouse: WarehouseId,
}

impl Place {
    pub fn new(sku: &SkuId, warehouse: &WarehouseId) -> Self {
        Self {
            sku: sku.clone(),
            warehouse: warehouse.clone(),
        }
    }
    /// `sku@warehouse` (ids never contain `@`).
    pub fn name(&self) -> String {
        format!("{}@{}", self.sku.0, self.warehouse.0)
    }
    pub fn parse(name: &str) -> Option<Self> {
        let (sku, wh) = name.rsplit_once('@')?;
        Some(Self {
            sku: SkuId(sku.to_string()),
            warehouse: WarehouseId::new(wh),
        })
    }
}

/// What an operation is about to do. Written once `Running` before any counter effect,
/// then once more `Done` in the operation's last batch (or `Undone` by repair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpIntent {
    pub kind: OpKind,
    /// Where this record lives.
    pub key: String,
    #[serde(default)]
    pub order: Option<OrderId>,
    /// The reservation attempt it acts on (reserve: the attempt it makes).
    #[serde(default)]
    pub attempt: u32,
    pub generation: u32,
    pub started_at: DateTime<Utc>,
    pub lease_seconds: i64,
    /// Every SKU@warehouse whose counters it may change.
    pub places: Vec<Place>,
    /// Adjust: units it adds to on hand (a receipt); undone by taking them off again.
    #[serde(default)]
    pub on_hand_added: i64,
    pub state: OpState,
    /// Settle/expire, once done: what it moved per allocation.
    #[serde(default)]
    pub moved: Vec<Moved>,
}

impl OpIntent {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn running(
        kind: OpKind,
        key: String,
        order: Option<&OrderId>,
        attempt: u32,
        generation: u32,
        places: Vec<Place>,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Self {
        let mut places = places;
        places.sort();
        places.dedup();
        Self {
            kind,
            key,
            order: order.cloned(),
            attempt,
            generation,
            started_at: now,
            lease_seconds,
            places,
            on_hand_added: 0,
            state: OpState::Running,
            moved: Vec::new(),
        }
    }

    /// Running past its lease: its process is gone.
    pub fn is_dead(&self, now: DateTime<Utc>) -> bool {
        self.state == OpState::Running
            && now >= self.started_at + Duration::seconds(self.lease_seconds)
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.state == OpState::Running && !self.is_dead(now)
    }

    /// The write that marks it done, for the operation's last batch.
    pub(super) fn done(&self, moved: Vec<Moved>) -> StockResult<(String, Vec<u8>)> {
        let done = Self {
            state: OpState::Done,
            moved,
            ..self.clone()
        };
        Ok((self.key.clone(), to_bytes(&done)?))
    }

    pub(super) fn undone(&self) -> StockResult<(String, Vec<u8>)> {
        let undone = Self {
            state: OpState::Undone,
            ..self.clone()
        };
        Ok((self.key.clone(), to_bytes(&undone)?))
    }
}

/// Files the intent in the index of its start minute and writes it, with `extra`
/// writes, in one batch: two store calls. An intent without a key gets one from its
/// index slot (an adjustment without a reference has no other name).
///
/// A batch is applied whole or not at all should its writer die, but a concurrent
/// reader may see its entries appear one by one, in order (`MemoryStore`; a backend
/// that pipelines `set`s). So the intent goes first and the index slot naming it
/// last: a repairer that finds the slot named finds the intent (a slot it sees empty
/// it looks at again before any recount; one named with no intent behind it would be
/// passed over for good).
pub(super) fn register<S: KeyValue + ?Sized>(
    store: &S,
    intent: &mut OpIntent,
    extra: Vec<(String, Vec<u8>)>,
) -> StockResult<()> {
    let bucket = bucket_of(intent.started_at);
    let slot = store.increment(&keys::op_index_len(bucket), 1)?;
    if intent.key.is_empty() {
        intent.key = keys::op_in_slot(bucket, slot);
    }
    let mut writes = vec![(intent.key.clone(), to_bytes(&*intent)?)];
    writes.extend(extra);
    writes.push((
        keys::op_index_slot(bucket, slot),
        intent.key.clone().into_bytes(),
    ));
    store.set_many(&writes)?;
    Ok(())
}

/// Writes an operation's last batch: `writes` (its journal entry, result, record...)
/// and then `done`, its intent marked done, as the batch's last entry. A reader may see
/// a batch's entries appear one by one, in order (see [`register`]), and a recount
/// trusts that an operation whose intent it read done has its journal entry in place:
/// with the intent first, a recount could read it done, then find the journal slot the
/// operation had claimed still empty, and checkpoint past that slot with counters that
/// already held the operation's deltas (the entry, written a moment later, would never
/// be counted).
pub(super) fn finish<S: KeyValue + ?Sized>(
    store: &S,
    mut writes: Vec<(String, Vec<u8>)>,
    done: (String, Vec<u8>),
) -> StockResult<()> {
    writes.push(done);
    store.set_many(&writes)?;
    Ok(())
}

/// Intents at `keys`, in order (`None` for absent or unreadable ones).
pub(super) fn load_many<S: KeyValue + ?Sized>(
    store: &S,
    keys: &[String],
) -> StockResult<Vec<Option<OpIntent>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(store
        .get_many(keys)?
        .into_iter()
        .map(|b| b.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
        .collect())
}

/// What a caller that lost an operation's ticket may do.
#[derive(Debug)]
pub(super) enum Takeover {
    /// Run the operation as generation `generation`; `dead` is the generation before
    /// it if that one died running (the caller undoes it before any effect of its own).
    Run {
        generation: u32,
        dead: Option<OpIntent>,
    },
    /// The current generation finished: answer from its result.
    Finished,
    /// The current generation is running (or may be): 409, try again.
    InFlight,
}

/// After losing the ticket of the operation at `base`: its current generation, and
/// whether this caller takes it over (see the module doc).
pub(super) fn take_over<S: KeyValue + ?Sized>(
    store: &S,
    base: &str,
    now: DateTime<Utc>,
    lease_seconds: i64,
) -> StockResult<Takeover> {
    let mut generation = 0u32;
    loop {
        let taken = read(store, &keys::op_take(base, generation))?;
        if taken > 0 {
            generation = generation.saturating_add(1);
            if generation == u32::MAX {
                return Ok(Takeover::InFlight);
            }
            continue;
        }
        let found = store.get_many(&[
            keys::op_try(base, generation),
            keys::op_stall(base, generation),
        ])?;
        let intent: Option<OpIntent> = found[0]
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok());
        let dead = match intent {
            Some(i) if i.state == OpState::Done => return Ok(Takeover::Finished),
            Some(i) if i.state == OpState::Undone => None,
            Some(i) if i.is_dead(now) => Some(i),
            Some(_) => return Ok(Takeover::InFlight),
            None => {
                let stalled_since: Option<DateTime<Utc>> = found[1]
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok());
                match stalled_since {
                    Some(since) if now >= since + Duration::seconds(lease_seconds) => None,
                    Some(_) => return Ok(Takeover::InFlight),
                    None => {
                        // The winner may be between its ticket and its intent, or dead
                        // there: note when that was first seen.
                        store.set(&keys::op_stall(base, generation), &to_bytes(&now)?)?;
                        return Ok(Takeover::InFlight);
                    }
                }
            }
        };
        if store.increment(&keys::op_take(base, generation), 1)? != 1 {
            return Ok(Takeover::InFlight);
        }
        return Ok(Takeover::Run {
            generation: generation + 1,
            dead,
        });
    }
}

/// One caller at a time in the window of `lease_seconds` it claims (and none in the
/// windows either side) may run the exclusive section named `prefix`: two repairers
/// must not both apply one correction. A section runs well within the lease, so
/// sections never overlap; one killed inside its section holds its window, which blocks
/// that window and the next only.
pub(super) fn exclusive<S: KeyValue + ?Sized>(
    store: &S,
    prefix: &str,
    now: DateTime<Utc>,
    lease_seconds: i64,
) -> StockResult<bool> {
    let mine = window_key(prefix, now, lease_seconds, 0);
    if store.increment(&mine, 1)? != 1 {
        return Ok(false);
    }
    let alone = read(store, &window_key(prefix, now, lease_seconds, -1))? == 0
        && read(store, &window_key(prefix, now, lease_seconds, 1))? == 0;
    if !alone {
        store.increment(&mine, -1)?;
    }
    Ok(alone)
}

/// Leaves a section [`exclusive`] let this caller into (same `now`), so the next
/// repairer need not wait for the window after.
pub(super) fn leave<S: KeyValue + ?Sized>(
    store: &S,
    prefix: &str,
    now: DateTime<Utc>,
    lease_seconds: i64,
) -> StockResult<()> {
    store.increment(&window_key(prefix, now, lease_seconds, 0), -1)?;
    Ok(())
}

fn window_key(prefix: &str, now: DateTime<Utc>, lease_seconds: i64, offset: i64) -> String {
    let window = now.timestamp().div_euclid(lease_seconds.max(1));
    format!("{prefix}:{}", window + offset)
}

/// One entry of the list of SKU@warehouses to recount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DirtyMark {
    pub place: String,
    pub at: DateTime<Utc>,
}

/// Records that the counters of `places` may be off until recounted: before any
/// repair touches them, so a repairer killed mid-way leaves them marked (or, killed
/// before marking, leaves its dead operation running, to be undone and marked again).
/// The list entry goes first: a place whose count of marks went up is always listed.
pub(super) fn mark_dirty<S: KeyValue + ?Sized>(
    store: &S,
    places: &[Place],
    now: DateTime<Utc>,
) -> StockResult<()> {
    for place in places {
        let name = place.name();
        list_dirty(store, &name, now)?;
        store.increment(&keys::place_dirty(&name), 1)?;
    }
    Ok(())
}

/// Appends `place` to the list of places to recount (one slot per mark, so no mark
/// is lost to a writer that died: a name-once index would lose the name itself).
pub(super) fn list_dirty<S: KeyValue + ?Sized>(
    store: &S,
    place: &str,
    now: DateTime<Utc>,
) -> StockResult<()> {
    let slot = store.increment(keys::DIRTY_LEN, 1)?;
    let mark = DirtyMark {
        place: place.to_string(),
        at: now,
    };
    store.set(&keys::dirty_slot(slot), &to_bytes(&mark)?)?;
    Ok(())
}
