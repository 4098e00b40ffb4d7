//! A fake Meituan / Ele.me stock API for end-to-end tests (issue 15): a small HTTP
//! server on a free loopback port that checks every call's signature the way the
//! platform does (computed here, independently of the core), records the stock it was
//! told per item code, and can be told to fail, stall or rate-limit the next calls.
//!
//! Shapes (as orderhub assumes them, `docs/platform-sync.md`):
//! - Meituan: `POST` form `app_id`, `timestamp`, `app_poi_code`, `food_data` (JSON
//!   `[{"app_food_code","skus":[{"sku_id","stock"}]}]`), `sig` = md5_lower(URL + "?" +
//!   sorted `k=v` joined by `&` + secret). Answers `{"data":"ok"}`, or
//!   `{"data":"ng","error":{"code","msg"}}`.
//! - Ele.me: `POST` JSON envelope `requestId`, `type`, `appId`, `message` (JSON text
//!   `{"shopId","items":[{"extendCode","stock"}]}`), `shopId`, `timestamp`, `userId`,
//!   `signature` = md5_upper(sorted `k=v` concatenated + secret). Answers
//!   `{"message":"ok"}`, or `{"message":"fail","error":{"code","msg"}}`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Meituan,
    Eleme,
}

/// What the platform does with one call (the next ones in the queue, then `Accept`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// HTTP 500 with a platform error body; nothing applied.
    Fail,
    /// HTTP 429 with `Retry-After`; nothing applied.
    RateLimit {
        retry_after: u32,
    },
    /// Wait this long, then behave as the next entry says (or accept).
    Stall(Duration),
}

#[derive(Debug, Default)]
pub struct Recorded {
    /// Item code → the stock values received, in the order accepted.
    pub stock: BTreeMap<String, Vec<u64>>,
    /// Calls received, by outcome.
    pub accepted: usize,
    pub failed: usize,
    pub rate_limited: usize,
    pub stalled: usize,
    /// Calls whose signature (or app id, shop) did not check out: always an error.
    pub bad_signature: Vec<String>,
    /// Order-detail requests answered with an order, by order id.
    pub details_served: BTreeMap<String, usize>,
    /// What the order-detail API knows: order id → its fields.
    pub orders: BTreeMap<String, Value>,
}

pub struct FakePlatform {
    pub base: String,
    pub path: &'static str,
    state: Arc<Mutex<(Recorded, VecDeque<Behaviour>)>>,
}

impl FakePlatform {
    /// Starts the server; calls are checked against `app_id`, `shop_id` and `secret`.
    pub fn start(kind: Kind, app_id: &str, shop_id: &str, secret: &str) -> FakePlatform {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake platform port");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let path = match kind {
            Kind::Meituan => "/api/v1/retail/sku/stock",
            Kind::Eleme => "/api/v1/stock/batch_update",
        };
        let state: Arc<Mutex<(Recorded, VecDeque<Behaviour>)>> = Arc::default();
        let shared = state.clone();
        let check = Checker {
            kind,
            url: format!("{base}{path}"),
            path,
            app_id: app_id.to_string(),
            shop_id: shop_id.to_string(),
            secret: secret.to_string(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                let check = check.clone();
                std::thread::spawn(move || serve(stream, &check, &shared));
            }
        });
        FakePlatform { base, path, state }
    }

    pub fn endpoint(&self) -> String {
        format!("{}{}", self.base, self.path)
    }

    /// Queue behaviours for the next calls.
    pub fn then(&self, behaviours: &[Behaviour]) {
        self.state
            .lock()
            .unwrap()
            .1
            .extend(behaviours.iter().cloned());
    }

    pub fn with<T>(&self, f: impl FnOnce(&Recorded) -> T) -> T {
        f(&self.state.lock().unwrap().0)
    }

    /// Let the order-detail API (`GET {base}/api/v1/order/getOrderDetail`, Meituan
    /// only) answer for `order_id` with these fields.
    pub fn know_order(&self, order_id: &str, fields: Value) {
        self.state
            .lock()
            .unwrap()
            .0
            .orders
            .insert(order_id.to_string(), fields);
    }

    pub fn detail_endpoint(&self) -> String {
        format!("{}{DETAIL_PATH}", self.base)
    }

    /// The stock the platform shows for `code` (the last accepted value).
    pub fn shown(&self, code: &str) -> Option<u64> {
        self.with(|r| r.stock.get(code).and_then(|v| v.last().copied()))
    }
}

