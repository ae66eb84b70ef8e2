#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Write a transformer-shaped fp32 state_dict in torch.save's zip format with the standard library
alone (no torch, no NumPy), for benchmarks on machines without torch:

    python3 tests/bench/write_fp32_checkpoint.py OUT.pt [--layers N] [--d-model D] [--seed S]

The default (d_model 2048, 5 layers, vocabulary 32000) holds 1.27 GB of fp32 in 53 tensors.
Weights are normal(0, 0.02) from a fixed seed (--seed, default 0; another seed gives a checkpoint of
the same layout with other weights, for value comparisons) (a block of 2^20 values, tiled with a per-tensor
rotation), biases zero, LayerNorm weights one. The layout is torch's: archive/data.pkl (protocol 2,
torch._utils._rebuild_tensor_v2 over persistent storages), archive/data/<key>, archive/version,
archive/byteorder, all stored uncompressed. torch.load reads it.
"""
import argparse
import array
import os
import random
import struct
import sys
import zipfile


def shapes(d, layers, vocab=32000):
    out = [("tok_emb.weight", (vocab, d))]
    for i in range(layers):
        p = f"layers.{i}."
        out += [(p + "ln_1.weight", (d,)), (p + "ln_1.bias", (d,)),
                (p + "attn.qkv.weight", (3 * d, d)), (p + "attn.qkv.bias", (3 * d,)),
                (p + "attn.proj.weight", (d, d)), (p + "attn.proj.bias", (d,)),
                (p + "ln_2.weight", (d,)), (p + "ln_2.bias", (d,)),
                (p + "mlp.fc1.weight", (4 * d, d)), (p + "mlp.fc2.weight", (d, 4 * d))]
    out += [("ln_f.weight", (d,)), ("ln_f.bias", (d,))]
    return out


def unicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def integer(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    b = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


def int_tuple(values):
    return b"(" + b"".join(integer(v) for v in values) + b"t"


def pickle_state_dict(entries):
    """Protocol-2 pickle of {key: tensor} as torch.save writes it."""
    out = bytearray(b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
    for key, storage_key, shape in entries:
        numel = 1
        for s in shape:
            numel *= s
        stride = []
        acc = 1
        for s in reversed(shape):
            stride.insert(0, acc)
            acc *= s
        out += unicode(key)
        out += b"ctorch._utils\n_rebuild_tensor_v2\n("
        out += (b"(" + unicode("storage") + b"ctorch\nFloatStorage\n" + unicode(storage_key) + unicode("cpu")
                + integer(numel) + b"tQ")  # the persistent id tuple, BINPERSID
        out += integer(0) + int_tuple(shape) + int_tuple(stride)
        out += b"\x89ccollections\nOrderedDict\n)R"  # requires_grad False, OrderedDict()
        out += b"tR"  # args tuple, REDUCE
    out += b"u."  # SETITEMS, STOP
    return bytes(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--d-model", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    block = array.array("f", (rng.gauss(0.0, 0.02) for _ in range(1 << 20)))
    if sys.byteorder != "little":
        block.byteswap()
    block_bytes = block.tobytes()
    entries = [(k, str(i), s) for i, (k, s) in enumerate(shapes(args.d_model, args.layers))]
    tmp = args.out + ".partial"
    total = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("archive/data.pkl", pickle_state_dict(entries))
        zf.writestr("archive/byteorder", "little")
        for i, (key, storage_key, shape) in enumerate(entries):
            numel = 1
            for s in shape:
                numel *= s
            nbytes = 4 * numel
            if key.endswith(".bias"):
                data = bytes(nbytes)
            elif "ln_" in key:
                data = struct.pack("<f", 1.0) * numel
            else:
                rot = (i * 4099 * 4) % len(block_bytes)
                tile = block_bytes[rot:] + block_bytes[:rot]
                data = (tile * (nbytes // len(tile) + 1))[:nbytes]
            with zf.open("archive/data/" + storage_key, "w", force_zip64=nbytes > 2**31) as f:
                f.write(data)
            total += nbytes
        zf.writestr("archive/version", "3\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(entries)} tensors, {total / 1e9:.2f} GB of fp32", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
