use rust_decimal_macros::dec;

use super::*;
use crate::channel::ChannelEvent;
use crate::order::{book, day_index};
use crate::reconcile::fixtures::{day, wechat_bill, OrderSpec, WxRow};
use crate::reconcile::{run_day, stored_report, DifferenceClass, ImportErrorKind, RunEffect};
use crate::store::MemoryStore;

fn spec(total: u32) -> UploadSpec {
    UploadSpec {
        channel: ChannelId::new("app"),
        business_date: day("2026-11-24"),
        statement: StatementKind::WechatPay,
        total_chunks: total,
    }
}

fn upload(store: &MemoryStore, bytes: &[u8], total: u32) -> String {
    let size = bytes.len().div_ceil(total as usize).max(1);
    let st = create_upload(store, &spec(total)).unwrap();
    // Out of order, to show arrival order does not matter.
    let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
    assert_eq!(chunks.len(), total as usize);
    for (i, c) in chunks.iter().enumerate().rev() {
        put_chunk(store, &st.upload_id, i as u32, c).unwrap();
    }
    st.upload_id
}

#[test]
fn chunks_are_idempotent_resumable_and_conflicts_refused() {
    let s = MemoryStore::new();
    let st = create_upload(&s, &spec(3)).unwrap();
    assert_eq!(st.missing, vec![0, 1, 2]);
    let u = st.upload_id;
    let (o, st) = put_chunk(&s, &u, 1, b"bbb").unwrap();
    assert_eq!((o, st.missing.clone()), (ChunkOutcome::Stored, vec![0, 2]));
    let (o, _) = put_chunk(&s, &u, 1, b"bbb").unwrap();
    assert_eq!(o, ChunkOutcome::AlreadyHad);
    assert!(matches!(
        put_chunk(&s, &u, 1, b"BBB"),
        Err(BillStoreError::Upload(UploadError::ConflictingChunk {
            index: 1
        }))
    ));
    assert!(matches!(
        put_chunk(&s, &u, 3, b"x"),
        Err(BillStoreError::Upload(UploadError::OutOfRange { .. }))
    ));
    let big = vec![b'x'; MAX_CHUNK_BYTES as usize + 1];
    assert!(matches!(
        put_chunk(&s, &u, 0, &big),
        Err(BillStoreError::Upload(UploadError::ChunkTooLarge { .. }))
    ));
    assert_eq!(
        current_bill(&s, &ChannelId::new("app"), day("2026-11-24")).unwrap(),
        None
    );
    put_chunk(&s, &u, 0, b"aaa").unwrap();
    let (_, st) = put_chunk(&s, &u, 2, b"ccc").unwrap();
    assert!(st.complete && st.statement_id.is_some() && st.bytes == 9);
    assert_eq!(upload_status(&s, &u).unwrap(), st);
    assert_eq!(
        current_bill(&s, &ChannelId::new("app"), day("2026-11-24")).unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        channels_with_bill(&s, day("2026-11-24")).unwrap(),
        vec![ChannelId::new("app")]
    );
    assert!(matches!(
        upload_status(&s, "u999"),
        Err(BillStoreError::UnknownUpload(_))
    ));
    assert!(matches!(
        create_upload(&s, &spec(0)),
        Err(BillStoreError::BadChunkCount { .. })
    ));
}

#[test]
fn a_writer_that_died_after_its_claim_is_repaired_by_the_retry() {
    let s = MemoryStore::new();
    let u = create_upload(&s, &spec(1)).unwrap().upload_id;
    s.increment(&format!("reconcile/upload/{u}/claim/0"), 1)
        .unwrap();
    let (o, st) = put_chunk(&s, &u, 0, b"abc").unwrap();
    assert_eq!(o, ChunkOutcome::Stored);
    assert!(st.complete);
}

fn rows() -> Vec<WxRow> {
    vec![
        WxRow::pay("2026-11-24 10:00:00", "A1", dec!(30.00)),
        // Ours says 25.00.
        WxRow::pay("2026-11-24 11:00:00", "A2", dec!(24.00)),
        // No such order of ours.
        WxRow::pay("2026-11-24 12:00:00", "X9", dec!(9.90)),
    ]
}

fn orders_store() -> MemoryStore {
    let s = MemoryStore::new();
    for spec in [
        OrderSpec::new("app", "A1", "2026-11-24 10:00:00", dec!(30.00)),
        OrderSpec::new("app", "A2", "2026-11-24 11:00:00", dec!(25.00)),
        // Not in the bill.
        OrderSpec::new("app", "A3", "2026-11-24 13:00:00", dec!(12.00)),
        // Another day entirely: not read for the 24th.
        OrderSpec::new("app", "Z1", "2026-11-20 13:00:00", dec!(1.00)),
    ] {
        let events = vec![ChannelEvent::Order {
            order: Box::new(spec.order()),
        }];
        book::apply(&s, &events).unwrap();
        day_index::index_events(&s, &events, 480).unwrap();
    }
    s
}

