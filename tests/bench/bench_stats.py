#!/usr/bin/python3
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Benchmark `ptscope-cli stats --backend cpu --json FILE` against the same numbers from torch.

    /usr/bin/python3 tests/bench/bench_stats.py PATH/TO/ptscope-cli [--out-dir DIR] [--sizes GB ...]
                                                [--runs N] [--bins N]
                                                [--files FILE ...] [--backends cpu cuda]
                                                [--python PYTHON] [--torch-devices cpu cuda | none]

`--files` benchmarks the given checkpoints instead of generating them (for machines without torch,
tests/bench/write_fp32_checkpoint.py writes one); `--backends` runs ptscope-cli once per backend;
`--torch-devices` runs the torch side on the CPU and/or the GPU (`none`: no torch; a torch side
that fails, e.g. without torch or without CUDA, is reported and left out); `--python` is the
interpreter that imports torch.

Uses the cached fp32 transformer checkpoints of bench_info.py (same generator, same --out-dir,
default /tmp/ptscope-bench). For every file, in one run:

  * ptscope: a child process `ptscope-cli stats --backend cpu --json --bins N FILE >/dev/null`
    (all cores: the CPU backend sizes its pool by std::thread::hardware_concurrency());
  * torch:   a child process that loads the file (map_location="cpu") and, per tensor, computes
    min, max, mean, std(unbiased=False) and torch.histc(bins=N) over the finite values in
    float64 (as the expectations of the test suite), timed as a whole process and as the
    statistics alone (measured inside the child, load excluded); torch uses its own intra-op
    thread pool (all cores).

  * read baseline: the floor for any statistics over the file, the time to read every byte of
    it from the page cache on all cores (tests/bench/read_baseline.c, built here with the system
    C compiler: each thread adds up the 64-bit words of its slice, through a memory map and through
    pread; the faster of the two per run), as a whole process like ptscope; and ptscope's speed as
    a share of that (baseline time / ptscope time). Left out, with a note, without a C compiler.

