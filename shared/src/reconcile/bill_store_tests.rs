use rust_decimal_macros::dec;

use super::*;
use crate::channel::ChannelEvent;
use crate::order::book;
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
    let (u, last) = try_upload(store, &spec(total), bytes);
    last.unwrap();
    u
}

/// Uploads `bytes` in `spec.total_chunks` chunks, last first (arrival order does not
/// matter); answers the id and what the completing chunk got.
fn try_upload(
    store: &MemoryStore,
    spec: &UploadSpec,
    bytes: &[u8],
) -> (String, Result<UploadStatus, BillStoreError>) {
    let size = bytes.len().div_ceil(spec.total_chunks as usize).max(1);
    let st = create_upload(store, spec).unwrap();
    let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
    assert_eq!(chunks.len(), spec.total_chunks as usize);
    let (last, rest) = chunks.split_first().unwrap();
    for (i, c) in rest.iter().enumerate().rev() {
        let (_, st) = put_chunk(store, &st.upload_id, i as u32 + 1, c).unwrap();
        assert!(!st.complete);
    }
    let done = put_chunk(store, &st.upload_id, 0, last).map(|(_, st)| st);
    (st.upload_id, done)
}

#[test]
fn chunks_are_idempotent_resumable_and_conflicts_refused() {
    let s = MemoryStore::new();
    let (app, d) = (ChannelId::new("app"), day("2026-11-24"));
    let good = upload(&s, wechat_bill(&rows()).as_bytes(), 2);
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
    assert_eq!(current_bill(&s, &app, d).unwrap(), Some(good.clone()));
    put_chunk(&s, &u, 0, b"aaa").unwrap();
    // "aaabbbccc" is no WeChat Pay bill: the chunk that completes it is refused, with
    // where, and so is every retry of it; the good bill stays the day's statement.
    let refused = |r: Result<(ChunkOutcome, UploadStatus), BillStoreError>| match r {
        Err(BillStoreError::Import(e)) => e,
        other => panic!("expected an import error, got {other:?}"),
    };
    let e = refused(put_chunk(&s, &u, 2, b"ccc"));
    assert_eq!(e.line, 1, "{e}");
    assert_eq!(refused(put_chunk(&s, &u, 2, b"ccc")), e);
    assert_eq!(refused(put_chunk(&s, &u, 0, b"aaa")), e);
    let st = upload_status(&s, &u).unwrap();
    assert!(st.complete && st.statement_id.is_some() && st.bytes == 9);
    assert_eq!(st.rejected, Some(e));
    assert_eq!(current_bill(&s, &app, d).unwrap(), Some(good.clone()));
    assert_eq!(channels_with_bill(&s, d).unwrap(), vec![app.clone()]);
    let ok = upload_status(&s, &good).unwrap();
    assert!(ok.complete && ok.rejected.is_none());
    // A retry of the good bill's last chunk is only that.
    let bill = wechat_bill(&rows());
    let second = &bill.as_bytes()[bill.len().div_ceil(2)..];
    let (o, st) = put_chunk(&s, &good, 1, second).unwrap();
    assert_eq!((o, st), (ChunkOutcome::AlreadyHad, ok));
    assert_eq!(current_bill(&s, &app, d).unwrap(), Some(good));
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
    let bill = wechat_bill(&rows());
    let (o, st) = put_chunk(&s, &u, 0, bill.as_bytes()).unwrap();
    assert_eq!(o, ChunkOutcome::Stored);
    assert!(st.complete);
}

#[test]
fn a_writer_that_died_before_the_verdict_is_repaired_by_any_retry() {
    let s = MemoryStore::new();
    let bill = wechat_bill(&rows());
    let u = upload(&s, bill.as_bytes(), 2);
    let (app, d) = (ChannelId::new("app"), day("2026-11-24"));
    // As if the completing request died after storing its chunk, before judging it.
    let id = upload_status(&s, &u).unwrap().statement_id.unwrap();
    s.delete(&format!("reconcile/upload/{u}/verdict/{id}"))
        .unwrap();
    s.delete(&format!("reconcile/bill/{app}/{d}")).unwrap();
    let (o, st) = put_chunk(&s, &u, 0, &bill.as_bytes()[..bill.len().div_ceil(2)]).unwrap();
    assert_eq!(o, ChunkOutcome::AlreadyHad);
    assert!(st.complete && st.rejected.is_none());
    assert_eq!(current_bill(&s, &app, d).unwrap(), Some(u));
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

/// A bad bill is refused when its upload completes, naming line and column, and never
/// becomes a statement: the day keeps its earlier good bill, for its own run and for its
/// neighbours'.
#[test]
fn a_bad_bill_is_refused_at_completion_and_the_good_one_stays() {
    let (bills, orders) = (MemoryStore::new(), orders_store());
    let bad = wechat_bill(&rows()).replace("`24.00", "`24.0x");
    let malformed_amount_on_line_3 = |r: Result<UploadStatus, BillStoreError>| match r {
        Err(BillStoreError::Import(e)) => {
            assert_eq!(e.line, 3);
            assert!(
                matches!(e.kind, ImportErrorKind::MalformedAmount { .. }),
                "{e}"
            );
            assert!(e.column.is_some());
        }
        other => panic!("expected an import error, got {other:?}"),
    };
    let (_, done) = try_upload(&bills, &spec(3), bad.as_bytes());
    malformed_amount_on_line_3(done);
    let (ch, d) = (ChannelId::new("app"), day("2026-11-24"));
    assert!(matches!(
        run_day(&bills, &orders, &ch, d),
        Err(BillStoreError::NoBill { .. })
    ));
    assert_eq!(channels_with_bill(&bills, d).unwrap(), vec![]);

    // A good bill, then a malformed "correction": the run keeps using the good one.
    upload(&bills, wechat_bill(&rows()).as_bytes(), 2);
    let first = run_day(&bills, &orders, &ch, d).unwrap();
    let (_, done) = try_upload(&bills, &spec(2), bad.as_bytes());
    malformed_amount_on_line_3(done);
    let again = run_day(&bills, &orders, &ch, d).unwrap();
    assert_eq!(again.effect, RunEffect::Rerun);
    assert_eq!(again.report.to_json(), first.report.to_json());

    // Nor does it reach the next day's run as that day's neighbour.
    let next = UploadSpec {
        business_date: day("2026-11-25"),
        ..spec(1)
    };
    let (_, done) = try_upload(&bills, &next, wechat_bill(&[]).as_bytes());
    done.unwrap();
    let with_good = run_day(&bills, &orders, &ch, day("2026-11-25")).unwrap();
    let (_, done) = try_upload(
        &bills,
        &UploadSpec {
            total_chunks: 2,
            ..spec(2)
        },
        bad.as_bytes(),
    );
    malformed_amount_on_line_3(done);
    let rerun = run_day(&bills, &orders, &ch, day("2026-11-25")).unwrap();
    assert_eq!(rerun.report.to_json(), with_good.report.to_json());
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
