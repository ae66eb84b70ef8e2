// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "tensor_data.h"

#include "dtype.h"
#include "torch_interpret.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

namespace ptscope::core {

namespace {

// Element encodings with a numeric meaning. The switch over this enum runs once per run of
// elements, never per element.
enum class Elem : std::uint8_t {
    F64, F32, F16, BF16, F8E5M2, F8E4M3FN, F8E5M2FNUZ, F8E4M3FNUZ, F8E8M0,
    I64, I32, I16, I8, U64, U32, U16, U8, Bool,
    C128, C64, C32,
};

bool elemFor(const std::string &dtype, Elem &e)
{
    static const std::pair<const char *, Elem> table[] = {
        {"float64", Elem::F64},       {"float32", Elem::F32},         {"float16", Elem::F16},
        {"bfloat16", Elem::BF16},     {"float8_e5m2", Elem::F8E5M2},  {"float8_e4m3fn", Elem::F8E4M3FN},
        {"float8_e5m2fnuz", Elem::F8E5M2FNUZ}, {"float8_e4m3fnuz", Elem::F8E4M3FNUZ},
        {"float8_e8m0fnu", Elem::F8E8M0},
        {"int64", Elem::I64},         {"int32", Elem::I32},           {"int16", Elem::I16},
        {"int8", Elem::I8},           {"uint64", Elem::U64},          {"uint32", Elem::U32},
        {"uint16", Elem::U16},        {"uint8", Elem::U8},            {"bool", Elem::Bool},
        {"complex128", Elem::C128},   {"complex64", Elem::C64},       {"complex32", Elem::C32},
        // Quantized types store plain integers; dequantization is applied after decoding.
        {"qint8", Elem::I8},          {"quint8", Elem::U8},           {"qint32", Elem::I32},
        {"quint4x2", Elem::U8},       {"quint2x4", Elem::U8}, // unpacked by decodePacked
    };
    for (const auto &[name, elem] : table)
        if (dtype == name) {
            e = elem;
            return true;
        }
    return false;
}

template<typename T, bool Swap>
inline T load(const std::uint8_t *p)
{
    T v;
    if constexpr (Swap) {
        std::uint8_t tmp[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i)
            tmp[i] = p[sizeof(T) - 1 - i];
        std::memcpy(&v, tmp, sizeof(T));
    } else {
        std::memcpy(&v, p, sizeof(T));
    }
    return v;
}

// IEEE binary16 to float: every half value is exact in float (and double).
inline float halfToFloat(std::uint16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    float magnitude;
    if (exp == 0)
        magnitude = std::ldexp(static_cast<float>(mant), -24); // zero and subnormals
    else if (exp == 31)
        magnitude = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    else
        return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
    return sign ? -magnitude : magnitude;
}

// The nearest float16 value (ties to even; beyond 65504 rounds to infinity), as a float.
inline float roundToHalf(float f)
{
    if (!std::isfinite(f) || f == 0.0f)
        return f;
    int e = 0;
    std::frexp(f, &e); // |f| in [2^(e-1), 2^e)
    const double quantum = std::ldexp(1.0, std::max(e - 1, -14) - 10);
    const double r = std::nearbyint(static_cast<double>(f) / quantum) * quantum;
    return std::fabs(r) > 65504.0 ? std::copysign(std::numeric_limits<float>::infinity(), f) : static_cast<float>(r);
}

inline float bf16ToFloat(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

// The 8-bit float formats, exactly as c10's Float8_* types convert to float.
//   e5m2: IEEE-like (bias 15, Inf and NaN);  e4m3fn: bias 7, no Inf, NaN = S.1111.111
//   e5m2fnuz: bias 16, e4m3fnuz: bias 8, no Inf, no -0, NaN = 0x80;  e8m0fnu: 2^(e-127), NaN = 0xff
inline double float8ToDouble(std::uint8_t v, Elem e)
{
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (e == Elem::F8E8M0)
        return v == 0xff ? nan : std::ldexp(1.0, static_cast<int>(v) - 127);
    int expBits, mantBits, bias;
    bool fnuz = false;
    switch (e) {
    case Elem::F8E5M2: expBits = 5, mantBits = 2, bias = 15; break;
    case Elem::F8E4M3FN: expBits = 4, mantBits = 3, bias = 7; break;
    case Elem::F8E5M2FNUZ: expBits = 5, mantBits = 2, bias = 16, fnuz = true; break;
    default: expBits = 4, mantBits = 3, bias = 8, fnuz = true; break; // F8E4M3FNUZ
    }
    if (fnuz && v == 0x80)
        return nan;
    const bool negative = (v & 0x80) != 0;
    const int exp = (v >> mantBits) & ((1 << expBits) - 1);
    const int mant = v & ((1 << mantBits) - 1);
    const int maxExp = (1 << expBits) - 1;
    double magnitude;
    if (e == Elem::F8E5M2 && exp == maxExp)
        magnitude = mant ? nan : std::numeric_limits<double>::infinity();
    else if (e == Elem::F8E4M3FN && exp == maxExp && mant == (1 << mantBits) - 1)
        magnitude = nan;
    else if (exp == 0)
        magnitude = std::ldexp(static_cast<double>(mant), 1 - bias - mantBits);
    else
        magnitude = std::ldexp(static_cast<double>((1 << mantBits) | mant), exp - bias - mantBits);
    return negative ? -magnitude : magnitude;
}

// Applies `conv` to n elements of `sizeof(T)` bytes `strideBytes` apart. The contiguous case is a
// separate loop so the compiler can vectorise it.
template<typename T, bool Swap, typename Conv>
inline void runLoop(const std::uint8_t *p, std::int64_t strideBytes, std::size_t n, double *out, Conv conv)
{
    if (strideBytes == static_cast<std::int64_t>(sizeof(T))) {
        for (std::size_t i = 0; i < n; ++i)
            out[i] = conv(load<T, Swap>(p + i * sizeof(T)));
    } else {
        for (std::size_t i = 0; i < n; ++i)
            out[i] = conv(load<T, Swap>(p + static_cast<std::int64_t>(i) * strideBytes));
    }
}

// Complex magnitude as torch computes abs(): sqrt(re*re + im*im) in the component precision
// (torch 1.13's vectorised kernel; std::hypot rounds differently in about 1 case in 6, and torch
// 2.x's kernel agrees with either to one ulp). Where that sum is not a normal number (the squares
// overflow or underflow: components beyond about 1.8e19 or below 1e-19 in complex64, 1.3e154 and
// 1e-154 in complex128; or a component is Inf or NaN), the magnitude is std::hypot's, as torch
// 2.x and torch 1.13's scalar loop give it: finite, not 0, and Inf when a component is infinite,
// even beside a NaN. complex32's magnitude is a float16, as torch 2.x returns it (1.13 cannot take
// it). The file is compiled with -ffp-contract=off so the expression is not fused.
template<typename T, bool Swap, bool HalfResult = false, typename Part>
inline void complexLoop(const std::uint8_t *p, std::int64_t strideBytes, std::size_t n, double *out, Part part)
{
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t *q = p + static_cast<std::int64_t>(i) * strideBytes;
        const auto re = part(load<T, Swap>(q));
        const auto im = part(load<T, Swap>(q + sizeof(T)));
        const auto sum = re * re + im * im;
        using R = decltype(sum);
        const auto m = std::isnormal(sum) ? std::sqrt(sum) : static_cast<R>(std::hypot(re, im));
        if constexpr (HalfResult)
            out[i] = static_cast<double>(roundToHalf(m));
        else
            out[i] = static_cast<double>(m);
    }
}

// One part of complex elements of T (the real one first in each element, the imaginary one after
// it), each converted to double by `conv`.
template<typename T, bool Swap, typename Conv>
inline void complexPartLoop(const std::uint8_t *p, std::int64_t strideBytes, std::size_t n, double *out,
                            ComplexPart part, Conv conv)
{
    runLoop<T, Swap>(p + (part == ComplexPart::Imaginary ? sizeof(T) : 0), strideBytes, n, out, conv);
}

template<bool Swap>
void decodeRun(Elem e, const std::uint8_t *p, std::int64_t strideBytes, std::size_t n, double *out,
               ComplexPart part = ComplexPart::Magnitude)
{
    const bool whole = part == ComplexPart::Magnitude;
    switch (e) {
    case Elem::F64: runLoop<double, Swap>(p, strideBytes, n, out, [](double v) { return v; }); break;
    case Elem::F32: runLoop<float, Swap>(p, strideBytes, n, out, [](float v) { return double(v); }); break;
    case Elem::F16:
        runLoop<std::uint16_t, Swap>(p, strideBytes, n, out, [](std::uint16_t v) { return double(halfToFloat(v)); });
        break;
    case Elem::BF16:
        runLoop<std::uint16_t, Swap>(p, strideBytes, n, out, [](std::uint16_t v) { return double(bf16ToFloat(v)); });
        break;
    case Elem::F8E5M2:
    case Elem::F8E4M3FN:
    case Elem::F8E5M2FNUZ:
    case Elem::F8E4M3FNUZ:
    case Elem::F8E8M0:
        runLoop<std::uint8_t, false>(p, strideBytes, n, out, [e](std::uint8_t v) { return float8ToDouble(v, e); });
        break;
    case Elem::I64: runLoop<std::int64_t, Swap>(p, strideBytes, n, out, [](std::int64_t v) { return double(v); }); break;
    case Elem::I32: runLoop<std::int32_t, Swap>(p, strideBytes, n, out, [](std::int32_t v) { return double(v); }); break;
    case Elem::I16: runLoop<std::int16_t, Swap>(p, strideBytes, n, out, [](std::int16_t v) { return double(v); }); break;
    case Elem::I8: runLoop<std::int8_t, false>(p, strideBytes, n, out, [](std::int8_t v) { return double(v); }); break;
    case Elem::U64:
        runLoop<std::uint64_t, Swap>(p, strideBytes, n, out, [](std::uint64_t v) { return double(v); });
        break;
    case Elem::U32:
        runLoop<std::uint32_t, Swap>(p, strideBytes, n, out, [](std::uint32_t v) { return double(v); });
        break;
    case Elem::U16:
        runLoop<std::uint16_t, Swap>(p, strideBytes, n, out, [](std::uint16_t v) { return double(v); });
        break;
    case Elem::U8: runLoop<std::uint8_t, false>(p, strideBytes, n, out, [](std::uint8_t v) { return double(v); }); break;
    case Elem::Bool:
        runLoop<std::uint8_t, false>(p, strideBytes, n, out, [](std::uint8_t v) { return v ? 1.0 : 0.0; });
        break;
    case Elem::C128:
        if (whole)
            complexLoop<double, Swap>(p, strideBytes, n, out, [](double v) { return v; });
        else
            complexPartLoop<double, Swap>(p, strideBytes, n, out, part, [](double v) { return v; });
        break;
    case Elem::C64:
        if (whole)
            complexLoop<float, Swap>(p, strideBytes, n, out, [](float v) { return v; });
        else
            complexPartLoop<float, Swap>(p, strideBytes, n, out, part, [](float v) { return double(v); });
        break;
    case Elem::C32:
        if (whole)
            complexLoop<std::uint16_t, Swap, true>(p, strideBytes, n, out, [](std::uint16_t v) { return halfToFloat(v); });
        else
            complexPartLoop<std::uint16_t, Swap>(p, strideBytes, n, out, part,
                                                 [](std::uint16_t v) { return double(halfToFloat(v)); });
        break;
    }
}

std::size_t componentSize(Elem e, std::uint32_t itemSize)
{
    return (e == Elem::C128 || e == Elem::C64 || e == Elem::C32) ? itemSize / 2 : itemSize;
}

} // namespace

// Released in steps of at least this much, so that madvise calls stay rare.
constexpr std::uint64_t kReleaseBytes = 4u << 20;

struct TensorElementReader::Impl
{
    enum class Mode { Strided, Sparse };
    Mode mode = Mode::Strided;
    std::uint64_t numel = 0;
    std::uint64_t pos = 0;
    bool failed = false;
    bool negate = false; // a negated view (torch 2.x's neg bit), a conjugate's imaginary part; not |z|
    ComplexPart part = ComplexPart::Magnitude;

