//! Backend tests: Spin's semantics (`sqlite`, `redis`) and the `--kv-fast`
//! ones (`fast`), on the backends directly; HTTP-level tests through the
//! probe component live in `tests/`.

mod fast;
mod redis;
mod sqlite;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{CasHandle, KvBackend, KvResult, Store};

/// The panic message of `f`, which must panic (as Spin's host does there).
fn panic_message<T>(f: impl FnOnce() -> T) -> String {
    let payload = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(p) => p,
    };
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A CAS handle that has read the key, as a guest's `cas.new` + `current`.
fn cas_seen(b: &Arc<dyn KvBackend>, key: &str) -> (Arc<dyn CasHandle>, KvResult<Option<Vec<u8>>>) {
    let h = b.clone().new_cas(key).unwrap();
    let seen = h.current();
    (h, seen)
}

/// Runs one call the way the host bindings do; `Err` is the guest's trap.
fn through_host<T: Send + 'static>(
    b: &Arc<dyn KvBackend>,
    f: impl FnOnce(Arc<dyn KvBackend>) -> KvResult<T> + Send + 'static,
) -> Result<KvResult<T>, String> {
    let store = Store { backend: b.clone() };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.run(f))
        .map_err(|e| format!("{e:#}"))
}
