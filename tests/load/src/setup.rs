//! Before the run, through the admin API, what the app cannot guess: every channel's
//! SKU table (this run's codes → this run's SKUs), the SKUs stocked in a warehouse of
//! the generator's own, and rate limits high enough for the planned peak.

use anyhow::{bail, Context};
use hyper::Method;
use serde_json::{json, Value};

use crate::catalog::{RunIds, PRODUCTS};
use crate::channels::Channel;
use crate::http::{Http, Reply};

/// The generator's warehouse: one for every run (runs differ by SKU, and a catalog
/// that gained a warehouse per run would grow without end on a long-running app).
pub const WAREHOUSE: &str = "wh-load";

/// This run's SKU table for `channel`: code → entry, as `PUT /admin/channels/{id}/skus`
/// takes it (and `.../skus/{code}` one entry of it).
pub fn sku_map(run: &RunIds, channel: Channel) -> Value {
    let entries: serde_json::Map<String, Value> = PRODUCTS
        .iter()
        .map(|p| {
            (
                run.channel_sku(channel, p),
                json!({"sku": run.sku(p), "zone": p.zone, "unit_weight_g": p.weight_g,
                       "unit_volume_cm3": p.volume_cm3}),
            )
        })
        .collect();
    Value::Object(entries)
}

/// `catalog` (as `GET /admin/stock/catalog` answered) with the generator's warehouse in
/// it, and in every channel's warehouse list that names some: what other users of the
/// app configured stays as it was.
pub fn with_our_warehouse(mut catalog: Value) -> Value {
    if !catalog.is_object() {
        catalog = json!({});
    }
    let mut warehouses = catalog["warehouses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !warehouses.iter().any(|w| w["id"] == WAREHOUSE) {
        warehouses.push(json!({"id": WAREHOUSE, "name": "Load generator", "priority": 1}));
    }
    catalog["warehouses"] = Value::Array(warehouses);
    if let Some(channels) = catalog["channels"].as_object_mut() {
        for policy in channels.values_mut() {
            // `get_mut`, not indexing: indexing a policy without a list would add a null.
            if let Some(list) = policy.get_mut("warehouses").and_then(Value::as_array_mut) {
                if !list.iter().any(|w| w == WAREHOUSE) {
                    list.push(json!(WAREHOUSE));
                }
            }
        }
    } else {
        catalog["channels"] = json!({});
    }
    catalog
}

/// What the run needs the app to allow and hold.
pub struct Needs {
    /// The most pushes per second the run sends (to all channels together, so an
    /// upper bound for any one of them).
    pub peak_pushes_per_second: u64,
    /// Units of every SKU to stock.
    pub units: u64,
}

pub async fn prepare(http: &Http, token: &str, run: &RunIds, needs: &Needs) -> anyhow::Result<()> {
    let health = http
        .send(Method::GET, "/health", &[], Vec::new())
        .await
        .map_err(|e| anyhow::anyhow!("{}: no answer ({})", http.base(), e.label()))?;
    if !health.is_success() {
        bail!("{}/health answered {}", http.base(), health.status);
    }
    for channel in Channel::ALL {
        // One entry at a time (`.../skus/{code}`), so the channel's other SKUs, e.g. an
        // e2e run's on the same app, stay as they are.
        if let Value::Object(entries) = sku_map(run, channel) {
            for (code, entry) in &entries {
                let path = format!("/admin/channels/{channel}/skus/{code}");
                admin(http, token, Method::PUT, &path, Some(entry)).await?;
            }
        }
        raise_rate_limit(http, token, channel, needs.peak_pushes_per_second).await?;
    }
    let catalog = admin(http, token, Method::GET, "/admin/stock/catalog", None).await?;
    let catalog = with_our_warehouse(catalog);
    admin(
        http,
        token,
        Method::PUT,
        "/admin/stock/catalog",
        Some(&catalog),
    )
    .await?;
    for p in &PRODUCTS {
        let sku = run.sku(p);
        admin(
            http,
            token,
            Method::PUT,
            &format!("/admin/stock/skus/{sku}"),
            Some(&json!({})),
        )
        .await?;
        let adjust = json!({
            "sku": sku, "warehouse": WAREHOUSE, "change": {"set": needs.units},
            "reason": "stocktake", "reference": format!("load-{}-{}", run.token, p.code)
        });
        admin(
            http,
            token,
            Method::POST,
            "/admin/stock/adjust",
            Some(&adjust),
        )
        .await?;
    }
    Ok(())
}

/// Keep the channel's stored configuration and raise only its rate limit (never lower
/// one someone set higher).
async fn raise_rate_limit(
    http: &Http,
    token: &str,
    channel: Channel,
    per_second: u64,
) -> anyhow::Result<()> {
    let path = format!("/admin/channels/{channel}");
    let mut cfg = admin(http, token, Method::GET, &path, None).await?;
    let current = cfg["rate_limit"]["limit"].as_u64().unwrap_or(0);
    let window = cfg["rate_limit"]["window_seconds"]
        .as_u64()
        .unwrap_or(10)
        .max(1);
    // Twice the peak: the limiter's sliding estimate also counts part of the previous
    // window, so a limit of exactly rate × window refuses some of a steady stream.
    let wanted = per_second.max(1) * window * 2;
    if current >= wanted {
        return Ok(());
    }
    cfg["rate_limit"] = json!({"limit": wanted, "window_seconds": window});
    admin(http, token, Method::PUT, &path, Some(&cfg)).await?;
    Ok(())
}

async fn admin(
    http: &Http,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let what = format!("{method} {path}");
    let reply: Reply = http
        .admin(method, path, token, body)
        .await
        .map_err(|e| anyhow::anyhow!("{what}: no answer ({})", e.label()))?;
    if !reply.is_success() {
        bail!(
            "{what}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    reply.json().with_context(|| format!("{what}: not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_warehouse_joins_what_is_there() {
        let existing = json!({
            "warehouses": [{"id": "wh-north", "priority": 1}],
            "channels": {"meituan": {"accept_partial": false, "warehouses": ["wh-north"]},
                         "app": {"accept_partial": true}}
        });
        let merged = with_our_warehouse(existing);
        let ids: Vec<&str> = merged["warehouses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["wh-north", WAREHOUSE]);
        assert_eq!(
            merged["channels"]["meituan"]["warehouses"],
            json!(["wh-north", WAREHOUSE])
        );
        assert_eq!(merged["channels"]["meituan"]["accept_partial"], false);
        assert_eq!(merged["channels"]["app"], json!({"accept_partial": true}));
        // Idempotent: a second run adds nothing.
        assert_eq!(with_our_warehouse(merged.clone()), merged);
        // An app with no catalog yet.
        let fresh = with_our_warehouse(json!({"warehouses": []}));
        assert_eq!(fresh["warehouses"].as_array().unwrap().len(), 1);
        assert!(fresh["channels"].is_object());
    }

    #[test]
    fn every_channel_maps_every_product_to_this_runs_sku() {
        let run = RunIds::new(77);
        for channel in Channel::ALL {
            let map = sku_map(&run, channel);
            assert_eq!(map.as_object().unwrap().len(), PRODUCTS.len());
            let code = run.channel_sku(channel, &PRODUCTS[2]);
            assert_eq!(map[&code]["sku"], run.sku(&PRODUCTS[2]));
            assert_eq!(map[&code]["zone"], "chilled");
        }
    }
}
