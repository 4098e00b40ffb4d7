//! The route table: for every route any component serves, who may call it. Every
//! component's shell asks [`decide`] before it reads a request body (`orderhub_shell::serve`),
//! so no handler runs for a caller the table refuses, and a route the table does not
//! know is refused (fail closed).
//!
//! Patterns are the routers' own syntax: `/orders/:id` (`:name` matches one non-empty
//! segment) and Spin's trailing `/...` (the prefix and anything under it). Rules are
//! tried in order; the first whose method and pattern match decides.
//!
//! Checked by `tests/e2e/tests/access.rs`, which walks every route of spin.toml and of
//! every component's router, asks each without a credential and with every role, and
//! compares the answers with this table.

use super::role::{Principal, Role};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential: channel webhooks (each verifies its platform's signature), the
    /// whole-app `/health`, and the console's login page with its static script and
    /// style (nothing in them but the form).
    Public,
    /// A private route (`route = { private = true }`): Spin routes no outside request to
    /// it, only local service chaining (`http://<component>.spin.internal`) reaches it.
    Internal,
    /// A valid credential whose role is granted.
    Roles(&'static [Grant]),
}

/// One grant of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Admin,
    Ops,
    Cs,
    Finance,
    Scheduler,
    /// A rider, for the rider the path's `:id` names and no other.
    RiderSelf,
    /// Any valid credential (per-component liveness routes).
    Anyone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `GET`, `POST`, `PUT`, `DELETE`, or `*` for any.
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, pattern: &'static str, access: Access) -> Rule {
    Rule {
        method,
        pattern,
        access,
    }
}

use Access::{Internal, Public, Roles};
use Grant::*;

const READERS: &[Grant] = &[Admin, Ops, Cs, Finance];

/// The table. Order matters: the first matching rule decides.
pub static ROUTES: &[Rule] = &[
    rule("*", "/webhooks/...", Public),
    rule("GET", "/health", Public),
    // Private routes, reached only over `*.spin.internal`.
    rule("POST", "/drain", Internal),
    rule("POST", "/offer-batch", Internal),
    rule("POST", "/parcels", Internal),
    rule("POST", "/reserve-batch", Internal),
    rule("POST", "/settle-batch", Internal),
    rule("POST", "/commit", Internal),
    // Each public instance's own liveness route: says `ok` and nothing else.
    rule("GET", "/:area/health", Roles(&[Anyone])),
    rule("GET", "/:area/:part/health", Roles(&[Anyone])),
    // Jobs: the scheduler fires them, an admin may fire one by hand; ops watch the backlog.
    rule(
        "GET",
        "/jobs/pipeline/intake",
        Roles(&[Scheduler, Admin, Ops]),
    ),
    rule(
        "GET",
        "/jobs/stock/sync/:channel",
        Roles(&[Scheduler, Admin, Ops]),
    ),
    rule("POST", "/jobs/...", Roles(&[Scheduler, Admin])),
    // Orders and the dashboard: what each role sees of personal data is
    // `privacy::view_for`.
    rule("GET", "/orders", Roles(READERS)),
    rule("GET", "/orders/:id", Roles(READERS)),
    rule("GET", "/orders/:id/history", Roles(READERS)),
    // The console's login page and its static script and style: no data, so no
    // credential (the browser has none yet).
    rule("GET", "/dashboard/login", Public),
    rule("GET", "/dashboard/login.js", Public),
    rule("GET", "/dashboard/style.css", Public),
    // Login (a bearer token for a session cookie) and logout (`access::session`).
    rule("POST", "/dashboard/session", Roles(READERS)),
    rule("DELETE", "/dashboard/session", Roles(READERS)),
    rule("GET", "/dashboard/app.js", Roles(READERS)),
    rule("GET", "/dashboard", Roles(READERS)),
    rule("GET", "/dashboard/", Roles(READERS)),
    rule("GET", "/dashboard/api/stats", Roles(READERS)),
    // Riders act as themselves only; operations watch and explain.
    rule("GET", "/riders/explain", Roles(&[Admin, Ops])),
    rule("GET", "/riders/:id", Roles(&[RiderSelf, Admin, Ops])),
    rule("POST", "/riders/:id/report", Roles(&[RiderSelf])),
    rule("POST", "/riders/:id/accept", Roles(&[RiderSelf])),
    rule("POST", "/riders/:id/reject", Roles(&[RiderSelf])),
    // Reconciliation: bills, runs, reports, settlements.
    rule("*", "/reconcile/...", Roles(&[Finance, Admin])),
    // The audit trail (`access::audit`): read by admin; no route writes it.
    rule("GET", "/admin/audit", Roles(&[Admin])),
    // Configuration.
    rule("*", "/admin/...", Roles(&[Admin])),
];

