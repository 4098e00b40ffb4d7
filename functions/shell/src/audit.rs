//! The audit trail's effects: [`serve`](crate::serve) asks the core whether the admitted
//! request is audited ([`classify`]), and once the handler answered appends the entry
//! the core made of it to the `audit` store ([`record`]). It decides nothing itself.
//!
//! A personal-data read that cannot be recorded is not answered (503
//! `audit_unavailable`): the data goes out only with its record. A configuration change
//! has already happened when its record fails, so the answer stands and the failure is
//! logged (with the target and subject, never the value).

use orderhub_core::access::audit::{self, AuditKind, Audited};
use orderhub_core::access::Principal;
use spin_sdk::http::{IncomingRequest, Response};

use crate::kv::Bucket;
use crate::respond::error;

/// The store the trail lives in (`key_value_stores` of every component serving an
/// audited route, and of `audit-admin`, which reads it).
pub const STORE: &str = "audit";

/// Whether the request the caller was admitted for is audited.
pub fn classify(req: &IncomingRequest) -> Option<(Principal, Audited)> {
    let who = crate::auth::caller()?;
    let path_and_query = req.path_with_query().unwrap_or_default();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query.as_str(), ""));
    audit::classify(&req.method().to_string(), path, query, &who).map(|a| (who, a))
}

/// Append the record of `audited` answered with `resp`; the answer to send.
pub fn record(audited: &(Principal, Audited), body: &[u8], resp: Response) -> Response {
    let (who, what) = audited;
    let Some(entry) = what.entry(who, crate::auth::now_secs(), *resp.status(), body) else {
        return resp;
    };
    let written = Bucket::open(STORE).and_then(|store| audit::append(&store, entry));
    match (written, what.kind) {
        (Ok(_), _) => resp,
        (Err(e), AuditKind::PersonalDataRead) => error(
            503,
            "audit_unavailable",
            &format!("the read could not be recorded in the audit trail, so nothing is shown: {e}"),
        ),
        (Err(e), AuditKind::ConfigChange) => {
            eprintln!(
                "audit: the change of `{}` by `{}` was made but not recorded: {e}",
                what.target, who.subject
            );
            resp
        }
    }
}
