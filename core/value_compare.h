// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Numeric comparison of two tensors of the same number of elements, element by element in
// float64 (each converted as torch converts it to double), streamed so memory stays bounded.

#include "checkpoint.h"
#include "result.h"

#include <cstdint>
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
    bool allclose = true; // torch.allclose(a, b, rtol=1e-5, atol=1e-8): |a - b| <= atol + rtol * |b|
    bool identical = true; // torch.equal(a, b)
    // torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) in float64:
    // a.b / sqrt(max(|a|^2 |b|^2, 1e-16)); NaN when either side holds a NaN or an infinity.
    double cosine = 1.0;
};

// Accumulates a comparison chunk by chunk; a and b must have the same length in each call.
class ValueComparator final
{
public:
    explicit ValueComparator(double rtol = 1e-5, double atol = 1e-8)
        : m_rtol(rtol)
        , m_atol(atol)
    { }
    void add(std::span<const double> a, std::span<const double> b);
    ValueComparison result() const;

private:
    double m_rtol;
    double m_atol;
    ValueComparison m_r;
    double m_sumAbs = 0.0;
    double m_sumSqDiff = 0.0;
    double m_sumSqB = 0.0;
    double m_dot = 0.0;      // over every position, for the cosine
    double m_normA = 0.0;
    double m_normB = 0.0;
};

// Source tensor `a` of checkpoint `ca` against target tensor `b` of `cb`: both read through
// TensorElementReader. Error when either has no readable data or their element counts differ.
Result<ValueComparison> compareTensorValues(
    const Checkpoint &ca, std::uint32_t a, const Checkpoint &cb, std::uint32_t b);

} // namespace ptscope::core
