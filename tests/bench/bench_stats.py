#!/usr/bin/python3
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Benchmark `ptscope-cli stats --backend cpu --json FILE` against the same numbers from torch.

    /usr/bin/python3 tests/bench/bench_stats.py PATH/TO/ptscope-cli [--out-dir DIR] [--sizes GB ...]
                                                [--runs N] [--bins N]

Uses the cached fp32 transformer checkpoints of bench_info.py (same generator, same --out-dir,
default /tmp/ptscope-bench). For every file, in one run:

  * ptscope: a child process `ptscope-cli stats --backend cpu --json --bins N FILE >/dev/null`
    (all cores: the CPU backend sizes its pool by std::thread::hardware_concurrency());
  * torch:   a child process that loads the file (map_location="cpu") and, per tensor, computes
    min, max, mean, std(unbiased=False) and torch.histc(bins=N) over the finite values in
    float64 (as the expectations of the test suite), timed as a whole process and as the
    statistics alone (measured inside the child, load excluded); torch uses its own intra-op
    thread pool (all cores).

Each is run once as a warm-up (page cache), then --runs times (default 3); medians with min-max.
Peak RSS as in bench_info.py (wait4's ru_maxrss, through GNU time when available). It also
checks that both sides agree: same tensor count, and histogram counts equal for every tensor.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_info as bi  # noqa: E402

TORCH_STATS_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
sd = torch.load(sys.argv[1], map_location="cpu")
t2 = time.perf_counter()
bins = int(sys.argv[2])
out = {}
for k, v in sd.items():
    d = v.double().reshape(-1)
    f = d[torch.isfinite(d)]
    out[k] = {"min": f.min().item(), "max": f.max().item(), "mean": f.mean().item(),
              "std": f.std(unbiased=False).item(), "counts": [int(c) for c in torch.histc(f, bins=bins).tolist()]}
t3 = time.perf_counter()
print(f"IMPORT_SECONDS {t1 - t0:.6f}")
print(f"LOAD_SECONDS {t2 - t1:.6f}")
print(f"STATS_SECONDS {t3 - t2:.6f}")
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as fh:
        json.dump(out, fh)
"""


def compare(ptscope_json, torch_json):
    """(tensors, histogram mismatches, worst relative error of mean/std)"""
    p = {"/".join(t["path"]): t for t in json.loads(ptscope_json)["tensors"]}
    with open(torch_json) as f:
        t = json.load(f)
    mismatches, worst = 0, 0.0
    for k, e in t.items():
        s = p[k]
        mismatches += s["histogram"]["counts"] != e["counts"]
        for f in ("mean", "std"):
            if e[f] != 0:
                worst = max(worst, abs(s[f] - e[f]) / abs(e[f]))
            else:
                worst = max(worst, abs(s[f]))
    return len(t), mismatches, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cli")
    ap.add_argument("--out-dir", default="/tmp/ptscope-bench")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.25, 1.4])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bins", type=int, default=64)
    args = ap.parse_args(argv)
    bi.USE_GNU_TIME = bi.gnu_time_works()
    python = "/usr/bin/python3"
    rows = []
    for size in args.sizes:
        gen = subprocess.run([python, os.path.join(os.path.dirname(__file__), "bench_info.py"), "--generate-only",
                              "--out-dir", args.out_dir, "--sizes", str(size)], capture_output=True, text=True)
        if gen.returncode != 0:
            print(gen.stderr, file=sys.stderr)
            return 1
        name = [n for n in os.listdir(args.out_dir) if n.startswith(f"transformer_fp32_{size:g}GB") and n.endswith(".pt")]
        path = os.path.join(args.out_dir, sorted(name)[0])
        cli = [args.cli, "stats", "--backend", "cpu", "--json", "--bins", str(args.bins), path]
        torch_json = path + ".torchstats.json"
        torch_cmd = [python, "-c", TORCH_STATS_CHILD, path, str(args.bins)]
        try:
            # Warm-up, which also checks agreement.
            _, _, out = bi.checked(cli, "ptscope-cli stats", capture_stdout=True)
            bi.checked(torch_cmd + [torch_json], "torch stats")
            tensors, mismatches, worst = compare(out, torch_json)
            p, t = bi.Series(), bi.Series()
            inner = []
            for _ in range(args.runs):
                wall, rss, _ = bi.checked(cli, "ptscope-cli stats")
                p.add(wall, rss)
                wall, rss, o = bi.checked(torch_cmd, "torch stats", capture_stdout=True)
                vals = bi.parse_child_numbers(o)
                t.add(wall, rss, vals.get("STATS_SECONDS"))
                inner.append(vals.get("LOAD_SECONDS", 0.0))
        except bi.BenchError as e:
            print(e, file=sys.stderr)
            return 1
        rows.append((os.path.basename(path), os.path.getsize(path), tensors, p, t, inner, mismatches, worst))

    print(f"ptscope-cli stats vs torch {args.bins}-bin histc, {os.cpu_count()} CPUs, runs={args.runs}\n")
    print("| file | size | tensors | ptscope stats (process) | ptscope peak RSS | torch process | "
          "torch stats only | torch load | torch peak RSS | histograms equal | max rel. err mean/std |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, size, tensors, p, t, inner, mismatches, worst in rows:
        print(f"| {name} | {size / 1e9:.2f} GB | {tensors} | {p.wall()} | {p.peak()} | {t.wall()} | {t.load()} | "
              f"{bi.Series.fmt_time(inner)} | {t.peak()} | {tensors - mismatches}/{tensors} | {worst:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
