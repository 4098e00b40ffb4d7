use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::channel::{verify, ChannelConfig, InboundRequest, IngestError, SkuEntry};
use crate::order::TemperatureZone;
use crate::stock::{
    drain_outbox, AdjustRequest, Adjustment, ChannelPolicy, ReservationLedger, SkuStock,
    StockCatalog, Warehouse, WarehouseId,
};
use crate::store::MemoryStore;

const SECRET: &str = "platform-secret";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

fn config(platform: Platform) -> SyncConfig {
    SyncConfig {
        platform,
        endpoint: "http://platform.test/api/v1/retail/sku/stock".into(),
        app_id: "6789".into(),
        shop_id: "store-001".into(),
        sku_table: None,
        batch_size: 2,
        calls_per_minute: 1_000,
        backoff_base_seconds: 5,
        backoff_max_seconds: 60,
        rate_limit_codes: vec!["711".into()],
    }
}

fn line(code: &str, sku: &str, stock: u64, version: i64) -> PushLine {
    PushLine {
        code: code.into(),
        sku: SkuId(sku.into()),
        stock,
        version,
    }
}

fn update(sku: &str, sellable: u64, version: i64) -> ChannelStock {
    ChannelStock {
        sku: SkuId(sku.into()),
        sellable,
        version,
    }
}

#[test]
fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
    let c = config(Platform::Meituan);
    let waits: Vec<i64> = (1..=6).map(|n| backoff_seconds(&c, n, None)).collect();
    assert_eq!(waits, vec![5, 10, 20, 40, 60, 60]);
    assert_eq!(backoff_seconds(&c, 1, Some(30)), 30, "Retry-After wins");
    assert_eq!(backoff_seconds(&c, 4, Some(3)), 40);
    assert_eq!(backoff_seconds(&c, 1_000, None), 60, "no overflow");
}

#[test]
fn calls_are_batched_per_sku_and_unmapped_skus_are_not_sent() {
    let mut codes = BTreeMap::new();
    codes.insert(SkuId("a".into()), vec!["A1".to_string()]);
    codes.insert(SkuId("b".into()), vec!["B1".to_string(), "B2".to_string()]);
    codes.insert(SkuId("c".into()), vec!["C1".to_string()]);
    let plan = plan_push(
        &[
            update("c", 3, 9),
            update("a", 1, 7),
            update("b", 2, 8),
            update("x", 5, 6),
        ],
        &codes,
        2,
    );
    let calls: Vec<Vec<&str>> = plan
        .calls
        .iter()
        .map(|c| c.iter().map(|l| l.code.as_str()).collect())
        .collect();
    assert_eq!(calls, vec![vec!["A1"], vec!["B1", "B2"], vec!["C1"]]);
    assert_eq!(plan.unmapped, vec![SkuId("x".into())]);
    assert_eq!(plan.calls[1][1].stock, 2);
    assert_eq!(plan.calls[1][1].version, 8);
}

#[test]
fn codes_come_from_the_sku_table_reversed() {
    let entry = |sku: &str| SkuEntry {
        sku: SkuId(sku.into()),
        zone: TemperatureZone::Ambient,
        unit_weight_g: 0,
        unit_volume_cm3: 0,
    };
    let map = SkuMap::new()
        .with("MT-A", entry("a"))
        .with("MT-A2", entry("a"))
        .with("MT-B", entry("b"));
    let codes = codes_by_sku(&map);
    assert_eq!(codes[&SkuId("a".into())], vec!["MT-A", "MT-A2"]);
    assert_eq!(codes[&SkuId("b".into())], vec!["MT-B"]);
}

/// Whether the ingest verifier got past the signature: it goes on to normalize the
/// body as a push, which a stock call is not, so any later refusal counts as signed.
fn signed<T>(verdict: Result<T, IngestError>) -> bool {
    !matches!(
        verdict,
        Err(IngestError::BadSignature | IngestError::MissingSignature(_))
    )
}

