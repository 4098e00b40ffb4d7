//! Store operations per order on the pipeline path, counted.
//!
//! One realistic order (an app order with its `created` and `paid` events, a store with
//! no pricing rules of its own) goes through what normalize's drain and pipeline and
//! merge's `/offer-batch` call per order: price check, book, day index, stats, the
//! batch read, a shortage recorded, the merge offer, the forwarded mark. Every store
//! call is a network round trip on Redis; `get_many` is one `get` per key on Spin (see
//! ARCHITECTURE.md), so its keys count as gets, while a `set_many` is one round trip.
//!
//! Run with `cargo test -p orderhub-core store_ops -- --nocapture` to see the figures.
//! The asserted ceilings are the figures measured, so a change that adds a round trip
//! on this path fails here.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::Duration;

use crate::channel::ChannelEvent;
use crate::intake::{self, InboxItem};
use crate::merge;
use crate::merge::fixtures::{address, at, order};
use crate::order::{
    book, forwarding, EventKind, EventSource, ExceptionCode, OrderEvent, OrderException, OrderId,
};
use crate::stats;
use crate::store::{KeyValue, MemoryStore, StoreError};

/// Round trips by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Ops {
    get: usize,
    get_many_keys: usize,
    exists: usize,
    set: usize,
    set_many: usize,
    increment: usize,
    delete: usize,
}

impl Ops {
    /// Round trips on Spin + Redis.
    fn total(&self) -> usize {
        self.get
            + self.get_many_keys
            + self.exists
            + self.set
            + self.set_many
            + self.increment
            + self.delete
    }
    fn add(&mut self, o: Ops) {
        self.get += o.get;
        self.get_many_keys += o.get_many_keys;
        self.exists += o.exists;
        self.set += o.set;
        self.set_many += o.set_many;
        self.increment += o.increment;
        self.delete += o.delete;
    }
}

struct Counting<'a> {
    inner: &'a MemoryStore,
    ops: Mutex<Ops>,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a MemoryStore) -> Self {
        Self {
            inner,
            ops: Mutex::new(Ops::default()),
        }
    }
    fn take(&self) -> Ops {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
    fn count(&self, f: impl FnOnce(&mut Ops)) {
        f(&mut self.ops.lock().unwrap());
    }
}

impl KeyValue for Counting<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count(|o| o.get += 1);
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.count(|o| o.set += 1);
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(|o| o.delete += 1);
        self.inner.delete(key)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.count(|o| o.exists += 1);
        self.inner.exists(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.count(|o| o.increment += 1);
        self.inner.increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.count(|o| o.get_many_keys += keys.len());
        self.inner.get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if !entries.is_empty() {
            self.count(|o| o.set_many += 1);
        }
        self.inner.set_many(entries)
    }
}

/// An app order of customer `n` with the events an adapter gives a paid order.
fn pushed(n: usize) -> Vec<ChannelEvent> {
    let addr = address(&format!("上海市浦东新区张杨路{n}号"), 31.23, 121.51);
    let mut o = order("app", &format!("ops-{n}"), &format!("phone:{n}"), addr, 0);
    let src = EventSource::Channel(o.channel.clone());
    o.history = vec![
        OrderEvent {
            key: "created".into(),
            kind: EventKind::Created,
            at: o.placed_at,
            source: src.clone(),
        },
        OrderEvent {
            key: "paid".into(),
            kind: EventKind::Paid,
            at: o.placed_at + Duration::seconds(30),
            source: src,
        },
    ];
    vec![ChannelEvent::Order { order: Box::new(o) }]
}

const STEPS: [&str; 7] = [
    "intake::prepare_batch (SKU map, prices)",
    "book::apply_batch (+ list, day index)",
    "stats::add",
    "book::append_exceptions",
    "merge::load_rules (per batch)",
    "merge::offer_batch_recorded",
    "forwarding::mark_all_forwarded",
];

