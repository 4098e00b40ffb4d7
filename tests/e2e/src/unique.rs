//! Names no other test and no other run uses, so the whole suite can run again and again
//! against one long-running app (`ORDERHUB_URL`), tests in parallel: order ids, SKUs,
//! stores, stations, riders, customers' phones and business days.
//!
//! Everything derives from the wall clock in nanoseconds, the process id and a
//! per-process counter: two calls never repeat within a process, and two processes (or
//! two runs) start at different nanoseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{json, App, Reply};

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn next() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A fresh id of ASCII digits only (fits every id field: Meituan's numeric order ids,
/// SKUs, store codes, stations): nanoseconds, process id, counter.
pub fn id() -> String {
    format!("{}{}{}", nanos(), std::process::id(), next())
}

/// `prefix` followed by a fresh [`id`], e.g. `sku("SKU-APPLE")` → `SKU-APPLE-17…`.
pub fn named(prefix: &str) -> String {
    format!("{prefix}-{}", id())
}

/// SplitMix64 over the clock, process and counter: well spread even for calls a
/// nanosecond apart.
fn random() -> u64 {
    let mut z = (nanos() as u64)
        ^ (u64::from(std::process::id()) << 40)
        ^ next().wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A real-looking mainland mobile number (`1[3-9]x xxxx xxxx`). Merge keys customers
/// by the number's mask (first three, last four digits), so the mask is what is spread:
/// 7 × 10 × 10^4 masks, the middle four digits random too.
pub fn phone() -> String {
    let r = random();
    format!("1{}{:09}", 3 + r % 7, (r / 7) % 1_000_000_000)
}

/// A business day no other test or run uses: a pseudo-random date between 2100-01-01
/// and 4999-12-31 (about a million days; later Unix seconds would pass 10^11, which
/// channels read as milliseconds). Returns `YYYY-MM-DD` and the Unix seconds of its
/// local (UTC+8) midnight.
pub fn day() -> (String, i64) {
    // Days since 1970-01-01 of 2100-01-01 and of 4999-12-31.
    const FIRST: i64 = 47_482;
    const LAST: i64 = 1_106_684;
    let days = FIRST + (random() % (LAST - FIRST + 1) as u64) as i64;
    let (y, m, d) = civil_from_days(days);
    (format!("{y:04}-{m:02}-{d:02}"), days * 86_400 - 8 * 3_600)
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The warehouse every test's stock sits in. Tests share it (a warehouse costs every
/// reserve a read, so one per run would slow the app down run after run) and keep apart
/// by their own SKUs; it is added with `PUT /admin/stock/warehouses/{id}`, which leaves
/// every other warehouse and channel policy as it is.
pub const WAREHOUSE: &str = "wh-e2e";

/// `units` of every SKU in [`WAREHOUSE`], for tests whose orders should reserve cleanly
/// (an SKU the ledger does not stock makes the order a restock exception). Touches only
/// the warehouse's own entry and the SKUs named.
pub fn stock_up(app: &App, skus: &[&str], units: i64) {
    let ok = |r: Reply, what: &str| assert_eq!(r.status, 200, "{what}: {}", r.body);
    ok(
        app.admin(
            "PUT",
            &format!("/admin/stock/warehouses/{WAREHOUSE}"),
            &json!({ "name": "E2E", "priority": 1 }),
        ),
        "warehouse",
    );
    for sku in skus {
        ok(
            app.admin("PUT", &format!("/admin/stock/skus/{sku}"), &json!({})),
            "define sku",
        );
        let adjust = json!({
            "sku": sku, "warehouse": WAREHOUSE, "change": { "set": units },
            "reason": "stocktake", "reference": format!("e2e-init-{sku}"),
        });
        ok(
            app.admin("POST", "/admin/stock/adjust", &adjust),
            "stock up",
        );
    }
}

/// Map `channel`'s SKU codes to ours, one entry at a time
/// (`PUT /admin/channels/{channel}/skus/{code}`): other tests' entries stay.
pub fn map_skus(app: &App, channel: &str, entries: &[(&str, serde_json::Value)]) {
    for (code, entry) in entries {
        let r = app.admin(
            "PUT",
            &format!("/admin/channels/{channel}/skus/{code}"),
            entry,
        );
        assert_eq!(r.status, 200, "{channel} {code}: {}", r.body);
    }
}

/// Every order id `GET /orders` lists, page by page (a long-running app holds more
/// than one page).
pub fn all_order_ids(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page = app.get(&format!("/orders?from={}&limit=1000", out.len()));
        assert_eq!(page.status, 200, "{}", page.body);
        let ids: Vec<String> = page.json()["orders"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            return out;
        }
        out.extend(ids);
    }
}

/// [`crate::meituan::order_push_params`] with the two lines' Meituan SKU codes
/// (`app_food_code`) replaced by `apple` and `milk`: same goods, prices and money, so
/// a test can map codes of its own to SKUs of its own.
pub fn meituan_push(
    order_id: &str,
    ctime: i64,
    apple: &str,
    milk: &str,
) -> Vec<(&'static str, String)> {
    let mut params = crate::meituan::order_push_params(order_id, ctime);
    for (k, v) in params.iter_mut() {
        if *k == "detail" {
            *v = v
                .replace("\"MT-APPLE-1KG\"", &format!("\"{apple}\""))
                .replace("\"MT-MILK-950\"", &format!("\"{milk}\""));
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_phones_and_days_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(id().bytes().all(|b| b.is_ascii_digit()));
        let p = phone();
        assert_eq!(p.len(), 11, "{p}");
        assert!(p.starts_with('1') && (b'3'..=b'9').contains(&p.as_bytes()[1]));
        let (d, midnight) = day();
        assert_eq!(d.len(), 10, "{d}");
        assert!(
            d.as_str() >= "2100-01-01" && d.as_str() <= "4999-12-31",
            "{d}"
        );
        assert_eq!(civil_from_days((midnight + 8 * 3600) / 86_400), {
            let p: Vec<i64> = d.split('-').map(|x| x.parse().unwrap()).collect();
            (p[0], p[1], p[2])
        });
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(47_482), (2100, 1, 1));
        assert_eq!(civil_from_days(1_106_684), (4999, 12, 31));
    }
}
