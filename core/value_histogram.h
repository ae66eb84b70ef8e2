// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Histograms of two tensors on the same bins and of their element-wise difference, with the value
// metrics of value_compare.h, streamed so memory stays bounded, on a statistics backend. Binning follows torch.histc
// (histogram_backend.h): the range is the finite minimum and maximum (widened by 1 each side when
// they are equal), NaN and infinities are counted apart.

#include "checkpoint.h"
#include "result.h"
#include "tensor_stats.h"
#include "value_compare.h"

#include <cstdint>

namespace ptscope::core {

struct ValueHistograms
{
    ValueComparison comparison;
    Histogram source;     // `source` and `target` share their bins: the range covers both sides' finite values
    Histogram target;
    Histogram difference; // source - target, element by element, over the finite differences
    std::uint64_t nonFiniteSource = 0;
    std::uint64_t nonFiniteTarget = 0;
    std::uint64_t nonFiniteDifference = 0;
    bool magnitudes = false; // a complex pair: the histograms are of |source|, |target| and |source - target|
};

// Source tensor `a` of `ca` against target tensor `b` of `cb` (same number of elements), two passes
// over both on `backend` (null: the CPU on all cores; every backend gives the same counts). When
// either is complex, the histograms are of |a|, |b| and |a - b| (complex_pairs.h), on the calling
// thread. Errors as
// compareTensorValues, InvalidTensor when bins is not in [1, 2^20], Cancelled when the sink returned
// false. The sink sees elements done out of twice numel (both passes).
Result<ValueHistograms> compareTensorHistograms(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
    std::uint32_t b, std::uint32_t bins = 64, const ProgressSink &progress = {}, HistogramBackend *backend = nullptr);

} // namespace ptscope::core
