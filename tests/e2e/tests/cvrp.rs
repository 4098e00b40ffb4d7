//! Issue 6, benchmark 2's route: `POST /admin/dispatch/cvrp` runs the core's CVRP solver
//! inside the wasm component. A tiny instance written here gets a feasible solution,
//! checked here independently (every customer once, loads, rounded Euclidean cost);
//! garbage gets a 400 with a machine-readable code; no or a wrong token gets a 401.

use orderhub_e2e::*;

const CAPACITY: i64 = 10;
/// Depot first, then six customers around it.
const NODES: [(f64, f64, i64); 7] = [
    (0.0, 0.0, 0),
    (10.0, 0.0, 4),
    (12.0, 3.0, 5),
    (-8.0, 6.0, 3),
    (-9.0, -4.0, 6),
    (2.0, -11.0, 2),
    (5.0, 9.0, 7),
];

fn vrplib() -> String {
    let mut s = format!(
        "NAME : tiny-e2e\nTYPE : CVRP\nDIMENSION : {}\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : {CAPACITY}\nNODE_COORD_SECTION\n",
        NODES.len()
    );
    for (i, (x, y, _)) in NODES.iter().enumerate() {
        s.push_str(&format!("{} {x} {y}\n", i + 1));
    }
    s.push_str("DEMAND_SECTION\n");
    for (i, (_, _, d)) in NODES.iter().enumerate() {
        s.push_str(&format!("{} {d}\n", i + 1));
    }
    s.push_str("DEPOT_SECTION\n1\n-1\nEOF\n");
    s
}

fn dist(a: usize, b: usize) -> i64 {
    let (p, q) = (NODES[a], NODES[b]);
    (p.0 - q.0).hypot(p.1 - q.1).round() as i64
}

fn solve(app: &App, query: &str, token: Option<&str>, body: &[u8]) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    app.post(&format!("/admin/dispatch/cvrp{query}"), &headers, body)
}

#[test]
fn a_tiny_instance_gets_a_feasible_solution_from_inside_wasm() {
    let app = App::start();
    let r = solve(
        &app,
        "?budget_ms=30&seed=7",
        Some(ADMIN_TOKEN),
        vrplib().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["instance"], "tiny-e2e");
    assert_eq!(v["customers"], 6);
    assert_eq!(v["feasible"], true, "{v}");
    assert_eq!(v["violations"], json!([]));
    assert!(v["iterations"].as_u64().unwrap_or(0) >= 1, "{v}");
    let elapsed = v["elapsed_ms"].as_f64().expect("elapsed_ms");
    assert!(
        (25.0..5_000.0).contains(&elapsed),
        "budget measured inside wasm: {elapsed}"
    );

    let routes: Vec<Vec<usize>> = serde_json::from_value(v["routes"].clone()).expect("routes");
    let mut seen: Vec<usize> = routes.concat();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..NODES.len()).collect::<Vec<_>>(),
        "every customer once"
    );
    let mut cost = 0;
    for route in &routes {
        let load: i64 = route.iter().map(|&c| NODES[c].2).sum();
        assert!(load <= CAPACITY, "{route:?} carries {load}");
        let mut prev = 0;
        for &c in route {
            cost += dist(prev, c);
            prev = c;
        }
        cost += dist(prev, 0);
    }
    assert_eq!(v["cost"], cost, "{v}");
    // 27 units of demand on vehicles of 10: at least three routes.
    assert!(routes.len() >= 3, "{routes:?}");
}

#[test]
fn bad_input_is_a_400_with_a_code_and_no_token_a_401() {
    let app = App::start();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("", b"garbage".to_vec(), "missing_field"),
        (
            "",
            vrplib()
                .replace("CAPACITY : 10", "CAPACITY : 1")
                .into_bytes(),
            "demand_over_capacity",
        ),
        (
            "",
            vrplib().replace("2 10 0", "2 ten 0").into_bytes(),
            "bad_number",
        ),
        ("", vec![0xff, 0xfe, 0x00], "not_utf8"),
        ("?budget_ms=soon", vrplib().into_bytes(), "bad_parameter"),
    ];
    for (query, body, code) in cases {
        let r = solve(&app, query, Some(ADMIN_TOKEN), &body);
        assert_eq!(r.status, 400, "{code}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{}", r.body);
    }

    let r = solve(&app, "", None, vrplib().as_bytes());
    assert_eq!(r.status, 401, "{}", r.body);
    let r = solve(&app, "", Some(JOB_TOKEN), vrplib().as_bytes());
    assert_eq!(
        r.status, 401,
        "a job token is not an admin token: {}",
        r.body
    );
}