Each is run once as a warm-up (page cache), then --runs times (default 3); medians with min-max.
Peak RSS as in bench_info.py (wait4's ru_maxrss, through GNU time when available). It also
checks that both sides agree: same tensor count, and histogram counts equal for every tensor.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

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
device = sys.argv[3]
out = {}
for k, v in sd.items():
    d = v.to(device).double().reshape(-1)
    f = d[torch.isfinite(d)]
    out[k] = {"min": f.min().item(), "max": f.max().item(), "mean": f.mean().item(),
              "std": f.std(unbiased=False).item(), "counts": [int(c) for c in torch.histc(f, bins=bins).tolist()]}
if device != "cpu":
    torch.cuda.synchronize()
t3 = time.perf_counter()
print(f"IMPORT_SECONDS {t1 - t0:.6f}")
print(f"LOAD_SECONDS {t2 - t1:.6f}")
print(f"STATS_SECONDS {t3 - t2:.6f}")
if len(sys.argv) > 4:
    with open(sys.argv[4], "w") as fh:
        json.dump(out, fh)
"""


def ptscope_reference(ptscope_json):
    """A ptscope --json output in the shape of the torch child's, to compare two backends."""
    return {"/".join(t["path"]): {"mean": t["mean"], "std": t["std"], "counts": t["histogram"]["counts"]}
            for t in json.loads(ptscope_json)["tensors"]}


def compare(ptscope_json, reference):
    """(tensors, histogram mismatches, worst relative error of mean/std) against a torch child's
    JSON file, or a dict from ptscope_reference."""
    p = {"/".join(t["path"]): t for t in json.loads(ptscope_json)["tensors"]}
    if isinstance(reference, dict):
        t = reference
    else:
        with open(reference) as f:
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


def build_read_baseline(out_dir):
    """Compile read_baseline.c into out_dir; (path, None) or (None, why not)."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler (cc, gcc or clang) on PATH"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_baseline.c")
    exe = os.path.join(out_dir, "read_baseline")
    r = subprocess.run([cc, "-O3", "-march=native", "-pthread", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"read_baseline.c did not build: {r.stderr.strip().splitlines()[-1:]}"
    return exe, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cli")
    ap.add_argument("--out-dir", default="/tmp/ptscope-bench")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.25, 1.4])
    ap.add_argument("--files", nargs="+", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bins", type=int, default=64)
    ap.add_argument("--backends", nargs="+", default=["cpu"], choices=["cpu", "cuda", "auto"])
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--torch-devices", nargs="+", default=["cpu"], choices=["cpu", "cuda", "none"])
    args = ap.parse_args(argv)
    bi.USE_GNU_TIME = bi.gnu_time_works()
    python = args.python
    torch_devices = [d for d in args.torch_devices if d != "none"]
    paths = list(args.files or [])
    if not paths:
        for size in args.sizes:
            gen = subprocess.run([python, os.path.join(os.path.dirname(__file__), "bench_info.py"), "--generate-only",
                                  "--out-dir", args.out_dir, "--sizes", str(size)], capture_output=True, text=True)
            if gen.returncode != 0:
                print(gen.stderr, file=sys.stderr)
                return 1
            # The generator prints {"path": ..., "meta": ...} for the file it made or found.
            paths.append(json.loads(gen.stdout.strip().splitlines()[-1])["path"])
    rows = []
    notes = []
    tmp = tempfile.mkdtemp(prefix="ptscope-bench-")
    baseline_exe, why = build_read_baseline(tmp)
    if why:
        notes.append(f"read baseline left out: {why}")
    for path in paths:
        cli = {b: [args.cli, "stats", "--backend", b, "--json", "--bins", str(args.bins), path]
               for b in args.backends}
        torch_cmd = {d: [python, "-c", TORCH_STATS_CHILD, path, str(args.bins), d] for d in torch_devices}
        torch_json = {d: f"{path}.torchstats-{d}.json" for d in torch_devices}
        try:
            # Warm-up, which also checks agreement: against torch on the CPU when it ran, else
            # against ptscope's first backend.
            outputs = {b: bi.checked(cli[b], f"ptscope-cli stats --backend {b}", capture_stdout=True)[2]
                       for b in args.backends}
        except bi.BenchError as e:
            print(e, file=sys.stderr)
            return 1
        devices = []
        for d in torch_devices:
            try:
                bi.checked(torch_cmd[d] + [torch_json[d]], f"torch stats on {d}")
                devices.append(d)
            except bi.BenchError as e:
                lines = [ln for ln in str(e).splitlines() if ln.strip() and not ln.startswith("---")]
                notes.append(f"torch on {d} left out for {os.path.basename(path)}: {lines[-1] if lines else e}")
        reference = torch_json[devices[0]] if devices else ptscope_reference(outputs[args.backends[0]])
        reference_name = f"torch ({devices[0]})" if devices else f"ptscope {args.backends[0]}"
        agreement = {b: compare(outputs[b], reference) for b in args.backends}
        series = {b: bi.Series() for b in args.backends}
        tseries = {d: bi.Series() for d in devices}
        baseline = bi.Series()
        try:
            if baseline_exe:
                for mode in ("mmap", "pread"):  # warm-up
                    bi.checked([baseline_exe, path, mode], f"read_baseline {mode}")
            for _ in range(args.runs):
                if baseline_exe:
                    walls = [bi.checked([baseline_exe, path, mode], f"read_baseline {mode}")[0]
                             for mode in ("mmap", "pread")]
                    baseline.add(min(walls), 0)
                for b in args.backends:
                    wall, rss, _ = bi.checked(cli[b], f"ptscope-cli stats --backend {b}")
                    series[b].add(wall, rss)
                for d in devices:
                    wall, rss, o = bi.checked(torch_cmd[d], f"torch stats on {d}", capture_stdout=True)
                    tseries[d].add(wall, rss, bi.parse_child_numbers(o).get("STATS_SECONDS"))
        except bi.BenchError as e:
            print(e, file=sys.stderr)
            return 1
        rows.append((os.path.basename(path), os.path.getsize(path), series, tseries, agreement, reference_name,
                     baseline))
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"ptscope-cli stats vs torch {args.bins}-bin histc, {os.cpu_count()} CPUs, runs={args.runs}\n")
    head = "| file | size | tensors | read baseline (all cores) |"
    rule = "|---|---|---|---|"
    for b in args.backends:
        head += (f" ptscope {b} (process) | {b}: share of read speed | ptscope {b} peak RSS | {b}: histograms equal"
                 f" | {b}: max rel. err mean/std |")
        rule += "---|---|---|---|---|"
    for d in torch_devices:
        head += f" torch {d} process | torch {d} stats only |"
        rule += "---|---|"
    head += " compared with |"
    rule += "---|"
    print(head)
    print(rule)
    for name, size, series, tseries, agreement, reference_name, baseline in rows:
        tensors = max(a[0] for a in agreement.values())
        line = f"| {name} | {size / 1e9:.2f} GB | {tensors} | {baseline.wall()} |"
        for b in args.backends:
            n, mismatches, worst = agreement[b]
            share = "n/a"
            if baseline.walls and series[b].walls:
                share = f"{100 * statistics.median(baseline.walls) / statistics.median(series[b].walls):.0f} %"
            line += f" {series[b].wall()} | {share} | {series[b].peak()} | {n - mismatches}/{n} | {worst:.1e} |"
        for d in torch_devices:
            t = tseries.get(d)
            line += f" {t.wall()} | {t.load()} |" if t else " n/a | n/a |"
        line += f" {reference_name} |"
        print(line)
    for n in notes:
        print(f"\nNote: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
