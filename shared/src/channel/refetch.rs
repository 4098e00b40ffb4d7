//! Incomplete orders fetched again (issue 15, item 3). A Meituan push with
//! `incmp_code = -1` is kept and flagged `incomplete_data`; the drain queues it here, and
//! the scheduled `POST /jobs/pipeline/refetch/{channel}` asks the platform's order-detail
//! API for the whole order ([`detail_call`], signed with Meituan's `sig`), reads the
//! answer as an order push ([`detail_push`]: the same adapter as the webhook), and the
//! shell applies it to the book (idempotent: the complete copy replaces the flagged one,
//! a second application adds nothing). After `max_attempts` failures the order gets a
//! `refetch_failed` exception for customer service and leaves the queue.
//!
//! Keys (orders store; c = counter): `refetch/{order}/queued` (c, queued once),
//! `refetch/{channel}/n` (c) and `refetch/{channel}/{slot}` (the queue),
//! `refetch/{channel}/cursor` (first slot not yet finished), `refetch/{order}/fails`
//! (c), `refetch/{order}/done` (`completed` or `gave_up`). The config is in the catalog
//! store: `refetch:{channel}:config`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{Payload, VerifiedPush};
use super::signature::meituan_md5;
use crate::order::{ChannelId, ExceptionCode, Order, OrderException, OrderId};
use crate::store::{KeyValue, StoreError};

/// Where and as whom to fetch a channel's orders (`PUT /admin/channels/{id}/refetch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefetchConfig {
    /// The order-detail URL (its host in `pipeline-jobs`' `allowed_outbound_hosts`).
    pub endpoint: String,
    pub app_id: String,
    /// Failed fetches before the order goes to customer service.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_attempts() -> u32 {
    5
}

impl RefetchConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let e = self.endpoint.trim();
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            out.push("`endpoint` must be an http(s) URL".to_string());
        }
        if self.app_id.trim().is_empty() {
            out.push("`app_id` is empty".into());
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            out.push("`max_attempts` must be 1 to 100".into());
        }
        out
    }
}

pub fn config_key(channel: &str) -> String {
    format!("refetch:{channel}:config")
}

pub fn load_config<S: KeyValue>(
    store: &S,
    channel: &str,
) -> Result<Option<RefetchConfig>, StoreError> {
    store.get_json(&config_key(channel))
}

pub fn put_config<S: KeyValue>(
    store: &S,
    channel: &str,
    config: &RefetchConfig,
) -> Result<(), StoreError> {
    store.set_json(&config_key(channel), config)
}

fn queued_key(order: &OrderId) -> String {
    format!("refetch/{}/queued", order.0)
}
fn len_key(channel: &ChannelId) -> String {
    format!("refetch/{}/n", channel.0)
}
fn slot_key(channel: &ChannelId, slot: i64) -> String {
    format!("refetch/{}/{slot}", channel.0)
}
fn cursor_key(channel: &ChannelId) -> String {
    format!("refetch/{}/cursor", channel.0)
}
fn fails_key(order: &OrderId) -> String {
    format!("refetch/{}/fails", order.0)
}
fn done_key(order: &OrderId) -> String {
    format!("refetch/{}/done", order.0)
}

/// Whether the platform flagged this copy of the order incomplete.
pub fn is_incomplete(order: &Order) -> bool {
    order
        .exceptions
        .iter()
        .any(|e| e.code == ExceptionCode::IncompleteData)
}

/// Queues each flagged order once (an `increment` claim, then a slot by `increment`):
/// nothing is read or written for the others. Returns how many were newly queued.
pub fn queue_incomplete<'a, S: KeyValue>(
    store: &S,
    orders: impl IntoIterator<Item = &'a Order>,
) -> Result<usize, StoreError> {
    let mut writes = Vec::new();
    for order in orders.into_iter().filter(|o| is_incomplete(o)) {
        if store.increment(&queued_key(&order.id), 1)? != 1 {
            continue;
        }
        let slot = store.increment(&len_key(&order.channel), 1)?;
        writes.push((
            slot_key(&order.channel, slot),
            order.id.0.as_bytes().to_vec(),
        ));
    }
    let n = writes.len();
    if n > 0 {
        store.set_many(&writes)?;
    }
    Ok(n)
}

