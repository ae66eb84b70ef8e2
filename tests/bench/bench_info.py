#!/usr/bin/python3
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Benchmark `ptscope-cli info --json FILE` against `torch.load(FILE, map_location="cpu")`.

    /usr/bin/python3 tests/bench/bench_info.py PATH/TO/ptscope-cli [--out-dir DIR] [--sizes GB ...]
                                               [--runs N]

For each size it generates once (cached in --out-dir, default /tmp/ptscope-bench) an fp32
checkpoint shaped like a GPT-style transformer's state_dict: token and position embeddings,
then per layer ln_1, attn.qkv, attn.proj, ln_2, mlp.fc_in, mlp.fc_out (weights and biases),
then ln_f. Then, in one run, for every file:

  * ptscope:  a child process `ptscope-cli info --json FILE >/dev/null`;
  * torch:    a child process `/usr/bin/python3 -c "...torch.load(FILE, map_location='cpu')"`,
              timed twice: the whole process (interpreter start and `import torch` included),
              and torch.load alone (measured inside the child);
  * torch with mmap=True when the installed torch supports it (2.1+; torch 1.13 does not);
  * a baseline child that only does `import torch`, to show what of the torch process's
    time and memory is the import.

Each is run once as a warm-up (which also puts the file in the page cache), then --runs times
(default 5); medians are reported with min-max. Output: the machine, the exact command, and a
Markdown table.

