//! `/admin/stock/...` (admin token): the stock configuration, WMS adjustments, reads and
//! the channel outbox. Every write is validated by the core before anything is stored,
//! so a 4xx means nothing changed.

use chrono::Utc;
use orderhub_core::order::{ChannelId, OrderId, SkuId};
use orderhub_core::stock::{
    ack_outbox, audit_log, audit_log_of, drain_outbox, AdjustRequest, ChannelPolicy, OutboxBatch,
    ReservationLedger, ReserveRequest, SkuStock, StockCatalog, Warehouse, WarehouseId,
};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Params, Request, Response};

use crate::{body, stock_error};

const MAX_PAGE: usize = 500;

fn param<'p>(params: &'p Params, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_parameter", format!("`{name}` is required")))
}

/// `?name=N` from the query string, `default` when absent; a non-number is a 400.
fn query_number(req: &Request, name: &str, default: i64) -> Result<i64, ApiError> {
    let value = req
        .query()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v);
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request("bad_parameter", format!("`{name}` must be a number"))
        }),
    }
}

fn open() -> Result<Bucket, ApiError> {
    Ok(Bucket::open("stock")?)
}

pub fn get_catalog(_: &Request, _: &Params) -> Result<Response, ApiError> {
    let store = open()?;
    let catalog = ReservationLedger::new(&store)
        .catalog()
        .map_err(stock_error)?;
    Ok(json(200, &catalog))
}

pub fn put_catalog(req: &Request, _: &Params) -> Result<Response, ApiError> {
    let catalog: StockCatalog = body(req, "catalog")?;
    let store = open()?;
    ReservationLedger::new(&store)
        .put_catalog(&catalog, &mut orderhub_shell::wait::patience())
        .map_err(stock_error)?;
    Ok(json(200, &catalog))
}

/// `PUT /admin/stock/warehouses/{id}` with `{"name", "location", "priority"}`: adds the
/// warehouse or replaces the one with that id; every other warehouse and policy stays.
pub fn put_warehouse(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = WarehouseId::new(param(params, "warehouse")?);
    let mut value: serde_json::Value = if req.body().is_empty() {
        serde_json::json!({})
    } else {
        body(req, "warehouse")?
    };
    if let Some(obj) = value.as_object_mut() {
        obj.insert("id".into(), serde_json::json!(id));
    }
    let warehouse: Warehouse = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("unreadable_warehouse", e.to_string()))?;
    let store = open()?;
    ReservationLedger::new(&store)
        .put_warehouse(&warehouse, &mut orderhub_shell::wait::patience())
        .map_err(stock_error)?;
    Ok(json(200, &warehouse))
}

/// `PUT /admin/stock/channels/{channel}` with a channel policy: that channel's alone.
pub fn put_channel_policy(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = ChannelId::new(param(params, "channel")?);
    let policy: ChannelPolicy = body(req, "channel_policy")?;
    let store = open()?;
    ReservationLedger::new(&store)
        .put_channel_policy(&channel, &policy, &mut orderhub_shell::wait::patience())
        .map_err(stock_error)?;
    Ok(json(
        200,
        &serde_json::json!({ "channel": channel, "policy": policy }),
    ))
}

/// `PUT /admin/stock/skus/{sku}` with `{"safety": {"wh": n}}` (body optional): the SKU
/// named by the path, whatever the body says.
pub fn define_sku(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let sku = SkuId(param(params, "sku")?.to_string());
    let mut item = if req.body().is_empty() {
        SkuStock::new(sku.clone())
    } else {
        let mut value: serde_json::Value = body(req, "sku")?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("sku".into(), serde_json::json!(sku));
        }
        serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request("unreadable_sku", e.to_string()))?
    };
    item.sku = sku;
    let store = open()?;
    ReservationLedger::new(&store)
        .define_sku(&item)
        .map_err(stock_error)?;
    Ok(json(200, &item))
}

/// A WMS update (`{"delta": n}`) or stocktake (`{"set": n}`); a retry with the same
/// `reference` is answered, not applied twice.
pub fn adjust(req: &Request, _: &Params) -> Result<Response, ApiError> {
    let request: AdjustRequest = body(req, "adjustment")?;
    let store = open()?;
    let outcome = ReservationLedger::new(&store)
        .adjust(&request, Utc::now())
        .map_err(stock_error)?;
    Ok(json(200, &outcome))
}

