//! One dispatch call over a station's board, and its effects: committed routes,
//! `Dispatched` events and stock commits for assigned parcels, exceptions for
//! impossible ones. Every call runs with the station's configuration
//! (`PUT /admin/dispatch/config?station=`, else the app-wide one, else the default).

use chrono::Utc;
use orderhub_core::dispatch::state::{self, BoardError, BoardParcel, ReadyParcel};
use orderhub_core::dispatch::{
    dispatch, Assignment, Deadline, DispatchConfig, Haversine, Plan, Problem, SilentRelease,
    Station, Unassignable,
};
use orderhub_core::order::{book, EventKind, EventSource, OrderEvent, OrderException, OrderId};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};

use crate::clock;

#[derive(Clone, Serialize)]
pub struct Exception {
    pub parcel: String,
    pub order_ids: Vec<OrderId>,
    pub reason: Unassignable,
    pub exception: OrderException,
}

#[derive(Serialize)]
pub struct Outcome {
    pub station: Station,
    #[serde(flatten)]
    pub plan: Plan,
    pub exceptions: Vec<Exception>,
    /// Riders silent too long whose unpicked parcels the tick gave back (tick only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub silent_released: Vec<SilentRelease>,
    /// Wall time of the core call alone, microseconds.
    pub dispatch_micros: u64,
}

/// Several stations' runs in one answer: every station's outcome, and their
/// assignments, exceptions and releases side by side.
#[derive(Serialize)]
pub struct Combined {
    pub assignments: Vec<Assignment>,
    pub exceptions: Vec<Exception>,
    pub silent_released: Vec<SilentRelease>,
    pub stations: Vec<Outcome>,
}

/// One station's outcome as it is; several combined.
fn answer(mut outcomes: Vec<Outcome>) -> Response {
    if outcomes.len() == 1 {
        if let Some(one) = outcomes.pop() {
            return json(200, &one);
        }
    }
    let mut all = Combined {
        assignments: Vec::new(),
        exceptions: Vec::new(),
        silent_released: Vec::new(),
        stations: Vec::new(),
    };
    for o in outcomes {
        all.assignments.extend(o.plan.assignments.iter().cloned());
        all.exceptions.extend(o.exceptions.iter().cloned());
        all.silent_released
            .extend(o.silent_released.iter().cloned());
        all.stations.push(o);
    }
    json(200, &all)
}

/// A board error as an answer: bad input is a 400 with the core's code.
pub fn board_error(e: BoardError) -> ApiError {
    match e {
        BoardError::Store(s) => ApiError::store(s),
        BoardError::NoPosition(_) => ApiError::bad_request("position_required", e.to_string()),
        BoardError::UnknownRider(_) => ApiError::not_found("unknown_rider", e.to_string()),
        BoardError::Invalid(d) => ApiError::bad_request(d.code(), d.to_string()),
        BoardError::Busy { .. } => ApiError::new(409, "rider_busy", e.to_string()),
    }
}

/// A `?station=` that is no station id is a 400.
pub fn station_of_query(query: &str) -> Result<Station, ApiError> {
    Station::from_query(query).map_err(|e| ApiError::bad_request("bad_station", e.to_string()))
}

/// `POST /parcels`: a JSON list of parcels ready for dispatch; each station they are
/// at runs once.
pub async fn ready_parcels(body: &[u8]) -> Result<Response, ApiError> {
    let ready: Vec<ReadyParcel> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("unreadable_parcels", e.to_string()))?;
    let store = Bucket::open("dispatch")?;
    let mut stations = state::add_parcels(&store, &ready).map_err(board_error)?;
    if stations.is_empty() {
        stations.push(Station::default());
    }
    let mut outcomes = Vec::with_capacity(stations.len());
    for station in &stations {
        let config = state::load_config_at(&store, station)?;
        let (problem, board) = state::problem_at(&store, station, clock::now_secs(), &config)?;
        outcomes.push(redispatch(&store, station, &config, problem, &board).await?);
    }
    Ok(answer(outcomes))
}