    // Strided: the storage bytes, the view, and an odometer over it.
    const std::uint8_t *base = nullptr;
    std::uint64_t baseBytes = 0;
    Elem elem = Elem::F32;
    std::uint32_t item = 4;
    std::uint32_t perByte = 1; // elements per byte: quint4x2 2, quint2x4 4 (item is then 1)
    bool swap = false;
    std::vector<std::int64_t> shape, stride; // coalesced, rank >= 1
    std::int64_t offset = 0;
    std::vector<std::int64_t> idx;
    std::int64_t cur = 0; // element offset of idx in the storage
    // Contiguous views read forward: the pages already read are released from the resident set
    // (MappedFile::releasePages) so that memory stays flat however large the tensor is.
    const MappedFile *mapped = nullptr;
    const std::uint8_t *readFrom = nullptr; // where this cursor started reading since the last release

    // Quantized.
    bool quantized = false;
    bool perChannel = false;
    double scale = 1.0;
    double zeroPoint = 0.0;
    bool floatScale = true;       // per tensor: torch multiplies by float(scale)
    std::vector<double> scales, zeroPoints;
    std::size_t axis = 0;

    // Sparse: (dense block index, values block index) sorted by dense block; each block holds
    // `block` consecutive dense elements (the dense dimensions of a hybrid tensor).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;
    std::uint64_t block = 1;
    std::unique_ptr<TensorElementReader> values;
    std::size_t entryPos = 0;
    std::vector<double> scratch;

