//! Who may do what: principals and roles, signed bearer tokens, the one route table
//! every component's shell asks, personal-data views and erasure, the audit trail, the console's cookie session.
//!
//! Pure: the shells hand in the presented token, the signing keys (Spin variables), the
//! current time and the request's method and path, and apply the decision. Nothing here
//! reads a clock, a variable or a store, except [`erasure::erase_due`] and the audit
//! trail's [`audit::append`] and [`audit::page`], which are written against the [`crate::store::KeyValue`] trait like the rest of the core.

pub mod audit;
pub mod erasure;
pub mod privacy;
pub mod role;
pub mod routes;
pub mod session;
pub mod throttle;
pub mod token;

pub use role::{Principal, Role};
pub use routes::{decide, Access, Decision, Grant};
pub use token::{AuthError, KeyRing};
