//! A test component for orderhub-host. Dispatches on `spin-path-info`, so one
//! build serves as any number of component instances in a test manifest.
//!
//! `wasi:keyvalue` is reached through spin-sdk's own generated bindings
//! (`spin_sdk::wit`), which is fine for a probe; app components generate
//! theirs from the vendored `wit/`.

use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store as wkv};

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.into())
        .build()
}

fn json(status: u16, v: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(v.to_string())
        .build()
}

fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn header(req: &Request, name: &str) -> String {
    req.header(name)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let info = header(&req, "spin-path-info");
    let matched = header(&req, "spin-matched-route");
    // exact routes have no path info: dispatch on the request path then
    let route = if info.is_empty() && !matched.ends_with("/...") {
        req.path().to_string()
    } else {
        info
    };
    let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let store_label = query_param(&req, "store").unwrap_or("default").to_string();
    Ok(match (req.method(), segs.as_slice()) {
        (_, ["headers"]) | (_, ["items", ..]) => {
            let mut h = serde_json::Map::new();
            for (k, v) in req.headers() {
                if k.starts_with("spin-") || k == "host" || k == "authorization" {
                    h.insert(k.to_string(), v.as_str().unwrap_or("").into());
                }
            }
            json(
                200,
                serde_json::json!({ "headers": h, "path": req.path(), "query": req.query() }),
            )
        }
        (Method::Get, ["kv", key]) => match Store::open(&store_label) {
            Ok(s) => match s.get(key) {
                Ok(Some(v)) => text(200, String::from_utf8_lossy(&v)),
                Ok(None) => text(404, "absent"),
                Err(e) => text(500, format!("{e:?}")),
            },
            Err(e) => text(403, format!("{e:?}")),
        },
        (Method::Put, ["kv", key]) => match Store::open(&store_label) {
            Ok(s) => match s.set(key, req.body()) {
                Ok(()) => text(200, "stored"),
                Err(e) => text(500, format!("{e:?}")),
            },
            Err(e) => text(403, format!("{e:?}")),
        },
        (Method::Delete, ["kv", key]) => {
            match Store::open(&store_label).and_then(|s| s.delete(key)) {
                Ok(()) => text(200, "deleted"),
                Err(e) => text(500, format!("{e:?}")),
            }
        }
        (_, ["kv-keys"]) => match Store::open(&store_label).and_then(|s| s.get_keys()) {
            Ok(keys) => json(200, serde_json::json!(keys)),
            Err(e) => text(403, format!("{e:?}")),
        },
        (_, ["wkv-open"]) => match wkv::open(&store_label) {
            Ok(_) => text(200, "opened"),
            Err(e) => text(403, format!("{e:?}")),
        },
        (_, ["incr", key]) => {
            let delta: i64 = query_param(&req, "delta")
                .and_then(|d| d.parse().ok())
                .unwrap_or(1);
            match wkv::open(&store_label).and_then(|b| atomics::increment(&b, key, delta)) {
                Ok(n) => text(200, n.to_string()),
                Err(e) => text(500, format!("{e:?}")),
            }
        }
        (_, ["cas-incr", key]) => cas_increment(key, &store_label),
        (_, ["cas-conflict", key]) => cas_conflict(key, &store_label),
        (_, ["batch"]) => batch_roundtrip(&store_label),
        (_, ["var", name]) => match spin_sdk::variables::get(name) {
            Ok(v) => text(200, v),
            Err(e) => text(404, format!("{e:?}")),
        },
        (_, ["chain", target, rest @ ..]) => {
            let url = format!("http://{target}.spin.internal/{}", rest.join("/"));
            outbound(&url).await
        }
        (_, ["outbound"]) => {
            let url = query_param(&req, "url").unwrap_or("").to_string();
            outbound(&url).await
        }
        (_, ["job"]) => {
            let expected = format!(
                "Bearer {}",
                spin_sdk::variables::get("job_token").unwrap_or_default()
            );
            if header(&req, "authorization") != expected {
                text(401, "bad token")
            } else {
                match wkv::open("default").and_then(|b| atomics::increment(&b, "jobs:ping", 1)) {
                    Ok(n) => text(200, format!("fired {n}")),
                    Err(e) => text(500, format!("{e:?}")),
                }
            }
        }
        (_, ["echo-len"]) => text(200, req.body().len().to_string()),
        (_, ["sleep"]) => {
            let ms: u64 = query_param(&req, "ms")
                .and_then(|d| d.parse().ok())
                .unwrap_or(100);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            text(200, "slept")
        }
        (_, ["panic"]) => panic!("probe asked to panic"),
        _ => text(200, format!("probe ok: {route}")),
    })
}

