// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "cpu_stats_kernels.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The vectors below never cross a call boundary (every helper is always inlined into the
// per-instruction-set entry points, which take and return plain types): GCC's note that passing
// them would differ between instruction sets does not apply.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ptscope::core::cpu_kernels {

namespace {

constexpr int kLanes = 8;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxFinite = std::numeric_limits<double>::max();

#define PTSCOPE_INLINE [[gnu::always_inline]] inline
#define PTSCOPE_LAMBDA_INLINE __attribute__((always_inline))

// The 8 logical lanes as R = 8 / W vectors of the target's native width W (GCC/Clang vector
// extensions): one AVX-512 register, two AVX2 or four SSE2 (or NEON) registers, lane l in slot
// l % W of register l / W. Native widths because GCC 12 takes comparisons on wider vectors apart
// into scalar code. This file is compiled with -ffp-contract=off: no FMA is formed, on any path.
// Spelled out per width: GCC ignores a vector_size that depends on a template parameter.
template<int W>
struct VectorsOf;
template<>
struct VectorsOf<2>
{
    using D = double __attribute__((vector_size(16)));
    using L = std::int64_t __attribute__((vector_size(16)));
    using F = float __attribute__((vector_size(8)));
    using I = std::int32_t __attribute__((vector_size(8)));
};
template<>
struct VectorsOf<4>
{
    using D = double __attribute__((vector_size(32)));
    using L = std::int64_t __attribute__((vector_size(32)));
    using F = float __attribute__((vector_size(16)));
    using I = std::int32_t __attribute__((vector_size(16)));
};
template<>
struct VectorsOf<8>
{
    using D = double __attribute__((vector_size(64)));
    using L = std::int64_t __attribute__((vector_size(64)));
    using F = float __attribute__((vector_size(32)));
    using I = std::int32_t __attribute__((vector_size(32)));
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes __builtin_convertvector from 4 or 8 floats to doubles apart into halves (two
// conversions and a shuffle); these are the one instruction. Not always_inline: a function for a
// wider instruction set than its caller's cannot be, but once the caller is inlined into a kernel
// of that set, these are inlined too.
__attribute__((target("avx512f"))) inline VectorsOf<8>::D convert8(const std::uint8_t *p)
{
    return reinterpret_cast<VectorsOf<8>::D>(_mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(reinterpret_cast<const float *>(p))));
}
__attribute__((target("avx"))) inline VectorsOf<4>::D convert4(const std::uint8_t *p)
{
    return reinterpret_cast<VectorsOf<4>::D>(_mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float *>(p))));
}
#define PTSCOPE_CONVERT_INSTRUCTION 1
#endif

template<int W>
struct Simd
{
    using D = typename VectorsOf<W>::D;
    using L = typename VectorsOf<W>::L;
    using F = typename VectorsOf<W>::F;
    using I = typename VectorsOf<W>::I;
    static constexpr int R = kLanes / W;
    static_assert(kLanes % W == 0);

    PTSCOPE_INLINE static D splat(double x)
    {
        D v;
        for (int i = 0; i < W; ++i)
            v[i] = x;
        return v;
    }

    // |x|: the sign bit cleared (one instruction; NaN stays NaN).
    PTSCOPE_INLINE static D abs(D v)
    {
        L bits;
        std::memcpy(&bits, &v, sizeof v);
        bits &= ~(L{} + std::numeric_limits<std::int64_t>::min());
        D out;
        std::memcpy(&out, &bits, sizeof out);
        return out;
    }

    // W elements from any address, converted to double (float32 -> double is exact).
    template<bool IsFloat>
    PTSCOPE_INLINE static D load(const std::uint8_t *p)
    {
        if constexpr (IsFloat) {
#if defined(PTSCOPE_CONVERT_INSTRUCTION)
            if constexpr (W == 8)
                return convert8(p);
            if constexpr (W == 4)
                return convert4(p);
#endif
            F f;
            std::memcpy(&f, p, sizeof f);
            return __builtin_convertvector(f, D);
        } else {
            D v;
            std::memcpy(&v, p, sizeof v);
            return v;
        }
    }
};

