// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "value_compare.h"

#include "tensor_data.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ptscope::core {

void ValueComparator::add(std::span<const double> a, std::span<const double> b)
{
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        m_dot += a[i] * b[i];
        m_normA += a[i] * a[i];
        m_normB += b[i] * b[i];
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double x = a[i];
        const double y = b[i];
        ++m_r.numel;
        if (x == y)
            continue; // equal infinities included: a difference of 0
        ++m_r.differing;
        m_r.identical = false;
        const double d = std::fabs(x - y);
        if (std::isnan(d)) {
            ++m_r.nanDiffs;
            m_r.allclose = false;
            continue;
        }
        if (!(d <= m_atol + m_rtol * std::fabs(y)))
            m_r.allclose = false;
        m_r.maxAbsDiff = std::max(m_r.maxAbsDiff, d);
        m_sumAbs += d;
        m_sumSqDiff += d * d;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isnan(a[i] - b[i]) || a[i] == b[i])
            m_sumSqB += b[i] * b[i];
}

ValueComparison ValueComparator::result() const
{
    ValueComparison r = m_r;
    const std::uint64_t counted = r.numel - r.nanDiffs;
    r.meanAbsDiff = counted ? m_sumAbs / static_cast<double>(counted) : 0.0;
    const double nd = std::sqrt(m_sumSqDiff);
    const double nb = std::sqrt(m_sumSqB);
    r.relativeL2 = nb != 0.0 ? nd / nb : (nd == 0.0 ? 0.0 : INFINITY);
    // torch 1.13's cosine_similarity: w12 / sqrt(clamp_min(w1 * w2, eps * eps)), eps = 1e-8.
    if (r.numel)
        r.cosine = m_dot / std::sqrt(std::max(m_normA * m_normB, 1e-16));
    return r;
}

Result<ValueComparison> compareTensorValues(
    const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b)
{
    auto ra = TensorElementReader::open(ca, a);
    if (!ra)
        return ra.error();
    auto rb = TensorElementReader::open(cb, b);
    if (!rb)
        return rb.error();
    if ((*ra)->numel() != (*rb)->numel())
        return makeError(ErrorCode::InvalidTensor,
            "the tensors have different numbers of elements (" + std::to_string((*ra)->numel()) + " and "
                + std::to_string((*rb)->numel()) + ")");
    ValueComparator cmp;
    constexpr std::size_t kChunk = 1 << 16;
    std::vector<double> x(kChunk), y(kChunk);
    std::uint64_t left = (*ra)->numel();
    while (left > 0) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk));
        std::size_t got = 0;
        while (got < want) {
            const std::size_t n = (*ra)->read(std::span<double>(x.data() + got, want - got));
            if (n == 0)
                break;
            got += n;
        }
        std::size_t gotB = 0;
        while (gotB < got) {
            const std::size_t n = (*rb)->read(std::span<double>(y.data() + gotB, got - gotB));
            if (n == 0)
                break;
            gotB += n;
        }
        if (got != want || gotB != got)
            return makeError(ErrorCode::Truncated, "a tensor ended before its declared number of elements");
        cmp.add(std::span<const double>(x.data(), got), std::span<const double>(y.data(), got));
        left -= got;
    }
    return cmp.result();
}

} // namespace ptscope::core
