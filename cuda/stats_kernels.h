// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The statistics kernels and their launchers: plain types only, shared by stats_kernels.cu (nvcc,
// C++17) and cuda_histogram_backend.cpp (the host side, C++20). Private to ptscope_cuda.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace ptscope::cuda::detail {

// Element encodings, in the order of core::RawElement (cuda_histogram_backend.cpp checks it).
enum ElemCode : int {
    kF64, kF32, kF16, kBF16, kF8E5M2, kF8E4M3FN, kF8E5M2FNUZ, kF8E4M3FNUZ, kF8E8M0,
    kI64, kI32, kI16, kI8, kU64, kU32, kU16, kU8, kBool,
};

// Size in bytes of one element of `code`.
int elemBytes(int code);

// One block's summary of its tile of kTile consecutive elements, as core::MomentSummary holds it:
// counts, extrema, and the tile's own mean with the squared deviations around it. The host merges
// the tiles in order with MomentSummary::merge (Chan's update), so results are deterministic.
struct BlockMoments
{
    unsigned long long count, nan, posInf, negInf, zeros;
    double min, max, minAbs, maxAbs, mean, m2;
};

constexpr int kThreads = 256;
constexpr int kItemsPerThread = 32;
constexpr std::uint64_t kTile = std::uint64_t(kThreads) * kItemsPerThread;

// Number of BlockMoments launchMoments writes for n elements.
inline std::uint64_t momentBlocks(std::uint64_t n) { return (n + kTile - 1) / kTile; }

// Summarises n elements of `code` at `data` (device memory) into momentBlocks(n) records.
cudaError_t launchMoments(int code, const void *data, std::uint64_t n, BlockMoments *out, cudaStream_t stream);

struct HistParams
{
    // Linear histogram (bins 0: none), the CPU backend's expression: see core/histogram_backend.h.
    std::uint32_t bins;
    double lo, hi, width, binsD, lastBinD;
    bool divideFirst;           // torch 1.13's order, else torch 2.x's (core BinSpec::divideFirst)
    unsigned long long *counts; // device, bins
    // Log-magnitude histogram (logBins 0: none): |x| placed by the edge table.
    std::uint32_t logBins;
    const double *edges;           // device, logBins + 1
    unsigned long long *logCounts; // device, logBins
};

// Adds the bins of n elements of `code` at `data` (device memory) to p.counts and p.logCounts.
// `maxBlocks` bounds the grid (each block keeps private shared-memory counts when they fit).
cudaError_t launchHistogram(int code, const void *data, std::uint64_t n, const HistParams &p, int maxBlocks,
                            cudaStream_t stream);

// The device code's element conversion and bin rules, compiled for the host (the same source):
// tests hold them to the core's on machines without a GPU.
double hostConvert(int code, const void *data, std::uint64_t i);
int hostLinearBin(double x, const HistParams &p); // -1: skipped
int hostLogBin(double x, const double *edges, unsigned int logBins); // -1: skipped

// ---- pairs: two sources compared position by position (core/histogram_backend.h's pair rule) ----

// One block's summary of its tile of kTile consecutive positions, as core::PairSummary holds it
// (a, b and diff ranges flattened). The host merges the tiles in order with PairSummary::merge.
struct BlockPair
{
    unsigned long long numel, differing, nanDiffs, notClose, nonFiniteA, nonFiniteB, nonFiniteDiff;
    double maxAbsDiff, sumAbsDiff, sumSqDiff, sumSqB, dot, normA, normB;
    double minA, maxA, minB, maxB, minDiff, maxDiff;
};

// Converts n elements of `code` at `src` to doubles at `dst` (both device memory), as the
// statistics kernels read them.
cudaError_t launchConvert(int code, const void *src, std::uint64_t n, double *dst, cudaStream_t stream);

// Summarises positions [0, n) of a and b (device doubles) into momentBlocks(n) records.
cudaError_t launchPairSummary(const double *a, const double *b, std::uint64_t n, double rtol, double atol,
                              BlockPair *out, cudaStream_t stream);

struct PairHistParams
{
    // The CPU backend's expressions (core/histogram_backend.h): a and b on [lo, hi], a - b on
    // [diffLo, diffHi], `bins` bins each.
    std::uint32_t bins;
    double lo, hi, width, diffLo, diffHi, diffWidth, binsD, lastBinD;
    unsigned long long *counts; // device, 3 * bins: a's, b's, then a - b's
};

// Adds the bins of positions [0, n) of a and b (device doubles) to p.counts.
cudaError_t launchPairHistogram(const double *a, const double *b, std::uint64_t n, const PairHistParams &p,
                                int maxBlocks, cudaStream_t stream);

// The pair kernel's per-position rule, per-thread order and block reduction run on the host for
// the first tile (at most kTile positions) of a and b: tests hold it to the core's accumulatePair.
BlockPair hostPairTile(const double *a, const double *b, std::uint64_t n, double rtol, double atol);
// The three bins the pair histogram kernel gives (x, y) (-1: skipped), in out[0..2].
void hostPairBins(double x, double y, const PairHistParams &p, int out[3]);

} // namespace ptscope::cuda::detail
