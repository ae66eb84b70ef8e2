// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Compiled with -ffp-contract=off: the magnitudes must round as torch's separate operations do.
#include "complex_pairs.h"

#include "dtype.h"
#include "tensor_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

namespace ptscope::core {

namespace {

// torch.abs of a complex128 (tensor_data.cpp's rule for complex elements).
inline double magnitude(double re, double im)
{
    const double sum = re * re + im * im;
    return std::isnormal(sum) ? std::sqrt(sum) : std::hypot(re, im);
}

// One side as its two parts; a real tensor's imaginary part is 0.
struct Parts
{
    std::unique_ptr<TensorElementReader> re, im;

    // Up to n next elements; returns how many.
    std::size_t read(double *r, double *i, std::size_t n)
    {
        const std::size_t got = re->read({r, n});
        if (!im) {
            std::fill(i, i + got, 0.0);
            return got;
        }
        return std::min(got, im->read({i, got}));
    }
};

Result<Parts> openParts(const Checkpoint &cp, std::uint32_t index)
{
    Parts p;
    auto re = TensorElementReader::open(cp, index, ComplexPart::Real);
    if (!re)
        return re.error();
    p.re = std::move(*re);
    if (index < cp.tensors.size() && isComplexDtype(cp.tensors[index].dtype)) {
        auto im = TensorElementReader::open(cp, index, ComplexPart::Imaginary);
        if (!im)
            return im.error();
        p.im = std::move(*im);
    }
    return p;
}

// Both sides, chunk by chunk: fn(xr, xi, yr, yi, n) for consecutive positions.
template<typename Fn>
std::optional<Error> walk(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b,
                          const ProgressFn &progress, std::uint64_t base, std::uint64_t total, Fn fn)
{
    auto pa = openParts(ca, a);
    if (!pa)
        return pa.error();
    auto pb = openParts(cb, b);
    if (!pb)
        return pb.error();
    const std::uint64_t n = pa->re->numel();
    if (n != pb->re->numel())
        return makeError(ErrorCode::InvalidTensor, "the tensors have different numbers of elements ("
                                                       + std::to_string(n) + " and "
                                                       + std::to_string(pb->re->numel()) + ")");
    if (total == 0)
        total = n;
    constexpr std::size_t kChunk = 8192;
    std::vector<double> buf(4 * kChunk);
    double *xr = buf.data(), *xi = xr + kChunk, *yr = xi + kChunk, *yi = yr + kChunk;
    for (std::uint64_t done = 0; done < n;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - done));
        const std::size_t ga = pa->read(xr, xi, want);
        const std::size_t gb = pb->read(yr, yi, want);
        if (ga != want || gb != want)
            return makeError(ErrorCode::ReadFailed, "tensor " + std::to_string(ga != want ? a : b)
                                                        + " could not be read to the end (element "
                                                        + std::to_string(done + std::min(ga, gb)) + ")");
        fn(xr, xi, yr, yi, want);
        done += want;
        if (progress && !progress(base + done, total))
            return makeError(ErrorCode::Cancelled, "cancelled");
    }
    return std::nullopt;
}

void widen(FiniteRange &r, double v)
{
    if (std::isfinite(v)) {
        r.min = v < r.min ? v : r.min;
        r.max = v > r.max ? v : r.max;
    } else {
        ++r.nonFinite;
    }
}

// x - y as torch computes it: torch.sub(x, y) is x - alpha * y with the complex alpha = 1, so an
// infinite part of y makes the other part of the product NaN (0 * inf), and the difference with it.
inline void difference(double xr, double xi, double yr, double yi, double &dr, double &di)
{
    dr = xr - (yr - 0.0 * yi);
    di = xi - (yi + 0.0 * yr);
}

} // namespace

bool isComplexPair(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b)
{
    auto complex = [](const Checkpoint &cp, std::uint32_t i) {
        return i < cp.tensors.size() && isComplexDtype(cp.tensors[i].dtype);
    };
    return complex(ca, a) || complex(cb, b);
}

Result<PairSummary> complexPairSummary(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b,
    const PairTolerance &tol, const ProgressFn &progress, std::uint64_t progressBase, std::uint64_t progressTotal)
{
    PairSummary s;
    auto error = walk(ca, a, cb, b, progress, progressBase, progressTotal,
        [&](const double *xr, const double *xi, const double *yr, const double *yi, std::size_t n) {
            for (std::size_t k = 0; k < n; ++k) {
                const double sqA = xr[k] * xr[k] + xi[k] * xi[k];
                const double sqB = yr[k] * yr[k] + yi[k] * yi[k];
                s.dot += xr[k] * yr[k] + xi[k] * yi[k];
                s.normA += sqA;
                s.normB += sqB;
                double dr, di;
                difference(xr[k], xi[k], yr[k], yi[k], dr, di);
                const double d = magnitude(dr, di);
                widen(s.a, magnitude(xr[k], xi[k]));
                widen(s.b, magnitude(yr[k], yi[k]));
                widen(s.diff, d);
                if (xr[k] == yr[k] && xi[k] == yi[k]) {
                    s.sumSqB += sqB;
                    continue;
                }
                ++s.differing;
                if (std::isnan(d)) {
                    ++s.nanDiffs;
                    ++s.notClose;
                    continue;
                }
                const bool close = d <= tol.atol + tol.rtol * magnitude(yr[k], yi[k]) && std::isfinite(d);
                s.notClose += close ? 0 : 1;
                s.maxAbsDiff = std::max(s.maxAbsDiff, d);
                s.sumAbsDiff += d;
                s.sumSqDiff += dr * dr + di * di;
                s.sumSqB += sqB;
            }
            s.numel += n;
        });
    if (error)
        return *error;
    return s;
}

Result<PairBinCounts> complexPairHistogram(const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb,
    std::uint32_t b, const PairBinSpec &spec, const ProgressFn &progress, std::uint64_t progressBase,
    std::uint64_t progressTotal)
{
    PairBinCounts out;
    out.a.assign(spec.bins, 0);
    out.b.assign(spec.bins, 0);
    out.diff.assign(spec.bins, 0);
    auto count = [&](std::vector<std::uint64_t> &counts, double v, double lo, double hi) {
        const std::int64_t bin = histcBin(v, lo, hi, spec.bins, true);
        if (bin >= 0)
            ++counts[static_cast<std::size_t>(bin)];
    };
    auto error = walk(ca, a, cb, b, progress, progressBase, progressTotal,
        [&](const double *xr, const double *xi, const double *yr, const double *yi, std::size_t n) {
            for (std::size_t k = 0; k < n; ++k) {
                count(out.a, magnitude(xr[k], xi[k]), spec.lo, spec.hi);
                count(out.b, magnitude(yr[k], yi[k]), spec.lo, spec.hi);
                double dr, di;
                difference(xr[k], xi[k], yr[k], yi[k], dr, di);
                count(out.diff, magnitude(dr, di), spec.diffLo, spec.diffHi);
            }
        });
    if (error)
        return *error;
    return out;
}

} // namespace ptscope::core