template<bool IsFloat>
constexpr std::size_t kElementBytes = IsFloat ? 4 : 8;

// One element, converted to double.
template<bool IsFloat>
PTSCOPE_INLINE double load1(const std::uint8_t *p)
{
    if constexpr (IsFloat) {
        float f;
        std::memcpy(&f, p, 4);
        return static_cast<double>(f);
    } else {
        double d;
        std::memcpy(&d, p, 8);
        return d;
    }
}

// Eight consecutive elements in lanes 0..7; a tail of n < 8 fills lanes 0..n-1, the others get
// 0 and a false `live` mask.
template<int W, bool IsFloat>
struct Group
{
    using S = Simd<W>;
    typename S::D v[S::R] = {};
    typename S::L live[S::R] = {};

    PTSCOPE_INLINE void loadFull(const std::uint8_t *p)
    {
        for (int r = 0; r < S::R; ++r)
            v[r] = S::template load<IsFloat>(p + r * W * kElementBytes<IsFloat>);
    }

    PTSCOPE_INLINE void loadTail(const std::uint8_t *p, std::size_t n)
    {
        for (int l = 0; l < kLanes; ++l) {
            const bool in = static_cast<std::size_t>(l) < n;
            v[l / W][l % W] = in ? load1<IsFloat>(p + l * kElementBytes<IsFloat>) : 0.0;
            live[l / W][l % W] = in ? -1 : 0;
        }
    }
};

// Per-lane accumulators of pass 1. Counters go down by one per hit (a true comparison is -1).
template<int W>
struct Lanes
{
    using S = Simd<W>;
    typename S::L count[S::R] = {}, nan[S::R] = {}, posInf[S::R] = {}, negInf[S::R] = {}, zeros[S::R] = {};
    typename S::D sum[S::R] = {}, mn[S::R], mx[S::R], minAbs[S::R];

    PTSCOPE_INLINE Lanes()
    {
        for (int r = 0; r < S::R; ++r) {
            mn[r] = S::splat(kInf);
            mx[r] = S::splat(-kInf);
            minAbs[r] = S::splat(kInf);
        }
    }

    PTSCOPE_INLINE static double lane(const typename S::D *v, int l) { return v[l / W][l % W]; }
    PTSCOPE_INLINE static std::uint64_t hits(const typename S::L *v)
    {
        std::int64_t c = 0;
        for (int l = 0; l < kLanes; ++l)
            c -= v[l / W][l % W];
        return static_cast<std::uint64_t>(c);
    }
    // The lanes added in a fixed tree, the same for every W.
    PTSCOPE_INLINE static double total(const typename S::D *v)
    {
        return ((lane(v, 0) + lane(v, 1)) + (lane(v, 2) + lane(v, 3)))
            + ((lane(v, 4) + lane(v, 5)) + (lane(v, 6) + lane(v, 7)));
    }
};

