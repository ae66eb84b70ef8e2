// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Numeric comparison of two tensors of the same number of elements, element by element in
// float64 (each converted as torch converts it to double), streamed so memory stays bounded, on a
// statistics backend (histogram_backend.h: all CPU cores, or the GPU).

#include "checkpoint.h"
#include "histogram_backend.h"
#include "result.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ptscope::core {

struct ValueComparison
{
    std::uint64_t numel = 0;
    double maxAbsDiff = 0.0; // over positions whose difference is a number (equal infinities count as 0)
    double meanAbsDiff = 0.0;
    double relativeL2
        = 0.0; // ||a - b|| / ||b|| over the same positions (b: the target); inf when ||b|| = 0 < ||a - b||
    std::uint64_t differing = 0; // positions where a != b (NaN differs from everything, as in torch)
    std::uint64_t nanDiffs = 0; // positions whose difference is NaN (a NaN on either side, or inf - inf)
    // torch.allclose(a, b, rtol=1e-5, atol=1e-8): a == b, or |a - b| finite and <= atol + rtol * |b|
    bool allclose = true;
    bool identical = true; // torch.equal(a, b)
    // torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) in float64 (torch 1.13
    // and 2.x): sum(a / max(|a|, 1e-8) * b / max(|b|, 1e-8)), |a| = sqrt(a.a); NaN when either side
    // holds a NaN or an infinity, 0 when a norm's squares overflow (every element divides to 0), 0
    // for empty tensors.
    double cosine = 1.0;
};

// The comparison a pair summary describes (histogram_backend.h gives the rule per position).
ValueComparison valueComparison(const PairSummary &summary);

// Accumulates a comparison chunk by chunk, on the calling thread; a and b must have the same length
// in each call (the longer one's extra elements are ignored).
class ValueComparator final
{
public:
    explicit ValueComparator(double rtol = 1e-5, double atol = 1e-8)
        : m_tolerance{rtol, atol}
    { }
    void add(std::span<const double> a, std::span<const double> b)
    {
        accumulatePair(m_summary, a.data(), b.data(), std::min(a.size(), b.size()), m_tolerance);
    }
    ValueComparison result() const { return valueComparison(m_summary); }

private:
    PairTolerance m_tolerance;
    PairSummary m_summary;
};

// Source tensor `a` of checkpoint `ca` against target tensor `b` of `cb`, both read through
// TensorElementReader, on `backend` (null: the CPU on all cores; every backend gives the same
// counts, flags and maximum, and the same sums to rounding). When either is complex, the pair is
// compared as complex numbers on the calling thread instead (complex_pairs.h). `progress` (optional) sees elements
// done out of numel and cancels by returning false. Errors: either tensor has no readable data,
// their element counts differ (InvalidTensor), Cancelled, or the backend failed (ReadFailed, with
// its reason).
Result<ValueComparison> compareTensorValues(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
                                            std::uint32_t b, HistogramBackend *backend = nullptr,
                                            const ProgressFn &progress = {});

// Tensor a of `ca` and tensor b of `cb` as element sources for a pass over both. Errors: either
// tensor has no readable data, or their element counts differ (InvalidTensor).
struct PairSources
{
    std::unique_ptr<ElementSource> a, b;
    std::uint64_t size() const { return a->size(); }
};
Result<PairSources> pairSources(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b);

// The error for a backend call that did not return Ok (Cancelled or ReadFailed with `why`).
Error pairBackendError(const HistogramBackend &backend, BackendStatus status, const std::string &why);

} // namespace ptscope::core