/// Reserve straight from a `ReserveRequest` (`order`, `channel`, `lines`), for
/// operators (manual orders, replaying a stuck order) and for load tests. A webhook
/// would also run signature checks, normalization and the merge step; those have their
/// own tests, and going through them here would measure them instead of the ledger's
/// contention on one SKU. Same core call and same answer as the private `/reserve`;
/// the admin token keeps it from being a way around auth.
pub fn reserve(req: &Request, _: &Params) -> Result<Response, ApiError> {
    let request: ReserveRequest = body(req, "reserve_request")?;
    crate::orders::reserve_request(&request)
}

/// Manual dispatch or cancel by an operator (a stuck order): the private contract's
/// bodies and answers, behind the admin token.
pub fn commit(req: &Request, _: &Params) -> Result<Response, ApiError> {
    crate::orders::commit(req)
}

pub fn release(req: &Request, _: &Params) -> Result<Response, ApiError> {
    crate::orders::release(req)
}

pub fn level(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let sku = SkuId(param(params, "sku")?.to_string());
    let warehouse = WarehouseId::new(param(params, "warehouse")?);
    let store = open()?;
    let level = ReservationLedger::new(&store)
        .level(&sku, &warehouse)
        .map_err(stock_error)?;
    Ok(json(
        200,
        &serde_json::json!({
            "sku": sku,
            "warehouse": warehouse,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "shipped": level.shipped,
            "safety": level.safety,
            "available": level.available(),
        }),
    ))
}

pub fn sellable(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let sku = SkuId(param(params, "sku")?.to_string());
    let store = open()?;
    let channels = ReservationLedger::new(&store)
        .sellable(&sku)
        .map_err(stock_error)?;
    Ok(json(
        200,
        &serde_json::json!({ "sku": sku, "channels": channels }),
    ))
}

pub fn reservation(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let order = OrderId(param(params, "order")?.to_string());
    let store = open()?;
    let view = ReservationLedger::new(&store)
        .reservation(&order)
        .map_err(stock_error)?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_reservation",
                format!("no reservation for order `{}`", order.0),
            )
        })?;
    Ok(json(200, &view))
}

/// `GET /admin/stock/audit?from=1&limit=100[&sku=S]`: the audit log, oldest first;
/// with `sku`, only the entries of that range that changed it.
pub fn audit(req: &Request, _: &Params) -> Result<Response, ApiError> {
    let from = query_number(req, "from", 1)?;
    let limit = page_size(req)?;
    let sku = req
        .query()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "sku")
        .map(|(_, v)| SkuId(v.to_string()));
    let store = open()?;
    let events = match sku {
        Some(sku) => audit_log_of(&store, &sku, from, limit),
        None => audit_log(&store, from, limit),
    }
    .map_err(stock_error)?;
    Ok(json(200, &events))
}

fn page_size(req: &Request) -> Result<usize, ApiError> {
    let limit = query_number(req, "limit", 100)?;
    usize::try_from(limit)
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request("bad_parameter", format!("`limit` must be 1 to {MAX_PAGE}"))
        })
}

/// The sellable quantities a channel has not been sent yet. Draining moves nothing:
/// the pusher acks the batch (`/ack`) once the platform took it.
pub fn drain(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = ChannelId::new(param(params, "channel")?);
    let limit = page_size(req)?;
    let store = open()?;
    let batch = drain_outbox(&store, &channel, limit, Utc::now()).map_err(stock_error)?;
    Ok(json(200, &batch))
}

pub fn ack(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = ChannelId::new(param(params, "channel")?);
    let batch: OutboxBatch = body(req, "outbox_batch")?;
    if batch.channel != channel {
        return Err(ApiError::bad_request(
            "channel_mismatch",
            format!("batch is for `{}`, not `{}`", batch.channel.0, channel.0),
        ));
    }
    let store = open()?;
    ack_outbox(&store, &batch).map_err(stock_error)?;
    Ok(json(
        200,
        &serde_json::json!({ "channel": channel, "cursor": batch.next_cursor }),
    ))
}