/// What the shell does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Serve it without a credential.
    Open,
    /// Serve it if the credential verifies and [`permits`] says yes.
    NeedsCredential(Rule),
    /// No rule covers it: 404 for the caller, whoever it is.
    Unknown,
}

/// The rule for `method` `path` (path without the query string).
pub fn decide(method: &str, path: &str) -> Decision {
    match rule_for(method, path) {
        Some(r) if matches!(r.access, Public | Internal) => Decision::Open,
        Some(r) => Decision::NeedsCredential(*r),
        None => Decision::Unknown,
    }
}

pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    let path = path.split('?').next().unwrap_or_default();
    ROUTES.iter().find(|r| {
        (r.method == "*" || r.method.eq_ignore_ascii_case(method))
            && matches(r.pattern, path).is_some()
    })
}

/// Whether `who` may call `path` under `rule`.
pub fn permits(rule: &Rule, path: &str, who: &Principal) -> bool {
    let Roles(grants) = rule.access else {
        return true;
    };
    let path = path.split('?').next().unwrap_or_default();
    grants.iter().any(|g| match (g, &who.role) {
        (Anyone, _) => true,
        (Admin, Role::Admin)
        | (Ops, Role::Ops)
        | (Cs, Role::Cs)
        | (Finance, Role::Finance)
        | (Scheduler, Role::Scheduler) => true,
        (RiderSelf, Role::AnyRider) => true,
        (RiderSelf, Role::Rider(me)) => {
            matches(rule.pattern, path).and_then(|p| p.get("id")) == Some(me.as_str())
        }
        _ => false,
    })
}