#[test]
fn a_run_reports_the_seeded_differences_and_reruns_are_identical() {
    let (bills, orders) = (MemoryStore::new(), orders_store());
    let bill = wechat_bill(&rows());
    let u = upload(&bills, bill.as_bytes(), 4);
    let imported = import_upload(&bills, &u).unwrap();
    assert_eq!(
        imported.lines,
        StatementKind::WechatPay.import(bill.as_bytes(), 7).unwrap()
    );

    let (ch, d) = (ChannelId::new("app"), day("2026-11-24"));
    let first = run_day(&bills, &orders, &ch, d).unwrap();
    assert_eq!(first.effect, RunEffect::Created);
    let found: Vec<(DifferenceClass, &str)> = first
        .report
        .differences
        .iter()
        .map(|x| (x.class, x.key.as_str()))
        .collect();
    assert_eq!(
        found,
        // The report's order: by class.
        vec![
            (DifferenceClass::MissingInOurs, "X9"),
            (DifferenceClass::MissingInBill, "A3"),
            (DifferenceClass::AmountMismatch, "A2"),
        ],
        "{}",
        first.report.to_json()
    );
    let again = run_day(&bills, &orders, &ch, d).unwrap();
    assert_eq!(again.effect, RunEffect::Rerun);
    assert_eq!(again.report.to_json(), first.report.to_json());

    // The corrected statement: A2 at 25.00, X9 gone.
    let mut fixed = rows();
    fixed[1] = WxRow::pay("2026-11-24 11:00:00", "A2", dec!(25.00));
    fixed.pop();
    upload(&bills, wechat_bill(&fixed).as_bytes(), 2);
    let corrected = run_day(&bills, &orders, &ch, d).unwrap();
    assert_eq!(corrected.effect, RunEffect::Superseded);
    let changes = corrected.report.supersedes.as_ref().unwrap();
    assert_eq!(changes.resolved.len(), 2, "{changes:?}");
    assert!(changes.appeared.is_empty());
    assert_eq!(
        stored_report(&bills, &ch, d).unwrap(),
        Some(corrected.report.clone())
    );
    // Rerunning the corrected statement keeps what it changed.
    let rerun = run_day(&bills, &orders, &ch, d).unwrap();
    assert_eq!(rerun.report.to_json(), corrected.report.to_json());
}

