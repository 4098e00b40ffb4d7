//! What the happy path costs in store round trips (printed; run with `--nocapture`).

use chrono::Duration;

use super::faults::CountingStore;
use super::*;

/// Store calls of each operation on a one-line order, in a warm ledger (catalog and
/// SKU defined). Bounds: the figures measured on main before crash repair (reserve 11, commit 16,
/// release 11, expire 12, adjust 12, with journal sellable reads of two warehouses)
/// plus three.
#[test]
fn store_calls_per_operation_on_a_one_line_order() {
    let memory = MemoryStore::new();
    setup(&memory, &[("apple", "sh", 10), ("apple", "bj", 10)]);
    let store = CountingStore::new(&memory);
    let ledger = ReservationLedger::new(&store);
    store.take();
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 1)]), t0())
        .unwrap();
    let reserve = store.take();
    ledger
        .commit(&order("o1"), &SettleRequest::everything("ship-1"), t0())
        .unwrap();
    let commit = store.take();
    ledger
        .reserve(&request("o2", "app", &[(1, "apple", 1)]), t0())
        .unwrap();
    store.take();
    ledger
        .release(&order("o2"), &SettleRequest::everything("cancel-1"), t0())
        .unwrap();
    let release = store.take();
    ledger
        .reserve(&request("o3", "app", &[(1, "apple", 1)]), t0())
        .unwrap();
    store.take();
    ledger
        .expire(&order("o3"), t0() + Duration::hours(1))
        .unwrap();
    let expire = store.take();
    let receipt = AdjustRequest {
        sku: sku("apple"),
        warehouse: wh("sh"),
        change: Adjustment::Delta(5),
        reason: "receipt".into(),
        reference: Some("grn-1".into()),
    };
    ledger.adjust(&receipt, t0()).unwrap();
    let adjust = store.take();
    println!(
        "store calls: reserve {reserve}, commit {commit}, release {release}, expire {expire}, adjust {adjust}"
    );
    let before = [
        ("reserve", reserve, 11),
        ("commit", commit, 16),
        ("release", release, 11),
        ("expire", expire, 12),
        ("adjust", adjust, 12),
    ];
    for (op, now, main) in before {
        assert!(now <= main + 3, "{op}: {now} store calls, main had {main}");
    }
}
