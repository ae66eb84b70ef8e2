// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "value_histogram.h"

#include "histogram_backend.h"
#include "tensor_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace ptscope::core {

namespace {

constexpr std::size_t kChunk = std::size_t(1) << 16;

struct Range
{
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    std::uint64_t nonFinite = 0;
    void add(double x)
    {
        if (!std::isfinite(x)) {
            ++nonFinite;
            return;
        }
        min = std::min(min, x);
        max = std::max(max, x);
    }
    bool any() const { return min <= max; }
};

// The histc bins for [min, max] (0 and 0 when nothing is finite, as torch.histc of an empty range).
Histogram emptyHistogram(const Range &r, std::uint32_t bins, double &lo, double &hi)
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

// Reads `want` elements of both readers into x and y; false when either ends early.
bool readBoth(TensorElementReader &ra, TensorElementReader &rb, std::vector<double> &x, std::vector<double> &y,
    std::size_t want)
{
    for (auto [reader, buf] : { std::pair { &ra, &x }, std::pair { &rb, &y } }) {
        std::size_t got = 0;
        while (got < want) {
            const std::size_t n = reader->read(std::span<double>(buf->data() + got, want - got));
            if (n == 0)
                return false;
            got += n;
        }
    }
    return true;
}

} // namespace

Result<ValueHistograms> compareTensorHistograms(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
    std::uint32_t b, std::uint32_t bins, const ProgressSink &progress)
{
    if (bins == 0 || bins > (1u << 20))
        return makeError(ErrorCode::InvalidTensor, "a histogram needs between 1 and 1048576 bins");
    auto ra = TensorElementReader::open(ca, a);
    if (!ra)
        return ra.error();
    auto rb = TensorElementReader::open(cb, b);
    if (!rb)
        return rb.error();
    const std::uint64_t numel = (*ra)->numel();
    if (numel != (*rb)->numel())
        return makeError(ErrorCode::InvalidTensor,
            "the tensors have different numbers of elements (" + std::to_string(numel) + " and "
                + std::to_string((*rb)->numel()) + ")");
    std::vector<double> x(kChunk), y(kChunk);
    const std::uint64_t total = numel * 2;
    auto cancelled = [&](std::uint64_t done) { return progress && !progress(done, total); };
    auto truncated = [] {
        return makeError(ErrorCode::Truncated, "a tensor ended before its declared number of elements");
    };

    // Pass 1: the metrics and the three ranges.
    ValueComparator cmp;
    Range rs, rt, rd;
    for (std::uint64_t done = 0; done < numel;) {
        if (cancelled(done))
            return makeError(ErrorCode::Cancelled, "cancelled");
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(numel - done, kChunk));
        if (!readBoth(**ra, **rb, x, y, n))
            return truncated();
        cmp.add(std::span<const double>(x.data(), n), std::span<const double>(y.data(), n));
        for (std::size_t i = 0; i < n; ++i) {
            rs.add(x[i]);
            rt.add(y[i]);
            rd.add(x[i] - y[i]);
        }
        done += n;
    }

    ValueHistograms out;
    out.comparison = cmp.result();
    out.nonFiniteSource = rs.nonFinite;
    out.nonFiniteTarget = rt.nonFinite;
    out.nonFiniteDifference = rd.nonFinite;
    Range both = rs;
    if (rt.any()) {
        both.min = std::min(both.min, rt.min);
        both.max = std::max(both.max, rt.max);
    }
    double lo = 0, hi = 0, dlo = 0, dhi = 0;
    out.source = emptyHistogram(both, bins, lo, hi);
    out.target = out.source;
    out.difference = emptyHistogram(rd, bins, dlo, dhi);

    // Pass 2: the counts.
    (*ra)->seek(0);
    (*rb)->seek(0);
    for (std::uint64_t done = 0; done < numel;) {
        if (cancelled(numel + done))
            return makeError(ErrorCode::Cancelled, "cancelled");
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(numel - done, kChunk));
        if (!readBoth(**ra, **rb, x, y, n))
            return truncated();
        for (std::size_t i = 0; i < n; ++i) {
            if (const auto s = histcBin(x[i], lo, hi, bins); s >= 0)
                ++out.source.counts[std::size_t(s)];
            if (const auto t = histcBin(y[i], lo, hi, bins); t >= 0)
                ++out.target.counts[std::size_t(t)];
            if (const auto d = histcBin(x[i] - y[i], dlo, dhi, bins); d >= 0)
                ++out.difference.counts[std::size_t(d)];
        }
        done += n;
    }
    if (progress)
        progress(total, total);
    return out;
}

} // namespace ptscope::core
