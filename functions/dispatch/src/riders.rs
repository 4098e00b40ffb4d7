//! The rider app's routes: reports, accept/reject, a rider's state and route, and the
//! operator's "why rider A and not B".

use chrono::Utc;
use orderhub_core::dispatch::state::{self, Progress, RiderReport};
use orderhub_core::dispatch::{explain as core_explain, Haversine, ParcelId, RiderId};
use orderhub_core::order::{book, EventKind, EventSource, OrderEvent};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use serde::Deserialize;
use spin_sdk::http::Response;

use crate::clock;
use crate::run::{self, board_error};

#[derive(Deserialize)]
struct Parcels {
    parcels: Vec<ParcelId>,
}

fn rider_id(id: &str) -> Result<RiderId, ApiError> {
    if id.is_empty() || id.contains('/') {
        return Err(ApiError::bad_request("bad_rider_id", "rider id missing"));
    }
    Ok(RiderId(id.to_string()))
}

/// `POST /riders/{id}/report`: position, shift end, capacity, capabilities, online.
/// Going offline hands the rider's not-yet-picked parcels to the others at once.
pub async fn report(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let id = rider_id(id)?;
    let report: RiderReport = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("unreadable_report", e.to_string()))?;
    let store = Bucket::open("dispatch")?;
    let station = state::report_station(&store, &id, &report)?;
    let config = state::load_config_at(&store, &station)?;
    let now = clock::now_secs();
    let (rider, progress) =
        state::report_rider(&store, &id, &report, &config, now).map_err(board_error)?;
    record_progress(&store, &id, &progress)?;
    if rider.online {
        return Ok(json(
            200,
            &serde_json::json!({ "rider": rider, "station": station }),
        ));
    }
    let (mut problem, board) = state::problem_at(&store, &station, now, &config)?;
    let released = state::release(&store, &mut problem, &id, None).map_err(board_error)?;
    let outcome = run::redispatch(&store, &station, &config, problem, &board).await?;
    Ok(json(
        200,
        &serde_json::json!({
            "rider": id, "reopened": released.reopened, "stranded": released.stranded,
            "redispatch": outcome,
        }),
    ))
}

/// `PickedUp` / `Delivered` on the orders of the parcels the report moved.
fn record_progress(store: &Bucket, rider: &RiderId, done: &Progress) -> Result<(), ApiError> {
    if done.picked_up.is_empty() && done.delivered.is_empty() {
        return Ok(());
    }
    let orders = Bucket::open("orders")?;
    let steps = done
        .picked_up
        .iter()
        .map(|p| (p, "picked_up", EventKind::PickedUp))
        .chain(
            done.delivered
                .iter()
                .map(|p| (p, "delivered", EventKind::Delivered)),
        );
    for (parcel, slug, kind) in steps {
        for order in state::orders_of(store, parcel)? {
            let event = OrderEvent {
                key: format!("{slug}:{parcel}"),
                kind: kind.clone(),
                at: Utc::now(),
                source: EventSource::Component(format!("rider:{rider}")),
            };
            book::record_event(&orders, &order, &event)?;
        }
    }
    Ok(())
}

/// `POST /riders/{id}/reject` `{"parcels": [..]}`: never offered to this rider again.
pub async fn reject(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let id = rider_id(id)?;
    let Parcels { parcels } = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("unreadable_reject", e.to_string()))?;
    let store = Bucket::open("dispatch")?;
    let station = state::rider_station(&store, &id)?;
    let config = state::load_config_at(&store, &station)?;
    let (mut problem, board) = state::problem_at(&store, &station, clock::now_secs(), &config)?;
    let released =
        state::release(&store, &mut problem, &id, Some(&parcels)).map_err(board_error)?;
    let outcome = run::redispatch(&store, &station, &config, problem, &board).await?;
    Ok(json(
        200,
        &serde_json::json!({
            "rider": id, "reopened": released.reopened, "stranded": released.stranded,
            "redispatch": outcome,
        }),
    ))
}

/// `POST /riders/{id}/accept` `{"parcels": [..]}`: confirms parcels on the rider's route;
/// a parcel not (or no longer) theirs is refused so the app can drop it.
pub fn accept(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let id = rider_id(id)?;
    let Parcels { parcels } = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("unreadable_accept", e.to_string()))?;
    let store = Bucket::open("dispatch")?;
    let config = state::load_config_at(&store, &state::rider_station(&store, &id)?)?;
    let rider = state::get_rider(&store, &id, &config, clock::now_secs())?
        .ok_or_else(|| ApiError::not_found("unknown_rider", format!("unknown rider `{id}`")))?;
    let (accepted, refused): (Vec<ParcelId>, Vec<ParcelId>) = parcels
        .into_iter()
        .partition(|p| rider.route.iter().any(|s| &s.parcel == p) || rider.onboard.contains(p));
    Ok(json(
        200,
        &serde_json::json!({ "rider": id, "accepted": accepted, "not_yours": refused }),
    ))
}

/// `GET /riders/{id}`: the rider's last report and planned route (its station's last
/// plan), and what the tick released if the rider has been silent too long.
pub fn show(id: &str) -> Result<Response, ApiError> {
    let id = rider_id(id)?;
    let store = Bucket::open("dispatch")?;
    let station = state::rider_station(&store, &id)?;
    let config = state::load_config_at(&store, &station)?;
    let rider = state::get_rider(&store, &id, &config, clock::now_secs())?
        .ok_or_else(|| ApiError::not_found("unknown_rider", format!("unknown rider `{id}`")))?;
    let plan = state::last_plan_at(&store, &station)?.map(|last| last.plan);
    let route = plan
        .as_ref()
        .and_then(|p| p.routes.iter().find(|r| r.rider == id).cloned());
    let assignments: Vec<_> = plan
        .iter()
        .flat_map(|p| p.assignments.iter().filter(|a| a.rider == id).cloned())
        .collect();
    // Why a silent rider's route shrank, if the tick released it during this silence.
    let silent_release = state::silent_release(&store, &id, rider.position_at)?;
    Ok(json(
        200,
        &serde_json::json!({
            "rider": rider, "station": station, "route": route, "assignments": assignments,
            "silent_release": silent_release,
        }),
    ))
}

/// `GET /riders/explain?parcel=P&a=A&b=B[&station=S]`, against the last plan of the
/// parcel's station (or the one named).
pub fn explain(query: &str) -> Result<Response, ApiError> {
    let param = |name: &str| -> Result<String, ApiError> {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request("missing_parameter", format!("`{name}` required")))
    };
    let (parcel, a, b) = (
        ParcelId(param("parcel")?),
        RiderId(param("a")?),
        RiderId(param("b")?),
    );
    let store = Bucket::open("dispatch")?;
    let station = if query.split('&').any(|kv| kv.starts_with("station=")) {
        run::station_of_query(query)?
    } else {
        state::station_of_parcel(&store, &parcel)?.unwrap_or_default()
    };
    // Replayed with the config the plan was made with, not today's.
    let last = state::last_plan_at(&store, &station)?
        .ok_or_else(|| ApiError::not_found("no_plan", "nothing dispatched yet"))?;
    let explanation = core_explain(
        &last.problem,
        &last.config,
        &Haversine::default(),
        &last.plan,
        &parcel,
        &a,
        &b,
    )
    .map_err(|e| ApiError::not_found("cannot_explain", e.to_string()))?;
    Ok(json(200, &explanation))
}
