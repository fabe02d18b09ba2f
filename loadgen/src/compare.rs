//! `paddock-loadgen compare A.json B.json ...`: runs side by side, and an SVG
//! of their percentile curves.

use std::fmt::Write as _;

use crate::histo::fmt_us;
use crate::report::RunResult;
use crate::svg;

pub fn load(path: &str) -> Result<RunResult, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: not a paddock-loadgen result: {e}"))
}

/// The side-by-side table.
pub fn table(runs: &[(String, RunResult)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<28} {:>9} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>7}",
        "run",
        "workload",
        "ops/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "cpu µs/op",
        "errors"
    );
    for (name, r) in runs {
        let l = &r.latency;
        let _ = writeln!(
            s,
            "{:<28} {:>9} {:>12.1} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9.2} {:>7}{}",
            name,
            r.config.workload.name(),
            r.ops_per_sec,
            fmt_us(l.p50_us),
            fmt_us(l.p90_us),
            fmt_us(l.p99_us),
            fmt_us(l.p99_9_us),
            fmt_us(l.p99_99_us),
            fmt_us(l.max_us),
            r.cpu.us_per_op,
            r.errors_total,
            if r.incomplete { " (incomplete)" } else { "" }
        );
    }
    s
}

pub fn run(files: &[String], svg_out: Option<&str>, title: Option<&str>) -> Result<(), String> {
    let mut runs = Vec::new();
    for f in files {
        let r = load(f)?;
        // Label, made unique by the file name when two runs share one.
        let name = if files
            .iter()
            .filter(|g| load(g).map(|o| o.label == r.label).unwrap_or(false))
            .count()
            > 1
        {
            format!("{} ({f})", r.label)
        } else {
            r.label.clone()
        };
        runs.push((name, r));
    }
    print!("{}", table(&runs));
    if let Some(out) = svg_out {
        let curves: Vec<_> = runs
            .iter()
            .map(|(n, r)| (n.clone(), r.percentiles.clone()))
            .collect();
        let title = title.map(str::to_string).unwrap_or_else(|| {
            let w: Vec<&str> = runs.iter().map(|(_, r)| r.config.workload.name()).collect();
            format!("latency by percentile: {}", w.join(" / "))
        });
        std::fs::write(out, svg::render(&title, &curves)).map_err(|e| format!("{out}: {e}"))?;
        eprintln!("wrote {out}");
    }
    Ok(())
}
