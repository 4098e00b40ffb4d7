#![no_main]
//! Every bill importer (WeChat Pay, Alipay zip and CSV, the Meituan/Ele.me statement
//! mappings, POS shifts, group-buying settlements). The first byte picks the importer,
//! the second the chunk size, so the fuzzer also explores where chunks cut lines and
//! multi-byte characters. Besides not panicking, an import must not depend on the
//! chunking: any accepted bill gives the same records whole and in chunks.
use libfuzzer_sys::fuzz_target;
use orderhub_core::reconcile::{statement_mappings, StatementKind};

fn kind_of(b: u8) -> StatementKind {
    match b % 8 {
        0 => StatementKind::WechatPay,
        1 => StatementKind::AlipayZip,
        2 => StatementKind::AlipayCsv,
        3 => StatementKind::Platform { mapping: statement_mappings::meituan() },
        4 => StatementKind::Platform { mapping: statement_mappings::eleme() },
        5 => StatementKind::Platform { mapping: statement_mappings::eleme_json() },
        6 => StatementKind::PosShift,
        _ => StatementKind::GroupBuySettlement,
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, chunk, bill @ ..] = data else { return };
    let kind = kind_of(*kind);
    let chunk = usize::from(*chunk).max(1);
    let whole = kind.import(bill, bill.len().max(1));
    let chunked = kind.import(bill, chunk);
    match (whole, chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "chunking changed the records"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("chunking changed the verdict: whole {a:?}, chunked {b:?}"),
    }
});
