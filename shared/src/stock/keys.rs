//! The key layout, in one place. `c` marks a counter (read with `increment(k, 0)`),
//! `v` a plain value written by exactly one caller.
//!
//! | key | kind | what |
//! |---|---|---|
//! | `stock:catalog` | v | [`StockCatalog`](super::StockCatalog) (admin) |
//! | `stock:catalog/version`, `stock:catalog/claim/{v}` | v / c | changes of the catalog, one writer per version ([`crate::store::update_json`]) |
//! | `stock:sku:{sku}` | v | [`SkuStock`](super::SkuStock) (admin) |
//! | `stock:oh:{sku}@{wh}` / `stock:rs:…` / `stock:sh:…` | c | on hand / reserved / shipped |
//! | `stock:res:{order}` | v | the [`Reservation`](super::Reservation) of the last attempt |
//! | `stock:res:{order}:claim` | c | attempt tickets |
//! | `stock:res:{order}:{attempt}:fate` | c | confirm (+1) / expire (+2^32) race |
//! | `stock:res:{order}:{attempt}:fate:won` | v | who won, written by the winner |
//! | `stock:res:{order}:{attempt}.{i}:out` / `:sh` | c | units of allocation i that left the hold / shipped |
//! | `stock:res:{order}:{attempt}:op:{kind}:{id}` (+`:r`) | c (v) | settle-request ticket (its stored result) |
//! | `stock:adj:{ref}` (+`:r`) | c (v) | adjustment ticket (its stored result) |
//! | `stock:exp:{minute}:n` / `:{slot}` | c / v | expiry bucket size / order id in a slot |
//! | `stock:exp:cursor` | v | first expiry bucket not yet fully swept |
//! | `stock:log:n` / `stock:log:{seq}` | c / v | journal (audit + outbox) length / one event; `seq` is also the sellable version |
//! | `stock:outbox:{channel}:cursor` / `:pushed:{sku}` | v | a channel drainer's position / last pushed version |
//! | `{base}:try:{g}` | v | [`OpIntent`](super::OpIntent) of generation `g` of a one-shot operation; `base` = `stock:res:{order}:{attempt}` (reserve attempt; a batch reserve writes a copy of its intent there), its settle ticket or adjustment ticket |
//! | `{base}:take:{g}` | c | takeover ticket: the first to claim it runs generation g+1 (g dead or undone) |
//! | `{base}:stall:{g}` | v | when a waiter first saw generation `g` claimed with no intent yet |
//! | `stock:res:{order}:{attempt}:ops` / `:ops:{k}` | c / v | settle/expire operations on the attempt / the intent key of the k-th |
//! | `stock:res:{order}:{attempt}:exp:{k}` | v | intent of an expiry (k-th operation on the attempt) |
//! | `stock:res:{order}:{attempt}:fix:{w}` | c | one repairer of the attempt's allocation counters per lease window |
//! | `stock:ops:{minute}:n` / `:{slot}` | c / v | intent index: how many filed in the minute an operation started / an intent key |
//! | `stock:ops:{minute}:{slot}:op` | v | intent of an adjustment without a reference, or of a batch reserve |
//! | `stock:ops:cursor` | v | first intent-index minute repair still has to look at |
//! | `stock:fix:dirty:n` / `:{n}` / `:cursor` | c / v / v | marks of SKU@warehouses to recount (one per mark) / one mark / first mark not yet handled |
//! | `stock:fix:{sku}@{wh}:dirty` / `:clean` | c / v | times marked for a recount / the mark count the last recount covered |
//! | `stock:fix:{sku}@{wh}:base` | v | recount checkpoint: counter totals of journal entries up to a sequence |
//! | `stock:fix:{sku}@{wh}:run:{w}` | c | one recounter per lease window |

use crate::order::{ChannelId, OrderId, SkuId};

use super::model::WarehouseId;

pub const CATALOG: &str = "stock:catalog";
pub const EXPIRY_CURSOR: &str = "stock:exp:cursor";
pub const LOG_LEN: &str = "stock:log:n";
pub const OP_CURSOR: &str = "stock:ops:cursor";
pub const DIRTY_LEN: &str = "stock:fix:dirty:n";
pub const DIRTY_CURSOR: &str = "stock:fix:dirty:cursor";

