// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Value comparison of a pair where either tensor is complex. Both sides are compared as complex
// numbers, as torch.equal / torch.allclose compare them (a real side's imaginary part is 0), in
// complex128, element by element; a magnitude would hide every difference of phase (z against
// conj(z), rotary tables built with another base). Runs on the calling thread: the statistics
// backends take real pairs only.
//
// Rule for one position, x = (xr, xi) from the source and y = (yr, yi) from the target, |z| as
// torch.abs computes it in complex128 (sqrt(re*re + im*im), hypot where that sum is not normal):
//     numel += 1; dot += xr*yr + xi*yi; normA += xr*xr + xi*xi; normB += yr*yr + yi*yi
//     x == y (both parts equal): a difference of 0; sumSqB += yr*yr + yi*yi
//     else: differing += 1; d = |x - y|, x - y as torch.sub computes it (x - 1 * y in complex
//           arithmetic: a part of y that is infinite makes the other part NaN);
//         d is NaN:  nanDiffs += 1; notClose += 1
//         otherwise: notClose += !(d <= atol + rtol * |y|) || d == inf; maxAbsDiff = max(maxAbsDiff, d);
//                    sumAbsDiff += d; sumSqDiff += |x - y|^2; sumSqB += yr*yr + yi*yi
//     the ranges (and the histograms) are those of |x|, |y| and |x - y|.
// The cosine that follows from dot and the norms is that of torch.view_as_real(a) against
// torch.view_as_real(b), flattened: torch's cosine_similarity takes no complex tensors.

#include "checkpoint.h"
#include "histogram_backend.h"
#include "result.h"

#include <cstdint>

namespace ptscope::core {

// True when tensor a of `ca` or tensor b of `cb` has a complex dtype.
bool isComplexPair(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b);

// Pass 1 under the rule above. Errors: a tensor cannot be read, the element counts differ
// (InvalidTensor), Cancelled when `progress` returned false.
Result<PairSummary> complexPairSummary(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b,
    const PairTolerance &tolerance, const ProgressFn &progress = {}, std::uint64_t progressBase = 0,
    std::uint64_t progressTotal = 0);

// Pass 2: histc bins (histogram_backend.h, torch 1.13's order) of |x| and |y| on [lo, hi] and of
// |x - y| on [diffLo, diffHi].
Result<PairBinCounts> complexPairHistogram(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
    std::uint32_t b, const PairBinSpec &spec, const ProgressFn &progress = {}, std::uint64_t progressBase = 0,
    std::uint64_t progressTotal = 0);

} // namespace ptscope::core
