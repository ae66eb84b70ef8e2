// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The pair rule every backend is held to (histogram_backend.h), and the walk over two run lists.
#include "histogram_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace ptscope::core {

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

namespace {

// Four interleaved lanes (position i goes to lane i % 4), summed (l0 + l1) + (l2 + l3) at the end
// of a call: the same order on every machine. Lanes 0-1 and 2-3 are two 2-lane vectors (GCC/Clang
// vector extensions: one SSE2 register each on baseline x86-64, NEON on ARM); branch-free, so that
// it vectorises. The rule per lane is the one in histogram_backend.h.
using V2d = double __attribute__((vector_size(16)));
using V2i = std::int64_t __attribute__((vector_size(16)));

struct PairLanes
{
    V2d dot{}, normA{}, normB{}, sumAbs{}, sumSq{}, sumSqB{}, maxAbs{};
    V2i differing{}, nanDiffs{}, notClose{}; // masks are -1: subtract them
    V2d minA, maxA, minB, maxB, minD, maxD;
    V2i nfA{}, nfB{}, nfD{};

    PairLanes()
    {
        constexpr double inf = std::numeric_limits<double>::infinity();
        minA = minB = minD = V2d{inf, inf};
        maxA = maxB = maxD = -minA;
    }

    // Lane k of `o` into lane k of this one.
    void mergeLane(const PairLanes &o, int k)
    {
        dot[k] += o.dot[k];
        normA[k] += o.normA[k];
        normB[k] += o.normB[k];
        sumAbs[k] += o.sumAbs[k];
        sumSq[k] += o.sumSq[k];
        sumSqB[k] += o.sumSqB[k];
        maxAbs[k] = maxAbs[k] < o.maxAbs[k] ? o.maxAbs[k] : maxAbs[k];
        differing[k] += o.differing[k];
        nanDiffs[k] += o.nanDiffs[k];
        notClose[k] += o.notClose[k];
        nfA[k] += o.nfA[k];
        nfB[k] += o.nfB[k];
        nfD[k] += o.nfD[k];
        minA[k] = o.minA[k] < minA[k] ? o.minA[k] : minA[k];
        maxA[k] = maxA[k] < o.maxA[k] ? o.maxA[k] : maxA[k];
        minB[k] = o.minB[k] < minB[k] ? o.minB[k] : minB[k];
        maxB[k] = maxB[k] < o.maxB[k] ? o.maxB[k] : maxB[k];
        minD[k] = o.minD[k] < minD[k] ? o.minD[k] : minD[k];
        maxD[k] = maxD[k] < o.maxD[k] ? o.maxD[k] : maxD[k];
    }
};

// m ? a : b for a mask m of all-ones or all-zero lanes, as bit operations: a vector ?: on a mask
// that is not a comparison's result would be tested lane by lane (SSE2 has no 64-bit compare).
inline V2d select(V2i m, V2d a, V2d b)
{
    return (V2d)(((V2i)a & m) | ((V2i)b & ~m));
}

inline V2d absV(V2d v)
{
    return v < V2d{} ? -v : v; // NaN stays NaN; -0 stays -0, which compares equal to 0
}

inline void rangeLanes(V2d v, V2d &mn, V2d &mx, V2i &nonFinite)
{
    constexpr double big = std::numeric_limits<double>::max();
    const V2i finite = absV(v) <= V2d{big, big};
    nonFinite -= ~finite;
    mn = select(finite & (v < mn), v, mn); // std::min's choice on ties: the earlier value
    mx = select(finite & (mx < v), v, mx);
}

inline void pairLanes(PairLanes &l, const double *xp, const double *yp, V2d atol, V2d rtol)
{
    V2d x, y;
    std::memcpy(&x, xp, sizeof x);
    std::memcpy(&y, yp, sizeof y);
    l.dot += x * y;
    l.normA += x * x;
    const V2d yy = y * y;
    l.normB += yy;
    const V2d diff = x - y;
    rangeLanes(x, l.minA, l.maxA, l.nfA);
    rangeLanes(y, l.minB, l.maxB, l.nfB);
    rangeLanes(diff, l.minD, l.maxD, l.nfD);
    const V2i equal = x == y; // equal infinities included: a difference of 0
    const V2d d = absV(diff);
    const V2i isNan = d != d;
    const V2i counted = ~equal & ~isNan;
    constexpr double big = std::numeric_limits<double>::max();
    // torch.isclose: a finite difference within atol + rtol * |y| (so 1 is not close to inf)
    const V2i close = (d <= atol + rtol * absV(y)) & (d <= V2d{big, big}); // false for NaN
    l.differing -= ~equal;
    l.nanDiffs -= ~equal & isNan;
    l.notClose -= ~equal & ~close;
    const V2d zero{};
    const V2d dc = select(counted, d, zero);
    l.maxAbs = l.maxAbs < dc ? dc : l.maxAbs;
    l.sumAbs += dc;
    l.sumSq += dc * dc;
    l.sumSqB += select(equal | counted, yy, zero);
}

} // namespace

