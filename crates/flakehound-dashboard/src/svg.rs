//! The charts, drawn as inline SVG on the server: no chart library, no script, nothing fetched.
//! Each chart has a `<title>` and an `aria-label` saying what it shows; the numbers are also in
//! a table or text next to it (what a screen reader and the browser tests read).

use std::fmt::Write as _;

/// Escapes text for SVG/HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Colours (all at least 4.5:1 against white, so text in them reads too).
pub const GREEN: &str = "#1a7f37";
pub const RED: &str = "#cf222e";
pub const AMBER: &str = "#9a6700";
pub const PURPLE: &str = "#8250df";
pub const GREY: &str = "#57606a";
pub const BLUE: &str = "#0969da";

pub fn verdict_colour(v: &str) -> &'static str {
    match v {
        "flaky" => AMBER,
        "broken" => RED,
        "regression" => PURPLE,
        "infra" | "incident" => GREY,
        "fixed" => BLUE,
        _ => GREEN,
    }
}

/// Stacked bars: one bar per label, one segment per series.
pub fn stacked_bars(title: &str, labels: &[String], series: &[(&str, &str, Vec<u64>)]) -> String {
    let n = labels.len().max(1);
    let (w, h, left, bottom, top) = (720.0_f64, 180.0_f64, 36.0, 22.0, 8.0);
    let max = (0..labels.len())
        .map(|i| series.iter().map(|s| s.2[i]).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bw = (w - left) / n as f64;
    let ph = h - bottom - top;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" preserveAspectRatio="none"><title>{t}</title>"#,
        t = esc(title)
    );
    // Axis: 0 and max.
    let _ = write!(
        o,
        r##"<line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#8c959f"/><text x="{tx}" y="{y0}" class="axis" text-anchor="end">0</text><text x="{tx}" y="{ty}" class="axis" text-anchor="end">{max}</text>"##,
        y0 = top + ph,
        tx = left - 4.0,
        ty = top + 8.0,
    );
    for (i, label) in labels.iter().enumerate() {
        let x = left + i as f64 * bw;
        let mut y = top + ph;
        let mut parts = Vec::new();
        for (name, colour, values) in series {
            let v = values[i];
            if v == 0 {
                continue;
            }
            let bh = v as f64 / max * ph;
            y -= bh;
            let _ = write!(
                o,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bwi:.1}" height="{bh:.1}" fill="{colour}"/>"#,
                bwi = (bw - 1.0).max(1.0)
            );
            parts.push(format!("{name} {v}"));
        }
        if !parts.is_empty() {
            let _ = write!(
                o,
                r#"<rect x="{x:.1}" y="{top}" width="{bw:.1}" height="{ph}" fill="transparent"><title>{}: {}</title></rect>"#,
                esc(label),
                esc(&parts.join(", "))
            );
        }
        // A date under every 7th bar, and the last one unless it would overlap.
        if i % 7 == 0 || (i + 1 == labels.len() && i % 7 >= 3) {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{}" class="axis">{}</text>"#,
                x,
                h - 6.0,
                esc(label.get(5..).unwrap_or(label))
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// Lines of shares (0..=1) over labels; `None` points are gaps.
pub fn share_lines(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<Option<f64>>)],
) -> String {
    let n = labels.len().max(2);
    let (w, h, left, bottom, top) = (720.0_f64, 140.0_f64, 36.0, 22.0, 8.0);
    let ph = h - bottom - top;
    let step = (w - left - 8.0) / (n - 1) as f64;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title><line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#8c959f"/><line x1="{left}" y1="{top}" x2="{w}" y2="{top}" stroke="#d0d7de" stroke-dasharray="3 3"/><text x="{tx}" y="{y0}" class="axis" text-anchor="end">0%</text><text x="{tx}" y="{ty}" class="axis" text-anchor="end">100%</text>"##,
        t = esc(title),
        y0 = top + ph,
        tx = left - 4.0,
        ty = top + 8.0,
    );
    for (name, colour, values) in series {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = left + i as f64 * step;
                    let y = top + ph - v.clamp(0.0, 1.0) * ph;
                    let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            o,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"><title>{}</title></path>"#,
            esc(name)
        );
    }
    for (i, label) in labels.iter().enumerate() {
        if i % 7 == 0 || (i + 1 == labels.len() && i % 7 >= 3) {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{}" class="axis">{}</text>"#,
                left + i as f64 * step,
                h - 6.0,
                esc(label.get(5..).unwrap_or(label))
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// A failure rate with its interval, as a small bar (for tables).
pub fn rate_bar(mean: f64, low: f64, high: f64) -> String {
    let w = 120.0;
    format!(
        r##"<svg class="rate" viewBox="0 0 {w} 12" width="{w}" height="12" aria-hidden="true"><rect x="0" y="2" width="{w}" height="8" fill="#eaeef2"/><rect x="0" y="2" width="{m:.1}" height="8" fill="{RED}"/><line x1="{l:.1}" y1="6" x2="{hh:.1}" y2="6" stroke="#24292f" stroke-width="1.5"/><line x1="{l:.1}" y1="1" x2="{l:.1}" y2="11" stroke="#24292f"/><line x1="{hh:.1}" y1="1" x2="{hh:.1}" y2="11" stroke="#24292f"/></svg>"##,
        m = mean.clamp(0.0, 1.0) * w,
        l = low.clamp(0.0, 1.0) * w,
        hh = high.clamp(0.0, 1.0) * w,
    )
}

/// Failure rates as columns with their intervals (hours of the day): `(label, mean, low, high,
/// runs)`; columns without runs are left empty.
pub fn rate_columns(title: &str, columns: &[(String, f64, f64, f64, u64)]) -> String {
    let n = columns.len().max(1);
    let (w, h, left, bottom, top) = (480.0_f64, 130.0_f64, 34.0, 18.0, 6.0);
    let cw = (w - left) / n as f64;
    let ph = h - bottom - top;
    let y = |v: f64| top + ph - v.clamp(0.0, 1.0) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg class="chart small" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title><line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#8c959f"/><text x="{tx}" y="{y0}" class="axis" text-anchor="end">0%</text><text x="{tx}" y="{ty}" class="axis" text-anchor="end">100%</text>"##,
        t = esc(title),
        y0 = top + ph,
        tx = left - 4.0,
        ty = top + 8.0,
    );
    for (i, (label, mean, low, high, runs)) in columns.iter().enumerate() {
        let x = left + i as f64 * cw;
        let cx = x + cw / 2.0;
        if *runs > 0 {
            let _ = write!(
                o,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{RED}"><title>{}: {:.0}% of {runs} runs ({:.0}%–{:.0}%)</title></rect><line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#24292f"/>"##,
                x + 1.0,
                y(*mean),
                (cw - 2.0).max(1.0),
                top + ph - y(*mean),
                esc(label),
                mean * 100.0,
                low * 100.0,
                high * 100.0,
                y(*low),
                y(*high),
            );
        }
        if i % 3 == 0 {
            let _ = write!(
                o,
                r#"<text x="{x:.1}" y="{}" class="axis">{}</text>"#,
                h - 4.0,
                esc(label)
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// One cell of the timeline.
pub struct Cell {
    pub commit: String,
    /// `pass`, `fail`, `retry` (failed, passed on retry) or `incident`.
    pub state: &'static str,
    pub tip: String,
}

/// The timeline of a test's runs along commits: one cell per run, commits separated, the
/// culprit's range shaded and its commit marked, notes marked above their place in time.
/// `culprit`: (first, last, culprit) commits as the cells name them.
pub fn timeline(
    title: &str,
    cells: &[Cell],
    culprit: Option<(&str, &str, &str)>,
    marks: &[(usize, String)],
) -> String {
    let n = cells.len().max(1);
    let cw = if n <= 120 {
        10.0
    } else {
        (1200.0 / n as f64).max(2.0)
    };
    let (top, ch) = (26.0, 22.0);
    let w = (n as f64 * cw + 16.0).max(300.0);
    let h = top + ch + 30.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="timeline" viewBox="0 0 {w:.0} {h}" role="img" aria-label="{t}" data-cells="{n}"><title>{t}</title>"#,
        t = esc(title),
        n = cells.len()
    );
    if let Some((first, last, at)) = culprit {
        let start = cells.iter().position(|c| c.commit == first);
        let end = cells.iter().rposition(|c| c.commit == last);
        if let (Some(s), Some(e)) = (start, end.filter(|&e| e >= start.unwrap_or(0))) {
            let _ = write!(
                o,
                r##"<rect class="culprit-range" x="{:.1}" y="2" width="{:.1}" height="{}" fill="#fbefff" stroke="{PURPLE}" stroke-dasharray="3 2"><title>culprit range {} … {}</title></rect>"##,
                s as f64 * cw + 8.0,
                (e + 1 - s) as f64 * cw,
                top + ch + 4.0,
                esc(first),
                esc(last)
            );
        }
        if let Some(c) = cells.iter().position(|c| c.commit == at) {
            let x = c as f64 * cw + 8.0;
            let _ = write!(
                o,
                r#"<g class="culprit" data-culprit="{a}"><line x1="{x:.1}" y1="4" x2="{x:.1}" y2="{y2}" stroke="{PURPLE}" stroke-width="2"/><text x="{tx:.1}" y="14" class="mark" fill="{PURPLE}">culprit {a}</text></g>"#,
                a = esc(at),
                y2 = top + ch + 2.0,
                tx = x + 3.0,
            );
        }
    }
    let mut last_commit: Option<&str> = None;
    for (i, c) in cells.iter().enumerate() {
        let x = i as f64 * cw + 8.0;
        if last_commit.is_some_and(|l| l != c.commit) && cw >= 4.0 {
            let _ = write!(
                o,
                r##"<line x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{y2}" stroke="#afb8c1"/>"##,
                y1 = top - 2.0,
                y2 = top + ch + 2.0
            );
        }
        last_commit = Some(&c.commit);
        let fill = match c.state {
            "fail" => RED,
            "retry" => AMBER,
            "incident" => GREY,
            _ => GREEN,
        };
        let pad = if cw >= 4.0 { 1.0 } else { 0.0 };
        let _ = write!(
            o,
            r#"<rect class="cell {s}" x="{:.1}" y="{top}" width="{:.1}" height="{ch}" fill="{fill}"><title>{}</title></rect>"#,
            x + pad / 2.0,
            cw - pad,
            esc(&c.tip),
            s = c.state,
        );
    }
    for (i, label) in marks {
        let x = *i as f64 * cw + 8.0 + cw / 2.0;
        let y = top + ch + 6.0;
        let _ = write!(
            o,
            r##"<path class="note-mark" d="M{x:.1},{y} l5,9 h-10 z" fill="{BLUE}"><title>{}</title></path>"##,
            esc(label)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_marks_the_culprit_and_escapes_text() {
        let cells: Vec<Cell> = ["a", "a", "b", "c"]
            .iter()
            .map(|c| Cell {
                commit: c.to_string(),
                state: if *c == "c" { "fail" } else { "pass" },
                tip: format!("<{c}>"),
            })
            .collect();
        let svg = timeline("t", &cells, Some(("b", "c", "b")), &[(1, "note".into())]);
        assert!(svg.contains(r#"data-culprit="b""#));
        assert!(svg.contains("culprit-range"));
        assert!(svg.contains("&lt;a&gt;"));
        assert_eq!(svg.matches("class=\"cell").count(), 4);
        assert!(svg.contains("note-mark"));
    }

    #[test]
    fn bars_scale_to_the_largest_day() {
        let svg = stacked_bars(
            "x",
            &["2026-01-01".into(), "2026-01-02".into()],
            &[("flaky", AMBER, vec![1, 4]), ("broken", RED, vec![1, 0])],
        );
        assert!(svg.contains(">4</text>"));
        assert!(svg.contains("flaky 4"));
    }
}