/// How a queued order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finished {
    Completed,
    GaveUp,
}

/// Up to `limit` queued orders not finished yet, from the cursor, in queue order (the
/// cursor first moves past the finished ones at its head).
pub fn pending<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    limit: usize,
) -> Result<Vec<OrderId>, StoreError> {
    let len = store.increment(&len_key(channel), 0)?;
    let mut cursor: i64 = store.get_json(&cursor_key(channel))?.unwrap_or(0);
    let start = cursor;
    let mut out = Vec::new();
    let mut head = true;
    for slot in (start + 1)..=len {
        let Some(bytes) = store.get(&slot_key(channel, slot))? else {
            head = false; // a writer between its slot and its write
            continue;
        };
        let id = OrderId(String::from_utf8_lossy(&bytes).into_owned());
        let finished: Option<Finished> = store.get_json(&done_key(&id))?;
        if finished.is_some() {
            if head {
                cursor = slot;
            }
            continue;
        }
        head = false;
        if out.len() < limit {
            out.push(id);
        } else {
            break;
        }
    }
    if cursor != start {
        store.set_json(&cursor_key(channel), &cursor)?;
    }
    Ok(out)
}

pub fn finish<S: KeyValue>(store: &S, order: &OrderId, how: Finished) -> Result<(), StoreError> {
    store.set_json(&done_key(order), &how)
}

/// Counts a failed fetch; `Some(exception)` when it was the last one allowed (the order
/// is then finished as given up: record the exception on it).
pub fn failed<S: KeyValue>(
    store: &S,
    order: &OrderId,
    config: &RefetchConfig,
    why: &str,
) -> Result<Option<OrderException>, StoreError> {
    let fails = store.increment(&fails_key(order), 1)?;
    if fails < i64::from(config.max_attempts) {
        return Ok(None);
    }
    finish(store, order, Finished::GaveUp)?;
    Ok(Some(OrderException::new(
        ExceptionCode::RefetchFailed,
        format!("the platform's order detail could not be fetched {fails} times (last: {why})"),
    )))
}