/// The call is signed exactly as the platform's own pushes are, so the ingest side's
/// verifier (built-in Meituan config, same secret) accepts it, and a changed byte is
/// refused.
#[test]
fn meituan_calls_carry_a_sig_the_meituan_verifier_accepts() {
    let c = config(Platform::Meituan);
    let call = stock_call(&c, SECRET, &[line("MT-A", "a", 7, 3)], t0(), "r1");
    assert_eq!(call.content_type, "application/x-www-form-urlencoded");
    let cfg = ChannelConfig::builtin("meituan").unwrap();
    fn req(body: &[u8]) -> InboundRequest<'_> {
        InboundRequest {
            method: "POST",
            full_url: "http://platform.test/api/v1/retail/sku/stock",
            path: "/api/v1/retail/sku/stock",
            query: "",
            headers: &[],
            content_type: Some("application/x-www-form-urlencoded"),
            body,
            received_at: t0(),
        }
    }
    assert!(signed(verify(&cfg, SECRET, &req(&call.body))));
    let body = String::from_utf8(call.body.clone()).unwrap();
    assert!(body.contains("app_poi_code=store-001"), "{body}");
    assert!(
        body.contains("food_data=%5B%7B%22app_food_code%22%3A%22MT-A%22"),
        "{body}"
    );
    let forged = String::from_utf8(call.body.clone())
        .unwrap()
        .replace("%22stock%22%3A%227%22", "%22stock%22%3A%229%22");
    assert_ne!(forged.as_bytes(), call.body.as_slice());
    assert!(!signed(verify(&cfg, SECRET, &req(forged.as_bytes()))));
    assert!(!signed(verify(&cfg, "other", &req(&call.body))));
}

#[test]
fn eleme_calls_carry_an_envelope_the_eleme_verifier_accepts() {
    let c = config(Platform::Eleme);
    let call = stock_call(&c, SECRET, &[line("E-A", "a", 4, 3)], t0(), "req-1");
    let cfg = ChannelConfig::builtin("eleme").unwrap();
    fn req(body: &[u8]) -> InboundRequest<'_> {
        InboundRequest {
            method: "POST",
            full_url: "http://platform.test/stock",
            path: "/stock",
            query: "",
            headers: &[],
            content_type: Some("application/json"),
            body,
            received_at: t0(),
        }
    }
    assert!(signed(verify(&cfg, SECRET, &req(&call.body))));
    let v: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    let message: serde_json::Value = serde_json::from_str(v["message"].as_str().unwrap()).unwrap();
    assert_eq!(message["items"][0]["extendCode"], "E-A");
    assert_eq!(message["items"][0]["stock"], 4);
    let forged = String::from_utf8(call.body.clone())
        .unwrap()
        .replace("\\\"stock\\\":4", "\\\"stock\\\":5");
    assert_ne!(forged.as_bytes(), call.body.as_slice());
    assert!(!signed(verify(&cfg, SECRET, &req(forged.as_bytes()))));
}