pub fn sku(sku: &SkuId) -> String {
    format!("stock:sku:{}", sku.0)
}
pub fn on_hand(sku: &SkuId, wh: &WarehouseId) -> String {
    format!("stock:oh:{}@{}", sku.0, wh.0)
}
pub fn reserved(sku: &SkuId, wh: &WarehouseId) -> String {
    format!("stock:rs:{}@{}", sku.0, wh.0)
}
pub fn shipped(sku: &SkuId, wh: &WarehouseId) -> String {
    format!("stock:sh:{}@{}", sku.0, wh.0)
}
pub fn reservation(order: &OrderId) -> String {
    format!("stock:res:{}", order.0)
}
pub fn claim(order: &OrderId) -> String {
    format!("stock:res:{}:claim", order.0)
}
pub fn fate(order: &OrderId, attempt: u32) -> String {
    format!("stock:res:{}:{attempt}:fate", order.0)
}
pub fn fate_winner(order: &OrderId, attempt: u32) -> String {
    format!("stock:res:{}:{attempt}:fate:won", order.0)
}
/// Allocation counters are per attempt as well, so a refused attempt's index reuse
/// cannot collide with a later one's.
pub fn alloc_out(order: &OrderId, attempt: u32, index: usize) -> String {
    format!("stock:res:{}:{attempt}.{index}:out", order.0)
}
pub fn alloc_shipped(order: &OrderId, attempt: u32, index: usize) -> String {
    format!("stock:res:{}:{attempt}.{index}:sh", order.0)
}
/// Per attempt too: a cancel of a refused attempt must not answer for a later one.
pub fn op_ticket(order: &OrderId, attempt: u32, kind: &str, op_id: &str) -> String {
    format!("stock:res:{}:{attempt}:op:{kind}:{op_id}", order.0)
}
pub fn op_result(order: &OrderId, attempt: u32, kind: &str, op_id: &str) -> String {
    format!("stock:res:{}:{attempt}:op:{kind}:{op_id}:r", order.0)
}
/// Per (document, SKU, warehouse): one WMS document adjusts many lines.
pub fn adjust_ticket(reference: &str, sku: &SkuId, warehouse: &WarehouseId) -> String {
    format!("stock:adj:{reference}:{}@{}", sku.0, warehouse.0)
}
pub fn adjust_result(reference: &str, sku: &SkuId, warehouse: &WarehouseId) -> String {
    format!("stock:adj:{reference}:{}@{}:r", sku.0, warehouse.0)
}
pub fn expiry_len(bucket: i64) -> String {
    format!("stock:exp:{bucket}:n")
}
pub fn expiry_slot(bucket: i64, slot: i64) -> String {
    format!("stock:exp:{bucket}:{slot}")
}
pub fn log_entry(seq: i64) -> String {
    format!("stock:log:{seq}")
}
pub fn outbox_cursor(channel: &ChannelId) -> String {
    format!("stock:outbox:{}:cursor", channel.0)
}
pub fn outbox_pushed(channel: &ChannelId, sku: &SkuId) -> String {
    format!("stock:outbox:{}:pushed:{}", channel.0, sku.0)
}

/// Where a reserve attempt's intents live (`{base}:try:{g}`).
pub fn attempt_base(order: &OrderId, attempt: u32) -> String {
    format!("stock:res:{}:{attempt}", order.0)
}
pub fn op_try(base: &str, generation: u32) -> String {
    format!("{base}:try:{generation}")
}
pub fn op_take(base: &str, generation: u32) -> String {
    format!("{base}:take:{generation}")
}
pub fn op_stall(base: &str, generation: u32) -> String {
    format!("{base}:stall:{generation}")
}
pub fn attempt_ops_len(order: &OrderId, attempt: u32) -> String {
    format!("stock:res:{}:{attempt}:ops", order.0)
}
pub fn attempt_op(order: &OrderId, attempt: u32, k: i64) -> String {
    format!("stock:res:{}:{attempt}:ops:{k}", order.0)
}
pub fn expire_intent(order: &OrderId, attempt: u32, k: i64) -> String {
    format!("stock:res:{}:{attempt}:exp:{k}", order.0)
}
pub fn attempt_fix(order: &OrderId, attempt: u32) -> String {
    format!("stock:res:{}:{attempt}:fix", order.0)
}
pub fn op_index_len(bucket: i64) -> String {
    format!("stock:ops:{bucket}:n")
}
pub fn op_index_slot(bucket: i64, slot: i64) -> String {
    format!("stock:ops:{bucket}:{slot}")
}
pub fn op_in_slot(bucket: i64, slot: i64) -> String {
    format!("stock:ops:{bucket}:{slot}:op")
}
/// `place` is `sku@warehouse`.
pub fn place_dirty(place: &str) -> String {
    format!("stock:fix:{place}:dirty")
}
pub fn place_clean(place: &str) -> String {
    format!("stock:fix:{place}:clean")
}
pub fn place_base(place: &str) -> String {
    format!("stock:fix:{place}:base")
}
pub fn place_run(place: &str) -> String {
    format!("stock:fix:{place}:run")
}
pub fn dirty_slot(n: i64) -> String {
    format!("stock:fix:dirty:{n}")
}