/// The order-detail request: `GET {endpoint}?app_id=&order_id=&timestamp=&sig=`, `sig`
/// as Meituan signs (md5_lower(endpoint + "?" + sorted k=v&… + secret)).
pub fn detail_call(
    config: &RefetchConfig,
    secret: &str,
    channel_order_id: &str,
    now: DateTime<Utc>,
) -> String {
    let endpoint = config.endpoint.trim();
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    params.insert("app_id".into(), config.app_id.clone());
    params.insert("order_id".into(), channel_order_id.to_string());
    params.insert("timestamp".into(), now.timestamp().to_string());
    let sig = meituan_md5(endpoint, &params, "sig", secret);
    params.insert("sig".into(), sig);
    let query = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::stock::sync::form_escape(k),
                crate::stock::sync::form_escape(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{endpoint}?{query}")
}

/// The detail answer `{"data": {…order push fields…}}` as the order push it stands for
/// (values as text, nested JSON as JSON text, like the form push), for the channel's
/// own adapter.
pub fn detail_push(
    channel: &ChannelId,
    order: &OrderId,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<VerifiedPush, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let data = value
        .get("data")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| {
            let error = value
                .get("error")
                .map(|e| e.to_string())
                .unwrap_or_default();
            format!("no order in the answer {error}")
        })?;
    let params: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    Ok(VerifiedPush {
        channel: channel.clone(),
        path: format!("/webhooks/{}/order", channel.0),
        payload: Payload::Params(params),
        received_at: now,
        signed_at: None,
        dedupe_key: format!("refetch:{}", order.0),
        replay_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{normalize, ChannelConfig, ChannelEvent, SkuMap};
    use crate::merge::fixtures::{address, order};
    use crate::store::MemoryStore;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_765_000_000, 0).unwrap()
    }

    fn config() -> RefetchConfig {
        RefetchConfig {
            endpoint: "http://platform.test/api/v1/order/getOrderDetail".into(),
            app_id: "6789".into(),
            max_attempts: 2,
        }
    }

    fn flagged(id: &str) -> Order {
        let mut o = order("meituan", id, "c1", address("k", 31.2, 121.4), 0);
        o.exceptions
            .push(OrderException::new(ExceptionCode::IncompleteData, "incmp"));
        o
    }

    #[test]
    fn flagged_orders_are_queued_once_and_leave_the_queue_when_finished() {
        let store = MemoryStore::new();
        let (a, b) = (flagged("a"), flagged("b"));
        let fine = order("meituan", "c", "c1", address("k", 31.2, 121.4), 0);
        assert_eq!(queue_incomplete(&store, [&a, &fine, &b]).unwrap(), 2);
        assert_eq!(queue_incomplete(&store, [&a, &b]).unwrap(), 0, "once");
        let ch = ChannelId::new("meituan");
        assert_eq!(
            pending(&store, &ch, 10).unwrap(),
            vec![a.id.clone(), b.id.clone()]
        );
        finish(&store, &a.id, Finished::Completed).unwrap();
        assert_eq!(pending(&store, &ch, 10).unwrap(), vec![b.id.clone()]);
        assert_eq!(failed(&store, &b.id, &config(), "503").unwrap(), None);
        let gave_up = failed(&store, &b.id, &config(), "503").unwrap().unwrap();
        assert_eq!(gave_up.code, ExceptionCode::RefetchFailed);
        assert_eq!(gave_up.route, crate::order::ExceptionRoute::CustomerService);
        assert!(pending(&store, &ch, 10).unwrap().is_empty());
    }

    #[test]
    fn the_detail_call_is_signed_as_meituan_signs() {
        let url = detail_call(&config(), "s3cret", "27061900338318", t0());
        let (base, query) = url.split_once('?').unwrap();
        let mut params: BTreeMap<String, String> = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let sig = params.remove("sig").unwrap();
        let joined = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        use md5::{Digest, Md5};
        let want = hex::encode(Md5::digest(format!("{base}?{joined}s3cret").as_bytes()));
        assert_eq!(sig, want);
        assert_eq!(params["order_id"], "27061900338318");
    }

    #[test]
    fn a_detail_answer_reads_as_the_order_push_it_stands_for() {
        let detail = serde_json::json!([{"app_food_code": "A1", "food_name": "苹果", "quantity": 2, "price": 5.5, "box_num": 0, "box_price": 0}]);
        let body = serde_json::json!({"data": {
            "order_id": 5001, "wm_order_id_view": "5001", "app_poi_code": "s1",
            "recipient_name": "王", "recipient_address": "上海市 浦东新区 张江路 1 号",
            "recipient_phone": "13800001234", "total": 11, "original_price": 11,
            "shipping_fee": 0, "ctime": 1765000000, "utime": 1765000000, "delivery_time": 0,
            "latitude": 31204055, "longitude": 121591101, "status": 4,
            "detail": detail.to_string(), "incmp_code": 0,
        }});
        let ch = ChannelId::new("meituan");
        let id = OrderId("meituan-5001".into());
        let push = detail_push(&ch, &id, body.to_string().as_bytes(), t0()).unwrap();
        let cfg = ChannelConfig::builtin("meituan").unwrap();
        let events = normalize(&cfg, &SkuMap::new(), &push, t0()).unwrap();
        let Some(ChannelEvent::Order { order }) = events.first() else {
            panic!("{events:?}")
        };
        assert_eq!(order.id, id);
        assert_eq!(order.lines.len(), 1);
        assert!(!is_incomplete(order), "{:?}", order.exceptions);
        assert!(detail_push(&ch, &id, br#"{"data":"ng","error":{"code":808}}"#, t0()).is_err());
    }
}
