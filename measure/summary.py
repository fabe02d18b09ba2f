#!/usr/bin/env python3
"""Markdown tables from result JSONs written by measure/lib.sh run_lg.

    summary.py pairs DIR A_PREFIX B_PREFIX    one row per run name present as
                                              DIR/A_PREFIX-NAME.json and B_PREFIX-NAME.json,
                                              with both numbers and the ratio B/A
    summary.py list FILE.json...              one row per file
"""
import json
import os
import sys


def load(p):
    with open(p) as f:
        return json.load(f)


def fmt_us(v):
    if v >= 10000:
        return "%.1f ms" % (v / 1000)
    if v >= 1000:
        return "%.2f ms" % (v / 1000)
    return "%.0f µs" % v


def row_vals(r):
    l = r["latency"]
    return {
        "ops/s": r["ops_per_sec"],
        "p50": l["p50_us"],
        "p99": l["p99_us"],
        "p99.9": l["p99_9_us"],
        "server CPU µs/op": r.get("server", {}).get("us_per_op", float("nan")),
        "loadgen CPU µs/op": r["cpu"]["us_per_op"],
    }


def mode(r):
    c = r["config"]
    if c.get("rate"):
        return "open %g/s, %d sess" % (c["rate"], c["sessions"])
    return "%d×%d" % (c["sessions"], c["inflight"])


def pairs(d, a, b):
    names = sorted(f[len(a) + 1:-5] for f in os.listdir(d)
                   if f.startswith(a + "-") and f.endswith(".json"))
    order = ["set-1x1", "create-1x1", "get-1x1", "mixed-1x1",
             "set-sat", "create-sat", "get-sat", "mixed-sat", "set-rate5k"]
    names.sort(key=lambda n: (order.index(n) if n in order else 99, n))
    print("| run | mode | metric | %s | %s | %s/%s |" % (a, b, b, a))
    print("|---|---|---|---:|---:|---:|")
    for n in names:
        pb = os.path.join(d, "%s-%s.json" % (b, n))
        if not os.path.exists(pb):
            continue
        ra, rb = load(os.path.join(d, "%s-%s.json" % (a, n))), load(pb)
        va, vb = row_vals(ra), row_vals(rb)
        first = True
        for k in va:
            x, y = va[k], vb[k]
            ratio = (y / x) if x else float("nan")
            if k == "ops/s":
                sx, sy = "%.0f" % x, "%.0f" % y
            elif "CPU" in k:
                sx, sy = "%.1f" % x, "%.1f" % y
            else:
                sx, sy = fmt_us(x), fmt_us(y)
            print("| %s | %s | %s | %s | %s | %.2f× |" % (
                n if first else "", mode(ra) if first else "", k, sx, sy, ratio))
            first = False
        err = ra["errors_total"] + rb["errors_total"]
        print("| | | load avg before (%s / %s)%s | %s | %s | |" % (
            a, b, ", errors %d" % err if err else "",
            ra.get("loadavg_before", "?"), rb.get("loadavg_before", "?")))


def listing(files):
    print("| run | mode | ops/s | p50 | p99 | p99.9 | server CPU µs/op | loadgen CPU µs/op | errors | load avg before |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in files:
        r = load(p)
        v = row_vals(r)
        print("| %s | %s | %.0f | %s | %s | %s | %.1f | %.1f | %d | %s |" % (
            r["label"], mode(r), v["ops/s"], fmt_us(v["p50"]), fmt_us(v["p99"]),
            fmt_us(v["p99.9"]), v["server CPU µs/op"], v["loadgen CPU µs/op"],
            r["errors_total"], r.get("loadavg_before", "?")))


if __name__ == "__main__":
    if sys.argv[1] == "pairs":
        pairs(*sys.argv[2:5])
    else:
        listing(sys.argv[2:])
