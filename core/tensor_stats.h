// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "checkpoint.h"
#include "histogram_backend.h"
#include "result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace ptscope::core {

// Where torch.histc puts its outer bin edges. torch >= 2.0 builds linspace(min, max, bins + 1) with
// both ends exact, so every finite value counts and the maximum lands in the last bin (the default).
// torch 1.13's AVX2 linspace can put the last edge one ulp below the maximum when bins + 1 is a
// multiple of 8 (7, 15, 63, 255 bins...), and its histc then leaves the maximum out: Torch1_13
// reproduces that, for comparing against numbers from torch 1.13.
enum class HistcEdges { Exact, Torch1_13 };

struct StatsRequest
{
    std::uint32_t bins = 64;                        // 0: no histogram
    std::optional<std::pair<double, double>> range; // default: the finite min and max (torch.histc)
    bool logHistogram = false;
    std::uint32_t logBins = 0;                      // 0: same as bins
    HistcEdges edges = HistcEdges::Exact;
};

struct Histogram
{
    double min = 0.0;                   // lower edge of the first bin
    double max = 0.0;                   // upper edge of the last bin
    std::vector<std::uint64_t> counts;  // empty when not computed
};

struct TensorStats
{
    std::uint64_t numel = 0;       // every element (dense equivalent for sparse tensors)
    std::uint64_t finiteCount = 0; // what min/max/mean/std are over
    double min = 0.0;              // NaN when there is no finite value
    double max = 0.0;
    double mean = 0.0;
    double std = 0.0;              // population (torch.std(unbiased=False))
    std::uint64_t nan = 0;
    std::uint64_t posInf = 0;
    std::uint64_t negInf = 0;
    std::uint64_t zeros = 0;
    Histogram histogram;           // torch.histc over the finite values
    // log10(|x|) over the finite non-zero values: min/max are log10 of the smallest and largest
    // magnitude; bins are equal-width in log10 space.
    Histogram logHistogram;
    // Elements that are complex and counted by their magnitude |z| (torch.abs), as every statistic
    // here takes them.
    std::uint64_t complexCount = 0;
};

// bool(done, total): called from the calling thread with increasing `done`; return false to cancel.
using ProgressSink = std::function<bool(std::uint64_t done, std::uint64_t total)>;

// Statistics over one tensor or over a group of tensors taken together (a module, a layer, the
// whole state_dict). Streams from the file in chunks (contiguous float32/float64 bytes copied out
// with pread, the rest read from the mapping); memory does not grow with tensor size: at most
// 64 MiB are kept between the two passes, plus a unit's scratch per thread.
// Errors: InvalidTensor (with the reason) when a tensor cannot be read, Cancelled when the sink
// returned false, InvalidTensor for a bad request (empty or reversed range, too many bins).
// `backend` null: the CPU backend on all cores.
Result<TensorStats> computeStats(const Checkpoint &cp, const std::vector<std::uint32_t> &tensors,
                                 const StatsRequest &request = {}, const ProgressSink &progress = {},
                                 HistogramBackend *backend = nullptr);

// The elements of `tensors` of `cp` as one ElementSource (contiguous tensors described by their raw
// bytes in the mapped file), valid while `cp` lives. Error, with the reason, when one of them
// cannot be read.
Result<std::unique_ptr<ElementSource>> tensorElementSource(const Checkpoint &cp,
                                                           const std::vector<std::uint32_t> &tensors);

// The histc range torch would use for finite values in [min, max]: min == max widens by 1 each side.
// Where that is lost to rounding (|min| >= 2^53), the newest torch (2.14) moves that end one ulp
// instead, which Exact does; torch 1.13 and 2.6 keep the end (and raise when both stay), which
// Torch1_13 does.
std::pair<double, double> histcRange(double min, double max, HistcEdges mode = HistcEdges::Exact);

// The first and last bin edges torch.histc bins with for a range: `min` and `max` themselves, or
// under Torch1_13 those of torch 1.13's linspace(min, max, bins + 1) on its AVX2 CPU kernels (the
// last one can be an ulp off `max`).
std::pair<double, double> histcEdges(double min, double max, std::uint32_t bins, HistcEdges mode = HistcEdges::Exact);

} // namespace ptscope::core