/// `POST /jobs/dispatch/tick[?station=]`: give back the unpicked parcels of riders
/// silent too long, then re-plan every open parcel with the riders' latest reports; at
/// the named station, else at every station.
pub async fn tick(query: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("dispatch")?;
    let named = query.split('&').any(|kv| kv.starts_with("station="));
    let stations = if named {
        vec![station_of_query(query)?]
    } else {
        state::stations(&store)?
    };
    let mut outcomes = Vec::with_capacity(stations.len());
    for station in &stations {
        let config = state::load_config_at(&store, station)?;
        let (mut problem, board) = state::problem_at(&store, station, clock::now_secs(), &config)?;
        let released = state::release_silent_riders(&store, &mut problem, &config)?;
        let mut outcome = redispatch(&store, station, &config, problem, &board).await?;
        outcome.silent_released = released;
        outcomes.push(outcome);
    }
    Ok(answer(outcomes))
}

/// Run the core on `station`'s `problem` under the wall-clock budget and apply the plan.
pub async fn redispatch(
    store: &Bucket,
    station: &Station,
    config: &DispatchConfig,
    mut problem: Problem,
    board: &[BoardParcel],
) -> Result<Outcome, ApiError> {
    let started = clock::now_micros();
    let mut budget = Deadline::after_millis(clock::now_micros, config.budget_millis);
    let plan = dispatch(&problem, config, &Haversine::default(), &mut budget)
        .map_err(|e| ApiError::new(422, e.code(), e.to_string()))?;
    let dispatch_micros = clock::now_micros().saturating_sub(started);
    state::save_plan_at(store, station, &mut problem, board, &plan, config)?;

    let orders = Bucket::open("orders")?;
    let orders_of = |parcel: &str| -> Vec<OrderId> {
        board
            .iter()
            .find(|b| b.ready.parcel.id.0 == parcel)
            .map(|b| b.ready.order_ids.clone())
            .unwrap_or_default()
    };
    for a in &plan.assignments {
        for order in orders_of(&a.parcel.0) {
            let event = OrderEvent {
                // A re-dispatch to another rider is a new event; a repeat is not.
                key: format!("dispatched:{}:{}", a.parcel, a.rider),
                kind: EventKind::Dispatched {
                    rider_id: a.rider.0.clone(),
                    parcel_id: a.parcel.0.clone(),
                },
                at: Utc::now(),
                source: EventSource::Component("dispatch".into()),
            };
            book::record_event(&orders, &order, &event)?;
            // Exactly this parcel's units of the order, when the merge step said which
            // (an order split over parcels ships with each of them); else all of it.
            let lines: Vec<serde_json::Value> = board
                .iter()
                .find(|b| b.ready.parcel.id == a.parcel)
                .map(|b| {
                    b.ready
                        .lines
                        .iter()
                        .filter(|l| l.order_id == order)
                        .map(
                            |l| serde_json::json!({ "line_no": l.line_no, "quantity": l.quantity }),
                        )
                        .collect()
                })
                .unwrap_or_default();
            commit_stock(&order, &format!("dispatch:{}", a.parcel), &lines).await;
        }
    }
    let mut exceptions = Vec::new();
    for u in &plan.unassigned {
        let Some(exception) = u.reason.to_exception(&u.parcel) else {
            continue;
        };
        let order_ids = orders_of(&u.parcel.0);
        for order in &order_ids {
            book::record_exception(
                &orders,
                order,
                &exception,
                Utc::now(),
                EventSource::Component("dispatch".into()),
            )?;
        }
        exceptions.push(Exception {
            parcel: u.parcel.0.clone(),
            order_ids,
            reason: u.reason.clone(),
            exception,
        });
    }
    Ok(Outcome {
        station: station.clone(),
        plan,
        exceptions,
        silent_released: Vec::new(),
        dispatch_micros,
    })
}

/// Best effort: the reservation stays held if reserve is down or does not know the
/// order; its own expiry and reconciliation deal with it, dispatch must not fail.
async fn commit_stock(order: &OrderId, op_id: &str, lines: &[serde_json::Value]) {
    let mut body = serde_json::json!({ "order_id": order, "op_id": op_id });
    if !lines.is_empty() {
        body["lines"] = serde_json::Value::Array(lines.to_vec());
    }
    let body = body.to_string();
    let req = Request::builder()
        .method(Method::Post)
        .uri("http://reserve.spin.internal/commit")
        .header("content-type", "application/json")
        .body(body.into_bytes())
        .build();
    match spin_sdk::http::send::<_, Response>(req).await {
        Ok(resp) if *resp.status() == 200 => {}
        Ok(resp) => eprintln!(
            "dispatch: reserve commit {order} answered {}",
            resp.status()
        ),
        Err(e) => eprintln!("dispatch: reserve commit {order} unreachable: {e}"),
    }
}