/// The `:name` captures when `pattern` matches `path`.
pub fn matches<'p>(pattern: &'p str, path: &'p str) -> Option<Captures<'p>> {
    let mut caps = Captures(Vec::new());
    if let Some(prefix) = pattern.strip_suffix("/...") {
        let rest = path.strip_prefix(prefix)?;
        return (rest.is_empty() || rest.starts_with('/')).then_some(caps);
    }
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(caps),
            (Some(w), Some(g)) => match w.strip_prefix(':') {
                Some(name) if !g.is_empty() => caps.0.push((name, g)),
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

/// Path parameters captured by a pattern.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Captures<'p>(Vec<(&'p str, &'p str)>);

impl<'p> Captures<'p> {
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> Principal {
        Principal {
            subject: "t".into(),
            role,
        }
    }

    fn may(role: Role, method: &str, path: &str) -> bool {
        match decide(method, path) {
            Decision::Open => true,
            Decision::NeedsCredential(r) => permits(&r, path, &who(role)),
            Decision::Unknown => false,
        }
    }

    fn all_roles() -> Vec<Role> {
        vec![
            Role::Admin,
            Role::Ops,
            Role::Cs,
            Role::Finance,
            Role::Scheduler,
            Role::Rider("r1".into()),
        ]
    }

    /// The policy as the issue states it, written out case by case (not derived from
    /// the table).
    #[test]
    fn each_role_gets_what_the_policy_says_and_nothing_else() {
        use Role::*;
        let r1 = || Rider("r1".into());
        let cases: &[(&str, &str, &[Role])] = &[
            ("GET", "/orders/meituan-1", &[Admin, Ops, Cs, Finance]),
            ("GET", "/orders", &[Admin, Ops, Cs, Finance]),
            ("GET", "/orders/x/history", &[Admin, Ops, Cs, Finance]),
            ("GET", "/dashboard/api/stats", &[Admin, Ops, Cs, Finance]),
            ("POST", "/dashboard/session", &[Admin, Ops, Cs, Finance]),
            ("DELETE", "/dashboard/session", &[Admin, Ops, Cs, Finance]),
            ("GET", "/dashboard/app.js", &[Admin, Ops, Cs, Finance]),
            ("PUT", "/admin/merge/rules", &[Admin]),
            ("GET", "/admin/audit", &[Admin]),
            ("POST", "/admin/audit", &[Admin]),
            ("DELETE", "/admin/channels/x", &[Admin]),
            ("POST", "/reconcile/runs", &[Admin, Finance]),
            (
                "GET",
                "/reconcile/settlements/meituan/2026-01-01",
                &[Admin, Finance],
            ),
            ("POST", "/jobs/stock/expire", &[Scheduler, Admin]),
            ("POST", "/jobs/privacy/erase", &[Scheduler, Admin]),
            ("GET", "/jobs/pipeline/intake", &[Scheduler, Admin, Ops]),
            ("GET", "/jobs/stock/sync/meituan", &[Scheduler, Admin, Ops]),
            ("POST", "/jobs/stock/sync/meituan", &[Scheduler, Admin]),
            ("PUT", "/admin/stock/sync/meituan", &[Admin]),
            (
                "POST",
                "/jobs/pipeline/refetch/meituan",
                &[Scheduler, Admin],
            ),
            ("PUT", "/admin/channels/meituan/refetch", &[Admin]),
            ("POST", "/riders/r1/report", &[r1()]),
            ("POST", "/riders/r1/accept", &[r1()]),
            ("POST", "/riders/r1/reject", &[r1()]),
            ("POST", "/riders/r2/report", &[]),
            ("GET", "/riders/r1", &[Admin, Ops, r1()]),
            ("GET", "/riders/r2", &[Admin, Ops]),
            ("GET", "/riders/explain", &[Admin, Ops]),
        ];
        for (method, path, allowed) in cases {
            for role in all_roles() {
                assert_eq!(
                    may(role.clone(), method, path),
                    allowed.contains(&role),
                    "{role} {method} {path}"
                );
            }
        }
    }

    #[test]
    fn only_webhooks_health_and_private_routes_are_open() {
        assert_eq!(decide("POST", "/webhooks/meituan/order"), Decision::Open);
        assert_eq!(decide("GET", "/health"), Decision::Open);
        assert_eq!(decide("GET", "/dashboard/login"), Decision::Open);
        assert_eq!(decide("GET", "/dashboard/login.js"), Decision::Open);
        assert_eq!(decide("GET", "/dashboard/style.css"), Decision::Open);
        assert_eq!(decide("POST", "/drain"), Decision::Open);
        assert!(matches!(
            decide("GET", "/orders/health"),
            Decision::NeedsCredential(_)
        ));
        assert!(matches!(
            decide("GET", "/jobs/merge/health"),
            Decision::NeedsCredential(_)
        ));
        assert_eq!(decide("GET", "/no/such/route"), Decision::Unknown);
        assert_eq!(decide("GET", "/drain"), Decision::Unknown);
        // A prefix is a whole segment: `/webhooksx` is not a webhook.
        assert_eq!(decide("POST", "/webhooksx/meituan"), Decision::Unknown);
    }

    #[test]
    fn the_dev_wildcard_rider_acts_as_any_rider_but_reads_no_orders() {
        assert!(may(Role::AnyRider, "POST", "/riders/r9/report"));
        assert!(!may(Role::AnyRider, "GET", "/orders/x"));
        assert!(!may(Role::AnyRider, "GET", "/riders/explain"));
    }

    #[test]
    fn query_strings_do_not_change_the_decision() {
        assert!(may(
            Role::Rider("r1".into()),
            "POST",
            "/riders/r1/report?x=1"
        ));
        assert!(!may(
            Role::Rider("r1".into()),
            "POST",
            "/riders/r2/report?id=r1"
        ));
    }

    #[test]
    fn patterns_match_whole_segments() {
        assert_eq!(
            matches("/orders/:id", "/orders/a").unwrap().get("id"),
            Some("a")
        );
        assert!(matches("/orders/:id", "/orders/").is_none());
        assert!(matches("/orders/:id", "/orders/a/b").is_none());
        assert!(matches("/admin/...", "/admin").is_some());
        assert!(matches("/admin/...", "/administrator").is_none());
    }
}