// One register's worth of elements into the lanes (register r of the 8). Fast: the block is
// taken to hold finite values only (checked afterwards from the sums, which any NaN or infinity
// would make non-finite), so no finiteness test per element. Full: every lane holds an element
// (else `live` says which). Each update is one comparison and one select: an element left out
// is first replaced by a value that changes nothing.
template<int W, bool Fast, bool Full>
PTSCOPE_INLINE void step(Lanes<W> &s, int r, typename Simd<W>::D v, typename Simd<W>::L live)
{
    using S = Simd<W>;
    using D = typename S::D;
    const D zero = {}, inf = S::splat(kInf), negInf = S::splat(-kInf);
    const D a = S::abs(v);
    D nonZero = a > zero ? a : inf; // |x| for minAbs, which leaves zeros out
    if constexpr (Fast && Full) {
        s.zeros[r] += v == zero;
        s.sum[r] += v;
        s.mn[r] = v < s.mn[r] ? v : s.mn[r];
        s.mx[r] = v > s.mx[r] ? v : s.mx[r];
        s.minAbs[r] = nonZero < s.minAbs[r] ? nonZero : s.minAbs[r];
        return;
    }
    // (In full vectors every lane is live: no mask is combined with `live`, which GCC 12 would
    // take apart into scalar code.)
    typename S::L use = live;
    if constexpr (!Fast) {
        use = a <= S::splat(kMaxFinite); // false for NaN and +-Inf
        if constexpr (!Full)
            use &= live;
        s.count[r] += use;
        if constexpr (Full) {
            s.nan[r] += v != v;
            s.posInf[r] += v == inf;
            s.negInf[r] += v == negInf;
        } else {
            s.nan[r] += (v != v) & live;
            s.posInf[r] += (v == inf) & live;
            s.negInf[r] += (v == negInf) & live;
        }
    }
    if constexpr (Full)
        s.zeros[r] += v == zero; // zero is finite
    else
        s.zeros[r] += (v == zero) & live;
    const D vSum = use ? v : zero, vMin = use ? v : inf, vMax = use ? v : negInf;
    nonZero = use ? nonZero : inf;
    s.sum[r] += vSum;
    s.mn[r] = vMin < s.mn[r] ? vMin : s.mn[r];
    s.mx[r] = vMax > s.mx[r] ? vMax : s.mx[r];
    s.minAbs[r] = nonZero < s.minAbs[r] ? nonZero : s.minAbs[r];
}

template<int W, bool IsFloat, bool Fast>
PTSCOPE_INLINE Lanes<W> accumulate(const std::uint8_t *p, std::size_t n)
{
    constexpr std::size_t size = kElementBytes<IsFloat>;
    Lanes<W> s;
    Group<W, IsFloat> g;
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        g.loadFull(p + i * size);
        for (int r = 0; r < Simd<W>::R; ++r)
            step<W, Fast, true>(s, r, g.v[r], ~typename Simd<W>::L{});
    }
    if (i < n) {
        g.loadTail(p + i * size, n - i);
        for (int r = 0; r < Simd<W>::R; ++r)
            step<W, Fast, false>(s, r, g.v[r], g.live[r]);
    }
    return s;
}

// Squared deviations from `mean` of the finite elements (all of them when Fast), per lane.
template<int W, bool IsFloat, bool Fast>
PTSCOPE_INLINE double deviations(const std::uint8_t *p, std::size_t n, double mean)
{
    using S = Simd<W>;
    using D = typename S::D;
    constexpr std::size_t size = kElementBytes<IsFloat>;
    const D vMean = S::splat(mean), zero = {}, maxFinite = S::splat(kMaxFinite);
    D m2[S::R] = {};
    Group<W, IsFloat> g;
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        g.loadFull(p + i * size);
        for (int r = 0; r < S::R; ++r) {
            D d = g.v[r] - vMean;
            if constexpr (!Fast) {
                const D a = S::abs(g.v[r]);
                d = a <= maxFinite ? d : zero;
            }
            m2[r] += d * d;
        }
    }
    if (i < n) {
        g.loadTail(p + i * size, n - i);
        for (int r = 0; r < S::R; ++r) {
            const D a = S::abs(g.v[r]);
            D d = g.v[r] - vMean;
            d = a <= maxFinite ? d : zero;
            d = g.live[r] ? d : zero;
            m2[r] += d * d;
        }
    }
    return Lanes<W>::total(m2);
}

// The mean of the finite elements when their sum overflows (float64 values beyond about 1e304):
// summed scaled down by 2^-600, which no block can overflow, in element order. The mean of finite
// values is itself finite; values below 2^-474 lose bits, which cannot matter next to these.
template<bool IsFloat>
double scaledMean(const std::uint8_t *p, std::size_t n, std::uint64_t count)
{
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double x = load1<IsFloat>(p + i * kElementBytes<IsFloat>);
        if (std::fabs(x) <= kMaxFinite)
            sum += x * 0x1p-600;
    }
    return sum / static_cast<double>(count) * 0x1p600;
}