    // Releases what this cursor read since it last did (whole pages only).
    void releaseRead()
    {
        if (mapped && readFrom && contiguous()) {
            const std::uint8_t *now = at(cur);
            mapped->releasePages(readFrom, now);
        }
    }

    void seekStrided(std::uint64_t index)
    {
        releaseRead();
        pos = std::min(index, numel);
        std::uint64_t rest = pos;
        cur = offset;
        for (std::size_t d = shape.size(); d-- > 0;) {
            const auto size = static_cast<std::uint64_t>(shape[d]);
            idx[d] = size ? static_cast<std::int64_t>(rest % size) : 0;
            rest = size ? rest / size : 0;
            cur += idx[d] * stride[d];
        }
        if (pos == numel) // past the end: keep the odometer harmless
            std::fill(idx.begin(), idx.end(), 0), cur = offset;
        readFrom = at(cur);
    }

    // The byte that holds storage element e, and how many elements the storage holds.
    const std::uint8_t *at(std::int64_t e) const
    {
        return base + (perByte > 1 ? static_cast<std::uint64_t>(e) / perByte : static_cast<std::uint64_t>(e) * item);
    }
    std::uint64_t capacity() const { return perByte > 1 ? baseBytes * perByte : baseBytes / item; }

    // Sub-byte elements, torch's packing: element e in byte e / perByte, the first in the low bits.
    void decodePacked(std::int64_t first, std::int64_t step, std::size_t n, double *out) const
    {
        const std::uint32_t bits = 8 / perByte;
        const std::uint32_t mask = (1u << bits) - 1;
        for (std::size_t i = 0; i < n; ++i) {
            const auto e = static_cast<std::uint64_t>(first + static_cast<std::int64_t>(i) * step);
            out[i] = static_cast<double>((base[e / perByte] >> ((e % perByte) * bits)) & mask);
        }
    }

    bool contiguous() const { return shape.size() == 1 && (stride[0] == 1 || shape[0] <= 1); }

    ~Impl() { releaseRead(); }

