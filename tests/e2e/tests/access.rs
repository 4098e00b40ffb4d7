//! Access, black-box: every route of spin.toml and of every component's router asked
//! without a credential and with every role, compared with the core's route table;
//! expired, forged, unknown-key, static-in-strict-mode and other riders' credentials;
//! failed authentication rate-limited per source; personal data per role; erasure of
//! finished orders with the clock moved.

use std::collections::BTreeSet;

use orderhub_core::access::routes::{self, Decision};
use orderhub_core::access::{Principal, Role};
use orderhub_e2e::meituan::{order_push_params, signed_form, APP_ID};
use orderhub_e2e::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// `[[trigger.http]] route = "..."` of spin.toml: the public routes.
fn public_routes() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo_root().join("spin.toml")).expect("spin.toml");
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("route = \""))
        .filter_map(|r| r.strip_suffix('"'))
        .map(str::to_string)
        .collect()
}

/// The next string literal in `s` from `at`, and where it ends.
fn next_literal(s: &str, at: usize) -> Option<(String, usize)> {
    let start = at + s[at..].find('"')? + 1;
    let end = start + s[start..].find('"')?;
    Some((s[start..end].to_string(), end + 1))
}

/// Every (method, pattern) a component's router registers: `router.get("/x", …)` (and
/// `_async`), the reserve crate's `admin_route(&mut router, "GET", "/x", …)`, and
/// reconcile's `req.path() == "/x" && *req.method() == Method::Post` before its router.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let functions = repo_root().join("functions");
    for dir in std::fs::read_dir(&functions).expect("functions/") {
        let src = dir.expect("entry").path().join("src");
        let Ok(files) = std::fs::read_dir(&src) else {
            continue;
        };
        for file in files {
            let text = std::fs::read_to_string(file.expect("file").path()).unwrap_or_default();
            for (needle, method) in [
                ("router.get(", "GET"),
                ("router.get_async(", "GET"),
                ("router.post(", "POST"),
                ("router.post_async(", "POST"),
                ("router.put(", "PUT"),
                ("router.put_async(", "PUT"),
                ("router.delete(", "DELETE"),
                ("router.delete_async(", "DELETE"),
            ] {
                for (i, _) in text.match_indices(needle) {
                    // Only a literal first argument (`router.post(path, …)` in a helper
                    // is the helper's, found below).
                    let at = i + needle.len();
                    if !text[at..].trim_start().starts_with('"') {
                        continue;
                    }
                    if let Some((path, _)) = next_literal(&text, at) {
                        out.insert((method.to_string(), path));
                    }
                }
            }
            for (i, _) in text.match_indices("admin_route(&mut router,") {
                let (method, end) = next_literal(&text, i).expect("method");
                let (path, _) = next_literal(&text, end).expect("path");
                out.insert((method, path));
            }
            for (i, _) in text.match_indices("req.path() == ") {
                let (path, end) = next_literal(&text, i).expect("path");
                let rest = &text[end..end + 80.min(text.len() - end)];
                let method = rest
                    .split("Method::")
                    .nth(1)
                    .and_then(|m| m.split(|c: char| !c.is_alphanumeric()).next())
                    .expect("method")
                    .to_uppercase();
                out.insert((method, path));
            }
        }
    }
    out
}

fn publicly_routed(path: &str, public: &[String]) -> bool {
    public.iter().any(|r| match r.strip_suffix("/...") {
        Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}/")),
        None => path == r,
    })
}