#[test]
fn answers_are_classified() {
    let mt = config(Platform::Meituan);
    let el = config(Platform::Eleme);
    assert_eq!(
        classify(&mt, 200, None, br#"{"data":"ok"}"#),
        PushAnswer::Accepted
    );
    assert_eq!(
        classify(&el, 200, None, br#"{"message":"ok"}"#),
        PushAnswer::Accepted
    );
    assert!(matches!(
        classify(&mt, 429, Some("12"), b"slow down"),
        PushAnswer::RateLimited {
            retry_after: Some(12),
            ..
        }
    ));
    assert!(matches!(
        classify(
            &mt,
            200,
            None,
            br#"{"data":"ng","error":{"code":711,"msg":"too fast"}}"#
        ),
        PushAnswer::RateLimited { .. }
    ));
    assert!(matches!(
        classify(
            &mt,
            200,
            None,
            br#"{"data":"ng","error":{"code":700,"msg":"bad sig"}}"#
        ),
        PushAnswer::Failed { .. }
    ));
    assert!(matches!(
        classify(&el, 503, None, b""),
        PushAnswer::Failed { .. }
    ));
    assert!(matches!(
        classify(&mt, 200, None, br#"{"message":"ok"}"#),
        PushAnswer::Failed { .. }
    ));
}

#[test]
fn config_problems_are_named() {
    let mut c = config(Platform::Meituan);
    assert!(c.problems().is_empty());
    c.endpoint = "ftp://x".into();
    c.batch_size = 0;
    c.backoff_max_seconds = 1;
    assert_eq!(c.problems().len(), 3, "{:?}", c.problems());
}

#[test]
fn one_runner_at_a_time_and_a_backoff_is_waited_out() {
    let store = MemoryStore::new();
    let ch = ChannelId::new("mt");
    let c = config(Platform::Meituan);
    let SyncStart::Run(mut run) = start_sync(&store, &ch, t0()).unwrap() else {
        panic!("first run")
    };
    assert_eq!(start_sync(&store, &ch, t0()).unwrap(), SyncStart::Busy);
    let fail = PushAnswer::Failed {
        detail: "HTTP 503".into(),
    };
    let until = run.failed(&store, &c, &fail, t0()).unwrap();
    assert_eq!(until, t0() + Duration::seconds(5));
    run.finish(&store).unwrap();
    assert_eq!(
        start_sync(&store, &ch, t0() + Duration::seconds(1)).unwrap(),
        SyncStart::Waiting { until, failures: 1 }
    );
    let status = sync_status(&store, &ch, t0()).unwrap();
    assert_eq!(status.consecutive_failures, 1);
    assert_eq!(status.next_attempt_at, Some(until));
    // After the wait: a second failure doubles it; a success clears it.
    let SyncStart::Run(mut run) = start_sync(&store, &ch, until).unwrap() else {
        panic!("after the backoff")
    };
    let until2 = run.failed(&store, &c, &fail, until).unwrap();
    assert_eq!(until2, until + Duration::seconds(10));
    run.finish(&store).unwrap();
    let SyncStart::Run(mut run) = start_sync(&store, &ch, until2).unwrap() else {
        panic!("after the second backoff")
    };
    run.pushed(&store, &[line("A", "a", 1, 1)], until2).unwrap();
    run.finish(&store).unwrap();
    let status = sync_status(&store, &ch, until2).unwrap();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.next_attempt_at, None);
    // A runner that died holding its claim: the channel is free in the next period.
    let SyncStart::Run(_dead) = start_sync(&store, &ch, until2).unwrap() else {
        panic!()
    };
    assert_eq!(start_sync(&store, &ch, until2).unwrap(), SyncStart::Busy);
    assert!(matches!(
        start_sync(&store, &ch, until2 + Duration::seconds(SYNC_LEASE_SECONDS)).unwrap(),
        SyncStart::Run(_)
    ));
}

#[test]
fn the_minute_allowance_is_shared_and_a_run_stops_at_its_deadline() {
    let store = MemoryStore::new();
    let ch = ChannelId::new("mt");
    let mut c = config(Platform::Meituan);
    c.calls_per_minute = 2;
    let SyncStart::Run(run) = start_sync(&store, &ch, t0()).unwrap() else {
        panic!()
    };
    assert_eq!(run.may_call(&store, &c, t0()).unwrap(), CallVerdict::Go);
    assert_eq!(run.may_call(&store, &c, t0()).unwrap(), CallVerdict::Go);
    assert_eq!(
        run.may_call(&store, &c, t0()).unwrap(),
        CallVerdict::RateLimited
    );
    assert_eq!(
        run.may_call(&store, &c, t0() + Duration::seconds(SYNC_LEASE_SECONDS))
            .unwrap(),
        CallVerdict::OutOfTime
    );
}

// ---- the whole sender against a simulated platform -------------------------------

/// The platform as the sender sees it: accepts or refuses each call; what it accepted
/// per code is its shown stock, in the order received.
#[derive(Default)]
struct FakePlatform {
    shown: BTreeMap<String, u64>,
    /// Versions accepted per code, in order (to check nothing older after newer).
    versions: BTreeMap<String, Vec<i64>>,
}

/// One run of the sender, as the shell runs it: `fail(i)` says whether the i-th call
/// of the run fails (or is rate-limited when odd).
fn run_once(
    store: &MemoryStore,
    ch: &ChannelId,
    c: &SyncConfig,
    codes: &BTreeMap<SkuId, Vec<String>>,
    platform: &mut FakePlatform,
    now: DateTime<Utc>,
    fail: &mut dyn FnMut() -> Option<bool>,
) {
    let SyncStart::Run(mut run) = start_sync(store, ch, now).unwrap() else {
        return;
    };
    'outer: loop {
        let batch = drain_outbox(store, ch, 3, now).unwrap();
        let cursor: i64 = store
            .get_json(&keys::outbox_cursor(ch))
            .unwrap()
            .unwrap_or(0);
        if batch.updates.is_empty() && batch.next_cursor == cursor {
            break;
        }
        let plan = plan_push(&batch.updates, codes, c.batch_size);
        for call in &plan.calls {
            if run.may_call(store, c, now).unwrap() != CallVerdict::Go {
                break 'outer;
            }
            let answer = match fail() {
                None => PushAnswer::Accepted,
                Some(true) => PushAnswer::RateLimited {
                    retry_after: Some(7),
                    detail: "429".into(),
                },
                Some(false) => PushAnswer::Failed {
                    detail: "503".into(),
                },
            };
            if answer != PushAnswer::Accepted {
                run.failed(store, c, &answer, now).unwrap();
                break 'outer;
            }
            for l in call {
                platform.shown.insert(l.code.clone(), l.stock);
                platform
                    .versions
                    .entry(l.code.clone())
                    .or_default()
                    .push(l.version);
            }
            run.pushed(store, call, now).unwrap();
        }
        run.caught_up(store, &batch).unwrap();
    }
    run.finish(store).unwrap();
}

fn sync_catalog() -> StockCatalog {
    let mut channels = BTreeMap::new();
    channels.insert(ChannelId::new("mt"), ChannelPolicy::default());
    StockCatalog {
        warehouses: vec![Warehouse {
            id: WarehouseId::new("w"),
            name: "W".into(),
            location: None,
            priority: 1,
        }],
        channels,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Stock changes interleaved with sender runs whose calls fail or are rate-limited
    /// at random: the platform never gets an older version of a code after a newer one,
    /// and once the failures stop, a few runs leave it showing exactly the sellable
    /// quantity of every SKU.
    #[test]
    fn the_platform_ends_with_the_sellable_quantity_and_never_goes_back(
        steps in prop::collection::vec((0usize..3, 0i64..20, prop::option::of(any::<bool>()), any::<bool>()), 1..40),
        batch_size in 1usize..4,
    ) {
        let store = MemoryStore::new();
        let ledger = ReservationLedger::new(&store);
        ledger.put_catalog(&sync_catalog(), &mut || true).unwrap();
        let skus = ["a", "b", "c"];
        let mut codes = BTreeMap::new();
        for s in skus {
            ledger.define_sku(&SkuStock::new(SkuId(s.into()))).unwrap();
            codes.insert(SkuId(s.into()), vec![format!("MT-{s}")]);
        }
        let ch = ChannelId::new("mt");
        let mut c = config(Platform::Meituan);
        c.batch_size = batch_size;
        let mut platform = FakePlatform::default();
        let mut now = t0();
        for (i, (sku, qty, fails, run)) in steps.iter().enumerate() {
            let request = AdjustRequest {
                sku: SkuId(skus[*sku].into()),
                warehouse: WarehouseId::new("w"),
                change: Adjustment::Set(*qty),
                reason: "count".into(),
                reference: Some(format!("r{i}")),
            };
            ledger.adjust(&request, now).unwrap();
            if *run {
                let mut fail = {
                    let f = *fails;
                    let mut first = true;
                    move || if std::mem::take(&mut first) { f } else { None }
                };
                run_once(&store, &ch, &c, &codes, &mut platform, now, &mut fail);
            }
            now += Duration::seconds(61);
        }
        for _ in 0..5 {
            run_once(&store, &ch, &c, &codes, &mut platform, now, &mut || None);
            now += Duration::seconds(600);
        }
        for s in skus {
            let item = SkuStock::new(SkuId(s.into()));
            let want = journal::sellable_now(&store, &sync_catalog(), &item).unwrap()[&ch];
            let code = format!("MT-{s}");
            // A SKU whose stock never moved from 0 was never journalled, so never sent.
            prop_assert_eq!(platform.shown.get(&code).copied().unwrap_or(0), want, "{}", s);
            let versions = platform.versions.get(&code).cloned().unwrap_or_default();
            prop_assert!(versions.windows(2).all(|w| w[0] < w[1]), "{} {:?}", s, versions);
        }
        let status = sync_status(&store, &ch, now).unwrap();
        prop_assert_eq!(status.behind, 0);
        prop_assert_eq!(status.consecutive_failures, 0);
    }
}