    std::size_t readStrided(double *out, std::size_t n)
    {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, numel - pos));
        const std::size_t last = shape.size() - 1;
        std::size_t done = 0;
        while (done < n) {
            const std::size_t run = static_cast<std::size_t>(
                std::min<std::uint64_t>(static_cast<std::uint64_t>(shape[last] - idx[last]), n - done));
            const std::int64_t s = stride[last];
            // The view was validated when the file was opened; check each run anyway so that no
            // bug elsewhere can make us read outside the storage.
            const std::int64_t lastElem = cur + static_cast<std::int64_t>(run - 1) * s;
            if (cur < 0 || lastElem < 0
                || static_cast<std::uint64_t>(std::max(cur, lastElem)) + 1 > capacity()) {
                failed = true;
                return done;
            }
            const std::uint8_t *p = at(cur);
            if (perByte > 1)
                decodePacked(cur, s, run, out + done);
            else if (swap)
                decodeRun<true>(elem, p, s * item, run, out + done, part);
            else
                decodeRun<false>(elem, p, s * item, run, out + done, part);
            if (quantized)
                dequantize(out + done, run);
            done += run;
            idx[last] += static_cast<std::int64_t>(run);
            cur += static_cast<std::int64_t>(run) * s;
            for (std::size_t d = last; d > 0 && idx[d] == shape[d]; --d) {
                cur -= shape[d] * stride[d];
                idx[d] = 0;
                ++idx[d - 1];
                cur += stride[d - 1];
            }
        }
        pos += done;
        if (mapped && contiguous() && readFrom) {
            const std::uint8_t *now = at(cur);
            if (now > readFrom + kReleaseBytes || pos == numel) {
                mapped->releasePages(readFrom, now); // whole pages only: the partly read one stays
                readFrom = now;
            }
        }
        return done;
    }

    // torch's dequantize: per tensor float(q - zp) * float(scale) in float, the difference taken
    // in int32 (so a qint32 beyond 2^24 is rounded to float first, and one within |zp| of the int32
    // limits wraps around, as torch 1.13 to 2.14 give it); per channel (float(q) - float(zp)) *
    // scale, the difference in float and the product in double, then rounded to float (the same
    // torch versions; the 8-bit types' differences are exact either way). Both end as floats.
    void dequantize(double *out, std::size_t n) const
    {
        if (!perChannel) {
            const auto zp = static_cast<std::uint32_t>(static_cast<std::int64_t>(zeroPoint));
            const auto s = static_cast<float>(scale);
            for (std::size_t i = 0; i < n; ++i) {
                const auto q = static_cast<std::uint32_t>(static_cast<std::int64_t>(out[i]));
                const auto diff = static_cast<std::int32_t>(q - zp);
                out[i] = static_cast<double>(static_cast<float>(diff) * s);
            }
            return;
        }
        const std::size_t last = shape.size() - 1;
        // idx still points at the first element of this run when called from readStrided.
        auto value = [&](double q, std::size_t c) {
            const float diff = static_cast<float>(q) - static_cast<float>(zeroPoints[c]);
            return static_cast<double>(static_cast<float>(static_cast<double>(diff) * scales[c]));
        };
        if (axis == last) {
            for (std::size_t i = 0; i < n; ++i)
                out[i] = value(out[i], static_cast<std::size_t>(idx[last]) + i);
        } else {
            const auto c = static_cast<std::size_t>(idx[axis]);
            for (std::size_t i = 0; i < n; ++i)
                out[i] = value(out[i], c);
        }
    }

    void seekSparse(std::uint64_t index)
    {
        pos = std::min(index, numel);
        const std::uint64_t blockIndex = pos / block;
        entryPos = static_cast<std::size_t>(
            std::lower_bound(entries.begin(), entries.end(), blockIndex,
                             [](const auto &e, std::uint64_t b) { return e.first < b; })
            - entries.begin());
    }

    std::size_t readSparse(double *out, std::size_t n)
    {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, numel - pos));
        std::size_t done = 0;
        while (done < n) {
            const std::uint64_t b = pos / block;
            while (entryPos < entries.size() && entries[entryPos].first < b)
                ++entryPos;
            if (entryPos == entries.size() || entries[entryPos].first > b) {
                // Implicit zeros up to the next stored block.
                const std::uint64_t next = entryPos == entries.size() ? numel : entries[entryPos].first * block;
                const auto z = static_cast<std::size_t>(std::min<std::uint64_t>(next - pos, n - done));
                std::fill(out + done, out + done + z, 0.0);
                done += z;
                pos += z;
                continue;
            }
            // A stored block; duplicates (an uncoalesced COO tensor) add up, as in to_dense().
            const std::uint64_t within = pos % block;
            const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(block - within, n - done));
            std::fill(out + done, out + done + len, 0.0);
            scratch.resize(len);
            for (std::size_t e = entryPos; e < entries.size() && entries[e].first == b; ++e) {
                values->seek(entries[e].second * block + within);
                if (values->read(scratch) != len) {
                    failed = true;
                    pos += done;
                    return done;
                }
                for (std::size_t i = 0; i < len; ++i)
                    out[done + i] += scratch[i];
            }
            done += len;
            pos += len;
        }
        return done;
    }
};

TensorElementReader::TensorElementReader()
    : d(std::make_unique<Impl>())
{
}

TensorElementReader::~TensorElementReader() = default;

std::uint64_t TensorElementReader::numel() const { return d->numel; }

std::size_t TensorElementReader::read(std::span<double> out)
{
    if (d->failed || out.empty() || d->pos >= d->numel)
        return 0;
    const std::size_t n = d->mode == Impl::Mode::Strided ? d->readStrided(out.data(), out.size())
                                                         : d->readSparse(out.data(), out.size());
    if (d->negate)
        for (std::size_t i = 0; i < n; ++i)
            out[i] = -out[i];
    return n;
}

