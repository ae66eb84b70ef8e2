#!/usr/bin/python3
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Benchmark `ptscope-cli diff --json SOURCE TARGET` (load_state_dict's answer and the value
comparison of every tensor both sides hold) against the same numbers from torch.

    /usr/bin/python3 tests/bench/bench_diff.py PATH/TO/ptscope-cli [--out-dir DIR] [--size GB]
                                               [--runs N] [--backends cpu cuda]
                                               [--python PYTHON] [--torch-devices cpu cuda | none]
                                               [--pair SOURCE TARGET]

The pair: TARGET is bench_info.py's cached fp32 transformer checkpoint of --size GB (default 1.4,
in --out-dir, default /tmp/ptscope-bench); SOURCE, generated once beside it by torch, is TARGET
"fine-tuned": every weight matrix plus normal(0, 1e-3) noise, biases and LayerNorm parameters
unchanged (so both the "identical" and the "differing" paths are timed). `--pair` takes two
existing checkpoints instead (no torch needed to generate them, e.g. two files written by
write_fp32_checkpoint.py with different --seed).

In one run, per backend and per torch device:

  * ptscope: a child process `ptscope-cli diff --json --backend B SOURCE TARGET >/dev/null`
    (the key analysis, the suggestions, and the values of every tensor present on both sides);
  * torch:   a child process that loads both files (map_location="cpu") and, for every key both
    state_dicts hold with the same shape, computes in float64 what ptscope reports: max and mean
    of |a - b|, ||a - b|| / ||b||, cosine_similarity, the count of differing elements,
    torch.allclose and torch.equal; timed as a whole process and as the comparison alone
    (load excluded).

Each is run once as a warm-up (page cache, and the agreement check), then --runs times (default
3); medians with min-max; peak RSS as in bench_info.py. Agreement: same keys, counts and flags
equal, max |a - b| equal, the sums to a relative 1e-9.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_info as bi  # noqa: E402

FINETUNE_CHILD = r"""
import os, sys, torch
from collections import OrderedDict
sd = torch.load(sys.argv[1], map_location="cpu")
gen = torch.Generator().manual_seed(1)
out = OrderedDict()
for k, v in sd.items():
    if v.dim() >= 2:
        v = v + torch.empty_like(v).normal_(0.0, 1e-3, generator=gen)
    out[k] = v
tmp = sys.argv[2] + ".partial"
torch.save(out, tmp)
os.replace(tmp, sys.argv[2])
"""

TORCH_DIFF_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
import torch.nn.functional as F
t1 = time.perf_counter()
a_sd = torch.load(sys.argv[1], map_location="cpu")
b_sd = torch.load(sys.argv[2], map_location="cpu")
t2 = time.perf_counter()
device = sys.argv[3]
out = {}
for k, b in b_sd.items():
    a = a_sd.get(k)
    if a is None or a.shape != b.shape:
        continue
    a = a.to(device)
    b = b.to(device)
    ad, bd = a.double().flatten(), b.double().flatten()
    d = (ad - bd).abs()
    out[k] = {"numel": a.numel(), "max_abs_diff": d.max().item(), "mean_abs_diff": d.mean().item(),
              "rel_l2": (d.norm() / bd.norm()).item(),
              "cosine_similarity": F.cosine_similarity(ad, bd, dim=0).item(),
              "differing": int((a != b).sum().item()), "allclose": bool(torch.allclose(a, b)),
              "identical": bool(torch.equal(a, b))}
if device != "cpu":
    torch.cuda.synchronize()
t3 = time.perf_counter()
print(f"IMPORT_SECONDS {t1 - t0:.6f}")
print(f"LOAD_SECONDS {t2 - t1:.6f}")
print(f"DIFF_SECONDS {t3 - t2:.6f}")
if len(sys.argv) > 4:
    with open(sys.argv[4], "w") as fh:
        json.dump(out, fh)