/// Run a batch of `n` orders the way the shells do; round trips per step, summed over
/// the batch.
fn run_batch(n: usize) -> BTreeMap<usize, Ops> {
    let (catalog_mem, orders_mem, merge_mem) =
        (MemoryStore::new(), MemoryStore::new(), MemoryStore::new());
    let (cat, orders, mrg) = (
        Counting::new(&catalog_mem),
        Counting::new(&orders_mem),
        Counting::new(&merge_mem),
    );
    let mut steps: BTreeMap<usize, Ops> = BTreeMap::new();
    let mut note = |step: usize, ops: Ops| steps.entry(step).or_default().add(ops);
    let take = || {
        let mut o = cat.take();
        o.add(orders.take());
        o.add(mrg.take());
        o
    };
    // normalize's drain: the batch's SKU mapping and price check (each map and rule
    // set read once per batch).
    let items: Vec<InboxItem> = (0..n)
        .map(|i| InboxItem {
            channel: crate::order::ChannelId::new("app"),
            utc_offset_minutes: 480,
            acked_at: at(0),
            events: pushed(i),
            skus_unmapped: true,
        })
        .collect();
    let pushes = intake::prepare_batch(&cat, &items).unwrap();
    note(0, take());
    // Then the whole batch into the book at once.
    let batch: Vec<&[ChannelEvent]> = pushes.iter().map(Vec::as_slice).collect();
    let applied = book::apply_batch(&orders, &batch).unwrap();
    note(1, take());
    stats::add(&orders, &applied.stats).unwrap();
    note(2, take());
    let stored: Vec<_> = applied.orders.values().cloned().collect();
    assert_eq!(stored.len(), n);
    assert!(stored.iter().all(|o| o.history.len() == 2));
    let ids: Vec<OrderId> = stored.iter().map(|o| o.id.clone()).collect();
    // Reserve found every order short (the worst case of this path).
    let short = OrderException::new(ExceptionCode::OutOfStock, "line 1 short");
    let shortages: Vec<_> = ids.iter().map(|id| (id.clone(), short.clone())).collect();
    book::append_exceptions(
        &orders,
        &shortages,
        at(1),
        EventSource::Component("reserve".into()),
    )
    .unwrap();
    note(3, take());
    // merge `/offer-batch`.
    let rules = merge::load_rules(&mrg).unwrap();
    note(4, take());
    let fresh: Vec<OrderId> = applied.first_seen.iter().cloned().collect();
    let decided: Vec<OrderId> = merge::offer_batch_recorded(&mrg, &rules, &stored, &fresh, at(1))
        .unwrap()
        .into_iter()
        .map(|offered| offered.unwrap().decision.order_id)
        .collect();
    note(5, take());
    forwarding::mark_all_forwarded(&orders, &decided).unwrap();
    note(6, take());
    // What the path left behind reads back whole.
    let day = stats::business_day(stored[0].placed_at, 480);
    assert_eq!(
        stats::read(&orders_mem, day, &stored[0].channel)
            .unwrap()
            .ordered,
        n as i64
    );
    assert_eq!(book::list_order_ids(&orders_mem, 0, 1000).unwrap().len(), n);
    for o in book::get_orders(&orders_mem, &ids).unwrap() {
        assert_eq!(o.history.len(), 3, "created, paid, exception");
        assert!(o
            .exceptions
            .iter()
            .any(|e| e.code == ExceptionCode::OutOfStock));
        assert!(forwarding::is_forwarded(&orders_mem, &o.id).unwrap());
    }
    steps
}

fn report(n: usize, steps: &BTreeMap<usize, Ops>) -> f64 {
    println!("\nstore round trips per order, batch of {n} (amortized):");
    let mut total = Ops::default();
    for (i, name) in STEPS.iter().enumerate() {
        let o = steps.get(&i).copied().unwrap_or_default();
        total.add(o);
        println!(
            "  {name:<40} {:>6.2}   (get {}, get_many keys {}, exists {}, set {}, set_many {}, incr {}, del {})",
            o.total() as f64 / n as f64,
            o.get,
            o.get_many_keys,
            o.exists,
            o.set,
            o.set_many,
            o.increment,
            o.delete
        );
    }
    let per_order = total.total() as f64 / n as f64;
    println!("  {:<40} {per_order:>6.2}", "total (stock not included)");
    per_order
}

#[test]
fn store_ops_per_order_on_the_pipeline_path() {
    let one = run_batch(1);
    let single = report(1, &one);
    let twenty = run_batch(20);
    let batched = report(20, &twenty);
    // Ceilings: the figures measured; tighten them with every cut. (The channel's SKU
    // map read moved here from the webhook, once per batch: +1 alone, +0.05 in 20.)
    assert!(single <= 24.0, "{single} round trips for one order");
    assert!(
        batched <= 7.85,
        "{batched} round trips per order in a batch of 20"
    );
}