bool TensorElementReader::rawBytes(RawElement &type, const std::uint8_t *&bytes) const
{
    if (d->mode != Impl::Mode::Strided || d->quantized || d->swap || d->failed || d->negate)
        return false;
    // After coalescing, a contiguous view is one dimension of stride 1 (or a single element).
    if (d->numel > 1 && (d->shape.size() != 1 || d->stride[0] != 1))
        return false;
    static const std::pair<Elem, RawElement> table[] = {
        {Elem::F64, RawElement::F64},       {Elem::F32, RawElement::F32},
        {Elem::F16, RawElement::F16},       {Elem::BF16, RawElement::BF16},
        {Elem::F8E5M2, RawElement::F8E5M2}, {Elem::F8E4M3FN, RawElement::F8E4M3FN},
        {Elem::F8E5M2FNUZ, RawElement::F8E5M2FNUZ}, {Elem::F8E4M3FNUZ, RawElement::F8E4M3FNUZ},
        {Elem::F8E8M0, RawElement::F8E8M0}, {Elem::I64, RawElement::I64},
        {Elem::I32, RawElement::I32},       {Elem::I16, RawElement::I16},
        {Elem::I8, RawElement::I8},         {Elem::U64, RawElement::U64},
        {Elem::U32, RawElement::U32},       {Elem::U16, RawElement::U16},
        {Elem::U8, RawElement::U8},         {Elem::Bool, RawElement::Bool},
    };
    for (const auto &[elem, raw] : table)
        if (elem == d->elem) {
            type = raw;
            bytes = d->base + static_cast<std::uint64_t>(d->offset) * d->item;
            return true;
        }
    return false; // complex: its magnitude is computed on the host
}

void TensorElementReader::seek(std::uint64_t index)
{
    if (d->mode == Impl::Mode::Strided)
        d->seekStrided(index);
    else
        d->seekSparse(index);
}

namespace {

Error tensorError(const Checkpoint &cp, std::uint32_t index, const std::string &why, std::string hint = {})
{
    Error e = makeError(ErrorCode::InvalidTensor, "tensor " + std::to_string(index) + ": " + why, {}, std::nullopt,
                        std::move(hint));
    e.path = cp.path;
    return e;
}

// A composite tensor (sparse, nested) holds `count` components, each a dense tensor other than itself.
std::optional<Error> checkComponents(const Checkpoint &cp, std::uint32_t index, const TensorInfo &t, std::size_t count,
                                     const std::string &what)
{
    if (t.components.size() != count)
        return tensorError(cp, index, "its " + what + " components are missing");
    for (std::uint32_t c : t.components)
        if (c >= cp.tensors.size() || c == index || cp.tensors[c].layout != "strided")
            return tensorError(cp, index, "its " + what + " components are not dense tensors");
    return std::nullopt;
}

// Reads a whole small tensor (quantization parameters, sparse indices) into memory.
Result<std::vector<double>> readAll(const Checkpoint &cp, std::uint32_t index, std::uint64_t limit)
{
    auto r = TensorElementReader::open(cp, index);
    if (!r)
        return r.error();
    if ((*r)->numel() > limit)
        return tensorError(cp, index, "has " + std::to_string((*r)->numel()) + " elements, more than expected");
    std::vector<double> v(static_cast<std::size_t>((*r)->numel()));
    if ((*r)->read(v) != v.size())
        return tensorError(cp, index, "could not be read to the end");
    return v;
}

// Walks a compressed sparse tensor's indices (CSR/CSC, or BSR/BSC counting blocks): reads the
// compressed and plain index tensors, checks them against `outer` x `inner` and `nnz` stored
// entries, and calls fn(o, k, i) for stored entry k at outer position o and inner index i.
// `what` names the indices in errors ("" or "block ").
template<typename Fn>
std::optional<Error> forEachCompressedEntry(const Checkpoint &cp, std::uint32_t tensorIndex, const TensorInfo &t,
                                            std::int64_t outer, std::int64_t inner, std::uint64_t nnz,
                                            std::uint64_t limit, const std::string &what, Fn fn)
{
    auto compressed = readAll(cp, t.components[0], limit);
    if (!compressed)
        return compressed.error();
    auto plain = readAll(cp, t.components[1], limit);
    if (!plain)
        return plain.error();
    if (compressed->size() != static_cast<std::size_t>(outer) + 1 || plain->size() != nnz)
        return tensorError(cp, tensorIndex, "its compressed " + what + "indices do not match its shape");
    for (std::int64_t o = 0; o < outer; ++o) {
        const double b = (*compressed)[static_cast<std::size_t>(o)];
        const double e = (*compressed)[static_cast<std::size_t>(o) + 1];
        if (!(b >= 0 && b <= e && e <= static_cast<double>(nnz)))
            return tensorError(cp, tensorIndex, "its compressed " + what + "indices are not increasing");
        for (auto k = static_cast<std::uint64_t>(b); k < static_cast<std::uint64_t>(e); ++k) {
            const double v = (*plain)[k];
            if (!(v >= 0) || v >= static_cast<double>(inner))
                return tensorError(cp, tensorIndex, "sparse " + what + "index out of range at entry " + std::to_string(k));
            fn(static_cast<std::uint64_t>(o), k, static_cast<std::uint64_t>(v));
        }
    }
    return std::nullopt;
}

} // namespace

