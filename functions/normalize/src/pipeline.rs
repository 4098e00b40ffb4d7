//! After a batch is stored, the next steps, one call per step for the whole batch:
//! reserve (`/reserve-batch`), shortages recorded on the orders, merge (`/offer-batch`),
//! and cancels/payments to reserve (`/settle-batch`). The contracts are the typed ones
//! in `orderhub_core::intake`; what to send where is decided there
//! (`plan_batch`, `after_reserve`).
//!
//! Best effort: the orders are stored, so a failed step only leaves them to the
//! catch-up job. An order is marked forwarded once merge decided on it; an order reserve
//! did not decide on is never offered to merge (so never dispatched without stock).

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use orderhub_core::channel::{refetch, ChannelEvent};
use orderhub_core::intake::{
    self, OfferAnswer, OfferBatch, ReserveBatch, ReserveDecision, SettleBatch, SettleReport,
};
use orderhub_core::order::{book, forwarding, EventSource, Order, OrderId};
use orderhub_shell::internal::post;
use orderhub_shell::kv::Bucket;
use orderhub_shell::ApiError;

/// What a batch's forwarding did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Forwarded {
    pub reserved: usize,
    pub offered: usize,
}

/// `stored` is every order of the batch as the book has it now, `first_seen` those it
/// saw for the first time (`book::apply_batch` returns both: no read-back).
pub async fn run_batch(
    orders: &Bucket,
    events: &[ChannelEvent],
    stored: &BTreeMap<OrderId, Order>,
    first_seen: &BTreeSet<OrderId>,
) -> Result<Forwarded, ApiError> {
    // Orders the platform flagged incomplete wait for the refetch job.
    if let Err(e) = refetch::queue_incomplete(orders, stored.values()) {
        eprintln!("normalize: refetch queue: {e}");
    }
    let plan = intake::plan_batch(events, stored);
    forwarding::mark_all_forwarded(orders, &plan.settled)?;
    let forwarded = forward(orders, plan.reserve, first_seen).await?;
    if !plan.settle.is_empty() {
        settle(&plan.settle).await;
    }
    Ok(forwarded)
}

/// Reserve, record shortages on the orders, offer the decided ones to merge, mark the
/// ones merge decided on. `first_seen`: orders never forwarded before (merge need not
/// look for an earlier placement of them).
pub async fn forward(
    orders: &Bucket,
    batch: Vec<Order>,
    first_seen: &BTreeSet<OrderId>,
) -> Result<Forwarded, ApiError> {
    if batch.is_empty() {
        return Ok(Forwarded::default());
    }
    let decisions: Vec<ReserveDecision> = post(
        "http://reserve.spin.internal/reserve-batch",
        &ReserveBatch {
            orders: batch.clone(),
        },
    )
    .await
    .unwrap_or_else(|e| {
        eprintln!("normalize: {e}");
        Vec::new()
    });
    let next = intake::after_reserve(&batch, &decisions);
    book::append_exceptions(
        orders,
        &next.exceptions,
        Utc::now(),
        EventSource::Component("reserve".into()),
    )?;
    let mut offered = 0;
    if !next.offer.is_empty() {
        let answers: Vec<OfferAnswer> = post(
            "http://merge.spin.internal/offer-batch",
            &OfferBatch {
                never_offered: next
                    .offer
                    .iter()
                    .filter(|o| first_seen.contains(&o.id))
                    .map(|o| o.id.clone())
                    .collect(),
                orders: next.offer.clone(),
            },
        )
        .await
        .unwrap_or_else(|e| {
            eprintln!("normalize: {e}");
            Vec::new()
        });
        let decided: Vec<OrderId> = answers
            .iter()
            .filter(|a| a.decision.is_some())
            .map(|a| a.order_id.clone())
            .collect();
        forwarding::mark_all_forwarded(orders, &decided)?;
        offered = decided.len();
    }
    Ok(Forwarded {
        reserved: batch.len() - next.undecided.len(),
        offered,
    })
}

async fn settle(batch: &SettleBatch) {
    match post::<_, SettleReport>("http://reserve.spin.internal/settle-batch", batch).await {
        Ok(report) => report
            .errors
            .iter()
            .for_each(|e| eprintln!("normalize: settle: {e}")),
        Err(e) => eprintln!("normalize: {e}"),
    }
}

/// How many orders one catch-up run forwards again, and how far it looks: bounded so a
/// run stays well inside a request's time.
const CATCH_UP_MAX: usize = 50;
const CATCH_UP_SCAN: usize = 1000;

/// Forward again every stored order that reserve or merge never answered for (they were
/// down, or the drainer died in between).
pub async fn catch_up(orders: &Bucket) -> Result<forwarding::Backlog, ApiError> {
    let backlog = forwarding::backlog(
        orders,
        CATCH_UP_MAX,
        CATCH_UP_SCAN,
        chrono::Duration::seconds(30),
        Utc::now(),
    )?;
    let (ended, live): (Vec<Order>, Vec<Order>) = book::get_orders(orders, &backlog.orders)?
        .into_iter()
        .partition(|o| o.status().is_terminal());
    let ended: Vec<OrderId> = ended.into_iter().map(|o| o.id).collect();
    forwarding::mark_all_forwarded(orders, &ended)?;
    forward(orders, live, &BTreeSet::new()).await?;
    Ok(backlog)
}
