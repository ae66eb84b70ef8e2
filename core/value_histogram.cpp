// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "value_histogram.h"

#include "complex_pairs.h"
#include "histogram_backend.h"

#include <algorithm>
#include <memory>

namespace ptscope::core {

namespace {

// The histc bins for [min, max] (0 and 0 when nothing is finite, as torch.histc of an empty range).
Histogram emptyHistogram(const FiniteRange &r, std::uint32_t bins, double &lo, double &hi)
{
    const auto range = histcRange(r.any() ? r.min : 0.0, r.any() ? r.max : 0.0);
    const auto edges = histcEdges(range.first, range.second, bins);
    lo = edges.first;
    hi = edges.second;
    Histogram h;
    h.min = lo;
    h.max = hi;
    h.counts.assign(bins, 0);
    return h;
}

} // namespace

Result<ValueHistograms> compareTensorHistograms(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
    std::uint32_t b, std::uint32_t bins, const ProgressSink &progress, HistogramBackend *backend)
{
    if (bins == 0 || bins > (1u << 20))
        return makeError(ErrorCode::InvalidTensor, "a histogram needs between 1 and 1048576 bins");
    const bool complex = isComplexPair(ca, a, cb, b);
    std::unique_ptr<ElementSource> sa, sb;
    std::uint64_t numel = 0;
    PairSummary summary;
    std::string why;
    std::unique_ptr<HistogramBackend> own;
    if (complex) {
        // Pass 1 of two (tensor a's element count is the reader's; a pair that differs fails).
        const std::uint64_t a2 = a < ca.tensors.size() ? ca.tensors[a].numel * 2 : 0;
        auto s = complexPairSummary(ca, a, cb, b, PairTolerance{}, progress, 0, a2);
        if (!s)
            return s.error();
        summary = *s;
        numel = summary.numel;
    } else {
        auto sources = pairSources(ca, a, cb, b);
        if (!sources)
            return sources.error();
        sa = std::move(sources->a);
        sb = std::move(sources->b);
        numel = sa->size();
        if (!backend) {
            own = makeCpuHistogramBackend();
            backend = own.get();
        }
        // Pass 1: the metrics and the three ranges.
        const BackendStatus status = backend->compare(*sa, *sb, PairTolerance{}, summary, progress, 0, numel * 2, &why);
        if (status != BackendStatus::Ok)
            return pairBackendError(*backend, status, why);
    }
    const std::uint64_t total = numel * 2;

    ValueHistograms out;
    out.magnitudes = complex;
    out.comparison = valueComparison(summary);
    out.nonFiniteSource = summary.a.nonFinite;
    out.nonFiniteTarget = summary.b.nonFinite;
    out.nonFiniteDifference = summary.diff.nonFinite;
    FiniteRange both = summary.a;
    if (summary.b.any()) {
        both.min = std::min(both.min, summary.b.min);
        both.max = std::max(both.max, summary.b.max);
    }
    PairBinSpec spec;
    spec.bins = bins;
    out.source = emptyHistogram(both, bins, spec.lo, spec.hi);
    out.target = out.source;
    out.difference = emptyHistogram(summary.diff, bins, spec.diffLo, spec.diffHi);

    // Pass 2: the counts.
    PairBinCounts counts;
    if (complex) {
        auto c = complexPairHistogram(ca, a, cb, b, spec, progress, numel, total);
        if (!c)
            return c.error();
        counts = std::move(*c);
    } else {
        const BackendStatus status = backend->pairHistogram(*sa, *sb, spec, counts, progress, numel, total, &why);
        if (status != BackendStatus::Ok)
            return pairBackendError(*backend, status, why);
    }
    out.source.counts = std::move(counts.a);
    out.target.counts = std::move(counts.b);
    out.difference.counts = std::move(counts.diff);
    return out;
}

} // namespace ptscope::core