Result<std::unique_ptr<TensorElementReader>> TensorElementReader::open(const Checkpoint &cp, std::uint32_t tensorIndex,
                                                                        ComplexPart part)
{
    if (tensorIndex >= cp.tensors.size())
        return tensorError(cp, tensorIndex, "no such tensor");
    const TensorInfo &t = cp.tensors[tensorIndex];
    if (!t.problem.empty())
        return tensorError(cp, tensorIndex, t.problem);

    std::unique_ptr<TensorElementReader> reader(new TensorElementReader());
    Impl &d = *reader->d;

    if (t.layout == "sparse_bsr" || t.layout == "sparse_bsc") {
        // Block compressed: (compressed block indices, plain block indices, values (nnz, bh, bw)).
        // Each row of a stored block is bw consecutive dense elements: one sparse entry of `block` = bw.
        if (auto error = checkComponents(cp, tensorIndex, t, 3, "sparse"))
            return *error;
        const TensorInfo &vt = cp.tensors[t.components[2]];
        if (t.shape.size() != 2 || vt.shape.size() != 3)
            return tensorError(cp, tensorIndex, "batched or hybrid block sparse tensors are not supported");
        const std::int64_t rows = t.shape[0], cols = t.shape[1], bh = vt.shape[1], bw = vt.shape[2];
        if (rows < 0 || cols < 0 || bh <= 0 || bw <= 0 || rows % bh != 0 || cols % bw != 0)
            return tensorError(cp, tensorIndex, "its blocks do not tile its shape");
        std::uint64_t numel = 0;
        if (mulOverflow(static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols), numel))
            return tensorError(cp, tensorIndex, "its shape overflows");
        auto values = TensorElementReader::open(cp, t.components[2], part);
        if (!values)
            return values.error();
        const bool bsr = t.layout == "sparse_bsr";
        const std::int64_t outer = bsr ? rows / bh : cols / bw;
        const std::int64_t inner = bsr ? cols / bw : rows / bh;
        const auto nnz = static_cast<std::uint64_t>(vt.shape[0]);
        constexpr std::uint64_t kMaxIndexElements = 1ull << 31; // indices are held in memory
        std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;
        // nnz * bh entries: no more than the values tensor's elements, which the file holds.
        entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(nnz * static_cast<std::uint64_t>(bh), kMaxIndexElements)));
        const auto ubh = static_cast<std::uint64_t>(bh), ubw = static_cast<std::uint64_t>(bw);
        if (auto error = forEachCompressedEntry(cp, tensorIndex, t, outer, inner, nnz, kMaxIndexElements, "block ",
                                                [&](std::uint64_t o, std::uint64_t k, std::uint64_t i) {
                                                    const std::uint64_t blockRow = bsr ? o : i;
                                                    const std::uint64_t blockCol = bsr ? i : o;
                                                    for (std::uint64_t r = 0; r < ubh; ++r) {
                                                        const std::uint64_t row = blockRow * ubh + r;
                                                        const std::uint64_t first = row * static_cast<std::uint64_t>(cols) + blockCol * ubw;
                                                        entries.emplace_back(first / ubw, k * ubh + r);
                                                    }
                                                }))
            return *error;
        std::stable_sort(entries.begin(), entries.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
        d.mode = Impl::Mode::Sparse;
        d.numel = numel;
        d.block = static_cast<std::uint64_t>(bw);
        d.entries = std::move(entries);
        d.values = std::move(*values);
        return reader;
    }

    if (t.layout == "sparse_coo" || t.layout == "sparse_csr" || t.layout == "sparse_csc") {
        const bool coo = t.layout == "sparse_coo";
        if (auto error = checkComponents(cp, tensorIndex, t, coo ? 2 : 3, "sparse"))
            return *error;
        const std::uint32_t valuesIndex = t.components.back();
        const TensorInfo &vt = cp.tensors[valuesIndex];
        auto values = TensorElementReader::open(cp, valuesIndex, part);
        if (!values)
            return values.error();
        // Shape: sparse dims, then the dense dims the values carry after their first.
        std::uint64_t numel = 1;
        for (std::int64_t s : t.shape) {
            if (s < 0 || mulOverflow(numel, static_cast<std::uint64_t>(s), numel))
                return tensorError(cp, tensorIndex, "its shape overflows");
        }
        if (vt.shape.empty())
            return tensorError(cp, tensorIndex, "its values tensor has no dimension");
        const std::size_t denseDims = vt.shape.size() - 1;
        const std::size_t sparseDims = t.shape.size() >= denseDims ? t.shape.size() - denseDims : 0;
        std::uint64_t block = 1;
        for (std::size_t i = 0; i < denseDims; ++i) {
            if (t.shape.size() < denseDims || vt.shape[i + 1] != t.shape[sparseDims + i])
                return tensorError(cp, tensorIndex, "its values' dense dimensions do not match its shape");
            block *= static_cast<std::uint64_t>(vt.shape[i + 1]);
        }
        const auto nnz = static_cast<std::uint64_t>(vt.shape[0]);
        constexpr std::uint64_t kMaxIndexElements = 1ull << 31; // indices are held in memory
        std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;
        entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(nnz, kMaxIndexElements)));
        auto checkedIndex = [&](double v, std::int64_t size, std::uint64_t &out) {
            if (!(v >= 0) || v >= static_cast<double>(size))
                return false;
            out = static_cast<std::uint64_t>(v);
            return true;
        };
        if (coo) {
            const TensorInfo &it = cp.tensors[t.components[0]];
            if (it.shape.size() != 2 || static_cast<std::size_t>(it.shape[0]) != sparseDims
                || static_cast<std::uint64_t>(it.shape[1]) != nnz)
                return tensorError(cp, tensorIndex, "its indices do not have shape (sparse dims, nnz)");
            auto ind = readAll(cp, t.components[0], kMaxIndexElements);
            if (!ind)
                return ind.error();
            for (std::uint64_t k = 0; k < nnz; ++k) {
                std::uint64_t linear = 0;
                for (std::size_t s = 0; s < sparseDims; ++s) {
                    std::uint64_t i = 0;
                    if (!checkedIndex((*ind)[s * nnz + k], t.shape[s], i))
                        return tensorError(cp, tensorIndex, "sparse index out of range at entry " + std::to_string(k));
                    linear = linear * static_cast<std::uint64_t>(t.shape[s]) + i;
                }
                entries.emplace_back(linear, k);
            }
        } else {
            if (sparseDims != 2)
                return tensorError(cp, tensorIndex, "batched compressed sparse tensors are not supported");
            const bool csr = t.layout == "sparse_csr";
            const std::int64_t outer = csr ? t.shape[0] : t.shape[1];
            const std::int64_t inner = csr ? t.shape[1] : t.shape[0];
            if (auto error = forEachCompressedEntry(cp, tensorIndex, t, outer, inner, nnz, kMaxIndexElements, "",
                                                    [&](std::uint64_t o, std::uint64_t k, std::uint64_t i) {
                                                        const auto row = csr ? o : i;
                                                        const auto col = csr ? i : o;
                                                        entries.emplace_back(row * static_cast<std::uint64_t>(t.shape[1]) + col, k);
                                                    }))
                return *error;
        }
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto &a, const auto &b) { return a.first < b.first; });
        d.mode = Impl::Mode::Sparse;
        d.numel = numel;
        d.block = block ? block : 1;
        d.entries = std::move(entries);
        d.values = std::move(*values);
        return reader;
    }

    if (t.layout == "nested") {
        // The components one after the other, as the buffer holds them when each is contiguous and
        // they follow each other (what torch.nested builds): read as the buffer. Others are refused.
        if (auto error = checkComponents(cp, tensorIndex, t, 4, "nested"))
            return *error;
        const TensorInfo &st = cp.tensors[t.components[1]];
        if (st.shape.size() != 2 || cp.tensors[t.components[2]].shape != st.shape
            || cp.tensors[t.components[3]].numel != static_cast<std::uint64_t>(st.shape[0]))
            return tensorError(cp, tensorIndex, "its nested sizes, strides and offsets do not agree");
        constexpr std::uint64_t kMaxMetadata = 1ull << 26;
        auto sizes = readAll(cp, t.components[1], kMaxMetadata);
        auto strides = sizes ? readAll(cp, t.components[2], kMaxMetadata) : sizes;
        auto offsets = strides ? readAll(cp, t.components[3], kMaxMetadata) : strides;
        if (!offsets)
            return offsets.error();
        const auto rank = static_cast<std::size_t>(st.shape[1]);
        std::uint64_t next = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(st.shape[0]); ++i) {
            std::uint64_t expect = 1; // the component's element count once its dimensions are walked
            bool packed = (*offsets)[i] == static_cast<double>(next);
            for (std::size_t j = rank; j-- > 0;) {
                const double size = (*sizes)[i * rank + j];
                packed = packed && size >= 0 && size < 9e15 && (size <= 1 || (*strides)[i * rank + j] == static_cast<double>(expect));
                if (packed && mulOverflow(expect, static_cast<std::uint64_t>(size), expect))
                    packed = false;
            }
            if (!packed || addOverflow(next, expect, next))
                return tensorError(cp, tensorIndex, "nested component " + std::to_string(i)
                                                        + " is not stored contiguously after the one before it");
        }
        auto buffer = open(cp, t.components[0], part);
        if (!buffer)
            return buffer.error();
        if ((*buffer)->numel() != next)
            return tensorError(cp, tensorIndex, "its buffer holds " + std::to_string((*buffer)->numel())
                                                    + " elements, its components " + std::to_string(next));
        return buffer;
    }
    if (t.layout != "strided")
        return tensorError(cp, tensorIndex, "layout " + t.layout + " has no element reader");
    if (t.storage < 0) {
        // Device tensors rebuilt from a CPU tensor carry it as their only component.
        if (t.components.size() == 1 && t.components[0] != tensorIndex && t.device != "meta"
            && cp.tensors[t.components[0]].storage >= 0 && cp.tensors[t.components[0]].dtype == t.dtype)
            return open(cp, t.components[0], part);
        return tensorError(cp, tensorIndex,
                           t.device == "meta" ? "it is a meta tensor: the file holds no data for it"
                                              : "the file holds no data for it");
    }
    const DtypeInfo *info = dtypeByName(t.dtype);
    if (!info || !elemFor(t.dtype, d.elem))
        return tensorError(cp, tensorIndex, "dtype " + t.dtype + " has no numeric reading (raw bits or packed float4 pairs)");
    if (static_cast<std::size_t>(t.storage) >= cp.storages.size())
        return tensorError(cp, tensorIndex, "its storage index is out of range");
    const StorageInfo &st = cp.storages[static_cast<std::size_t>(t.storage)];
    if (!st.problem.empty())
        return tensorError(cp, tensorIndex, "storage " + st.key + ": " + st.problem);
    // Sharded checkpoints: the storage lives in its shard's mapping, not in the index file's.
    const MappedFile *mapped = st.file ? st.file.get() : cp.file.get();
    if (!st.dataOffset || !mapped)
        return tensorError(cp, tensorIndex, "the bytes of storage " + st.key + " cannot be mapped");
    const std::uint64_t fileSize = mapped->size();
    if (*st.dataOffset > fileSize || st.nbytes > fileSize - *st.dataOffset)
        return tensorError(cp, tensorIndex, "storage " + st.key + " reaches past the end of the file");
    if (t.shape.size() != t.stride.size() || t.storageOffset < 0)
        return tensorError(cp, tensorIndex, "its view is malformed");

    d.base = mapped->bytes().data() + *st.dataOffset;
    d.mapped = mapped;
    d.baseBytes = st.nbytes;
    d.item = info->itemSize;
    d.perByte = info->elementsPerByte;
    d.swap = cp.byteOrder == "big" && componentSize(d.elem, d.item) > 1;
    d.offset = t.storageOffset;
    const bool complex = info->kind == DtypeKind::Complex;
    if (part == ComplexPart::Imaginary && !complex)
        return tensorError(cp, tensorIndex, "dtype " + t.dtype + " has no imaginary part");
    d.part = complex ? part : ComplexPart::Magnitude;
    // (z negated)'s parts are negated, conj(z)'s imaginary part; |z| stays.
    d.negate = complex ? part != ComplexPart::Magnitude && (t.negView != (part == ComplexPart::Imaginary && t.conjView))
                       : t.negView;

    // Extent check (again: never trust an earlier validation with raw pointers).
    std::uint64_t numel = 1;
    std::uint64_t extent = static_cast<std::uint64_t>(t.storageOffset);
    bool overflow = false;
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
        if (t.shape[i] < 0 || t.stride[i] < 0)
            return tensorError(cp, tensorIndex, "its view has a negative size or stride");
        overflow |= mulOverflow(numel, static_cast<std::uint64_t>(t.shape[i]), numel);
        if (t.shape[i] > 0) {
            std::uint64_t span = 0;
            overflow |= mulOverflow(static_cast<std::uint64_t>(t.shape[i] - 1), static_cast<std::uint64_t>(t.stride[i]),
                                    span);
            overflow |= addOverflow(extent, span, extent);
        }
    }
    std::uint64_t extentBytes = 0;
    overflow |= addOverflow(extent, 1, extent);
    if (d.perByte > 1)
        extentBytes = extent / d.perByte + (extent % d.perByte != 0);
    else
        overflow |= mulOverflow(extent, d.item, extentBytes);
    if (overflow || (numel > 0 && extentBytes > st.nbytes))
        return tensorError(cp, tensorIndex, "its view reaches past the end of storage " + st.key);
    d.numel = numel;

    if (t.quant) {
        const QuantInfo &q = *t.quant;
        d.quantized = true;
        if (q.qscheme == "per_tensor_affine") {
            // torch: float(scale) * (q - zero_point), in float.
            d.scale = static_cast<double>(static_cast<float>(q.scale));
            d.zeroPoint = static_cast<double>(q.zeroPoint);
        } else if (q.qscheme == "per_channel_affine" || q.qscheme == "per_channel_affine_float_qparams") {
            if (q.axis < 0 || static_cast<std::size_t>(q.axis) >= t.shape.size() || q.scalesTensor < 0
                || q.zeroPointsTensor < 0)
                return tensorError(cp, tensorIndex, "its per-channel quantization parameters are malformed");
            const auto channels = static_cast<std::uint64_t>(t.shape[static_cast<std::size_t>(q.axis)]);
            auto scales = readAll(cp, static_cast<std::uint32_t>(q.scalesTensor), channels);
            if (!scales)
                return scales.error();
            auto zps = readAll(cp, static_cast<std::uint32_t>(q.zeroPointsTensor), channels);
            if (!zps)
                return zps.error();
            if (scales->size() != channels || zps->size() != channels)
                return tensorError(cp, tensorIndex, "it has " + std::to_string(channels)
                                                        + " channels but its scales or zero points do not");
            d.perChannel = true;
            d.scales = std::move(*scales);
            d.zeroPoints = std::move(*zps);
            d.axis = static_cast<std::size_t>(q.axis);
        } else {
            return tensorError(cp, tensorIndex, "quantization scheme " + q.qscheme + " is not supported");
        }
    }

    // Coalesce the view: drop size-1 dimensions and merge dimensions that are contiguous with the
    // next one, so a contiguous tensor is read in long runs. Per-channel tensors keep their
    // dimensions (the channel index comes from the odometer).
    std::vector<std::int64_t> shape, stride;
    if (d.perChannel) {
        shape = t.shape;
        stride = t.stride;
    } else {
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (t.shape[i] == 1)
                continue;
            if (!shape.empty() && stride.back() == t.shape[i] * t.stride[i]) {
                shape.back() *= t.shape[i];
                stride.back() = t.stride[i];
            } else {
                shape.push_back(t.shape[i]);
                stride.push_back(t.stride[i]);
            }
        }
    }
    if (shape.empty()) { // 0-dim tensor (or all sizes 1): one element
        shape = {1};
        stride = {1};
    }
    d.shape = std::move(shape);
    d.stride = std::move(stride);
    d.idx.assign(d.shape.size(), 0);
    d.seekStrided(0);
    return reader;
}

} // namespace ptscope::core