/// A concrete path for a pattern: every `:param` filled in (`:id` with `rider_id`).
fn concrete(pattern: &str, rider_id: &str) -> String {
    pattern
        .split('/')
        .map(|seg| match seg {
            ":id" => rider_id.to_string(),
            s if s.starts_with(':') => "e2e-probe".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn call(app: &App, method: &str, path: &str, bearer: Option<&str>) -> Reply {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    app.send(method, path, &headers, b"")
}

/// The console's login page and its static script and style: open by design (a browser
/// has no credential before it logs in), and nothing in them but the form.
const CONSOLE_LOGIN: &[&str] = &[
    "/dashboard/login",
    "/dashboard/login.js",
    "/dashboard/style.css",
];

/// Every route answers without a credential only if it is a webhook, `/health` or the
/// console's login page (with its static files); every
/// role the table refuses gets 403; every role it admits gets past the check (GETs are
/// asked; other methods are not, so the walk changes nothing).
#[test]
fn every_route_decides_and_only_webhooks_and_health_are_open() {
    let public = public_routes();
    let routes = router_routes();
    assert!(
        routes.len() > 50,
        "found only {} router routes",
        routes.len()
    );
    for r in &public {
        if let Some(prefix) = r.strip_suffix("/...") {
            assert!(
                prefix.starts_with("/webhooks/")
                    || routes.iter().any(|(_, p)| p.starts_with(prefix)),
                "spin.toml route {r} has no router route"
            );
        }
    }
    let app = App::start();
    let me = unique::named("rider");
    let roles: Vec<(Role, String)> = vec![
        (Role::Admin, token("admin")),
        (Role::Ops, token("ops")),
        (Role::Cs, token("cs")),
        (Role::Finance, token("finance")),
        (Role::Scheduler, token("scheduler")),
        (Role::Rider(me.clone()), token(&format!("rider:{me}"))),
    ];
    let mut checked = 0;
    for (method, pattern) in &routes {
        let decision = routes::decide(method, pattern);
        assert_ne!(
            decision,
            Decision::Unknown,
            "{method} {pattern} is served but not in the route table"
        );
        let reachable = publicly_routed(pattern, &public);
        if !reachable {
            // Only chaining reaches it: `route = { private = true }` (or /health).
            assert_eq!(
                decision,
                Decision::Open,
                "{method} {pattern} is only reachable by chaining but the table asks for a credential"
            );
            continue;
        }
        let console_open = CONSOLE_LOGIN.contains(&pattern.as_str());
        let open_by_design =
            pattern.starts_with("/webhooks/") || pattern == "/health" || console_open;
        // Each pattern is tried for the rider's own id and another rider's.
        for rider_in_path in [me.as_str(), "someone-else"] {
            let path = concrete(pattern, rider_in_path);
            let bare = call(&app, method, &path, None);
            if open_by_design {
                assert_ne!(bare.status, 401, "{method} {path}: {}", bare.body);
                if console_open {
                    // The login form, its script and style: static, no JSON data.
                    assert_eq!(bare.status, 200, "{method} {path}: {}", bare.body);
                    let kind = bare.header("content-type").unwrap_or_default();
                    assert!(
                        ["text/html", "text/javascript", "text/css"]
                            .iter()
                            .any(|k| kind.starts_with(k)),
                        "{path}: {kind}"
                    );
                }
                continue;
            }
            assert_eq!(
                (bare.status, bare.json()["error"]["code"].as_str()),
                (401, Some("missing_token")),
                "{method} {path} answered without a credential: {}",
                bare.body
            );
            let Decision::NeedsCredential(rule) = decision else {
                panic!("{method} {pattern} is public in spin.toml and open in the table");
            };
            for (role, bearer) in &roles {
                let who = Principal {
                    subject: "e2e".into(),
                    role: role.clone(),
                };
                let allowed = routes::permits(&rule, &path, &who);
                if !allowed {
                    let r = call(&app, method, &path, Some(bearer));
                    assert_eq!(
                        (r.status, r.json()["error"]["code"].as_str()),
                        (403, Some("forbidden")),
                        "{role} {method} {path}: {}",
                        r.body
                    );
                } else if method == "GET" {
                    let r = call(&app, method, &path, Some(bearer));
                    assert!(
                        r.status != 401 && r.status != 403,
                        "{role} may {method} {path} but got {}: {}",
                        r.status,
                        r.body
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked} role checks");
}

fn strict_app(keys: &str) -> App {
    App::start_own(&[("auth_mode", "strict"), ("auth_keys", keys)])
}

/// Production mode: signed tokens only; two keys valid at once; expired, forged,
/// unknown-key and malformed tokens refused with their own codes; static tokens refused.
#[test]
fn strict_mode_takes_signed_tokens_from_either_key_and_nothing_else() {
    let new_secret = "rotated-signing-key-0002-0123456789";
    let app = strict_app(&format!("k2:{new_secret},{DEV_KEY_ID}:{DEV_KEY_SECRET}"));
    let now = unix_now();
    let claims = |role: &str, iat: i64, exp: i64| json!({ "iss": "orderhub", "sub": "e2e", "role": role, "iat": iat, "exp": exp });
    let by_new = jwt("k2", new_secret, &claims("admin", now, now + 600));
    let by_old = token("admin");
    let path = "/admin/merge/rules";
    for t in [&by_new, &by_old] {
        let r = app.get_as(path, t);
        assert!(
            r.status != 401 && r.status != 403,
            "{}: {}",
            r.status,
            r.body
        );
    }
    let code = |t: &str| {
        let r = app.get_as(path, t);
        (
            r.status,
            r.json()["error"]["code"].as_str().unwrap_or("").to_string(),
        )
    };
    let expired = jwt(
        DEV_KEY_ID,
        DEV_KEY_SECRET,
        &claims("admin", now - 7200, now - 3600),
    );
    assert_eq!(code(&expired), (401, "token_expired".into()));
    let forged = jwt(
        DEV_KEY_ID,
        "not-the-key-not-the-key-not-the-key",
        &claims("admin", now, now + 600),
    );
    assert_eq!(code(&forged), (401, "bad_token".into()));
    let unknown = jwt("k9", new_secret, &claims("admin", now, now + 600));
    assert_eq!(code(&unknown), (401, "unknown_key".into()));
    let forever = jwt(
        DEV_KEY_ID,
        DEV_KEY_SECRET,
        &claims("admin", now, now + 400 * 86_400),
    );
    assert_eq!(code(&forever), (401, "bad_token_lifetime".into()));
    let wrong_role = jwt(DEV_KEY_ID, DEV_KEY_SECRET, &claims("root", now, now + 600));
    assert_eq!(code(&wrong_role), (401, "bad_token".into()));
    assert_eq!(code(ADMIN_TOKEN), (401, "static_token_refused".into()));
    assert_eq!(code("garbage"), (401, "bad_token".into()));
    // The scheduler's static token is refused on job routes too; a signed one works.
    let r = app.post(
        "/jobs/merge/close-windows",
        &[("authorization", &format!("Bearer {JOB_TOKEN}"))],
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let r = app.post(
        "/jobs/merge/close-windows",
        &[("authorization", &format!("Bearer {}", token("scheduler")))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // No error message repeats the token it refused.
    let r = app.get_as(path, &forged);
    assert!(!r.body.contains(&forged[..20]), "{}", r.body);
    // Moving the erasure clock is for development only.
    let r = app.post(
        "/jobs/privacy/erase?as_of=2099-01-01T00:00:00Z",
        &[("authorization", &format!("Bearer {}", token("scheduler")))],
        b"",
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("as_of_dev_only")),
        "{}",
        r.body
    );
}

/// After `auth_fail_limit` failures in a minute a source gets 429, even with a valid
/// token, until the minute is over.
#[test]
fn failed_authentication_is_rate_limited_per_source() {
    let app = App::start_own(&[("auth_fail_limit", "3")]);
    // Counts are per minute: a run that straddles a minute boundary is tried again.
    let r = loop {
        let minute = unix_now() / 60;
        let answers: Vec<Reply> = (0..4).map(|_| app.get_as("/orders", "wrong")).collect();
        if unix_now() / 60 != minute {
            continue;
        }
        for r in &answers[..3] {
            assert_eq!(r.status, 401, "{}", r.body);
        }
        break answers.into_iter().nth(3).unwrap();
    };
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "too_many_auth_failures");
    let retry: i64 = r
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let r = app.get("/orders");
    assert!(
        r.status == 429 || r.status == 200,
        "blocked for the rest of the minute (or the minute just turned): {}",
        r.body
    );
    // Webhooks and /health are never blocked by it.
    assert_eq!(app.send("GET", "/health", &[], b"").status, 200);
}

fn meituan_order(app: &App, phone: &str) -> (String, String) {
    let oid = format!("41{}", unique::id());
    let mut params = order_push_params(&oid, unix_now());
    for (k, v) in params.iter_mut() {
        if *k == "recipient_phone" {
            *v = phone.to_string();
        }
    }
    let path = "/webhooks/meituan/order";
    let body = signed_form(&app.base, path, params);
    let r = app.post(path, &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    (oid.clone(), format!("meituan-{oid}"))
}

/// cs reads an order in full, ops masked, finance with no personal data; riders and the
/// scheduler read no orders; a rider acts only as itself.
#[test]
fn each_role_sees_only_the_personal_data_it_needs() {
    let app = App::start();
    let phone = unique::phone();
    let (_, id) = meituan_order(&app, &phone);
    let path = format!("/orders/{id}");
    let full = app.get_as(&path, &token("cs"));
    assert_eq!(full.status, 200, "{}", full.body);
    let full = full.json();
    assert_eq!(
        full["customer"]["phone"]["number"],
        phone.as_str(),
        "{full}"
    );
    assert!(full["fulfilment"]["address"]["detail"]
        .as_str()
        .unwrap()
        .contains("张江路"));

    let masked = app.get_as(&path, &token("ops"));
    assert_eq!(masked.status, 200, "{}", masked.body);
    assert!(!masked.body.contains(&phone), "{}", masked.body);
    let m = masked.json();
    assert_eq!(
        m["customer"]["phone"]["number"],
        format!("{}****{}", &phone[..3], &phone[7..]).as_str()
    );
    assert_eq!(m["fulfilment"]["address"]["detail"], "");
    assert!(!masked.body.contains("张江路"), "{}", masked.body);
    assert_eq!(m["customer"]["name"], "王**");
    assert_eq!(m["money"], full["money"]);
    assert_eq!(m["lines"], full["lines"]);

    let finance = app.get_as(&path, &token("finance"));
    assert_eq!(finance.status, 200, "{}", finance.body);
    let f = finance.json();
    assert_eq!(f["customer"]["phone"], Value::Null);
    assert_eq!(f["customer"]["name"], Value::Null);
    assert!(!finance.body.contains(&phone), "{}", finance.body);
    assert!(!finance.body.contains("张江路"), "{}", finance.body);
    assert_eq!(f["money"], full["money"]);

    for role in ["rider:r1", "scheduler"] {
        let r = app.get_as(&path, &token(role));
        assert_eq!(r.status, 403, "{role}: {}", r.body);
    }
    assert_eq!(app.send("GET", &path, &[], b"").status, 401);
}

#[test]
fn a_rider_reports_and_reads_as_itself_only() {
    let app = App::start();
    let me = unique::named("rider");
    let other = unique::named("rider");
    let mine = token(&format!("rider:{me}"));
    let body = json!({
        "position": { "x": 121.5, "y": 31.2 },
        "shift_end": unix_now() + 3600,
        "capacity": { "weight_g": 20_000, "volume_ml": 60_000, "parcels": 6 },
        "capabilities": { "insulated": true, "freezer": false },
        "online": true,
        "station": unique::named("st"),
    })
    .to_string();
    let post = |rider: &str| {
        app.post(
            &format!("/riders/{rider}/report"),
            &[
                ("authorization", &format!("Bearer {mine}")),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
    };
    let r = post(&me);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&other);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{}",
        r.body
    );
    for action in ["accept", "reject"] {
        let r = app.post(
            &format!("/riders/{other}/{action}"),
            &[("authorization", &format!("Bearer {mine}"))],
            b"{}",
        );
        assert_eq!(r.status, 403, "{action}: {}", r.body);
    }
    assert_eq!(app.get_as(&format!("/riders/{me}"), &mine).status, 200);
    assert_eq!(app.get_as(&format!("/riders/{other}"), &mine).status, 403);
    assert_eq!(app.get_as("/riders/explain", &mine).status, 403);
}

/// A cancelled order keeps its personal data until the retention has passed, then the
/// job erases it (amounts, lines, times, ids kept), and erasing again changes nothing.
#[test]
fn finished_orders_are_erased_after_the_retention_with_the_clock_moved() {
    // An app of its own: moving the erasure clock on a shared app would erase other
    // tests' finished orders while they read them.
    let app = App::start_own(&[]);
    let phone = unique::phone();
    let (oid, id) = meituan_order(&app, &phone);
    let cancel = vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", unix_now().to_string()),
        ("order_id", oid.clone()),
        ("reason_code", "1002".to_string()),
        ("reason", "用户取消".to_string()),
    ];
    let path = "/webhooks/meituan/cancel";
    let body = signed_form(&app.base, path, cancel);
    let r = app.post(path, &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let before = app.get(&format!("/orders/{id}")).json();
    assert_eq!(before["status"], "cancelled", "{before}");

    let scheduler = format!("Bearer {JOB_TOKEN}");
    let erase = |as_of: &str| {
        let r = app.post(
            &format!("/jobs/privacy/erase?as_of={as_of}"),
            &[("authorization", &scheduler)],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let rfc3339 = |t: i64| {
        let (y, m, d) = unique::civil_from_days(t.div_euclid(86_400));
        let s = t.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    let erased_ids = |report: &Value| -> Vec<String> {
        report["report"]["erased"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // Ten days on: still within the 30-day retention.
    let early = erase(&rfc3339(unix_now() + 10 * 86_400));
    assert!(!erased_ids(&early).contains(&id), "{early}");
    assert_eq!(
        app.get(&format!("/orders/{id}")).json()["customer"],
        before["customer"]
    );

    // Thirty-one days on: erased.
    let due = erase(&rfc3339(unix_now() + 31 * 86_400));
    assert!(erased_ids(&due).contains(&id), "{due}");
    let after = app.get(&format!("/orders/{id}"));
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(!after.body.contains(&phone), "{}", after.body);
    assert!(!after.body.contains("张江路"), "{}", after.body);
    assert!(!after.body.contains("王女士"), "{}", after.body);
    let a = after.json();
    assert_eq!(a["customer"]["customer_key"], "erased");
    for kept in [
        "id",
        "channel_order_id",
        "lines",
        "money",
        "placed_at",
        "history",
        "status",
    ] {
        assert_eq!(a[kept], before[kept], "{kept}");
    }
    // Idempotent: a second run finds it erased and changes nothing.
    let again = erase(&rfc3339(unix_now() + 31 * 86_400));
    assert!(!erased_ids(&again).contains(&id), "{again}");
    assert_eq!(app.get(&format!("/orders/{id}")).body, after.body);
}

/// Every entry of the audit trail after `cursor`, page by page (as an admin).
fn audit_since(app: &App, cursor: u64) -> Vec<Value> {
    let admin = token_for("admin", "e2e-audit-reader");
    let mut out = Vec::new();
    let mut cursor = cursor;
    loop {
        let r = app.get_as(&format!("/admin/audit?cursor={cursor}&limit=50"), &admin);
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json();
        out.extend(page["entries"].as_array().unwrap().iter().cloned());
        let next = page["next_cursor"].as_u64().unwrap();
        if next > page["last_seq"].as_u64().unwrap() || next == cursor {
            return out;
        }
        cursor = next;
    }
}

/// The trail's next sequence number now (entries of this test come after it).
fn audit_head(app: &App) -> u64 {
    let r = app.get_as("/admin/audit?limit=1", &token("admin"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["last_seq"].as_u64().unwrap() + 1
}

/// A cs read of an order and an admin's configuration change are in the audit trail
/// under their subjects, without the personal data; a finance read reveals none and
/// is not recorded; only admin reads the trail.
#[test]
fn personal_data_reads_and_configuration_changes_are_audited() {
    let app = App::start();
    let phone = unique::phone();
    let (_, id) = meituan_order(&app, &phone);
    let cursor = audit_head(&app);
    let cs_subject = unique::named("cs-alice");
    let finance_subject = unique::named("fin-bob");
    let admin_subject = unique::named("admin-carol");

    let full = app.get_as(&format!("/orders/{id}"), &token_for("cs", &cs_subject));
    assert_eq!(full.status, 200, "{}", full.body);
    assert!(full.body.contains(&phone), "{}", full.body);
    let fin = app.get_as(
        &format!("/orders/{id}"),
        &token_for("finance", &finance_subject),
    );
    assert_eq!(fin.status, 200, "{}", fin.body);
    assert!(!fin.body.contains(&phone), "{}", fin.body);
    assert!(!fin.body.contains("张江路"), "{}", fin.body);
    // A cs read of an order that does not exist revealed nothing.
    let missing = app.get_as(
        &format!("/orders/{}", unique::named("meituan-none")),
        &token_for("cs", &cs_subject),
    );
    assert_eq!(missing.status, 404, "{}", missing.body);

    let code = unique::named("audit-sku");
    let sku = unique::named("sku");
    let entry = |grams: i64| json!({"sku": sku, "zone": "ambient", "unit_weight_g": grams, "unit_volume_cm3": 800});
    let admin = format!("Bearer {}", token_for("admin", &admin_subject));
    for grams in [500, 750] {
        let put = app.request(
            "PUT",
            &format!("/admin/channels/meituan/skus/{code}"),
            &[
                ("authorization", &admin),
                ("content-type", "application/json"),
            ],
            entry(grams).to_string().as_bytes(),
        );
        assert_eq!(put.status, 200, "{}", put.body);
    }

    let trail = audit_since(&app, cursor);
    let text = Value::Array(trail.clone()).to_string();
    assert!(
        !text.contains(&phone),
        "the trail holds a phone number: {text}"
    );
    assert!(
        !text.contains("张江路"),
        "the trail holds an address: {text}"
    );

    let reads: Vec<&Value> = trail
        .iter()
        .filter(|e| e["kind"] == "personal_data_read" && e["target"] == id.as_str())
        .collect();
    assert_eq!(reads.len(), 1, "{text}");
    let read = reads[0];
    assert_eq!(read["subject"], cs_subject.as_str());
    assert_eq!(read["role"], "cs");
    assert_eq!(read["route"], "GET /orders/:id");
    assert_eq!(read["outcome"], "ok");
    assert!(read["at"].as_str().is_some_and(|t| t.len() >= 20), "{read}");
    assert!(
        !trail
            .iter()
            .any(|e| e["subject"] == finance_subject.as_str()),
        "a finance read is not a personal-data read: {text}"
    );

    let changes: Vec<&Value> = trail
        .iter()
        .filter(|e| e["kind"] == "config_change" && e["subject"] == admin_subject.as_str())
        .collect();
    assert_eq!(changes.len(), 2, "{text}");
    for change in &changes {
        assert_eq!(change["role"], "admin");
        assert_eq!(change["target"], format!("channels/meituan/skus/{code}"));
        assert_eq!(change["status"], 200);
        assert_eq!(change["outcome"], "ok");
    }
    assert_eq!(changes[0]["new_value"], entry(500));
    assert_eq!(
        changes[0]["old_value"],
        Value::Null,
        "a first mapping replaced nothing"
    );
    assert_eq!(changes[1]["new_value"], entry(750));
    assert_eq!(changes[1]["old_value"], entry(500), "the value it replaced");
    assert_eq!(changes[1]["previous_seq"], changes[0]["seq"]);

    // The trail is admin's alone, and no route writes or deletes it.
    for role in ["cs", "ops", "finance", "scheduler"] {
        assert_eq!(
            app.get_as("/admin/audit", &token(role)).status,
            403,
            "{role}"
        );
    }
    for method in ["DELETE", "PUT", "POST"] {
        let r = app.send(method, "/admin/audit", &[("authorization", &admin)], b"{}");
        assert!(
            r.status == 404 || r.status == 405,
            "{method} /admin/audit: {} {}",
            r.status,
            r.body
        );
    }
}