Peak resident memory is the child's ru_maxrss as wait4() reports it. Linux carries a process's
high-water mark across exec(), so a child inherits the peak RSS of whatever spawned it: this
script therefore never imports torch itself (generation and torch probes run in child
processes), and when GNU time is installed it spawns each measured command through
`/usr/bin/time -f %M` (a ~1 MiB spawner; the figure is still wait4's ru_maxrss, taken by time)
rather than from this ~10 MiB Python process. The floor of the method (a child running
/bin/true) is printed with the results.

`--generate-only` writes the cached checkpoints and exits (no ptscope-cli needed then).

Exit status: 0 on success; 1 when ptscope-cli (or torch) fails on a file, after printing the
failing command and its stderr; 2 for bad arguments.
"""
import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict

GB = 1_000_000_000
VOCAB = 32_000
CONTEXT = 2_048
MIN_LAYERS = 12
WIDTHS = (256, 384, 512, 768, 1024, 1280, 1536, 2048, 2560, 3072, 4096, 5120, 6144, 8192)
RUN_TIMEOUT_S = 900

TORCH_LOAD_CHILD = r"""
import sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
kwargs = {"map_location": "cpu"}
if sys.argv[2] == "mmap":
    kwargs["mmap"] = True
obj = torch.load(sys.argv[1], **kwargs)
t2 = time.perf_counter()
if isinstance(obj, torch.nn.Module):
    n = len(obj.state_dict())
else:
    n = sum(1 for v in obj.values() if isinstance(v, torch.Tensor)) if isinstance(obj, dict) else -1
print(f"IMPORT_SECONDS {t1 - t0:.6f}")
print(f"LOAD_SECONDS {t2 - t1:.6f}")
print(f"TENSORS {n}")
"""
IMPORT_ONLY_CHILD = "import torch"


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Checkpoint generation
# ---------------------------------------------------------------------------------------------

def transformer_config(target_bytes):
    """Widest model (d_model from WIDTHS) that still has at least MIN_LAYERS layers at the
    target size; layers rounded to the nearest count."""
    params = target_bytes / 4
    best = None
    for d in WIDTHS:
        per_layer = 12 * d * d + 13 * d
        embed = VOCAB * d + CONTEXT * d + 2 * d
        layers = round((params - embed) / per_layer)
        if layers >= MIN_LAYERS:
            best = (d, layers)
    if best is None:  # tiny sizes: narrowest width, as many layers as fit (at least one)
        d = WIDTHS[0]
        best = (d, max(1, round((params - VOCAB * d - CONTEXT * d) / (12 * d * d + 13 * d))))
    return best


def transformer_shapes(d, layers):
    shapes = OrderedDict()
    shapes["embed_tokens.weight"] = (VOCAB, d)
    shapes["embed_positions.weight"] = (CONTEXT, d)
    for i in range(layers):
        p = f"layers.{i}."
        shapes[p + "ln_1.weight"] = (d,)
        shapes[p + "ln_1.bias"] = (d,)
        shapes[p + "attn.qkv.weight"] = (3 * d, d)
        shapes[p + "attn.qkv.bias"] = (3 * d,)
        shapes[p + "attn.proj.weight"] = (d, d)
        shapes[p + "attn.proj.bias"] = (d,)
        shapes[p + "ln_2.weight"] = (d,)
        shapes[p + "ln_2.bias"] = (d,)
        shapes[p + "mlp.fc_in.weight"] = (4 * d, d)
        shapes[p + "mlp.fc_in.bias"] = (4 * d,)
        shapes[p + "mlp.fc_out.weight"] = (d, 4 * d)
        shapes[p + "mlp.fc_out.bias"] = (d,)
    shapes["ln_f.weight"] = (d,)
    shapes["ln_f.bias"] = (d,)
    return shapes


def ensure_checkpoint(out_dir, size_gb):
    """Path of the cached checkpoint for size_gb, generating it if missing."""
    import torch

    target = int(size_gb * GB)
    d, layers = transformer_config(target)
    shapes = transformer_shapes(d, layers)
    nbytes = sum(4 * _numel(s) for s in shapes.values())
    name = f"transformer_fp32_{size_gb:g}GB_d{d}_L{layers}.pt"
    path = os.path.join(out_dir, name)
    meta_path = path + ".json"
    meta = {"d_model": d, "layers": layers, "tensors": len(shapes), "tensor_bytes": nbytes,
            "torch_version": torch.__version__, "format": "torch.save zip (default)"}
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            if json.load(f) == meta:
                return path, meta
    print(f"generating {path} ({len(shapes)} tensors, {nbytes / GB:.3f} GB of fp32, d_model {d}, "
          f"{layers} layers) ...", file=sys.stderr, flush=True)
    gen = torch.Generator().manual_seed(0)
    sd = OrderedDict()
    for key, shape in shapes.items():
        t = torch.empty(shape, dtype=torch.float32)
        if key.endswith(".bias"):
            t.zero_()
        elif ".ln_" in key or key.startswith("ln_"):
            t.fill_(1.0)
        else:
            t.normal_(0.0, 0.02, generator=gen)
        sd[key] = t
    tmp = path + ".partial"
    torch.save(sd, tmp)
    del sd
    os.replace(tmp, path)
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    return path, meta


def ensure_many_modules(out_dir, blocks, whole):
    """A model of `blocks` small blocks (Linear(16, 16), BatchNorm1d(16), ReLU): 7 tensors a block,
    saved as its state_dict or as the whole pickled module. Many small tensors and objects: what
    costs in opening such a file is the pickle, not the data."""
    import torch
    import torch.nn as nn

    kind = "whole" if whole else "state_dict"
    path = os.path.join(out_dir, f"many_modules_{blocks}_{kind}.pt")
    meta_path = path + ".json"
    meta = {"blocks": blocks, "tensors": 7 * blocks, "kind": kind, "torch_version": torch.__version__}
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            if json.load(f) == meta:
                return path, meta
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU()) for _ in range(blocks)])
    tmp = path + ".partial"
    torch.save(model if whole else model.state_dict(), tmp)
    os.replace(tmp, path)
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    return path, meta


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------------------------------------
# Measuring a child process
# ---------------------------------------------------------------------------------------------

GNU_TIME = "/usr/bin/time"


def gnu_time_works():
    """True when /usr/bin/time is GNU time (-f %M -o FILE) and reports a sane figure."""
    if not os.access(GNU_TIME, os.X_OK):
        return False
    with tempfile.NamedTemporaryFile("r") as rep:
        try:
            r = subprocess.run([GNU_TIME, "-f", "%M", "-o", rep.name, "/bin/true"], capture_output=True, timeout=30)
            return r.returncode == 0 and int(rep.read().strip().splitlines()[-1]) > 0
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return False


USE_GNU_TIME = False


def run_child(argv, capture_stdout=False):
    """Run argv; return (wall seconds, peak RSS bytes, exit code, stdout text, stderr text).
    Wall time spans process start to reaping. Peak RSS is the child's ru_maxrss (KiB on
    Linux): from GNU time when USE_GNU_TIME, else from our own os.wait4."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out, \
            tempfile.NamedTemporaryFile("r") as rep:
        full = [GNU_TIME, "-f", "%M", "-o", rep.name] + list(argv) if USE_GNU_TIME else list(argv)
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                                stdout=out if capture_stdout else subprocess.DEVNULL, stderr=err)
        killer = threading.Timer(RUN_TIMEOUT_S, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        rss_kib = usage.ru_maxrss
        rc = proc.returncode
        if USE_GNU_TIME:
            # GNU time exits with the child's status; on a signal it writes
            # "Command terminated by signal N" before the figure.
            lines = rep.read().strip().splitlines()
            try:
                rss_kib = int(lines[-1])
            except (ValueError, IndexError):
                rss_kib = 0
            if lines and lines[0].startswith("Command terminated by signal"):
                rc = -int(lines[0].split()[-1])
                stderr += "\n" + lines[0]
        return (wall, rss_kib * 1024, rc, out.read().decode("utf-8", "replace"), stderr)


def checked(argv, what, capture_stdout=False):
    wall, rss, rc, out, err = run_child(argv, capture_stdout)
    if rc != 0:
        cmd = " ".join(shlex.quote(a) for a in argv)
        reason = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        raise BenchError(f"{what} failed ({reason}): {cmd}\n--- stderr ---\n{err.rstrip()}\n--------------")
    return wall, rss, out


def parse_child_numbers(out):
    vals = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            vals[parts[0]] = float(parts[1])
    return vals


class Series:
    def __init__(self):
        self.walls, self.rss, self.inner = [], [], []

    def add(self, wall, rss, inner=None):
        self.walls.append(wall)
        self.rss.append(rss)
        if inner is not None:
            self.inner.append(inner)

    @staticmethod
    def fmt_time(xs):
        if not xs:
            return "n/a"
        return f"{_t(statistics.median(xs))} ({_t(min(xs))}–{_t(max(xs))})"

    def wall(self):
        return self.fmt_time(self.walls)

    def load(self):
        return self.fmt_time(self.inner)

    def peak(self):
        return _mb(max(self.rss)) if self.rss else "n/a"


def _t(s):
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _mb(b):
    return f"{b / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------

def machine_description(cli, python, torch_info):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                    break
    except OSError:
        pass
    version = "unknown"
    try:
        r = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            version = r.stdout.strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return [f"- CPU: {cpu}; {os.cpu_count()} logical cores ({affinity} usable by this process)",
            f"- RAM: {ram}",
            f"- Kernel: {platform.system()} {platform.release()} ({platform.machine()})",
            f"- Python: {torch_info['python']} ({python}); torch {torch_info['torch']}",
            f"- ptscope-cli: {version} ({cli})"]


TORCH_PROBE = r"""
import inspect, json, platform, torch
print(json.dumps({"torch": torch.__version__, "python": platform.python_version(),
                  "mmap": "mmap" in inspect.signature(torch.load).parameters}))
"""


def main(argv=None):
    global USE_GNU_TIME
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cli", nargs="?", help="path to the ptscope-cli binary (not needed with --generate-only)")
    ap.add_argument("--out-dir", default="/tmp/ptscope-bench",
                    help="where generated checkpoints are cached (default: %(default)s)")
    ap.add_argument("--sizes", type=float, nargs="*", default=[0.25, 1.4], metavar="GB",
                    help="checkpoint sizes in GB (10^9 bytes) (default: 0.25 1.4)")
    ap.add_argument("--modules", type=int, nargs="*", default=[], metavar="N",
                    help="also time models of N small blocks (7 tensors each), saved as a state_dict and as a "
                         "whole pickled module (e.g. 3000: 21000 tensors)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement (default: %(default)s)")
    ap.add_argument("--generate-only", action="store_true",
                    help="only write the cached checkpoints (this imports torch in this process)")
    a = ap.parse_args(argv)

    if any(not 0 < s <= 64 for s in a.sizes):
        ap.error("--sizes must be between 0 and 64 GB")
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    try:
        os.makedirs(a.out_dir, exist_ok=True)
    except OSError as e:
        ap.error(f"cannot create --out-dir {a.out_dir}: {e}")
    if a.generate_only:
        for size in a.sizes:
            path, meta = ensure_checkpoint(a.out_dir, size)
            print(json.dumps({"path": path, "meta": meta}))
        for blocks in a.modules:
            for whole in (False, True):
                path, meta = ensure_many_modules(a.out_dir, blocks, whole)
                print(json.dumps({"path": path, "meta": meta}))
        return 0
    if not a.cli:
        ap.error("the path to ptscope-cli is required")
    cli = os.path.abspath(a.cli)
    if not os.path.isfile(cli) or not os.access(cli, os.X_OK):
        ap.error(f"ptscope-cli not found or not executable: {a.cli}")

    python = sys.executable
    command = " ".join(shlex.quote(x) for x in [python] + sys.argv)
    USE_GNU_TIME = gnu_time_works()
    try:
        # torch is only ever imported by children: this process must stay small (see above).
        _, _, out = checked([python, "-c", TORCH_PROBE], "torch probe", capture_stdout=True)
        torch_info = json.loads(out)
        files = []
        for size in a.sizes:
            _, _, out = checked([python, os.path.abspath(__file__), "--generate-only", "--out-dir", a.out_dir,
                                 "--sizes", repr(size)], "checkpoint generation", capture_stdout=True)
            info = json.loads(out.strip().splitlines()[-1])
            files.append((info["path"], info["meta"]))
        for blocks in a.modules:
            _, _, out = checked([python, os.path.abspath(__file__), "--generate-only", "--out-dir", a.out_dir,
                                 "--sizes", "--modules", str(blocks)], "checkpoint generation",
                                capture_stdout=True)
            for line in out.strip().splitlines()[-2:]:
                info = json.loads(line)
                files.append((info["path"], info["meta"]))
        print(f"timing {len(files)} file(s), 1 warm-up + {a.runs} runs each ...", file=sys.stderr, flush=True)

        floor = Series()
        baseline = Series()
        for i in range(a.runs + 1):
            wall, rss, _ = checked(["/bin/true"], "/bin/true")
            if i:
                floor.add(wall, rss)
            wall, rss, _ = checked([python, "-c", IMPORT_ONLY_CHILD], "import torch")
            if i:
                baseline.add(wall, rss)

        rows = []
        for path, meta in files:
            cli_argv = [cli, "info", "--json", path]
            # Not timed: the output must be a JSON document listing every tensor.
            _, _, out = checked(cli_argv, "ptscope-cli", capture_stdout=True)
            try:
                doc = json.loads(out)
                seen = len(doc["tensors"])
            except (ValueError, KeyError, TypeError) as e:
                raise BenchError(f"ptscope-cli printed no valid info JSON for {path}: {e}")
            if seen != meta["tensors"]:
                raise BenchError(f"ptscope-cli listed {seen} tensors in {path}, torch saved {meta['tensors']}")

            variants = [("plain", "torch.load")]
            if torch_info["mmap"]:
                variants.append(("mmap", "torch.load(mmap=True)"))
            ours = Series()
            theirs = {v: Series() for v, _ in variants}
            for i in range(a.runs + 1):  # run 0 is the warm-up
                wall, rss, _ = checked(cli_argv, "ptscope-cli")
                if i:
                    ours.add(wall, rss)
                for variant, _ in variants:
                    wall, rss, out = checked([python, "-c", TORCH_LOAD_CHILD, path, variant],
                                             "torch.load child", capture_stdout=True)
                    nums = parse_child_numbers(out)
                    if nums.get("TENSORS") != meta["tensors"]:
                        raise BenchError(f"torch.load returned {nums.get('TENSORS')} tensors for {path}")
                    if i:
                        theirs[variant].add(wall, rss, nums["LOAD_SECONDS"])
            rows.append((path, meta, ours, [(label, theirs[v]) for v, label in variants]))
    except BenchError as e:
        print(f"bench_info: {e}", file=sys.stderr)
        return 1

    how = ("GNU time's %M (wait4 ru_maxrss of the child, spawned by /usr/bin/time)" if USE_GNU_TIME
           else "os.wait4 ru_maxrss of the child, spawned by this Python process")
    print("## ptscope-cli info vs torch.load\n")
    print("Machine:\n")
    print("\n".join(machine_description(cli, python, torch_info)))
    print(f"\nCommand: `{command}`\n")
    print(f"Each figure: median of {a.runs} runs after one warm-up (min–max in brackets); files in the page "
          f"cache. Wall time spans process start to exit. Peak RSS: {how}; floor of the method "
          f"(/bin/true): {floor.peak()}, {floor.wall()}.\n")
    print("| File | Size | Tensors | ptscope-cli info --json: wall | peak RSS | torch variant | torch.load alone "
          "| torch process: wall | peak RSS | speed-up vs torch.load | vs torch process |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for path, meta, ours, variants in rows:
        size = os.path.getsize(path)
        ours_med = statistics.median(ours.walls)
        for label, s in variants:
            speed_load = statistics.median(s.inner) / ours_med
            speed_proc = statistics.median(s.walls) / ours_med
            print(f"| `{os.path.basename(path)}` | {size / GB:.2f} GB | {meta['tensors']} | {ours.wall()} | "
                  f"{ours.peak()} | {label} | {s.load()} | {s.wall()} | {s.peak()} | {speed_load:.1f}× | "
                  f"{speed_proc:.1f}× |")
    print(f"\nBaseline `python3 -c 'import torch'` alone: wall {baseline.wall()}, peak RSS {baseline.peak()} "
          "(part of every torch-process figure above).")
    if not torch_info["mmap"]:
        print(f"\ntorch.load(..., mmap=True) is not measured: torch {torch_info['torch']} has no `mmap` argument "
              "(it arrived in torch 2.1).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
