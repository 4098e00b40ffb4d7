//! The console in a browser: a bearer token exchanged once for an HttpOnly,
//! SameSite=Strict session cookie (`POST /dashboard/session`), the cookie accepted for
//! the console's pages and data only, logout from the app's own origin only, and every
//! answer with a strict Content-Security-Policy; then a real browser (chromium through
//! playwright-core, `tests/browser/console.mjs`) logging in and loading the dashboard
//! with no CSP violation.

use std::process::Command;

use orderhub_e2e::*;

fn login(app: &App, bearer: &str) -> Reply {
    app.send(
        "POST",
        "/dashboard/session",
        &[("authorization", &format!("Bearer {bearer}"))],
        b"",
    )
}

/// The session token in a `Set-Cookie` answer.
fn cookie_of(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("set-cookie");
    let (pair, _) = set.split_once(';').expect("attributes");
    pair.strip_prefix("orderhub_session=")
        .expect("the session cookie")
        .to_string()
}

#[test]
fn a_token_is_exchanged_for_a_strict_cookie_that_reads_the_console_only() {
    let app = App::start();
    let page = app.send("GET", "/dashboard/login", &[], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.header("content-security-policy").unwrap_or_default();
    for needed in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'none'",
    ] {
        assert!(csp.contains(needed), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !page.body.contains("<script>"),
        "inline script: {}",
        page.body
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));

    let subject = unique::named("ops-dana");
    let r = login(&app, &token_for("ops", &subject));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["subject"], subject.as_str());
    let set = r.header("set-cookie").unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http gets no Secure: {set}");
    // No longer than the token it was exchanged for (an hour).
    let max_age: i64 = set
        .split("Max-Age=")
        .nth(1)
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((3000..=3600).contains(&max_age), "{set}");
    let session = cookie_of(&r);
    let cookie = format!("orderhub_session={session}");

    // Over https (as a proxy says) the cookie is Secure.
    let https = app.send(
        "POST",
        "/dashboard/session",
        &[
            ("authorization", &format!("Bearer {}", token("ops"))),
            ("x-forwarded-proto", "https"),
        ],
        b"",
    );
    assert!(
        https
            .header("set-cookie")
            .unwrap_or_default()
            .contains("; Secure"),
        "{:?}",
        https.header("set-cookie")
    );

    // The cookie reads the console: page, script, data.
    for path in ["/dashboard/", "/dashboard/app.js", "/dashboard/api/stats"] {
        let r = app.send("GET", path, &[("cookie", &cookie)], b"");
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.header("content-security-policy").is_some(), "{path}");
    }
    let dash = app.send("GET", "/dashboard/", &[("cookie", &cookie)], b"");
    assert!(dash.body.contains("/dashboard/app.js"), "{}", dash.body);
    assert!(!dash.body.contains("<script>"), "{}", dash.body);
    // …and nothing else: orders, admin and jobs still want a bearer token.
    for path in ["/orders", "/admin/audit", "/jobs/pipeline/intake"] {
        let r = app.send("GET", path, &[("cookie", &cookie)], b"");
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (401, Some("missing_token")),
            "{path}: {}",
            r.body
        );
    }
    // A session token is no bearer token, and a bearer token is no session.
    let r = app.get_as("/dashboard/api/stats", &session);
    assert_eq!(r.json()["error"]["code"], "bad_token", "{}", r.body);
    let bearer_cookie = format!("orderhub_session={}", token("ops"));
    let r = app.send(
        "GET",
        "/dashboard/api/stats",
        &[("cookie", &bearer_cookie)],
        b"",
    );
    assert_eq!(r.json()["error"]["code"], "bad_token", "{}", r.body);

    // Logout changes state: only from the app's own origin.
    let own = app.base.clone();
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(o) = origin {
            headers.push(("origin", o));
        }
        let r = app.send("DELETE", "/dashboard/session", &headers, b"");
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (403, Some("cross_origin_refused")),
            "{origin:?}: {}",
            r.body
        );
    }
    let out = app.send(
        "DELETE",
        "/dashboard/session",
        &[("cookie", &cookie), ("origin", &own)],
        b"",
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let cleared = out.header("set-cookie").unwrap_or_default();
    assert!(cleared.starts_with("orderhub_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // Without a credential the console's data is refused; a bad token cannot log in.
    assert_eq!(
        app.send("GET", "/dashboard/api/stats", &[], b"").status,
        401
    );
    assert_eq!(login(&app, "nonsense").status, 401);
    // Riders and the scheduler have no console.
    let r = login(&app, &token("scheduler"));
    assert_eq!(r.status, 403, "{}", r.body);
    // In development mode the static admin token logs in too.
    let dev = login(&app, ADMIN_TOKEN);
    assert_eq!(dev.status, 200, "{}", dev.body);
    assert_eq!(dev.json()["subject"], "dev-static-admin");
    let cookie = format!("orderhub_session={}", cookie_of(&dev));
    let r = app.send("GET", "/dashboard/api/stats", &[("cookie", &cookie)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
}

/// chromium logs in through the login page, sees the dashboard load its data with the
/// cookie, finds the cookie out of its scripts' reach, logs out, and reports no CSP
/// violation (an injected inline script proves violations are seen).
#[test]
fn a_real_browser_logs_in_and_loads_the_dashboard_without_csp_violations() {
    let chromium =
        std::env::var("ORDERHUB_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    let root = repo_root();
    if !std::path::Path::new(&chromium).exists() {
        if std::env::var("ORDERHUB_BROWSER_TESTS").as_deref() == Ok("skip") {
            eprintln!("SKIPPED: no chromium at {chromium} (scripts/setup could not install it)");
            return;
        }
        panic!("no chromium at {chromium}: run scripts/setup (or set ORDERHUB_BROWSER_TESTS=skip where it cannot be installed)");
    }
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "playwright-core is not installed: run scripts/setup"
    );
    let app = App::start();
    let out = Command::new("node")
        .arg(root.join("tests/browser/console.mjs"))
        .arg(&app.base)
        .arg(token_for("ops", &unique::named("browser")))
        .env("ORDERHUB_CHROMIUM", &chromium)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(seen["ok"], true);
    assert_eq!(seen["dashboard_violations"], json!([]), "{seen}");
    assert!(
        seen["channels"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "meituan")),
        "{seen}"
    );
    assert_eq!(seen["cookie"]["httpOnly"], true, "{seen}");
    assert_eq!(seen["cookie"]["sameSite"], "Strict", "{seen}");
    assert!(
        seen["injected"].as_array().is_some_and(|v| !v.is_empty()),
        "{seen}"
    );
}