template<int W, bool IsFloat>
PTSCOPE_INLINE MomentSummary summarizeImpl(const std::uint8_t *p, std::size_t n)
{
    using Acc = Lanes<W>;
    Acc s = accumulate<W, IsFloat, true>(p, n);
    bool fast = true;
    for (int l = 0; l < kLanes; ++l)
        fast = fast && Acc::lane(s.sum, l) - Acc::lane(s.sum, l) == 0.0; // false for NaN and +-Inf
    MomentSummary out;
    if (fast) {
        out.count = n;
    } else {
        s = accumulate<W, IsFloat, false>(p, n);
        out.count = Acc::hits(s.count);
        out.nan = Acc::hits(s.nan);
        out.posInf = Acc::hits(s.posInf);
        out.negInf = Acc::hits(s.negInf);
    }
    out.zeros = Acc::hits(s.zeros);
    for (int l = 0; l < kLanes; ++l) {
        out.min = std::min(out.min, Acc::lane(s.mn, l));
        out.max = std::max(out.max, Acc::lane(s.mx, l));
        out.minAbs = std::min(out.minAbs, Acc::lane(s.minAbs, l));
    }
    // The largest finite |x| is that of the minimum or of the maximum.
    if (out.count)
        out.maxAbs = std::max(std::fabs(out.min), std::fabs(out.max));
    if (out.count) {
        // The block's own mean, then the squared deviations around it (the block is in cache).
        out.mean = Acc::total(s.sum) / static_cast<double>(out.count);
        if (!std::isfinite(out.mean))
            out.mean = scaledMean<IsFloat>(p, n, out.count);
        out.m2 = fast ? deviations<W, IsFloat, true>(p, n, out.mean) : deviations<W, IsFloat, false>(p, n, out.mean);
    }
    return out;
}

// Adds the bins of a call's elements up. With few bins, neighbouring elements often share a bin,
// and each increment then waits for the one before it to reach memory: four interleaved
// sub-histograms break those chains. (32-bit counts: a call covers far fewer than 2^32 elements.)
class Scatter
{
public:
    static constexpr std::uint32_t kMaxSplitSlots = 1024;

    Scatter(std::uint64_t *counts, std::uint32_t bins)
        : m_counts(counts)
        , m_slots(bins + 1)
    {
        if (split())
            for (auto &h : m_sub)
                std::fill(h, h + m_slots, 0u);
    }

    PTSCOPE_INLINE void add(const std::int32_t *pos, std::size_t n)
    {
        if (!split()) {
            for (std::size_t i = 0; i < n; ++i)
                ++m_counts[pos[i]];
            return;
        }
        std::size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            ++m_sub[0][pos[i]];
            ++m_sub[1][pos[i + 1]];
            ++m_sub[2][pos[i + 2]];
            ++m_sub[3][pos[i + 3]];
        }
        for (; i < n; ++i)
            ++m_sub[0][pos[i]];
    }

    ~Scatter()
    {
        if (split())
            for (std::uint32_t k = 0; k < m_slots; ++k)
                m_counts[k] += std::uint64_t(m_sub[0][k]) + m_sub[1][k] + m_sub[2][k] + m_sub[3][k];
    }

private:
    bool split() const { return m_slots <= kMaxSplitSlots; }

    std::uint64_t *m_counts;
    std::uint32_t m_slots;
    std::uint32_t m_sub[4][kMaxSplitSlots];
};

