//! Erased on time: personal data of finished orders (delivered, completed, cancelled,
//! fully refunded) is irreversibly masked once they have been finished for the
//! retention period (PIPL; the platforms expire their privacy numbers too).
//!
//! [`erase`] keeps what reconciliation and analytics need (ids, channel, store, lines
//! and SKUs, amounts, times, history, exception codes) and drops the rest: the name,
//! the platform user id, the customer key (it may hold the phone number), the buyer's
//! note, the street, door and coordinates; the phone keeps only its masked form
//! (`138****1234`). It is idempotent: erasing an erased order changes nothing.
//!
//! [`erase_due`] is the job: it finds candidates through the business-day index
//! (`order::day_index`), over the days an order finished `retention` ago could have
//! been placed on: `lookback_days` before that day up to it (an order that took longer
//! than `lookback_days` to finish is not found; the default covers a month).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::privacy::{cut_fulfilment, mask_digit_runs, mask_phone};
use crate::dispatch::state::coarsen_delivered_dropoffs;
use crate::dispatch::ParcelId;
use crate::merge::{self, MergeError};
use crate::order::{book, day_index, ChannelId, Customer, EventKind, Order, OrderId, Phone};
use crate::store::{KeyValue, StoreError};

/// `customer_key` of an erased order (and of its member views in merge).
pub const ERASED: &str = merge::decide::ERASED_KEY;

/// When the order finished (its latest delivered, completed, cancelled or full refund
/// event), if it has.
pub fn finished_at(order: &Order) -> Option<DateTime<Utc>> {
    order
        .history
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Delivered
                    | EventKind::Completed
                    | EventKind::Cancelled { .. }
                    | EventKind::Refunded { full: true, .. }
            )
        })
        .map(|e| e.at)
        .max()
}

pub fn is_erased(order: &Order) -> bool {
    order.customer.customer_key == ERASED
}

/// Whether `order` is finished and has been for `retention` at `now`.
pub fn is_due(order: &Order, now: DateTime<Utc>, retention: Duration) -> bool {
    finished_at(order).is_some_and(|at| at + retention <= now)
}

/// The order with its personal data erased (see the module doc).
pub fn erase(order: &Order) -> Order {
    let mut o = order.clone();
    o.customer = Customer {
        channel_user_id: None,
        name: None,
        phone: order.customer.phone.as_ref().map(|p| Phone {
            number: mask_phone(&p.number),
            extension: None,
            is_privacy: p.is_privacy,
        }),
        customer_key: ERASED.into(),
    };
    o.fulfilment = cut_fulfilment(&order.fulfilment);
    o.buyer_note = None;
    for e in &mut o.exceptions {
        e.detail = mask_digit_runs(&e.detail);
    }
    o
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Business days looked at (per channel), oldest first.
    pub from_day: Option<NaiveDate>,
    pub to_day: Option<NaiveDate>,
    /// Orders read.
    pub scanned: usize,
    /// Orders erased by this run.
    pub erased: Vec<OrderId>,
    /// Orders found already erased (a repeated run).
    pub already_erased: usize,
    /// Orders not finished, or finished too recently.
    pub kept: usize,
}

/// Orders read per batch.
const BATCH: usize = 100;