/// Meituan's order detail: `GET ?app_id&order_id&timestamp&sig`, `sig` as for any call.
pub const DETAIL_PATH: &str = "/api/v1/order/getOrderDetail";

#[derive(Clone)]
struct Checker {
    kind: Kind,
    url: String,
    path: &'static str,
    app_id: String,
    shop_id: String,
    secret: String,
}

impl Checker {
    /// The items of a correctly signed call, or why it is refused.
    fn items(&self, body: &[u8]) -> Result<Vec<(String, u64)>, String> {
        match self.kind {
            Kind::Meituan => {
                let params = form_decode(std::str::from_utf8(body).map_err(|e| e.to_string())?);
                let given = params.get("sig").ok_or("no sig")?;
                let joined = params
                    .iter()
                    .filter(|(k, _)| k.as_str() != "sig")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&");
                let want = md5_hex(&format!("{}?{joined}{}", self.url, self.secret));
                if &want != given {
                    return Err(format!("sig {given} != {want}"));
                }
                if params.get("app_id") != Some(&self.app_id)
                    || params.get("app_poi_code") != Some(&self.shop_id)
                {
                    return Err("app_id or app_poi_code".into());
                }
                let food: Value = serde_json::from_str(params.get("food_data").ok_or("food")?)
                    .map_err(|e| e.to_string())?;
                food.as_array()
                    .ok_or("food_data is no array")?
                    .iter()
                    .map(|f| {
                        let code = f["app_food_code"].as_str().ok_or("app_food_code")?;
                        let stock = f["skus"][0]["stock"].as_str().ok_or("stock")?;
                        Ok((code.to_string(), stock.parse().map_err(|_| "stock")?))
                    })
                    .collect()
            }
            Kind::Eleme => {
                let envelope: BTreeMap<String, Value> =
                    serde_json::from_slice(body).map_err(|e| e.to_string())?;
                let given = envelope
                    .get("signature")
                    .and_then(Value::as_str)
                    .ok_or("no signature")?;
                let mut text = String::new();
                for (k, v) in envelope.iter().filter(|(k, _)| k.as_str() != "signature") {
                    text.push_str(k);
                    text.push('=');
                    match v {
                        Value::String(s) => text.push_str(s),
                        other => text.push_str(&other.to_string()),
                    }
                }
                text.push_str(&self.secret);
                let want = md5_hex(&text).to_uppercase();
                if want != given {
                    return Err(format!("signature {given} != {want}"));
                }
                if envelope.get("appId").and_then(Value::as_str) != Some(&self.app_id)
                    || envelope.get("shopId").and_then(Value::as_str) != Some(&self.shop_id)
                {
                    return Err("appId or shopId".into());
                }
                let message: Value = serde_json::from_str(
                    envelope
                        .get("message")
                        .and_then(Value::as_str)
                        .ok_or("message")?,
                )
                .map_err(|e| e.to_string())?;
                message["items"]
                    .as_array()
                    .ok_or("items")?
                    .iter()
                    .map(|i| {
                        let code = i["extendCode"].as_str().ok_or("extendCode")?;
                        Ok((code.to_string(), i["stock"].as_u64().ok_or("stock")?))
                    })
                    .collect()
            }
        }
    }

    /// An order-detail request: the order's fields, or (signature at fault?, why).
    fn detail(
        &self,
        query: &str,
        orders: &BTreeMap<String, Value>,
    ) -> Result<(String, Value), (bool, String)> {
        let params = form_decode(query);
        let given = params.get("sig").ok_or((true, "no sig".to_string()))?;
        let joined = params
            .iter()
            .filter(|(k, _)| k.as_str() != "sig")
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let url = self.url.replace(self.path, DETAIL_PATH);
        let want = md5_hex(&format!("{url}?{joined}{}", self.secret));
        if &want != given || params.get("app_id") != Some(&self.app_id) {
            return Err((true, format!("detail sig {given} != {want}")));
        }
        let id = params.get("order_id").cloned().unwrap_or_default();
        match orders.get(&id) {
            Some(fields) => Ok((id, fields.clone())),
            None => Err((false, format!("no order {id}"))),
        }
    }

