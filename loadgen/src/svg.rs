//! A hand-written SVG of latency-percentile curves: x is the percentile on a
//! "nines" scale (x = -log10(1 - p/100): 0, 90, 99, 99.9, 99.99 ... evenly
//! spaced), y is latency on a log scale. One `<path>` per run, with a legend.

use std::fmt::Write as _;

use crate::histo::CurvePoint;

const W: f64 = 900.0;
const H: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn nines(p: f64, cap: f64) -> f64 {
    if p >= 100.0 {
        return cap;
    }
    (-(1.0 - p / 100.0).log10()).clamp(0.0, cap)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn latency_label(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{}s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{}ms", us / 1000.0)
    } else {
        format!("{us}µs")
    }
}

fn percentile_label(n: u32) -> String {
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        _ => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

/// Draws the runs (label, curve) into an SVG document.
pub fn render(title: &str, runs: &[(String, Vec<CurvePoint>)]) -> String {
    let pts = runs
        .iter()
        .flat_map(|(_, c)| c.iter())
        .filter(|p| p.latency_us > 0.0);
    let (mut lo, mut hi, mut max_nines) = (f64::MAX, 0f64, 0f64);
    for p in pts {
        lo = lo.min(p.latency_us);
        hi = hi.max(p.latency_us);
        if p.percentile < 100.0 {
            max_nines = max_nines.max(nines(p.percentile, 9.0));
        }
    }
    if hi == 0.0 {
        lo = 1.0;
        hi = 1000.0;
    }
    // 0 .. 99.99% (or 99.999% when a run has that many samples), not beyond.
    let cap = max_nines.ceil().clamp(4.0, 5.0);
    let (ylo, yhi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |n: f64| LEFT + n / cap * pw;
    let y = |us: f64| TOP + ph - (us.max(1e-3).log10() - ylo) / (yhi - ylo) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        esc(title)
    );
    // Grid and axes (lines, never paths: one path per run).
    for n in 0..=cap as u32 {
        let gx = x(n as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + ph
        );
        let _ = writeln!(
            s,
            r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 18.0,
            percentile_label(n)
        );
    }
    let mut e = ylo;
    while e <= yhi + 1e-9 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(e);
            if v.log10() > yhi + 1e-9 {
                continue;
            }
            let gy = y(v);
            let stroke = if m == 1.0 { "#ccc" } else { "#eee" };
            let _ = writeln!(
                s,
                r#"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="{stroke}"/>"#,
                LEFT + pw
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                gy + 4.0,
                latency_label(v)
            );
        }
        e += 1.0;
    }
    let _ = writeln!(
        s,
        r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + pw / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{:.1}" text-anchor="middle" transform="rotate(-90 20 {:.1})">latency</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    for (k, (label, curve)) in runs.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let mut d = String::new();
        for (j, p) in curve.iter().filter(|p| p.latency_us > 0.0).enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if j == 0 { 'M' } else { 'L' },
                x(nines(p.percentile, cap)),
                y(p.latency_us)
            );
        }
        let _ = writeln!(
            s,
            r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"><title>{}</title></path>"#,
            d.trim_end(),
            esc(label)
        );
        let ly = TOP + 10.0 + k as f64 * 20.0;
        let lx = LEFT + pw + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/>"#,
            lx + 20.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 26.0,
            ly + 4.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(scale: f64) -> Vec<CurvePoint> {
        [0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| CurvePoint {
                percentile: p,
                latency_us: scale * (i + 1) as f64,
            })
            .collect()
    }

    #[test]
    fn one_path_per_run() {
        let runs = vec![
            ("paddock <fast>".to_string(), curve(10.0)),
            ("zookeeper".to_string(), curve(100.0)),
            ("third".to_string(), curve(1000.0)),
        ];
        let svg = render("set 1 KiB", &runs);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 3);
        assert!(svg.contains("paddock &lt;fast&gt;") && svg.contains("zookeeper"));
        assert!(svg.contains(">99.9%<") && svg.contains(">99.99%<") && svg.contains(">90%<"));
    }

    #[test]
    fn nines_scale() {
        assert_eq!(nines(0.0, 4.0), 0.0);
        assert!((nines(90.0, 4.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9, 4.0) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0, 4.0), 4.0);
        assert_eq!(percentile_label(3), "99.9%");
        assert_eq!(percentile_label(1), "90%");
    }
}
