//! Latency histograms (HdrHistogram, recorded in nanoseconds) and their
//! outputs: the summary percentiles, the percentile curve kept in the JSON
//! (what `compare` draws), and the classic HdrHistogram text distribution
//! (`.hgrm`, values in microseconds) that HdrHistogram's plotter reads.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub type Hist = Histogram<u64>;

/// 1 ns .. 1 hour at 3 significant digits.
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The headline percentiles, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub p99_99_us: f64,
    pub max_us: f64,
}

impl Summary {
    pub fn of(h: &Hist) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        let q = |x: f64| us(h.value_at_quantile(x));
        Summary {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean() / 1000.0,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p99_9_us: q(0.999),
            p99_99_us: q(0.9999),
            max_us: us(h.max()),
        }
    }
}

/// One point of the percentile curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// 0..=100.
    pub percentile: f64,
    pub latency_us: f64,
}

/// The percentile curve at HdrHistogram's usual resolution (5 ticks per half distance).
pub fn curve(h: &Hist) -> Vec<CurvePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(5)
        .map(|v| CurvePoint {
            percentile: v.quantile_iterated_to() * 100.0,
            latency_us: us(h.highest_equivalent(v.value_iterated_to())),
        })
        .collect()
}

/// The classic `outputPercentileDistribution` table, values in microseconds.
pub fn hgrm(h: &Hist) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = us(h.highest_equivalent(v.value_iterated_to()));
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let mean = if h.is_empty() { 0.0 } else { h.mean() / 1000.0 };
    let sd = if h.is_empty() {
        0.0
    } else {
        h.stdev() / 1000.0
    };
    let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]");
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        us(h.max()),
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        2048
    );
    s
}

/// `1234.5 µs` → "1.23 ms"; below a millisecond in µs.
pub fn fmt_us(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.2} s", v / 1_000_000.0)
    } else if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_hgrm_agree() {
        let mut h = new_hist();
        for i in 1..=10_000u64 {
            h.record(i * 1000).unwrap(); // 1 µs .. 10 ms
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 10_000);
        assert!((s.p50_us - 5000.0).abs() < 10.0, "{s:?}");
        assert!((s.p99_us - 9900.0).abs() < 10.0);
        let text = hgrm(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     ="));
        let last = text
            .lines()
            .rfind(|l| !l.starts_with('#') && !l.is_empty())
            .unwrap();
        assert!(
            last.contains("1.000000000000") && last.trim_end().ends_with("10000"),
            "{last}"
        );
        let c = curve(&h);
        assert!(c
            .windows(2)
            .all(|w| w[0].percentile <= w[1].percentile && w[0].latency_us <= w[1].latency_us));
        assert_eq!(c.last().unwrap().percentile, 100.0);
    }
}
