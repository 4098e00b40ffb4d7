//! Incomplete orders fetched again (issue 15): the I/O of
//! `orderhub_core::channel::refetch`.
//!
//! - `POST /jobs/pipeline/refetch/{channel}` (scheduler, every minute): for each queued
//!   order still flagged `incomplete_data`, the platform's order detail (signed GET),
//!   read by the channel's own adapter and applied to the book like a push (then
//!   reserve/merge as for any batch); a failure counts, the last allowed one records
//!   `refetch_failed` for customer service.
//! - `PUT` / `GET /admin/channels/{id}/refetch`: where and as whom to fetch.

use chrono::Utc;
use orderhub_core::channel::catalog::{self, load_sku_map};
use orderhub_core::channel::refetch::{self, Finished, RefetchConfig};
use orderhub_core::channel::{normalize, ChannelEvent};
use orderhub_core::order::{book, ChannelId, EventSource, OrderId};
use orderhub_core::stats;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{invalid, json, ApiError};
use spin_sdk::http::{Method, Request, Response};

use crate::pipeline;

/// Orders one run looks at.
const PER_RUN: usize = 50;

pub fn put_config(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let config: RefetchConfig = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("unreadable_refetch_config", e.to_string()))?;
    let problems = config.problems();
    if !problems.is_empty() {
        return Ok(invalid(
            "invalid_refetch_config",
            "refetch config",
            &problems,
        ));
    }
    let store = Bucket::open("catalog")?;
    refetch::put_config(&store, id, &config)?;
    Ok(json(200, &config))
}

pub fn get_config(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    match refetch::load_config(&store, id)? {
        Some(config) => Ok(json(200, &config)),
        None => Err(ApiError::not_found(
            "refetch_not_configured",
            format!("no refetch for `{id}`: PUT /admin/channels/{id}/refetch"),
        )),
    }
}

#[derive(serde::Serialize, Default)]
struct Report {
    channel: String,
    /// `ran` or `not_configured`.
    outcome: &'static str,
    completed: Vec<OrderId>,
    failed: Vec<String>,
    gave_up: Vec<OrderId>,
}

pub async fn run(channel: &str) -> Result<Response, ApiError> {
    let channel = ChannelId::new(channel);
    let catalog_store = Bucket::open("catalog")?;
    let mut report = Report {
        channel: channel.0.clone(),
        outcome: "ran",
        ..Report::default()
    };
    let Some(config) = refetch::load_config(&catalog_store, &channel.0)? else {
        report.outcome = "not_configured";
        return Ok(json(200, &report));
    };
    let secret_var = format!("{}_secret", channel.0);
    let secret = spin_sdk::variables::get(&secret_var).unwrap_or_default();
    if secret.is_empty() {
        return Err(ApiError::new(
            409,
            "refetch_secret_missing",
            format!("the `{secret_var}` variable is not set for this component"),
        ));
    }
    let channel_config = catalog::load_config(&catalog_store, &channel.0)
        .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;
    let sku_map = load_sku_map(&catalog_store, &channel.0)
        .map_err(|e| ApiError::new(500, "sku_table_unreadable", e.to_string()))?;
    let orders = Bucket::open("orders")?;
    for id in refetch::pending(&orders, &channel, PER_RUN)? {
        let Some(order) = book::get_order(&orders, &id)? else {
            continue; // queued by an event ahead of its order: wait for the copy
        };
        if !refetch::is_incomplete(&order) {
            // A later push (or an earlier run) completed it.
            refetch::finish(&orders, &id, Finished::Completed)?;
            continue;
        }
        let now = Utc::now();
        let fetched = match fetch(&config, &secret, &order.channel_order_id).await {
            Ok(body) => refetch::detail_push(&channel, &id, &body, now).and_then(|push| {
                let events = normalize(&channel_config, &sku_map, &push, now)
                    .map_err(|e| format!("unreadable order detail: {e}"))?;
                let complete = events.iter().any(|e| {
                    matches!(e, ChannelEvent::Order { order } if order.id == id && !refetch::is_incomplete(order))
                });
                if complete {
                    Ok(events)
                } else {
                    Err("the platform's detail is still incomplete".to_string())
                }
            }),
            Err(e) => Err(e),
        };
        match fetched {
            Ok(mut events) => {
                catalog::flag_price_mismatches(&catalog_store, &channel.0, &mut events)
                    .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;
                let applied = book::apply_batch(&orders, &[&events])?;
                stats::add(&orders, &applied.stats)?;
                pipeline::run_batch(&orders, &events, &applied.orders, &applied.first_seen).await?;
                refetch::finish(&orders, &id, Finished::Completed)?;
                report.completed.push(id);
            }
            Err(why) => match refetch::failed(&orders, &id, &config, &why)? {
                Some(exception) => {
                    let source = EventSource::Component("refetch".into());
                    book::record_exception(&orders, &id, &exception, now, source)?;
                    report.gave_up.push(id);
                }
                None => report.failed.push(format!("{id}: {why}")),
            },
        }
    }
    Ok(json(200, &report))
}

/// The detail answer's body, or why there is none.
async fn fetch(config: &RefetchConfig, secret: &str, order_id: &str) -> Result<Vec<u8>, String> {
    let url = refetch::detail_call(config, secret, order_id, Utc::now());
    let request = Request::builder().method(Method::Get).uri(&url).build();
    let response: Response = spin_sdk::http::send(request)
        .await
        .map_err(|e| format!("{} unreachable: {e}", config.endpoint))?;
    if *response.status() != 200 {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response.body().to_vec())
}
