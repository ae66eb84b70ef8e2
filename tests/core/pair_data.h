// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// Pairs of tensors for the value-comparison tests (tests/core/tst_compare_core.cpp against the
// single-thread reference, tests/gpu/tst_cuda_backend.cpp CPU against GPU): random elements of any
// dtype with NaN, infinities, equal infinities and zeros, a second side that is partly equal,
// partly nudged and partly different, of the same or another dtype, contiguous or a strided view.
#include "synthetic_checkpoint.h"

#include "dtype.h"
#include "tensor_data.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ptscope::test {

// Random elements of `dtype`: float64/float32/bfloat16 mostly normal values (1% NaN, +-Inf and
// +-0), float16 every finite encoding plus those, the other dtypes random bit patterns (every
// encoding; bool bytes 0, 1 and 2).
inline std::vector<std::uint8_t> randomElements(const std::string &dtype, std::size_t n, std::mt19937_64 &rng)
{
    const DtypeInfo *info = dtypeByName(dtype);
    const std::size_t item = info ? info->itemSize : 1;
    std::vector<std::uint8_t> out(n * item);
    std::normal_distribution<double> normal(0.0, 1.0);
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), 0.0, -0.0};
    for (std::size_t i = 0; i < n; ++i) {
        std::uint8_t *dst = out.data() + i * item;
        const std::uint64_t pick = rng() % 1000;
        const double x = pick < 10 ? specials[pick % 5] : normal(rng) * 3.0 + 1.5;
        const float f = static_cast<float>(x);
        std::uint32_t f32;
        std::memcpy(&f32, &f, 4);
        if (dtype == "float64") {
            std::memcpy(dst, &x, 8);
        } else if (dtype == "float32") {
            std::memcpy(dst, &f32, 4);
        } else if (dtype == "bfloat16") {
            const auto h = static_cast<std::uint16_t>(f32 >> 16);
            std::memcpy(dst, &h, 2);
        } else if (dtype == "float16") {
            const std::uint16_t special[] = {0x7e00, 0x7c00, 0xfc00, 0x0000, 0x8000};
            const auto h = pick < 10 ? special[pick % 5]
                                     : static_cast<std::uint16_t>((rng() % 0x7c00) | (rng() % 2 ? 0x8000u : 0u));
            std::memcpy(dst, &h, 2);
        } else {
            const std::uint64_t bits = rng();
            std::memcpy(dst, &bits, item);
            if (dtype == "bool")
                *dst = static_cast<std::uint8_t>(*dst % 3);
        }
    }
    return out;
}

// `from` (elements of `dtype`) with about `replace` of its elements replaced by fresh random ones.
inline std::vector<std::uint8_t> replaced(const std::string &dtype, std::vector<std::uint8_t> from, double replace,
                                          std::mt19937_64 &rng)
{
    const std::size_t item = dtypeByName(dtype)->itemSize;
    const std::size_t n = from.size() / item;
    const std::vector<std::uint8_t> fresh = randomElements(dtype, n, rng);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i)
        if (u(rng) < replace)
            std::memcpy(from.data() + i * item, fresh.data() + i * item, item);
    return from;
}

// The elements of tensor `t` as the core reads them.
inline std::vector<double> elementsOf(const Checkpoint &cp, std::uint32_t t)
{
    std::vector<double> out;
    auto r = TensorElementReader::open(cp, t);
    if (!r)
        return out;
    out.resize((*r)->numel());
    std::size_t got = 0;
    while (got < out.size()) {
        const std::size_t n = (*r)->read(std::span<double>(out.data() + got, out.size() - got));
        if (n == 0)
            break;
        got += n;
    }
    out.resize(got);
    return out;
}

// Values as float32 or float64 elements.
inline std::vector<std::uint8_t> encodeFloats(const std::string &dtype, const std::vector<double> &values)
{
    std::vector<std::uint8_t> out;
    for (double v : values) {
        std::uint8_t buf[8];
        if (dtype == "float64") {
            std::memcpy(buf, &v, 8);
            out.insert(out.end(), buf, buf + 8);
        } else {
            const float f = static_cast<float>(v);
            std::memcpy(buf, &f, 4);
            out.insert(out.end(), buf, buf + 4);
        }
    }
    return out;
}

// A pair of n-element tensors added to `s` (which the caller then finishes): a of dtypeA (a
// stride-2 view at offset 1 when `stridedA`), b of dtypeB. Same dtype: b is a with a third of
// its elements replaced. Another dtype (dtypeB float32 or float64 only): b holds a's values, a
// tenth of them nudged by a relative 1e-9, a tenth replaced by random values and specials. `close`
// (both float32 or float64): a holds normal values and infinities, no NaN, and b is a with half
// its elements nudged (allclose holds, equal infinities included; not equal where b is float64).
inline void addPair(Synthetic &s, const std::string &dtypeA, const std::string &dtypeB, bool stridedA, bool close,
                    std::size_t n, std::uint64_t seed, std::uint32_t &a, std::uint32_t &b)
{
    std::mt19937_64 rng(seed);
    const std::size_t item = dtypeByName(dtypeA)->itemSize;
    std::vector<std::uint8_t> bytesA;
    if (close) { // no NaN (never close to anything), equal infinities (close, a difference of 0)
        std::normal_distribution<double> normal(0.0, 1.0);
        std::vector<double> v(n);
        for (double &x : v)
            x = rng() % 100 == 0 ? (rng() % 2 ? 1.0 : -1.0) * std::numeric_limits<double>::infinity() : normal(rng);
        bytesA = encodeFloats(dtypeA, v);
    } else {
        bytesA = randomElements(dtypeA, n, rng);
    }
    std::vector<std::uint8_t> bytesB;
    if (dtypeA == dtypeB && !close) {
        bytesB = replaced(dtypeA, bytesA, 1.0 / 3.0, rng);
    } else {
        Synthetic alone;
        alone.add(dtypeA, bytesA.data(), bytesA.size(), {static_cast<std::int64_t>(n)});
        alone.finish();
        std::vector<double> v = elementsOf(alone.cp, 0);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        std::normal_distribution<double> normal(0.0, 1.0);
        for (double &x : v) {
            const double p = u(rng);
            if (p < (close ? 0.5 : 0.1))
                x = x * (1.0 + 1e-9);
            else if (!close && p < 0.2)
                x = rng() % 50 == 0 ? std::numeric_limits<double>::infinity() : normal(rng);
        }
        bytesB = encodeFloats(dtypeB, v);
    }
    if (stridedA) {
        std::vector<std::uint8_t> spread(2 * n * item + item, 0xff);
        for (std::size_t i = 0; i < n; ++i)
            std::memcpy(spread.data() + (2 * i + 1) * item, bytesA.data() + i * item, item);
        a = s.add(dtypeA, spread.data(), spread.size(), {static_cast<std::int64_t>(n)}, {2}, 1);
    } else {
        a = s.add(dtypeA, bytesA.data(), bytesA.size(), {static_cast<std::int64_t>(n)});
    }
    b = s.add(dtypeB, bytesB.data(), bytesB.size(), {static_cast<std::int64_t>(n)});
}

} // namespace ptscope::test