template<int W, bool IsFloat, bool DivideFirst>
PTSCOPE_INLINE void binsInOrder(const std::uint8_t *p, std::size_t n, const LinearBinning &b, std::uint64_t *counts)
{
    using S = Simd<W>;
    using D = typename S::D;
    constexpr std::size_t size = kElementBytes<IsFloat>;
    const double bins = static_cast<double>(b.bins);
    // Truncating min(q, bins - 1) equals clamping the truncated q to bins - 1 (q >= 0 here).
    const D lo = S::splat(b.lo), hi = S::splat(b.hi), width = S::splat(b.hi - b.lo), vBins = S::splat(bins),
            lastBin = S::splat(bins - 1.0), skip = S::splat(bins), zero = {},
            maxFinite = S::splat(std::numeric_limits<double>::max());
    // torch.histc's quotient in the order of the torch answered for; see histogram_backend.h.
    auto quotient = [&](D x) PTSCOPE_LAMBDA_INLINE {
        if constexpr (DivideFirst)
            return ((x - lo) / width) * vBins;
        else
            return ((x - lo) * vBins) / width;
    };
    // Bin indices for a stretch (IEEE sub, mul, div, truncation in every lane), then the scatter.
    constexpr std::size_t kStretch = 512;
    alignas(64) std::int32_t pos[kStretch];
    auto binGroup = [&](const Group<W, IsFloat> &g, std::int32_t *out) PTSCOPE_LAMBDA_INLINE {
        for (int r = 0; r < S::R; ++r) {
            const D x = g.v[r];
            D at = quotient(x);
            at = at <= maxFinite ? at : zero;     // not finite: bin 0
            D slot = at < lastBin ? at : lastBin; // the maximum: last bin
            // Outside [lo, hi], NaN included: skipped. Written as the larger of two selects (skip
            // is above every bin) because GCC 12 takes apart into scalar code the single select
            // on a combined condition that two consecutive selects become.
            const D belowSkipped = x < lo ? skip : slot, aboveSkipped = x > hi ? skip : slot;
            slot = belowSkipped > aboveSkipped ? belowSkipped : aboveSkipped;
            slot = x == x ? slot : skip;
            const auto k = __builtin_convertvector(slot, typename S::I);
            std::memcpy(out + r * W, &k, sizeof k);
        }
    };
    // Every element known finite and in [lo, hi] and every product (x - lo) * bins finite: the same
    // bin without the range tests (the quotient is finite, at most bins), clamped to [0, bins - 1] so
    // that no element can land outside the counts.
    auto binInside = [&](const Group<W, IsFloat> &g, std::int32_t *out) PTSCOPE_LAMBDA_INLINE {
        for (int r = 0; r < S::R; ++r) {
            const D at = quotient(g.v[r]);
            D slot = at < lastBin ? at : lastBin;
            slot = slot > zero ? slot : zero;
            const auto k = __builtin_convertvector(slot, typename S::I);
            std::memcpy(out + r * W, &k, sizeof k);
        }
    };
    Group<W, IsFloat> g;
    Scatter scatter(counts, b.bins);
    for (std::size_t first = 0; first < n; first += kStretch) {
        const std::size_t m = std::min(kStretch, n - first);
        const std::uint8_t *q = p + first * size;
        std::size_t i = 0;
        if (b.inside) {
            for (; i + kLanes <= m; i += kLanes) {
                g.loadFull(q + i * size);
                binInside(g, pos + i);
            }
        }
        for (; i + kLanes <= m; i += kLanes) {
            g.loadFull(q + i * size);
            binGroup(g, pos + i);
        }
        if (i < m) {
            g.loadTail(q + i * size, m - i);
            binGroup(g, pos + i); // pos has room for a whole group past m
        }
        scatter.add(pos, m);
    }
}

template<int W, bool IsFloat>
PTSCOPE_INLINE void binsImpl(const std::uint8_t *p, std::size_t n, const LinearBinning &b, std::uint64_t *counts)
{
    if (b.divideFirst)
        binsInOrder<W, IsFloat, true>(p, n, b, counts);
    else
        binsInOrder<W, IsFloat, false>(p, n, b, counts);
}