#[test]
fn a_bad_bill_is_an_import_error_and_nothing_is_stored() {
    let (bills, orders) = (MemoryStore::new(), orders_store());
    let bill = wechat_bill(&rows()).replace("`24.00", "`24.0x");
    upload(&bills, bill.as_bytes(), 3);
    let (ch, d) = (ChannelId::new("app"), day("2026-11-24"));
    match run_day(&bills, &orders, &ch, d) {
        Err(BillStoreError::Import(e)) => {
            assert_eq!(e.line, 3);
            assert!(
                matches!(e.kind, ImportErrorKind::MalformedAmount { .. }),
                "{e}"
            );
            assert!(e.column.is_some());
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    assert_eq!(stored_report(&bills, &ch, d).unwrap(), None);
    assert!(matches!(
        run_day(&bills, &orders, &ch, day("2026-11-23")),
        Err(BillStoreError::NoBill { .. })
    ));
}

/// The e2e scenario, natively: every payment-bill class once, through the stores.
#[test]
fn a_payment_bill_day_with_every_class_through_the_stores() {
    let (bills, orders) = (MemoryStore::new(), MemoryStore::new());
    let at = |t: &str| format!("2026-11-20 {t}");
    for spec in [
        OrderSpec::new("app", "A1", &at("10:00:00"), dec!(30.00))
            .refund(&at("15:00:00"), dec!(5.00)),
        OrderSpec::new("app", "A2", &at("11:00:00"), dec!(25.00)),
        OrderSpec::new("app", "A3", &at("12:00:00"), dec!(12.00)),
        OrderSpec::new("app", "A4", &at("13:00:00"), dec!(8.80)),
        OrderSpec::new("app", "A5", &at("14:00:00"), dec!(16.00)).cancelled(),
    ] {
        let events = vec![ChannelEvent::Order {
            order: Box::new(spec.order()),
        }];
        book::apply(&orders, &events).unwrap();
        day_index::index_events(&orders, &events, 480).unwrap();
    }
    let bill = wechat_bill(&[
        WxRow::pay(&at("10:00:00"), "A1", dec!(30.00)),
        WxRow::pay(&at("11:00:00"), "A2", dec!(24.00)),
        WxRow::pay(&at("13:00:00"), "A4", dec!(8.80)),
        WxRow::pay(&at("13:00:00"), "A4", dec!(8.80)),
        WxRow::pay(&at("14:00:00"), "A5", dec!(16.00)),
        WxRow::pay(&at("16:00:00"), "X9", dec!(9.90)),
        WxRow::refund(&at("15:00:00"), "A1", "rf1", dec!(5.00)),
        WxRow::refund(&at("17:00:00"), "Y7", "rf7", dec!(3.30)),
    ]);
    let st = create_upload(
        &bills,
        &UploadSpec {
            business_date: day("2026-11-20"),
            ..spec(3)
        },
    )
    .unwrap();
    for (i, c) in bill.as_bytes().chunks(bill.len().div_ceil(3)).enumerate() {
        put_chunk(&bills, &st.upload_id, i as u32, c).unwrap();
    }
    let out = run_day(&bills, &orders, &ChannelId::new("app"), day("2026-11-20")).unwrap();
    let mut found: Vec<(DifferenceClass, String, Option<crate::reconcile::Component>)> = out
        .report
        .differences
        .iter()
        .map(|d| (d.class, d.key.clone(), d.component))
        .collect();
    found.dedup();
    use crate::reconcile::Component;
    assert_eq!(
        found,
        vec![
            (DifferenceClass::MissingInOurs, "X9".into(), None),
            (DifferenceClass::MissingInBill, "A3".into(), None),
            (
                DifferenceClass::AmountMismatch,
                "A2".into(),
                Some(Component::Paid)
            ),
            (DifferenceClass::StatusMismatch, "A5".into(), None),
            (DifferenceClass::DuplicateLine, "A4".into(), None),
            (DifferenceClass::RefundWithoutOrder, "Y7".into(), None),
        ],
        "{}",
        out.report.to_json()
    );
}

/// A POS statement is shift totals: the run sums our POS orders per shift before it
/// matches, so a shift whose orders add up is no difference, and only a sale in no
/// shift is missing from the bill (not every order, and every shift, as before).
#[test]
fn a_pos_shift_run_compares_shift_totals_with_our_orders_per_shift() {
    let (bills, orders) = (MemoryStore::new(), MemoryStore::new());
    for spec in [
        OrderSpec::new("pos", "P1", "2026-11-24 09:00:00", dec!(10.00))
            .discounts(dec!(1.00), dec!(0)),
        OrderSpec::new("pos", "P2", "2026-11-24 15:59:59", dec!(20.00)),
        OrderSpec::new("pos", "P3", "2026-11-24 16:30:00", dec!(4.00)),
        OrderSpec::new("pos", "P4", "2026-11-24 17:00:00", dec!(7.00)),
    ] {
        let events = vec![ChannelEvent::Order {
            order: Box::new(spec.order()),
        }];
        book::apply(&orders, &events).unwrap();
        day_index::index_events(&orders, &events, 480).unwrap();
    }
    let shift = |id: &str, open: &str, close: &str, gross: &str, disc: &str, net: &str| {
        format!(
            r#"{{"store_id":"S1","shift_id":"{id}","business_date":"2026-11-24","opened_at":"2026-11-24 {open}","closed_at":"2026-11-24 {close}","order_count":2,"gross_sales":"{gross}","discounts":"{disc}","refunds":"0.00","net_sales":"{net}","tenders":{{"cash":"{net}"}}}}"#
        )
    };
    // S1-A holds P1 and P2 and agrees; S1-B holds P4 (P3 falls between the shifts)
    // and says 7.50.
    let bill = format!(
        "{}\n{}\n",
        shift("S1-A", "08:00:00", "16:00:00", "30.00", "1.00", "29.00"),
        shift("S1-B", "17:00:00", "22:00:00", "7.50", "0.00", "7.50"),
    );
    let st = create_upload(
        &bills,
        &UploadSpec {
            channel: ChannelId::new("pos"),
            statement: StatementKind::PosShift,
            ..spec(2)
        },
    )
    .unwrap();
    for (i, c) in bill.as_bytes().chunks(bill.len().div_ceil(2)).enumerate() {
        put_chunk(&bills, &st.upload_id, i as u32, c).unwrap();
    }
    let out = run_day(&bills, &orders, &ChannelId::new("pos"), day("2026-11-24")).unwrap();
    use crate::reconcile::Component;
    let found: Vec<(DifferenceClass, &str, Option<Component>)> = out
        .report
        .differences
        .iter()
        .map(|d| (d.class, d.key.as_str(), d.component))
        .collect();
    assert_eq!(
        found,
        vec![
            (DifferenceClass::MissingInBill, "P3", None),
            (
                DifferenceClass::AmountMismatch,
                "S1-B",
                Some(Component::Goods)
            ),
            (
                DifferenceClass::AmountMismatch,
                "S1-B",
                Some(Component::Paid)
            ),
        ],
        "{}",
        out.report.to_json()
    );
    assert_eq!(out.report.summary.matched, 2);
}
