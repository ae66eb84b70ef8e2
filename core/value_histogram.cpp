// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "value_histogram.h"

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
    auto sources = pairSources(ca, a, cb, b);
    if (!sources)
        return sources.error();
    const ElementSource &sa = *sources->a;
    const ElementSource &sb = *sources->b;
    const std::uint64_t numel = sources->size();
    std::unique_ptr<HistogramBackend> own;
    if (!backend) {
        own = makeCpuHistogramBackend();
        backend = own.get();
    }
    const std::uint64_t total = numel * 2;
    std::string why;

    // Pass 1: the metrics and the three ranges.
    PairSummary summary;
    BackendStatus status = backend->compare(sa, sb, PairTolerance{}, summary, progress, 0, total, &why);
    if (status != BackendStatus::Ok)
        return pairBackendError(*backend, status, why);

    ValueHistograms out;
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
    status = backend->pairHistogram(sa, sb, spec, counts, progress, numel, total, &why);
    if (status != BackendStatus::Ok)
        return pairBackendError(*backend, status, why);
    out.source.counts = std::move(counts.a);
    out.target.counts = std::move(counts.b);
    out.difference.counts = std::move(counts.diff);
    return out;
}

} // namespace ptscope::core