async fn outbound(url: &str) -> Response {
    let req = Request::get(url);
    match spin_sdk::http::send::<_, Response>(req).await {
        Ok(resp) => {
            let status = *resp.status();
            json(
                200,
                serde_json::json!({
                    "status": status,
                    "body": String::from_utf8_lossy(resp.body()),
                }),
            )
        }
        Err(e) => json(502, serde_json::json!({ "error": format!("{e:?}") })),
    }
}

/// A bounded compare-and-swap increment loop over i64 little-endian values.
fn cas_increment(key: &str, label: &str) -> Response {
    let bucket = match wkv::open(label) {
        Ok(b) => b,
        Err(e) => return text(403, format!("{e:?}")),
    };
    let mut retries = 0u32;
    let mut cas = match atomics::Cas::new(&bucket, key) {
        Ok(c) => c,
        Err(e) => return text(500, format!("{e:?}")),
    };
    loop {
        let current = match cas.current() {
            Ok(Some(v)) if v.len() == 8 => i64::from_le_bytes(v.try_into().unwrap_or([0; 8])),
            Ok(_) => 0,
            Err(e) => return text(500, format!("{e:?}")),
        };
        match atomics::swap(cas, &(current + 1).to_le_bytes()) {
            Ok(()) => {
                return json(
                    200,
                    serde_json::json!({ "value": current + 1, "retries": retries }),
                )
            }
            Err(atomics::CasError::CasFailed(fresh)) => {
                retries += 1;
                if retries > 1000 {
                    return text(409, "too many retries");
                }
                cas = fresh;
            }
            Err(atomics::CasError::StoreError(e)) => return text(500, format!("{e:?}")),
        }
    }
}

/// A CAS handle made, then the key changed behind its back: the swap must
/// fail with a fresh handle holding the new value, and that handle must win.
fn cas_conflict(key: &str, label: &str) -> Response {
    let run = || -> Result<serde_json::Value, String> {
        let bucket = wkv::open(label).map_err(|e| format!("{e:?}"))?;
        let stale = atomics::Cas::new(&bucket, key).map_err(|e| format!("{e:?}"))?;
        let stale_current = stale.current().map_err(|e| format!("{e:?}"))?;
        bucket.set(key, b"other").map_err(|e| format!("{e:?}"))?;
        let first = atomics::swap(stale, b"mine");
        let (first, fresh_current, second) = match first {
            Ok(()) => ("ok", None, "not-tried".to_string()),
            Err(atomics::CasError::CasFailed(fresh)) => {
                let cur = fresh.current().map_err(|e| format!("{e:?}"))?;
                let second = match atomics::swap(fresh, b"mine") {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("{e:?}"),
                };
                ("cas-failed", cur, second)
            }
            Err(atomics::CasError::StoreError(e)) => return Err(format!("{e:?}")),
        };
        let fin = bucket.get(key).map_err(|e| format!("{e:?}"))?;
        Ok(serde_json::json!({
            "stale_current": stale_current.map(|v| String::from_utf8_lossy(&v).into_owned()),
            "first": first,
            "fresh_current": fresh_current.map(|v| String::from_utf8_lossy(&v).into_owned()),
            "second": second,
            "final": fin.map(|v| String::from_utf8_lossy(&v).into_owned()),
        }))
    };
    match run() {
        Ok(v) => json(200, v),
        Err(e) => text(500, e),
    }
}

fn batch_roundtrip(label: &str) -> Response {
    let run = || -> Result<serde_json::Value, String> {
        let b = wkv::open(label).map_err(|e| format!("{e:?}"))?;
        batch::set_many(
            &b,
            &[
                ("b1".into(), b"one".to_vec()),
                ("b2".into(), b"two".to_vec()),
            ],
        )
        .map_err(|e| format!("{e:?}"))?;
        let got = batch::get_many(&b, &["b2".into(), "missing".into(), "b1".into()])
            .map_err(|e| format!("{e:?}"))?;
        batch::delete_many(&b, &["b1".into()]).map_err(|e| format!("{e:?}"))?;
        let after =
            batch::get_many(&b, &["b1".into(), "b2".into()]).map_err(|e| format!("{e:?}"))?;
        let show = |v: Vec<(String, Option<Vec<u8>>)>| -> serde_json::Value {
            v.into_iter()
                .map(|(k, v)| {
                    serde_json::json!([k, v.map(|b| String::from_utf8_lossy(&b).into_owned())])
                })
                .collect()
        };
        Ok(serde_json::json!({ "got": show(got), "after": show(after) }))
    };
    match run() {
        Ok(v) => json(200, v),
        Err(e) => text(500, e),
    }
}
