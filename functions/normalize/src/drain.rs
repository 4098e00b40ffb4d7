//! Draining the intake inbox: one tick's pushes as one batch through the pipeline.

use std::time::Duration;

use chrono::Utc;
use orderhub_core::channel::ChannelEvent;
use orderhub_core::intake::{self, Claimed, DrainReport, DrainRequest, InboxItem};
use orderhub_core::order::book;
use orderhub_core::stats;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

use crate::pipeline;

/// Ticks one catch-up run drains, and ticks it looks at: bounded so a run stays well
/// inside a request's time (a minute of ticks is 600).
const SWEEP_DRAINS: usize = 200;
const SWEEP_SCAN: usize = 3_000;

/// How long a drainer waits for slots allocated but not yet written.
const STRAGGLER_WAIT: Duration = Duration::from_secs(5);

fn take_items(batch: &mut intake::TickBatch) -> Vec<InboxItem> {
    std::mem::take(&mut batch.items)
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

/// `POST /drain` (private).
pub async fn drain(req: &Request) -> Result<Response, ApiError> {
    let DrainRequest { tick } = serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request("unreadable_drain_request", e.to_string()))?;
    Ok(json(200, &drain_tick(tick).await?))
}

pub async fn drain_tick(tick: i64) -> Result<DrainReport, ApiError> {
    let inbox = Bucket::open("ingest")?;
    let skipped = |why: &str| DrainReport {
        tick,
        skipped: Some(why.into()),
        ..DrainReport::default()
    };
    let mut batch = match intake::claim(&inbox, tick, Utc::now())? {
        Claimed::Mine(batch) => batch,
        Claimed::NotDue => return Ok(skipped("not_due")),
        Claimed::Busy => return Ok(skipped("busy")),
        Claimed::Drained => return Ok(skipped("drained")),
    };
    for (slot, e) in &batch.unreadable {
        eprintln!("normalize: inbox item {tick}/{slot} unreadable, skipped: {e}");
    }
    let mut drained = batch.items.len();
    let mut forwarded = apply(&take_items(&mut batch)).await?;
    // A writer between its slot and its write (a busy store can hold it there for a
    // second): wait for it, and run what arrives as a batch of its own; after a few
    // seconds the slot is left to the next drain (the sweep's, or a later one).
    let waited = std::time::Instant::now();
    while !batch.missing.is_empty() && waited.elapsed() < STRAGGLER_WAIT {
        std::thread::sleep(Duration::from_millis(25));
        intake::reread_missing(&inbox, &mut batch)?;
        if !batch.items.is_empty() {
            drained += batch.items.len();
            let more = apply(&take_items(&mut batch)).await?;
            forwarded.reserved += more.reserved;
            forwarded.offered += more.offered;
        }
    }
    intake::finish(&inbox, &batch, drained + batch.unreadable.len(), Utc::now())?;
    Ok(DrainReport {
        tick,
        skipped: None,
        items: drained,
        reserved: forwarded.reserved,
        offered: forwarded.offered,
        missing: batch.missing,
    })
}

/// Apply the batch's pushes to the order book (listed, indexed and counted in the
/// same pass), then run the steps after (reserve, merge) once for the whole batch.
async fn apply(items: &[InboxItem]) -> Result<pipeline::Forwarded, ApiError> {
    let catalog_store = Bucket::open("catalog")?;
    let orders = Bucket::open("orders")?;
    let pushes = intake::prepare_batch(&catalog_store, items)
        .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;
    let batch: Vec<&[ChannelEvent]> = pushes.iter().map(Vec::as_slice).collect();
    let applied = book::apply_batch(&orders, &batch)?;
    stats::add(&orders, &applied.stats)?;
    let all: Vec<ChannelEvent> = pushes.into_iter().flatten().collect();
    pipeline::run_batch(&orders, &all, &applied.orders, &applied.first_seen).await
}

/// `POST /jobs/pipeline/catch-up`: drain the ticks the sweep finds (a drainer died, or a
/// slot was written after its tick was drained), then forward again the stored orders
/// reserve or merge never answered for.
pub async fn catch_up() -> Result<Response, ApiError> {
    let inbox = Bucket::open("ingest")?;
    let plan = intake::sweep(&inbox, Utc::now(), SWEEP_SCAN)?;
    let mut drained = Vec::new();
    for tick in plan.due.iter().take(SWEEP_DRAINS) {
        drained.push(drain_tick(*tick).await?);
    }
    let orders = Bucket::open("orders")?;
    let forwarded = pipeline::catch_up(&orders).await?;
    Ok(json(
        200,
        &serde_json::json!({ "inbox": plan, "drained": drained, "forwarded": forwarded }),
    ))
}

/// `GET /jobs/pipeline/intake[?tick=]`.
pub fn intake(req: &Request) -> Result<Response, ApiError> {
    let inbox = Bucket::open("ingest")?;
    let tick = req
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("tick="))
        .map(|t| {
            t.parse::<i64>()
                .map_err(|e| ApiError::bad_request("bad_tick", e.to_string()))
        })
        .transpose()?;
    match tick {
        Some(tick) => Ok(json(200, &intake::tick_status(&inbox, tick)?)),
        None => {
            // Move the cursor over what is drained first, so a poll scans the last half
            // minute or so, not everything since the last scheduled sweep.
            intake::sweep(&inbox, Utc::now(), SWEEP_SCAN)?;
            Ok(json(200, &intake::status(&inbox, Utc::now(), SWEEP_SCAN)?))
        }
    }
}
