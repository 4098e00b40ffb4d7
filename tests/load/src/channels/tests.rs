//! Every rendered push, checked by the core's own verification and normalization (the
//! generator signs independently; this is where the two meet without an app): it must
//! verify, normalize to the orders it names, and carry no exception, since the SKU
//! tables the generator installs map every code and the money adds up.

use std::time::Duration;

use orderhub_core::channel::{
    normalize, verify, ChannelConfig, ChannelEvent, InboundRequest, SkuMap,
};
use orderhub_core::order::EventKind;

use super::*;
use crate::mix::{MixConfig, Plan};
use crate::schedule::Profile;
use crate::setup::sku_map;

const BASE: &str = "http://127.0.0.1:3211";

fn plan() -> Plan {
    let slots = Profile {
        rate: 50.0,
        duration: Duration::from_secs(60),
        burst: None,
        curve: None,
    }
    .slots();
    Plan::generate(11, &MixConfig::default(), &slots)
}

fn core_events(run: &RunIds, channel: Channel, hook: &Webhook) -> Vec<ChannelEvent> {
    let cfg = ChannelConfig::builtin(channel.id()).expect("built-in channel");
    let now = chrono::Utc::now();
    let headers: Vec<(String, String)> = hook
        .headers(now.timestamp())
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let url = format!("{BASE}{}", hook.path);
    let req = InboundRequest {
        method: "POST",
        full_url: &url,
        path: &hook.path,
        query: "",
        headers: &headers,
        content_type: Some(hook.content_type),
        body: &hook.body,
        received_at: now,
    };
    let push = verify(&cfg, &channel.secret(), &req)
        .unwrap_or_else(|e| panic!("{channel} {}: refused: {e}", hook.path));
    let skus: SkuMap = serde_json::from_value(sku_map(run, channel)).expect("SKU map");
    normalize(&cfg, &skus, &push, now).unwrap_or_else(|e| panic!("{channel}: {e}"))
}

#[test]
fn every_push_of_every_channel_verifies_and_normalizes_cleanly() {
    let plan = plan();
    let run = RunIds::new(4242);
    let ctx = Ctx {
        run: &run,
        base_url: BASE,
        t0_ms: 1_764_043_200_000,
        plan: &plan,
    };
    let mut seen = std::collections::HashSet::new();
    for (index, push) in plan.pushes.iter().enumerate() {
        let hook = render(&ctx, index);
        let events = core_events(&run, push.channel, &hook);
        seen.insert((push.channel, crate::record::Class::of(&push.kind)));
        match &push.kind {
            PushKind::Orders(orders) => {
                assert_eq!(events.len(), orders.len());
                for (o, ev) in orders.iter().zip(&events) {
                    let ChannelEvent::Order { order } = ev else {
                        panic!("{}: not an order", push.channel)
                    };
                    assert_eq!(order.id.as_str(), orderhub_id(&run, push.channel, o.seq));
                    assert!(
                        order.exceptions.is_empty(),
                        "{}: {:?}",
                        push.channel,
                        order.exceptions
                    );
                    assert_eq!(order.lines.len(), o.lines.len());
                    let paid = order.history.iter().any(|e| e.kind == EventKind::Paid);
                    assert_eq!(paid, o.paid, "{}: paid", push.channel);
                    assert_eq!(
                        order.customer.customer_key,
                        format!("phone:{}", run.phone(o.customer))
                    );
                }
            }
            PushKind::Cancel { of, order } => {
                let o = plan.cancelled_order(*of, *order);
                let id = orderhub_id(&run, push.channel, o.seq);
                let cancels = events.iter().any(|ev| match ev {
                    ChannelEvent::Order { order } => {
                        order.id.as_str() == id
                            && order
                                .history
                                .iter()
                                .any(|e| matches!(e.kind, EventKind::Cancelled { .. }))
                    }
                    ChannelEvent::Event {
                        order_id, event, ..
                    } => {
                        order_id.as_str() == id && matches!(event.kind, EventKind::Cancelled { .. })
                    }
                    ChannelEvent::Notice(_) => false,
                });
                assert!(cancels, "{}: no cancel of {id}", push.channel);
            }
            PushKind::Duplicate { of } => {
                let original = render(&ctx, *of);
                assert_eq!(hook.body, original.body, "a duplicate is the same push");
            }
        }
    }
    // The plan covered every kind of push on every channel.
    assert_eq!(seen.len(), 18, "{seen:?}");
}

#[test]
fn platform_duplicates_are_byte_identical_and_own_ones_are_signed_anew() {
    let plan = plan();
    let run = RunIds::new(1);
    let ctx = Ctx {
        run: &run,
        base_url: BASE,
        t0_ms: 0,
        plan: &plan,
    };
    let first = |channel| {
        plan.pushes
            .iter()
            .position(|p| p.channel == channel && matches!(p.kind, PushKind::Orders(_)))
            .unwrap()
    };
    let mt = render(&ctx, first(Channel::Meituan));
    assert_eq!(mt.headers(1), mt.headers(2), "Meituan signs in the body");
    let app = render(&ctx, first(Channel::App));
    assert_ne!(app.headers(1_700_000_000), app.headers(1_700_000_001));
    let sig = |h: Vec<(&str, String)>| {
        h.into_iter()
            .find(|(k, _)| *k == "x-orderhub-signature")
            .unwrap()
            .1
    };
    assert_eq!(
        sig(app.headers(1_700_000_000)),
        sign::own(&Channel::App.secret(), "1700000000", &app.body)
    );
}

#[test]
fn acknowledgements_are_checked_as_the_platforms_check_them() {
    let exact = Expect::Exact(r#"{"data":"ok"}"#);
    assert_eq!(exact.check(br#"{"data":"ok"}"#), Verdict::Accepted);
    assert!(matches!(
        exact.check(br#"{"data":"ok" }"#),
        Verdict::Wrong(_)
    ));
    let own = Expect::Own {
        orders: vec!["pos-a".into(), "pos-b".into()],
    };
    assert_eq!(
        own.check(br#"{"status":"ok","result":"accepted","orders":["pos-b","pos-a"]}"#),
        Verdict::Accepted
    );
    assert_eq!(
        own.check(br#"{"status":"ok","result":"duplicate","orders":[]}"#),
        Verdict::Duplicate
    );
    assert!(matches!(
        own.check(br#"{"status":"ok","result":"accepted","orders":["pos-a"]}"#),
        Verdict::Wrong(_)
    ));
    assert!(matches!(own.check(b"ok"), Verdict::Wrong(_)));
}

#[test]
fn order_ids_are_escaped_as_orderhub_escapes_them() {
    let run = RunIds::new(99);
    assert_eq!(orderhub_id(&run, Channel::Pos, 7), "pos-LS99%3AR7");
    assert_eq!(orderhub_id(&run, Channel::App, 7), "app-A99%2D7");
    assert_eq!(orderhub_id(&run, Channel::Meituan, 7), "meituan-990000007");
    assert_eq!(rfc3339(1_764_043_200_000), "2025-11-25T12:00:00+08:00");
    assert_eq!(local_text(1_764_043_200_000), "2025-11-25T12:00:00");
}
