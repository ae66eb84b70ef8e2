// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The CPU backend's inner loops over float32 and float64 elements, compiled once per instruction
// set and chosen at run time (the binary itself targets baseline x86-64).
//
// Every instruction set computes the same thing: a block's sums run over 8 logical lanes (element
// i of the block goes to lane i % 8, lanes added in a fixed tree), whether a lane is one slot of
// an AVX-512 register, of one of two AVX2 registers or of one of four SSE2 registers, and every
// element is converted to double before any arithmetic. So the results are bit-identical whatever
// the CPU; tests force each available path and compare.
#include "histogram_backend.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ptscope::core::cpu_kernels {

enum class Isa : std::uint8_t { Baseline, Avx2, Avx512 };

const char *isaName(Isa isa);
// The paths this CPU can run, Baseline first.
std::vector<Isa> supportedIsas();
// The path in use: the widest supported one unless a test chose another.
Isa currentIsa();
// Runs the kernels on `isa` from now on (for tests); false, and nothing changes, when unsupported.
bool setIsa(Isa isa);

// A block's elements: `count` contiguous little-endian float32 or float64 values at `bytes`
// (any alignment).
struct Block
{
    const std::uint8_t *bytes = nullptr;
    std::size_t count = 0;
    bool isFloat = false; // float32, else float64
};

// Pass 1 over one block: counts, extrema, the block's own mean and the squared deviations around
// it (MomentSummary's fields), summed over the 8 lanes.
MomentSummary summarizeBlock(const Block &block);

// The torch.histc bin (rule in histogram_backend.h) of each element of a block, added to
// counts[0..bins]: slot `bins` takes the skipped elements.
struct LinearBinning
{
    double lo = 0.0;
    double hi = 0.0;
    std::uint32_t bins = 0;
    bool divideFirst = false; // torch 1.13's order (histogram_backend.h), else torch 2.x's
    // Every element is finite and inside [lo, hi] (BinSpec::inside): no range tests. An element that
    // is not still lands in a bin of [0, bins): never outside the counts.
    bool inside = false;
};
void addLinearBins(const Block &block, const LinearBinning &binning, std::uint64_t *counts);

} // namespace ptscope::core::cpu_kernels