/// Erase every order of `channels` that is due at `now`, looking at orders placed
/// from `retention + lookback_days` up to `retention` before `now` (one day of slack on
/// each side for time zones).
///
/// `merge` and `dispatch`: the stores whose copies of an order are erased first (its
/// member views in merge: group slot, released group, delivery record; its delivered
/// parcels' drop-offs in dispatch), so a run killed half-way leaves the order itself
/// unerased and the next run does it all.
pub fn erase_due<S: KeyValue>(
    store: &S,
    merge: &impl KeyValue,
    dispatch: &impl KeyValue,
    channels: &[ChannelId],
    now: DateTime<Utc>,
    retention: Duration,
    lookback_days: i64,
) -> Result<ErasureReport, StoreError> {
    let newest = (now - retention).date_naive() + Duration::days(1);
    let oldest = newest - Duration::days(lookback_days.max(0) + 2);
    let mut report = ErasureReport {
        from_day: Some(oldest),
        to_day: Some(newest),
        ..ErasureReport::default()
    };
    for channel in channels {
        let days = oldest.iter_days().take_while(|d| *d <= newest);
        let ids = day_index::orders_on_days(store, channel, days)?;
        for chunk in ids.chunks(BATCH) {
            for order in book::get_orders(store, chunk)? {
                report.scanned += 1;
                if is_erased(&order) {
                    report.already_erased += 1;
                } else if is_due(&order, now, retention) {
                    let merge_error = |e| match e {
                        MergeError::Store(e) => e,
                        MergeError::Corrupt(why) => StoreError::Backend(why),
                    };
                    let parcels: Vec<ParcelId> = merge::parcels_of(merge, &order.id)
                        .map_err(merge_error)?
                        .into_iter()
                        .map(ParcelId)
                        .collect();
                    coarsen_delivered_dropoffs(dispatch, &parcels)?;
                    merge::erase_member(merge, &order.id).map_err(merge_error)?;
                    book::replace_copy(store, &erase(&order))?;
                    report.erased.push(order.id.clone());
                } else {
                    report.kept += 1;
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelEvent;
    use crate::order::{
        Address, EventSource, Fulfilment, GeoPoint, OrderEvent, OrderLine, OrderMoney,
        PromisedWindow, SkuId, TemperatureZone,
    };
    use crate::store::MemoryStore;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn t(days: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(days)
    }

    fn ev(key: &str, kind: EventKind, at: DateTime<Utc>) -> OrderEvent {
        OrderEvent {
            key: key.into(),
            kind,
            at,
            source: EventSource::Channel(ChannelId::new("meituan")),
        }
    }

    fn order(n: u32, finished: Option<EventKind>) -> Order {
        let mut history = vec![ev("created", EventKind::Created, t(0))];
        if let Some(kind) = finished {
            history.push(ev("end", kind, t(1)));
        }
        Order {
            id: OrderId::for_channel_order(&ChannelId::new("meituan"), &n.to_string()),
            channel: ChannelId::new("meituan"),
            channel_order_id: n.to_string(),
            store_id: Some("s1".into()),
            customer: Customer {
                channel_user_id: Some("u-9".into()),
                name: Some("张三".into()),
                phone: Some(Phone {
                    number: "13812341234".into(),
                    extension: Some("_5".into()),
                    is_privacy: false,
                }),
                customer_key: "phone:13812341234".into(),
            },
            fulfilment: Fulfilment::Delivery {
                address: Some(Address {
                    province: Some("上海市".into()),
                    city: Some("上海市".into()),
                    district: Some("徐汇区".into()),
                    detail: "漕溪北路88号 3号楼 1201".into(),
                    location: Some(GeoPoint {
                        lat: 31.19,
                        lng: 121.43,
                    }),
                    merge_key: "漕溪北路88号3号楼1201".into(),
                }),
            },
            lines: vec![OrderLine {
                line_no: 1,
                channel_sku: "A1".into(),
                sku: Some(SkuId("apple".into())),
                name: "苹果".into(),
                quantity: 2,
                unit_price: Decimal::new(1250, 2),
                unit_weight_g: 200,
                unit_volume_cm3: 300,
                zone: TemperatureZone::Ambient,
            }],
            money: OrderMoney {
                currency: "CNY".into(),
                goods: Decimal::new(2500, 2),
                discounts: vec![],
                delivery_fee: Decimal::ZERO,
                packaging_fee: Decimal::ZERO,
                paid: Decimal::new(2500, 2),
            },
            promised: PromisedWindow {
                asap: true,
                start: None,
                end: None,
            },
            buyer_note: Some("call 13812341234".into()),
            placed_at: t(0),
            source_time_zone: "Asia/Shanghai".into(),
            source_utc_offset_minutes: 480,
            history,
            exceptions: vec![],
        }
    }

    fn no_personal_data_left(o: &Order) {
        let text = serde_json::to_string(o).unwrap();
        for secret in ["张三", "13812341234", "漕溪北路", "u-9", "121.43", "_5"] {
            assert!(!text.contains(secret), "`{secret}` left in {text}");
        }
    }

    #[test]
    fn erasure_keeps_what_reconciliation_needs_and_nothing_personal() {
        let o = order(1, Some(EventKind::Delivered));
        let e = erase(&o);
        no_personal_data_left(&e);
        assert_eq!(e.customer.phone.as_ref().unwrap().number, "138****1234");
        assert_eq!(
            e.delivery_address().unwrap().district.as_deref(),
            Some("徐汇区")
        );
        assert_eq!(
            (&e.id, &e.lines, &e.money, &e.placed_at, &e.history),
            (&o.id, &o.lines, &o.money, &o.placed_at, &o.history)
        );
        assert!(is_erased(&e));
    }

    #[test]
    fn only_finished_orders_are_due_and_only_after_the_retention() {
        let keep = Duration::days(30);
        for kind in [
            EventKind::Delivered,
            EventKind::Completed,
            EventKind::Cancelled { reason: None },
            EventKind::Refunded {
                amount: Decimal::ONE,
                full: true,
                lines: Vec::new(),
            },
        ] {
            let o = order(1, Some(kind));
            assert!(!is_due(&o, t(30), keep));
            assert!(is_due(&o, t(31), keep));
        }
        assert!(!is_due(&order(1, None), t(400), keep));
        let partial = order(
            1,
            Some(EventKind::Refunded {
                amount: Decimal::ONE,
                full: false,
                lines: Vec::new(),
            }),
        );
        assert!(!is_due(&partial, t(400), keep));
    }

    #[test]
    fn the_job_erases_due_orders_once_and_keeps_the_rest() {
        let store = MemoryStore::new();
        let orders = [
            order(1, Some(EventKind::Delivered)),
            order(2, Some(EventKind::Cancelled { reason: None })),
            order(3, None),
        ];
        let pushes: Vec<ChannelEvent> = orders
            .iter()
            .map(|o| ChannelEvent::Order {
                order: Box::new(o.clone()),
            })
            .collect();
        book::apply(&store, &pushes).unwrap();
        let channels = [ChannelId::new("meituan")];
        let keep = Duration::days(30);
        // Merge saw the first two: one released at once (no group slot), one still
        // in its window's slot.
        let merge_store = MemoryStore::new();
        let rules = merge::RuleSet::default();
        for o in &orders[..2] {
            let offered = merge::offer(&merge_store, &rules, o, t(0)).unwrap();
            merge::record_decision(&merge_store, &offered.decision).unwrap();
        }
        let merge_text = || {
            merge_store
                .keys_with_prefix("merge/")
                .into_iter()
                .filter_map(|k| merge_store.get(&k).unwrap())
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let phone = orders[0].customer.phone.clone().unwrap().number;
        assert!(
            merge_text().contains(&phone),
            "merge keeps the phone before"
        );

        let early = erase_due(
            &store,
            &merge_store,
            &MemoryStore::new(),
            &channels,
            t(20),
            keep,
            30,
        )
        .unwrap();
        assert!(early.erased.is_empty(), "{early:?}");

        let run = erase_due(
            &store,
            &merge_store,
            &MemoryStore::new(),
            &channels,
            t(31),
            keep,
            30,
        )
        .unwrap();
        assert!(!merge_text().contains(&phone), "{}", merge_text());
        assert_eq!(run.erased, vec![orders[0].id.clone(), orders[1].id.clone()]);
        assert_eq!(run.kept, 1);
        for o in &orders[..2] {
            let stored = book::get_order(&store, &o.id).unwrap().unwrap();
            no_personal_data_left(&stored);
            assert_eq!(stored.history, o.history);
        }
        let live = book::get_order(&store, &orders[2].id).unwrap().unwrap();
        assert_eq!(live.customer, orders[2].customer);

        let again = erase_due(
            &store,
            &merge_store,
            &MemoryStore::new(),
            &channels,
            t(31),
            keep,
            30,
        )
        .unwrap();
        assert!(again.erased.is_empty());
        assert_eq!(again.already_erased, 2);
    }

    proptest! {
        #[test]
        fn erasure_is_idempotent_and_leaves_no_phone(phone in "1[3-9][0-9]{9}", note in "[a-z ]{0,20}") {
            let mut o = order(7, Some(EventKind::Delivered));
            o.customer.phone.as_mut().unwrap().number = phone.clone();
            o.buyer_note = Some(format!("{note}{phone}"));
            let once = erase(&o);
            prop_assert_eq!(erase(&once), once.clone());
            let text = serde_json::to_string(&once).unwrap();
            prop_assert!(!text.contains(&phone));
        }
    }
}