"""

EXACT = ("numel", "differing", "allclose", "identical", "max_abs_diff")
SUMS = ("mean_abs_diff", "rel_l2", "cosine_similarity")


def ptscope_values(text):
    doc = json.loads(text)
    return {v["key"]: v for v in doc["values"] if "numel" in v}, doc


def agreement(ptscope_text, reference):
    """(tensors compared, disagreeing tensors, worst relative error of the sums) against a dict
    key -> numbers (torch's, or another backend's)."""
    mine, _ = ptscope_values(ptscope_text)
    bad, worst = 0, 0.0
    if set(mine) != set(reference):
        bad += len(set(mine) ^ set(reference))
    for k in set(mine) & set(reference):
        p, t = mine[k], reference[k]
        if any(p[f] != t[f] for f in EXACT):
            bad += 1
            continue
        for f in SUMS:
            scale = max(abs(t[f]), 1e-300)
            worst = max(worst, abs(p[f] - t[f]) / scale)
    return len(reference), bad, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cli")
    ap.add_argument("--out-dir", default="/tmp/ptscope-bench")
    ap.add_argument("--size", type=float, default=1.4)
    ap.add_argument("--pair", nargs=2, metavar=("SOURCE", "TARGET"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backends", nargs="+", default=["cpu"], choices=["cpu", "cuda", "auto"])
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--torch-devices", nargs="+", default=["cpu"], choices=["cpu", "cuda", "none"])
    args = ap.parse_args(argv)
    bi.USE_GNU_TIME = bi.gnu_time_works()
    torch_devices = [d for d in args.torch_devices if d != "none"]
    if args.pair:
        source, target = args.pair
    else:
        gen = subprocess.run([args.python, os.path.join(os.path.dirname(__file__), "bench_info.py"), "--generate-only",
                              "--out-dir", args.out_dir, "--sizes", str(args.size)], capture_output=True, text=True)
        if gen.returncode != 0:
            print(gen.stderr, file=sys.stderr)
            return 1
        target = json.loads(gen.stdout.strip().splitlines()[-1])["path"]
        source = target[:-3] + ".finetuned.pt"
        if not os.path.exists(source) or os.path.getmtime(source) < os.path.getmtime(target):
            print(f"generating {source} ...", file=sys.stderr, flush=True)
            r = subprocess.run([args.python, "-c", FINETUNE_CHILD, target, source])
            if r.returncode != 0:
                return 1

    cli = {b: [args.cli, "diff", "--json", "--backend", b, source, target] for b in args.backends}
    torch_json = {d: f"{source}.torchdiff-{d}.json" for d in torch_devices}
    torch_cmd = {d: [args.python, "-c", TORCH_DIFF_CHILD, source, target, d] for d in torch_devices}
    notes = []
    try:
        # Warm-up (page cache), which also gives the outputs to check.
        outputs = {}
        for b in args.backends:
            wall, rss, rc, out, err = bi.run_child(cli[b], capture_stdout=True)
            if rc not in (0, 1):  # diff exits 1 when strict loading would fail; not the case here
                raise bi.BenchError(f"ptscope-cli diff --backend {b} failed ({rc}):\n{err}")
            outputs[b] = out
        devices = []
        for d in torch_devices:
            try:
                bi.checked(torch_cmd[d] + [torch_json[d]], f"torch diff on {d}")
                devices.append(d)
            except bi.BenchError as e:
                lines = [ln for ln in str(e).splitlines() if ln.strip() and not ln.startswith("---")]
                notes.append(f"torch on {d} left out: {lines[-1] if lines else e}")
        if devices:
            with open(torch_json[devices[0]]) as f:
                reference = json.load(f)
            reference_name = f"torch ({devices[0]})"
        else:
            reference = ptscope_values(outputs[args.backends[0]])[0]
            reference_name = f"ptscope {args.backends[0]}"
        agree = {b: agreement(outputs[b], reference) for b in args.backends}
        backends_used = {b: ptscope_values(outputs[b])[1].get("values_backend", "?") for b in args.backends}
        series = {b: bi.Series() for b in args.backends}
        tseries = {d: bi.Series() for d in devices}
        for _ in range(args.runs):
            for b in args.backends:
                wall, rss, rc, _, err = bi.run_child(cli[b])
                if rc not in (0, 1):
                    raise bi.BenchError(f"ptscope-cli diff --backend {b} failed ({rc}):\n{err}")
                series[b].add(wall, rss)
            for d in devices:
                wall, rss, o = bi.checked(torch_cmd[d], f"torch diff on {d}", capture_stdout=True)
                tseries[d].add(wall, rss, bi.parse_child_numbers(o).get("DIFF_SECONDS"))
    except bi.BenchError as e:
        print(e, file=sys.stderr)
        return 1

    size = os.path.getsize(source) + os.path.getsize(target)
    print(f"ptscope-cli diff (values) vs torch, {os.path.basename(source)} against {os.path.basename(target)}, "
          f"{size / 1e9:.2f} GB in all, {os.cpu_count()} CPUs, runs={args.runs}\n")
    print("| side | process | peak RSS | comparison alone | tensors agreeing | worst rel. error of the sums |")
    print("|---|---|---|---|---|---|")
    for b in args.backends:
        n, bad, worst = agree[b]
        print(f"| `ptscope-cli diff --backend {b}` (values on {backends_used[b]}) | {series[b].wall()} | "
              f"{series[b].peak()} | | {n - bad}/{n} with {reference_name} | {worst:.1e} |")
    for d in devices:
        t = tseries[d]
        print(f"| torch on {d}: load both, compare | {t.wall()} | {t.peak()} | {t.load()} | | |")
    for n in notes:
        print(f"\nNote: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
