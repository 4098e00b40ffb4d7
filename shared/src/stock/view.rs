//! Reading a reservation back: where each allocation's units are now.

use crate::order::OrderId;
use crate::store::KeyValue;

use super::counters::read;
use super::error::StockResult;
use super::keys;
use super::ledger::ReservationLedger;
use super::model::{AllocationView, Reservation, ReservationState, ReservationView};
use super::settle::{current_fate, Fate};

impl<S: KeyValue> ReservationLedger<'_, S> {
    pub fn reservation(&self, order: &OrderId) -> StockResult<Option<ReservationView>> {
        let Some(reservation) = self
            .store
            .get_json::<Reservation>(&keys::reservation(order))?
        else {
            return Ok(None);
        };
        let mut allocations = Vec::with_capacity(reservation.allocations.len());
        for (index, a) in reservation.allocations.iter().enumerate() {
            let out = read(
                self.store,
                &keys::alloc_out(order, reservation.attempt, index),
            )?
            .clamp(0, a.quantity);
            let committed = read(
                self.store,
                &keys::alloc_shipped(order, reservation.attempt, index),
            )?
            .clamp(0, out);
            allocations.push(AllocationView {
                allocation: a.clone(),
                held: a.quantity - out,
                committed,
                released: out - committed,
            });
        }
        let fate = match current_fate(self.store, &reservation) {
            Ok(fate) => fate,
            Err(super::error::StockError::InFlight(_)) => None,
            Err(e) => return Err(e),
        };
        let held: i64 = allocations.iter().map(|a| a.held).sum();
        let committed: i64 = allocations.iter().map(|a| a.committed).sum();
        let state = if held > 0 {
            ReservationState::Held
        } else if committed > 0 {
            ReservationState::Committed
        } else if fate == Some(Fate::Expired) {
            ReservationState::Expired
        } else {
            ReservationState::Released
        };
        Ok(Some(ReservationView {
            reservation,
            state,
            confirmed: fate == Some(Fate::Confirmed),
            allocations,
        }))
    }
}