    fn answer(&self, ok: bool, code: &str, msg: &str) -> String {
        let field = match self.kind {
            Kind::Meituan => "data",
            Kind::Eleme => "message",
        };
        if ok {
            serde_json::json!({ field: "ok" }).to_string()
        } else {
            let verdict = match self.kind {
                Kind::Meituan => "ng",
                Kind::Eleme => "fail",
            };
            serde_json::json!({ field: verdict, "error": { "code": code, "msg": msg } }).to_string()
        }
    }
}

fn serve(stream: TcpStream, check: &Checker, state: &Mutex<(Recorded, VecDeque<Behaviour>)>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let Some((method, path, query, body)) = read_request(&mut reader) else {
        return;
    };
    let respond = |w: &mut TcpStream, status: &str, extra: &str, body: &str| {
        let _ = write!(
            w,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
            body.len()
        );
    };
    let detail = method == "GET" && path == DETAIL_PATH && check.kind == Kind::Meituan;
    if !detail && (method != "POST" || path != check.path) {
        respond(
            &mut writer,
            "404 Not Found",
            "",
            &check.answer(false, "404", "no such API"),
        );
        return;
    }
    loop {
        let next = state.lock().unwrap().1.pop_front();
        match next {
            Some(Behaviour::Stall(d)) => {
                state.lock().unwrap().0.stalled += 1;
                std::thread::sleep(d);
            }
            Some(Behaviour::Fail) => {
                state.lock().unwrap().0.failed += 1;
                let body = check.answer(false, "500", "injected failure");
                respond(&mut writer, "500 Internal Server Error", "", &body);
                return;
            }
            Some(Behaviour::RateLimit { retry_after }) => {
                state.lock().unwrap().0.rate_limited += 1;
                let body = check.answer(false, "711", "too many calls");
                let extra = format!("retry-after: {retry_after}\r\n");
                respond(&mut writer, "429 Too Many Requests", &extra, &body);
                return;
            }
            Some(Behaviour::Accept) | None => break,
        }
    }
    if detail {
        let answer = check.detail(&query, &state.lock().unwrap().0.orders);
        let mut s = state.lock().unwrap();
        match answer {
            Ok((id, fields)) => {
                *s.0.details_served.entry(id).or_default() += 1;
                drop(s);
                let body = serde_json::json!({ "data": fields }).to_string();
                respond(&mut writer, "200 OK", "", &body);
            }
            Err((signature, why)) => {
                if signature {
                    s.0.bad_signature.push(why.clone());
                }
                drop(s);
                respond(&mut writer, "200 OK", "", &check.answer(false, "808", &why));
            }
        }
        return;
    }
    match check.items(&body) {
        Ok(items) => {
            let mut s = state.lock().unwrap();
            s.0.accepted += 1;
            for (code, stock) in items {
                s.0.stock.entry(code).or_default().push(stock);
            }
            drop(s);
            respond(&mut writer, "200 OK", "", &check.answer(true, "", ""));
        }
        Err(why) => {
            state.lock().unwrap().0.bad_signature.push(why.clone());
            respond(&mut writer, "200 OK", "", &check.answer(false, "700", &why));
        }
    }
}

/// Method, path and body (`content-length` or chunked).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, String, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, query, body))
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// `application/x-www-form-urlencoded` into sorted pairs.
pub fn form_decode(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_reverses_the_escapes() {
        let m = form_decode("a=1&food_data=%5B%7B%22x%22%3A%22y+z%22%7D%5D&e=%");
        assert_eq!(m["a"], "1");
        assert_eq!(m["food_data"], r#"[{"x":"y z"}]"#);
        assert_eq!(m["e"], "%");
    }
}
