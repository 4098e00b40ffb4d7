//! The run as a chart: three panels over the run's seconds (throughput, latency,
//! backlog), drawn as plain SVG polylines so any browser opens it and nothing needs a
//! plotting library.

use std::fmt::Write as _;

use crate::stats::SecondRow;

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 190.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const GAP: f64 = 40.0;

struct Series {
    label: &'static str,
    color: &'static str,
    dashed: bool,
    values: Vec<Option<f64>>,
}

fn series(label: &'static str, color: &'static str, values: Vec<Option<f64>>) -> Series {
    Series {
        label,
        color,
        dashed: false,
        values,
    }
}

/// The chart of a run; `burst` is the burst's `[start, end)` in seconds, shaded.
pub fn chart(title: &str, rows: &[SecondRow], burst: Option<(f64, f64)>) -> String {
    let count = |f: fn(&SecondRow) -> u64| rows.iter().map(|r| Some(f(r) as f64)).collect();
    let panels = [
        (
            "pushes per second",
            vec![
                Series {
                    dashed: true,
                    ..series("offered", "#888888", count(|r| r.offered))
                },
                series("acknowledged", "#2a9d3f", count(|r| r.acked)),
                series("not acknowledged", "#d62728", count(|r| r.failed)),
            ],
        ),
        (
            "ack latency, ms (by due second)",
            vec![
                series("p50", "#1f77b4", rows.iter().map(|r| r.p50_ms).collect()),
                series("p99", "#ff7f0e", rows.iter().map(|r| r.p99_ms).collect()),
            ],
        ),
        (
            "backlog: pushes due, not answered · the app's pipeline backlog",
            vec![
                series("backlog", "#9467bd", count(|r| r.backlog)),
                series("in flight", "#17becf", count(|r| r.in_flight)),
                series(
                    "pipeline (app)",
                    "#8c564b",
                    rows.iter()
                        .map(|r| r.pipeline_backlog.map(|b| b as f64))
                        .collect(),
                ),
            ],
        ),
    ];
    let height = TOP + panels.len() as f64 * (PANEL_HEIGHT + GAP) + 10.0;
    let x_max = rows.len().max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, (name, lines)) in panels.iter().enumerate() {
        let y0 = TOP + i as f64 * (PANEL_HEIGHT + GAP);
        panel(&mut out, y0, name, lines, x_max, burst);
    }
    out.push_str("</svg>\n");
    out
}

fn panel(
    out: &mut String,
    y0: f64,
    name: &str,
    lines: &[Series],
    x_max: f64,
    burst: Option<(f64, f64)>,
) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let top = y0 + 14.0;
    let bottom = y0 + PANEL_HEIGHT;
    let max = lines
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    // Four gridlines a round step apart (1, 2 or 5 × 10^k), the top one at or above max.
    let y_max = 4.0 * nice_ceiling(max / 4.0);
    let x = |t: f64| LEFT + t / x_max * plot_w;
    let y = |v: f64| bottom - v.max(0.0) / y_max * (bottom - top);

    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"#,
        y0 + 8.0,
        escape(name)
    );
    if let Some((start, end)) = burst {
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#fff3c4"/>"##,
            x(start),
            x(end) - x(start),
            bottom - top
        );
    }
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            label(v)
        );
    }
    let step = nice_ceiling(x_max / 10.0).max(1.0);
    let mut t = 0.0;
    while t <= x_max {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}s</text>"#,
            x(t),
            bottom + 14.0
        );
        t += step;
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w:.1}" height="{:.1}" fill="none" stroke="#999999"/>"##,
        bottom - top
    );
    for (i, s) in lines.iter().enumerate() {
        let dash = if s.dashed {
            r#" stroke-dasharray="5,4""#
        } else {
            ""
        };
        // A gap in the values (a second without acknowledgements has no latency) breaks
        // the line rather than drawing a false slope across it.
        for piece in pieces(&s.values) {
            let points: Vec<String> = piece
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t as f64 + 0.5), y(*v)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.6"{dash} points="{}"/>"#,
                s.color,
                points.join(" ")
            );
        }
        let ly = top + 14.0 * i as f64 + 8.0;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 18.0,
            s.color,
            lx + 24.0,
            ly + 4.0,
            s.label
        );
    }
}

/// The runs of consecutive values, each point with its second.
fn pieces(values: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (t, v) in values.iter().enumerate() {
        match v {
            Some(v) => current.push((t, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The smallest 1, 2 or 5 × 10^k at or above `v` (1 for nothing to show).
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

fn label(v: f64) -> String {
    if v >= 1000.0 && v.fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: usize, acked: u64, p99: Option<f64>) -> SecondRow {
        SecondRow {
            t,
            offered: 10,
            sent: 10,
            acked,
            failed: 0,
            p50_ms: p99.map(|v| v / 2.0),
            p99_ms: p99,
            backlog: 1,
            in_flight: 1,
            pipeline_backlog: None,
        }
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(420.0), 500.0);
        assert_eq!(nice_ceiling(0.03), 0.05);
    }

    #[test]
    fn the_chart_is_svg_with_a_line_per_series_and_gaps_broken() {
        let rows = vec![
            row(0, 10, Some(4.0)),
            row(1, 0, None),
            row(2, 12, Some(8.0)),
        ];
        let svg = chart("run <1> & more", &rows, Some((1.0, 2.0)));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("run &lt;1&gt; &amp; more"));
        // Counts: 3 series × 1 line and 2 series × 1 line; latency: 2 series × 2 pieces.
        assert_eq!(svg.matches("<polyline").count(), 3 + 2 + 4);
        assert!(svg.contains("#fff3c4"), "burst shaded");
        // The second piece of the p99 line starts at second 2 (x of 2.5 s).
        let x = LEFT + 2.5 / 3.0 * (WIDTH - LEFT - RIGHT);
        assert!(svg.contains(&format!("{x:.1},")), "{svg}");
        assert!(
            svg.contains("pipeline (app)"),
            "legend even when not reported"
        );
    }

    #[test]
    fn the_apps_backlog_is_a_line_of_its_own() {
        let mut rows = vec![row(0, 10, Some(4.0)), row(1, 10, Some(4.0))];
        rows[0].pipeline_backlog = Some(3);
        rows[1].pipeline_backlog = Some(7);
        let svg = chart("t", &rows, None);
        assert_eq!(svg.matches("#8c564b\" stroke-width=\"1.6\"").count(), 1);
    }
}