using SummarizeFn = MomentSummary (*)(const std::uint8_t *, std::size_t);
using BinsFn = void (*)(const std::uint8_t *, std::size_t, const LinearBinning &, std::uint64_t *);

struct Kernels
{
    SummarizeFn summarize32, summarize64;
    BinsFn bins32, bins64;
};

// One set of entry points per instruction set; the templates above are inlined into each, so
// each is compiled for its target.
#define PTSCOPE_KERNELS(NAME, ATTR, W)                                                                                \
    ATTR MomentSummary NAME##Summarize32(const std::uint8_t *p, std::size_t n) { return summarizeImpl<W, true>(p, n); } \
    ATTR MomentSummary NAME##Summarize64(const std::uint8_t *p, std::size_t n)                                         \
    {                                                                                                                  \
        return summarizeImpl<W, false>(p, n);                                                                          \
    }                                                                                                                  \
    ATTR void NAME##Bins32(const std::uint8_t *p, std::size_t n, const LinearBinning &b, std::uint64_t *c)             \
    {                                                                                                                  \
        binsImpl<W, true>(p, n, b, c);                                                                                    \
    }                                                                                                                  \
    ATTR void NAME##Bins64(const std::uint8_t *p, std::size_t n, const LinearBinning &b, std::uint64_t *c)             \
    {                                                                                                                  \
        binsImpl<W, false>(p, n, b, c);                                                                                   \
    }                                                                                                                  \
    constexpr Kernels NAME##Kernels{NAME##Summarize32, NAME##Summarize64, NAME##Bins32, NAME##Bins64};

PTSCOPE_KERNELS(baseline, , 2)
#if defined(__x86_64__)
PTSCOPE_KERNELS(avx2, __attribute__((target("avx2"))), 4)
PTSCOPE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))), 8)
#endif
#undef PTSCOPE_KERNELS

const Kernels &kernelsFor(Isa isa)
{
    switch (isa) {
#if defined(__x86_64__)
    case Isa::Avx512: return avx512Kernels;
    case Isa::Avx2: return avx2Kernels;
#endif
    default: return baselineKernels;
    }
}

std::atomic<const Kernels *> g_active{nullptr};

const Kernels &active()
{
    const Kernels *k = g_active.load(std::memory_order_relaxed);
    if (!k) {
        k = &kernelsFor(supportedIsas().back());
        g_active.store(k, std::memory_order_relaxed);
    }
    return *k;
}

} // namespace

const char *isaName(Isa isa)
{
    switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "baseline";
    }
}

std::vector<Isa> supportedIsas()
{
    std::vector<Isa> out{Isa::Baseline};
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        out.push_back(Isa::Avx2);
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw"))
        out.push_back(Isa::Avx512);
#endif
    return out;
}

Isa currentIsa()
{
    const Kernels *k = &active();
#if defined(__x86_64__)
    if (k == &avx512Kernels)
        return Isa::Avx512;
    if (k == &avx2Kernels)
        return Isa::Avx2;
#endif
    return Isa::Baseline;
}

bool setIsa(Isa isa)
{
    const std::vector<Isa> ok = supportedIsas();
    if (std::find(ok.begin(), ok.end(), isa) == ok.end())
        return false;
    g_active.store(&kernelsFor(isa), std::memory_order_relaxed);
    return true;
}

MomentSummary summarizeBlock(const Block &block)
{
    const Kernels &k = active();
    return block.isFloat ? k.summarize32(block.bytes, block.count) : k.summarize64(block.bytes, block.count);
}

void addLinearBins(const Block &block, const LinearBinning &binning, std::uint64_t *counts)
{
    const Kernels &k = active();
    if (block.isFloat)
        k.bins32(block.bytes, block.count, binning, counts);
    else
        k.bins64(block.bytes, block.count, binning, counts);
}

} // namespace ptscope::core::cpu_kernels