void accumulatePair(PairSummary &s, const double *x, const double *y, std::size_t n, const PairTolerance &tol)
{
    PairLanes lo, hi; // lanes 0-1 and 2-3
    const V2d atol{tol.atol, tol.atol};
    const V2d rtol{tol.rtol, tol.rtol};
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        pairLanes(lo, x + i, y + i, atol, rtol);
        pairLanes(hi, x + i + 2, y + i + 2, atol, rtol);
    }
    if (i < n) {
        // The last one to three positions, in their lanes: padded to four, and only the lanes
        // that hold a position merged.
        double px[4] = {}, py[4] = {};
        std::memcpy(px, x + i, (n - i) * sizeof(double));
        std::memcpy(py, y + i, (n - i) * sizeof(double));
        PairLanes tlo, thi;
        pairLanes(tlo, px, py, atol, rtol);
        pairLanes(thi, px + 2, py + 2, atol, rtol);
        for (std::size_t k = 0; k < n - i; ++k)
            (k < 2 ? lo : hi).mergeLane(k < 2 ? tlo : thi, int(k % 2));
    }
    auto sum = [&](V2d PairLanes::*f) { return ((lo.*f)[0] + (lo.*f)[1]) + ((hi.*f)[0] + (hi.*f)[1]); };
    PairSummary c;
    c.numel = n;
    c.dot = sum(&PairLanes::dot);
    c.normA = sum(&PairLanes::normA);
    c.normB = sum(&PairLanes::normB);
    c.sumAbsDiff = sum(&PairLanes::sumAbs);
    c.sumSqDiff = sum(&PairLanes::sumSq);
    c.sumSqB = sum(&PairLanes::sumSqB);
    for (const PairLanes *l : {&lo, &hi}) {
        for (int k = 0; k < 2; ++k) {
            c.maxAbsDiff = std::max(c.maxAbsDiff, l->maxAbs[k]);
            c.differing += static_cast<std::uint64_t>(l->differing[k]);
            c.nanDiffs += static_cast<std::uint64_t>(l->nanDiffs[k]);
            c.notClose += static_cast<std::uint64_t>(l->notClose[k]);
            c.a.merge(FiniteRange{l->minA[k], l->maxA[k], static_cast<std::uint64_t>(l->nfA[k])});
            c.b.merge(FiniteRange{l->minB[k], l->maxB[k], static_cast<std::uint64_t>(l->nfB[k])});
            c.diff.merge(FiniteRange{l->minD[k], l->maxD[k], static_cast<std::uint64_t>(l->nfD[k])});
        }
    }
    s.merge(c);
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

std::vector<ElementRun> checkedRuns(const ElementSource &source)
{
    std::vector<ElementRun> runs = source.runs();
    std::uint64_t covered = 0;
    for (const ElementRun &r : runs)
        covered = r.first == covered && r.count ? covered + r.count : ~std::uint64_t(0);
    if (covered != source.size())
        runs = {ElementRun{0, source.size(), nullptr, RawElement::F64}};
    return runs;
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
