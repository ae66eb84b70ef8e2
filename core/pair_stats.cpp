// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The pair rule every backend is held to (histogram_backend.h), and the walk over two run lists.
#include "histogram_backend.h"

#include <algorithm>
#include <cmath>

namespace ptscope::core {

namespace {

void addTo(FiniteRange &r, double v)
{
    if (!std::isfinite(v)) {
        ++r.nonFinite;
        return;
    }
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
}

} // namespace

void PairSummary::merge(const PairSummary &o)
{
    numel += o.numel;
    differing += o.differing;
    nanDiffs += o.nanDiffs;
    notClose += o.notClose;
    maxAbsDiff = std::max(maxAbsDiff, o.maxAbsDiff);
    sumAbsDiff += o.sumAbsDiff;
    sumSqDiff += o.sumSqDiff;
    sumSqB += o.sumSqB;
    dot += o.dot;
    normA += o.normA;
    normB += o.normB;
    a.merge(o.a);
    b.merge(o.b);
    diff.merge(o.diff);
}

void accumulatePair(PairSummary &s, const double *x, const double *y, std::size_t n, const PairTolerance &tol)
{
    for (std::size_t i = 0; i < n; ++i) {
        const double xi = x[i];
        const double yi = y[i];
        s.dot += xi * yi;
        s.normA += xi * xi;
        s.normB += yi * yi;
        addTo(s.a, xi);
        addTo(s.b, yi);
        addTo(s.diff, xi - yi);
        if (xi == yi) { // equal infinities included: a difference of 0
            s.sumSqB += yi * yi;
            continue;
        }
        ++s.differing;
        const double d = std::fabs(xi - yi);
        if (std::isnan(d)) {
            ++s.nanDiffs;
            ++s.notClose;
            continue;
        }
        if (!(d <= tol.atol + tol.rtol * std::fabs(yi)))
            ++s.notClose;
        s.maxAbsDiff = std::max(s.maxAbsDiff, d);
        s.sumAbsDiff += d;
        s.sumSqDiff += d * d;
        s.sumSqB += yi * yi;
    }
    s.numel += n;
}

std::size_t rawElementSize(RawElement type)
{
    switch (type) {
    case RawElement::F64:
    case RawElement::I64:
    case RawElement::U64:
        return 8;
    case RawElement::F32:
    case RawElement::I32:
    case RawElement::U32:
        return 4;
    case RawElement::F16:
    case RawElement::BF16:
    case RawElement::I16:
    case RawElement::U16:
        return 2;
    default:
        return 1;
    }
}

std::vector<PairRun> pairRuns(const std::vector<ElementRun> &a, const std::vector<ElementRun> &b)
{
    std::vector<PairRun> out;
    std::size_t i = 0, j = 0;
    std::uint64_t at = 0;
    auto contains = [&](const ElementRun &r) { return r.first <= at && at - r.first < r.count; };
    while (i < a.size() && j < b.size()) {
        if (a[i].count == 0) {
            ++i;
            continue;
        }
        if (b[j].count == 0) {
            ++j;
            continue;
        }
        const ElementRun &ra = a[i];
        const ElementRun &rb = b[j];
        if (!contains(ra) || !contains(rb))
            break; // a gap or an overlap: not a run list of a source
        const std::uint64_t endA = ra.first + ra.count;
        const std::uint64_t endB = rb.first + rb.count;
        const std::uint64_t end = std::min(endA, endB);
        PairRun p;
        p.first = at;
        p.count = end - at;
        if (ra.bytes) {
            p.bytesA = ra.bytes + (at - ra.first) * rawElementSize(ra.type);
            p.typeA = ra.type;
        }
        if (rb.bytes) {
            p.bytesB = rb.bytes + (at - rb.first) * rawElementSize(rb.type);
            p.typeB = rb.type;
        }
        // Neighbours both read through cursors make one stretch.
        if (!p.bytesA && !p.bytesB && !out.empty() && !out.back().bytesA && !out.back().bytesB)
            out.back().count += p.count;
        else
            out.push_back(p);
        at = end;
        if (at == endA)
            ++i;
        if (at == endB)
            ++j;
    }
    return out;
}

} // namespace ptscope::core
