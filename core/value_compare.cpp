// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "value_compare.h"

#include "complex_pairs.h"
#include "tensor_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace ptscope::core {

ValueComparison valueComparison(const PairSummary &s)
{
    ValueComparison r;
    r.numel = s.numel;
    r.differing = s.differing;
    r.nanDiffs = s.nanDiffs;
    r.identical = s.identical();
    r.allclose = s.allclose();
    r.maxAbsDiff = s.maxAbsDiff;
    const std::uint64_t counted = s.numel - s.nanDiffs;
    r.meanAbsDiff = counted ? s.sumAbsDiff / static_cast<double>(counted) : 0.0;
    const double nd = std::sqrt(s.sumSqDiff);
    const double nb = std::sqrt(s.sumSqB);
    r.relativeL2 = nb != 0.0 ? nd / nb : (nd == 0.0 ? 0.0 : INFINITY);
    // torch's cosine_similarity: each side divided by its norm clamped to eps = 1e-8, then the dot
    // product; here a.b / (max(|a|, eps) * max(|b|, eps)), the same to rounding (the product of two
    // finite norms cannot overflow, nor can a.b, which it bounds).
    constexpr double eps = 1e-8;
    if (s.a.nonFinite || s.b.nonFinite)
        r.cosine = std::numeric_limits<double>::quiet_NaN(); // inf / inf or NaN in every term
    else if (!std::isfinite(s.normA) || !std::isfinite(s.normB))
        r.cosine = 0.0; // x / inf: every term 0
    else
        r.cosine = s.dot / (std::max(std::sqrt(s.normA), eps) * std::max(std::sqrt(s.normB), eps));
    return r;
}

Error pairBackendError(const HistogramBackend &backend, BackendStatus status, const std::string &why)
{
    if (status == BackendStatus::Cancelled)
        return makeError(ErrorCode::Cancelled, "cancelled");
    return makeError(ErrorCode::ReadFailed, "the " + backend.name() + " backend failed: " + why);
}

Result<PairSources> pairSources(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b)
{
    auto sa = tensorElementSource(ca, {a});
    if (!sa)
        return sa.error();
    auto sb = tensorElementSource(cb, {b});
    if (!sb)
        return sb.error();
    if ((*sa)->size() != (*sb)->size())
        return makeError(ErrorCode::InvalidTensor,
            "the tensors have different numbers of elements (" + std::to_string((*sa)->size()) + " and "
                + std::to_string((*sb)->size()) + ")");
    return PairSources{std::move(*sa), std::move(*sb)};
}

Result<ValueComparison> compareTensorValues(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
                                            std::uint32_t b, HistogramBackend *backend, const ProgressFn &progress)
{
    if (isComplexPair(ca, a, cb, b)) {
        auto summary = complexPairSummary(ca, a, cb, b, PairTolerance{}, progress);
        if (!summary)
            return summary.error();
        return valueComparison(*summary);
    }
    auto sources = pairSources(ca, a, cb, b);
    if (!sources)
        return sources.error();
    const std::uint64_t n = sources->size();
    std::unique_ptr<HistogramBackend> own;
    if (!backend) {
        own = makeCpuHistogramBackend();
        backend = own.get();
    }
    PairSummary summary;
    std::string why;
    const BackendStatus status = backend->compare(*sources->a, *sources->b, PairTolerance{}, summary, progress, 0, n, &why);
    if (status != BackendStatus::Ok)
        return pairBackendError(*backend, status, why);
    return valueComparison(summary);
}

} // namespace ptscope::core
