// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
//
// Statistics kernels. Compiled with --fmad=false (cuda/CMakeLists.txt): every expression rounds
// exactly as the CPU backend's (compiled with -ffp-contract=off), so bins match bit for bit.
//
// Why not cub::DeviceHistogram: its bin computation (a precomputed scale, in the sample type) is
// not torch.histc's ((x - lo) * bins) / (hi - lo) (or torch 1.13's ((x - lo) / (hi - lo)) * bins) in
// double, and values on bin edges would move.
// The histogram kernel therefore keeps privatised shared-memory counts per block (the usual
// fastest layout for small bin counts) and falls back to global 64-bit atomics for large ones.
// Moments are per-tile two-pass summaries reduced in shared memory in a fixed order (not
// cub::DeviceReduce, whose floating-point order is not specified), merged on the host.
#include "stats_kernels.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace ptscope::cuda::detail {

namespace {

// ---- element conversion: exactly the core's (core/tensor_data.cpp) -------------------------------
// __host__ __device__ so that tests can hold them to the core's on machines without a GPU
// (hostConvert and friends below).

#define PTSCOPE_HD __host__ __device__ __forceinline__

PTSCOPE_HD float bitsToFloat(unsigned int b)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(b);
#else
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
#endif
}

PTSCOPE_HD double bitsToDouble(unsigned long long b)
{
#ifdef __CUDA_ARCH__
    return __longlong_as_double(static_cast<long long>(b));
#else
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
#endif
}

PTSCOPE_HD float halfToFloat(unsigned int h)
{
    const unsigned int sign = (h & 0x8000u) << 16;
    const unsigned int exp = (h >> 10) & 0x1fu;
    const unsigned int mant = h & 0x3ffu;
    float magnitude;
    if (exp == 0)
        magnitude = static_cast<float>(mant) * 5.9604644775390625e-08f; // mant * 2^-24: exact
    else if (exp == 31)
        magnitude = mant ? bitsToFloat(0x7fc00000u) : bitsToFloat(0x7f800000u);
    else
        return bitsToFloat(sign | ((exp + 112u) << 23) | (mant << 13));
    return sign ? -magnitude : magnitude;
}

template<int Code>
PTSCOPE_HD double float8ToDouble(unsigned int v)
{
    const double nan = bitsToDouble(0x7ff8000000000000ull);
    const double inf = bitsToDouble(0x7ff0000000000000ull);
    if constexpr (Code == kF8E8M0) {
        return v == 0xffu ? nan : ldexp(1.0, static_cast<int>(v) - 127);
    } else {
        constexpr int expBits = (Code == kF8E5M2 || Code == kF8E5M2FNUZ) ? 5 : 4;
        constexpr int mantBits = 7 - expBits;
        constexpr int bias = Code == kF8E5M2 ? 15 : Code == kF8E4M3FN ? 7 : Code == kF8E5M2FNUZ ? 16 : 8;
        constexpr bool fnuz = Code == kF8E5M2FNUZ || Code == kF8E4M3FNUZ;
        if (fnuz && v == 0x80u)
            return nan;
        const bool negative = (v & 0x80u) != 0;
        const int exp = static_cast<int>((v >> mantBits) & ((1u << expBits) - 1));
        const int mant = static_cast<int>(v & ((1u << mantBits) - 1));
        constexpr int maxExp = (1 << expBits) - 1;
        double magnitude;
        if (Code == kF8E5M2 && exp == maxExp)
            magnitude = mant ? nan : inf;
        else if (Code == kF8E4M3FN && exp == maxExp && mant == (1 << mantBits) - 1)
            magnitude = nan;
        else if (exp == 0)
            magnitude = ldexp(static_cast<double>(mant), 1 - bias - mantBits);
        else
            magnitude = ldexp(static_cast<double>((1 << mantBits) | mant), exp - bias - mantBits);
        return negative ? -magnitude : magnitude;
    }
}

template<int Code>
PTSCOPE_HD double load(const void *data, std::uint64_t i)
{
    if constexpr (Code == kF64)
        return static_cast<const double *>(data)[i];
    else if constexpr (Code == kF32)
        return static_cast<double>(static_cast<const float *>(data)[i]);
    else if constexpr (Code == kF16)
        return static_cast<double>(halfToFloat(static_cast<const unsigned short *>(data)[i]));
    else if constexpr (Code == kBF16)
        return static_cast<double>(
            bitsToFloat(static_cast<unsigned int>(static_cast<const unsigned short *>(data)[i]) << 16));
    else if constexpr (Code == kF8E5M2 || Code == kF8E4M3FN || Code == kF8E5M2FNUZ || Code == kF8E4M3FNUZ
                       || Code == kF8E8M0)
        return float8ToDouble<Code>(static_cast<const unsigned char *>(data)[i]);
    else if constexpr (Code == kI64)
        return static_cast<double>(static_cast<const long long *>(data)[i]);
    else if constexpr (Code == kI32)
        return static_cast<double>(static_cast<const int *>(data)[i]);
    else if constexpr (Code == kI16)
        return static_cast<double>(static_cast<const short *>(data)[i]);
    else if constexpr (Code == kI8)
        return static_cast<double>(static_cast<const signed char *>(data)[i]);
    else if constexpr (Code == kU64)
        return static_cast<double>(static_cast<const unsigned long long *>(data)[i]);
    else if constexpr (Code == kU32)
        return static_cast<double>(static_cast<const unsigned int *>(data)[i]);
    else if constexpr (Code == kU16)
        return static_cast<double>(static_cast<const unsigned short *>(data)[i]);
    else if constexpr (Code == kU8)
        return static_cast<double>(static_cast<const unsigned char *>(data)[i]);
    else
        return static_cast<const unsigned char *>(data)[i] ? 1.0 : 0.0; // kBool
}

// ---- bins: the CPU backend's expressions, operation for operation ----------------------------------

// The linear bin of x, or -1 when x is outside [lo, hi] or NaN. A quotient that is not finite lands
// in bin 0, as on the CPU (core/histogram_backend.h).
PTSCOPE_HD int linearBin(double x, const HistParams &p)
{
    if (!(x >= p.lo && x <= p.hi))
        return -1;
    double q = p.divideFirst ? ((x - p.lo) / p.width) * p.binsD : ((x - p.lo) * p.binsD) / p.width;
    q = q <= 1.7976931348623157e308 ? q : 0.0; // NaN or infinite: bin 0
    const double clamped = q < p.lastBinD ? q : p.lastBinD;
    return static_cast<int>(clamped);
}

// The log-magnitude bin of x: std::upper_bound over the logBins + 1 edges, minus one, the last
// edge in the last bin; -1 when |x| is outside [edges[0], edges[logBins]] (zero, NaN, Inf).
PTSCOPE_HD int logBin(double x, const double *edges, unsigned int logBins)
{
    const double a = fabs(x);
    if (!(a >= edges[0] && a <= edges[logBins]))
        return -1;
    unsigned int lo = 0, hi = logBins + 1;
    while (lo < hi) {
        const unsigned int mid = (lo + hi) / 2;
        if (edges[mid] > a)
            hi = mid;
        else
            lo = mid + 1;
    }
    return static_cast<int>(lo - 1 >= logBins ? logBins - 1 : lo - 1); // lo >= 1: edges[0] <= a
}

// ---- moments --------------------------------------------------------------------------------------

// One block per tile of kTile elements; thread t reads elements t, t + kThreads, ... of the tile
// (coalesced). Pass A: counts, extrema and the sum; a fixed-order tree reduction gives the tile's
// mean; pass B: squared deviations around it (the tile is re-read, from L2). Deterministic.
// The sum of every thread's v, added in a fixed tree order through shared[0..kThreads): the same
// bits on every run. Every thread of the block calls it, and may reuse shared once it returns.
__device__ __forceinline__ double blockSum(double *shared, int tid, double v)
{
    shared[tid] = v;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (tid < s)
            shared[tid] += shared[tid + s];
        __syncthreads();
    }
    const double sum = shared[0];
    __syncthreads();
    return sum;
}

template<int Code>
__global__ void __launch_bounds__(kThreads) momentsKernel(const void *data, std::uint64_t n, BlockMoments *out)
{
    __shared__ unsigned long long sCount[kThreads], sNan[kThreads], sPosInf[kThreads], sNegInf[kThreads],
        sZeros[kThreads];
    __shared__ double sSum[kThreads], sMin[kThreads], sMax[kThreads], sMinAbs[kThreads], sMaxAbs[kThreads];
    const double inf = bitsToDouble(0x7ff0000000000000ull);
    const int tid = static_cast<int>(threadIdx.x);
    const std::uint64_t begin = static_cast<std::uint64_t>(blockIdx.x) * kTile;
    const std::uint64_t end = begin + kTile < n ? begin + kTile : n;

    unsigned long long count = 0, nan = 0, posInf = 0, negInf = 0, zeros = 0;
    double sum = 0.0, mn = inf, mx = -inf, minAbs = inf, maxAbs = 0.0;
    for (std::uint64_t i = begin + static_cast<std::uint64_t>(tid); i < end; i += kThreads) {
        const double x = load<Code>(data, i);
        if (x != x) {
            ++nan;
        } else if (x == inf) {
            ++posInf;
        } else if (x == -inf) {
            ++negInf;
        } else {
            ++count;
            sum += x;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
            const double a = fabs(x);
            if (x == 0.0)
                ++zeros;
            else
                minAbs = a < minAbs ? a : minAbs;
            maxAbs = a > maxAbs ? a : maxAbs;
        }
    }
    sCount[tid] = count, sNan[tid] = nan, sPosInf[tid] = posInf, sNegInf[tid] = negInf, sZeros[tid] = zeros;
    sSum[tid] = sum, sMin[tid] = mn, sMax[tid] = mx, sMinAbs[tid] = minAbs, sMaxAbs[tid] = maxAbs;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (tid < s) {
            sCount[tid] += sCount[tid + s];
            sNan[tid] += sNan[tid + s];
            sPosInf[tid] += sPosInf[tid + s];
            sNegInf[tid] += sNegInf[tid + s];
            sZeros[tid] += sZeros[tid + s];
            sSum[tid] += sSum[tid + s];
            sMin[tid] = sMin[tid + s] < sMin[tid] ? sMin[tid + s] : sMin[tid];
            sMax[tid] = sMax[tid + s] > sMax[tid] ? sMax[tid + s] : sMax[tid];
            sMinAbs[tid] = sMinAbs[tid + s] < sMinAbs[tid] ? sMinAbs[tid + s] : sMinAbs[tid];
            sMaxAbs[tid] = sMaxAbs[tid + s] > sMaxAbs[tid] ? sMaxAbs[tid + s] : sMaxAbs[tid];
        }
        __syncthreads();
    }
    const unsigned long long total = sCount[0];
    double mean = total ? sSum[0] / static_cast<double>(total) : 0.0;
    __syncthreads(); // everyone has read sSum[0] before it is reused
    if (total && !(fabs(mean) <= 1.7976931348623157e308)) {
        // The tile's sum overflowed (float64 values beyond about 1e304), its mean cannot: the sum
        // again, scaled down by 2^-600, as the CPU kernels do. The same branch in every thread.
        double scaled = 0.0;
        for (std::uint64_t i = begin + static_cast<std::uint64_t>(tid); i < end; i += kThreads) {
            const double x = load<Code>(data, i);
            if (fabs(x) <= 1.7976931348623157e308)
                scaled += x * 0x1p-600;
        }
        mean = blockSum(sSum, tid, scaled) / static_cast<double>(total) * 0x1p600;
        __syncthreads();
    }

    double m2 = 0.0;
    if (total) {
        for (std::uint64_t i = begin + static_cast<std::uint64_t>(tid); i < end; i += kThreads) {
            const double x = load<Code>(data, i);
            if (fabs(x) <= 1.7976931348623157e308) { // finite
                const double d = x - mean;
                m2 += d * d;
            }
        }
    }
    m2 = blockSum(sSum, tid, m2);
    if (tid == 0) {
        BlockMoments r;
        r.count = total;
        r.nan = sNan[0];
        r.posInf = sPosInf[0];
        r.negInf = sNegInf[0];
        r.zeros = sZeros[0];
        r.min = sMin[0];
        r.max = sMax[0];
        r.minAbs = sMinAbs[0];
        r.maxAbs = sMaxAbs[0];
        r.mean = mean;
        r.m2 = m2;
        out[blockIdx.x] = r;
    }
}

// ---- histograms -----------------------------------------------------------------------------------

// Grid-stride over the chunk. Counts go to per-block shared-memory counters when `sharedLinear` /
// `sharedLog` (32-bit: a block sees fewer than 2^32 elements of one chunk), flushed once to the
// global 64-bit counts; otherwise straight to global memory with 64-bit atomics.
template<int Code>
__global__ void __launch_bounds__(kThreads)
    histogramKernel(const void *data, std::uint64_t n, HistParams p, bool sharedLinear, bool sharedLog)
{
    extern __shared__ unsigned int sCounts[];
    unsigned int *sLinear = sCounts;
    unsigned int *sLogCounts = sCounts + (sharedLinear ? p.bins : 0u);
    if (sharedLinear)
        for (unsigned int b = threadIdx.x; b < p.bins; b += blockDim.x)
            sLinear[b] = 0;
    if (sharedLog)
        for (unsigned int b = threadIdx.x; b < p.logBins; b += blockDim.x)
            sLogCounts[b] = 0;
    __syncthreads();

    const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const double x = load<Code>(data, i);
        if (p.bins) {
            const int pos = linearBin(x, p);
            if (pos >= 0) {
                if (sharedLinear)
                    atomicAdd(&sLinear[pos], 1u);
                else
                    atomicAdd(&p.counts[pos], 1ull);
            }
        }
        if (p.logBins) {
            const int pos = logBin(x, p.edges, p.logBins);
            if (pos >= 0) {
                if (sharedLog)
                    atomicAdd(&sLogCounts[pos], 1u);
                else
                    atomicAdd(&p.logCounts[pos], 1ull);
            }
        }
    }
    __syncthreads();
    if (sharedLinear)
        for (unsigned int b = threadIdx.x; b < p.bins; b += blockDim.x)
            if (sLinear[b])
                atomicAdd(&p.counts[b], static_cast<unsigned long long>(sLinear[b]));
    if (sharedLog)
        for (unsigned int b = threadIdx.x; b < p.logBins; b += blockDim.x)
            if (sLogCounts[b])
                atomicAdd(&p.logCounts[b], static_cast<unsigned long long>(sLogCounts[b]));
}

constexpr std::size_t kSharedBudget = 48 * 1024; // the default dynamic shared memory limit

template<int Code>
cudaError_t momentsFor(const void *data, std::uint64_t n, BlockMoments *out, cudaStream_t stream)
{
    const std::uint64_t blocks = momentBlocks(n);
    if (blocks == 0)
        return cudaSuccess;
    if (blocks > 0x7fffffffull)
        return cudaErrorInvalidValue;
    momentsKernel<Code><<<static_cast<unsigned int>(blocks), kThreads, 0, stream>>>(data, n, out);
    return cudaGetLastError();
}

template<int Code>
cudaError_t histogramFor(const void *data, std::uint64_t n, const HistParams &p, int maxBlocks, cudaStream_t stream)
{
    if (n == 0 || (p.bins == 0 && p.logBins == 0))
        return cudaSuccess;
    const std::size_t linearBytes = std::size_t(p.bins) * sizeof(unsigned int);
    const bool sharedLinear = p.bins > 0 && linearBytes <= kSharedBudget;
    const std::size_t used = sharedLinear ? linearBytes : 0;
    const std::size_t logBytes = std::size_t(p.logBins) * sizeof(unsigned int);
    const bool sharedLog = p.logBins > 0 && used + logBytes <= kSharedBudget;
    const std::size_t shared = used + (sharedLog ? logBytes : 0);
    std::uint64_t blocks = (n + kThreads - 1) / kThreads;
    if (blocks > static_cast<std::uint64_t>(maxBlocks > 0 ? maxBlocks : 1))
        blocks = static_cast<std::uint64_t>(maxBlocks > 0 ? maxBlocks : 1);
    histogramKernel<Code>
        <<<static_cast<unsigned int>(blocks), kThreads, shared, stream>>>(data, n, p, sharedLinear, sharedLog);
    return cudaGetLastError();
}


// ---- pairs ----------------------------------------------------------------------------------------

PTSCOPE_HD void pairInit(BlockPair &s)
{
    const double inf = bitsToDouble(0x7ff0000000000000ull);
    s.numel = s.differing = s.nanDiffs = s.notClose = s.nonFiniteA = s.nonFiniteB = s.nonFiniteDiff = 0;
    s.maxAbsDiff = s.sumAbsDiff = s.sumSqDiff = s.sumSqB = s.dot = s.normA = s.normB = 0.0;
    s.minA = s.minB = s.minDiff = inf;
    s.maxA = s.maxB = s.maxDiff = -inf;
}

// std::min / std::max's choice on ties, as the core's FiniteRange.
PTSCOPE_HD void rangeAdd(double v, double &mn, double &mx, unsigned long long &nonFinite)
{
    if (fabs(v) <= 1.7976931348623157e308) {
        mn = v < mn ? v : mn;
        mx = mx < v ? v : mx;
    } else {
        ++nonFinite;
    }
}

// core::accumulatePair for one position, operation for operation (--fmad=false keeps
// atol + rtol * |y| and the squares separately rounded, as on the CPU).
PTSCOPE_HD void pairAdd(BlockPair &s, double x, double y, double rtol, double atol)
{
    ++s.numel;
    s.dot += x * y;
    s.normA += x * x;
    s.normB += y * y;
    rangeAdd(x, s.minA, s.maxA, s.nonFiniteA);
    rangeAdd(y, s.minB, s.maxB, s.nonFiniteB);
    rangeAdd(x - y, s.minDiff, s.maxDiff, s.nonFiniteDiff);
    if (x == y) { // equal infinities included: a difference of 0
        s.sumSqB += y * y;
        return;
    }
    ++s.differing;
    const double d = fabs(x - y);
    if (d != d) {
        ++s.nanDiffs;
        ++s.notClose;
        return;
    }
    if (!(d <= atol + rtol * fabs(y)) || isinf(d)) // torch.isclose: the difference must be finite
        ++s.notClose;
    s.maxAbsDiff = s.maxAbsDiff < d ? d : s.maxAbsDiff;
    s.sumAbsDiff += d;
    s.sumSqDiff += d * d;
    s.sumSqB += y * y;
}

// `o` holds positions after `s`'s, as core::PairSummary::merge.
PTSCOPE_HD void pairCombine(BlockPair &s, const BlockPair &o)
{
    s.numel += o.numel;
    s.differing += o.differing;
    s.nanDiffs += o.nanDiffs;
    s.notClose += o.notClose;
    s.nonFiniteA += o.nonFiniteA;
    s.nonFiniteB += o.nonFiniteB;
    s.nonFiniteDiff += o.nonFiniteDiff;
    s.maxAbsDiff = s.maxAbsDiff < o.maxAbsDiff ? o.maxAbsDiff : s.maxAbsDiff;
    s.sumAbsDiff += o.sumAbsDiff;
    s.sumSqDiff += o.sumSqDiff;
    s.sumSqB += o.sumSqB;
    s.dot += o.dot;
    s.normA += o.normA;
    s.normB += o.normB;
    s.minA = o.minA < s.minA ? o.minA : s.minA;
    s.maxA = s.maxA < o.maxA ? o.maxA : s.maxA;
    s.minB = o.minB < s.minB ? o.minB : s.minB;
    s.maxB = s.maxB < o.maxB ? o.maxB : s.maxB;
    s.minDiff = o.minDiff < s.minDiff ? o.minDiff : s.minDiff;
    s.maxDiff = s.maxDiff < o.maxDiff ? o.maxDiff : s.maxDiff;
}

// The three bins of (x, y): x and y on the shared range, x - y on the difference's.
PTSCOPE_HD void pairBins(double x, double y, const PairHistParams &p, int out[3])
{
    HistParams v{};
    v.bins = p.bins;
    v.lo = p.lo;
    v.hi = p.hi;
    v.width = p.width;
    v.binsD = p.binsD;
    v.lastBinD = p.lastBinD;
    v.divideFirst = true; // the pair histograms' rule (core/pair_stats.cpp), not a torch's
    HistParams d = v;
    d.lo = p.diffLo;
    d.hi = p.diffHi;
    d.width = p.diffWidth;
    out[0] = linearBin(x, v);
    out[1] = linearBin(y, v);
    out[2] = linearBin(x - y, d);
}

// Element conversion of one side, so that the pair kernels read doubles whatever the two dtypes.
template<int Code>
__global__ void __launch_bounds__(kThreads) convertKernel(const void *src, std::uint64_t n, double *dst)
{
    const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] = load<Code>(src, i);
}

// One block per tile of kTile positions; thread t takes positions t, t + kThreads, ... of the tile,
// then a fixed-order tree reduction in shared memory (the same on every run: deterministic).
__global__ void __launch_bounds__(kThreads)
    pairSummaryKernel(const double *a, const double *b, std::uint64_t n, double rtol, double atol, BlockPair *out)
{
    __shared__ BlockPair s[kThreads];
    const int tid = static_cast<int>(threadIdx.x);
    const std::uint64_t begin = static_cast<std::uint64_t>(blockIdx.x) * kTile;
    const std::uint64_t end = begin + kTile < n ? begin + kTile : n;
    BlockPair acc;
    pairInit(acc);
    for (std::uint64_t i = begin + static_cast<std::uint64_t>(tid); i < end; i += kThreads)
        pairAdd(acc, a[i], b[i], rtol, atol);
    s[tid] = acc;
    __syncthreads();
    for (int st = kThreads / 2; st > 0; st >>= 1) {
        if (tid < st)
            pairCombine(s[tid], s[tid + st]);
        __syncthreads();
    }
    if (tid == 0)
        out[blockIdx.x] = s[0];
}

// Grid-stride; per-block shared-memory counts (3 * bins) when they fit, else global 64-bit atomics.
__global__ void __launch_bounds__(kThreads)
    pairHistogramKernel(const double *a, const double *b, std::uint64_t n, PairHistParams p, bool shared)
{
    extern __shared__ unsigned int sPair[];
    const unsigned int slots = 3u * p.bins;
    if (shared)
        for (unsigned int k = threadIdx.x; k < slots; k += blockDim.x)
            sPair[k] = 0;
    __syncthreads();
    const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        int pos[3];
        pairBins(a[i], b[i], p, pos);
        for (unsigned int k = 0; k < 3; ++k) {
            if (pos[k] < 0)
                continue;
            const unsigned int slot = k * p.bins + static_cast<unsigned int>(pos[k]);
            if (shared)
                atomicAdd(&sPair[slot], 1u);
            else
                atomicAdd(&p.counts[slot], 1ull);
        }
    }
    __syncthreads();
    if (shared)
        for (unsigned int k = threadIdx.x; k < slots; k += blockDim.x)
            if (sPair[k])
                atomicAdd(&p.counts[k], static_cast<unsigned long long>(sPair[k]));
}

template<int Code>
cudaError_t convertFor(const void *src, std::uint64_t n, double *dst, cudaStream_t stream)
{
    if (n == 0)
        return cudaSuccess;
    std::uint64_t blocks = (n + kThreads - 1) / kThreads;
    if (blocks > 65535)
        blocks = 65535;
    convertKernel<Code><<<static_cast<unsigned int>(blocks), kThreads, 0, stream>>>(src, n, dst);
    return cudaGetLastError();
}

} // namespace

int elemBytes(int code)
{
    switch (code) {
    case kF64: case kI64: case kU64: return 8;
    case kF32: case kI32: case kU32: return 4;
    case kF16: case kBF16: case kI16: case kU16: return 2;
    default: return 1;
    }
}

namespace {
template<int Code>
double hostConvertFor(const void *data, std::uint64_t i)
{
    return load<Code>(data, i);
}
} // namespace

#define PTSCOPE_DISPATCH(fn, ...)                                                                                     \
    switch (code) {                                                                                                   \
    case kF64: return fn<kF64>(__VA_ARGS__);                                                                          \
    case kF32: return fn<kF32>(__VA_ARGS__);                                                                          \
    case kF16: return fn<kF16>(__VA_ARGS__);                                                                          \
    case kBF16: return fn<kBF16>(__VA_ARGS__);                                                                        \
    case kF8E5M2: return fn<kF8E5M2>(__VA_ARGS__);                                                                    \
    case kF8E4M3FN: return fn<kF8E4M3FN>(__VA_ARGS__);                                                                \
    case kF8E5M2FNUZ: return fn<kF8E5M2FNUZ>(__VA_ARGS__);                                                            \
    case kF8E4M3FNUZ: return fn<kF8E4M3FNUZ>(__VA_ARGS__);                                                            \
    case kF8E8M0: return fn<kF8E8M0>(__VA_ARGS__);                                                                    \
    case kI64: return fn<kI64>(__VA_ARGS__);                                                                          \
    case kI32: return fn<kI32>(__VA_ARGS__);                                                                          \
    case kI16: return fn<kI16>(__VA_ARGS__);                                                                          \
    case kI8: return fn<kI8>(__VA_ARGS__);                                                                            \
    case kU64: return fn<kU64>(__VA_ARGS__);                                                                          \
    case kU32: return fn<kU32>(__VA_ARGS__);                                                                          \
    case kU16: return fn<kU16>(__VA_ARGS__);                                                                          \
    case kU8: return fn<kU8>(__VA_ARGS__);                                                                            \
    case kBool: return fn<kBool>(__VA_ARGS__);                                                                        \
    default: return cudaErrorInvalidValue;                                                                            \
    }

cudaError_t launchMoments(int code, const void *data, std::uint64_t n, BlockMoments *out, cudaStream_t stream)
{
    PTSCOPE_DISPATCH(momentsFor, data, n, out, stream)
}

cudaError_t launchHistogram(int code, const void *data, std::uint64_t n, const HistParams &p, int maxBlocks,
                            cudaStream_t stream)
{
    PTSCOPE_DISPATCH(histogramFor, data, n, p, maxBlocks, stream)
}

double hostConvert(int code, const void *data, std::uint64_t i)
{
    switch (code) {
    case kF64: return hostConvertFor<kF64>(data, i);
    case kF32: return hostConvertFor<kF32>(data, i);
    case kF16: return hostConvertFor<kF16>(data, i);
    case kBF16: return hostConvertFor<kBF16>(data, i);
    case kF8E5M2: return hostConvertFor<kF8E5M2>(data, i);
    case kF8E4M3FN: return hostConvertFor<kF8E4M3FN>(data, i);
    case kF8E5M2FNUZ: return hostConvertFor<kF8E5M2FNUZ>(data, i);
    case kF8E4M3FNUZ: return hostConvertFor<kF8E4M3FNUZ>(data, i);
    case kF8E8M0: return hostConvertFor<kF8E8M0>(data, i);
    case kI64: return hostConvertFor<kI64>(data, i);
    case kI32: return hostConvertFor<kI32>(data, i);
    case kI16: return hostConvertFor<kI16>(data, i);
    case kI8: return hostConvertFor<kI8>(data, i);
    case kU64: return hostConvertFor<kU64>(data, i);
    case kU32: return hostConvertFor<kU32>(data, i);
    case kU16: return hostConvertFor<kU16>(data, i);
    case kU8: return hostConvertFor<kU8>(data, i);
    case kBool: return hostConvertFor<kBool>(data, i);
    default: return bitsToDouble(0x7ff8000000000000ull);
    }
}

int hostLinearBin(double x, const HistParams &p)
{
    return linearBin(x, p);
}

int hostLogBin(double x, const double *edges, unsigned int logBins)
{
    return logBin(x, edges, logBins);
}

cudaError_t launchConvert(int code, const void *src, std::uint64_t n, double *dst, cudaStream_t stream)
{
    PTSCOPE_DISPATCH(convertFor, src, n, dst, stream)
}

cudaError_t launchPairSummary(const double *a, const double *b, std::uint64_t n, double rtol, double atol,
                              BlockPair *out, cudaStream_t stream)
{
    const std::uint64_t blocks = momentBlocks(n);
    if (blocks == 0)
        return cudaSuccess;
    if (blocks > 0x7fffffffull)
        return cudaErrorInvalidValue;
    pairSummaryKernel<<<static_cast<unsigned int>(blocks), kThreads, 0, stream>>>(a, b, n, rtol, atol, out);
    return cudaGetLastError();
}

cudaError_t launchPairHistogram(const double *a, const double *b, std::uint64_t n, const PairHistParams &p,
                                int maxBlocks, cudaStream_t stream)
{
    if (n == 0 || p.bins == 0)
        return cudaSuccess;
    const std::size_t sharedBytes = std::size_t(3) * p.bins * sizeof(unsigned int);
    const bool shared = sharedBytes <= kSharedBudget;
    std::uint64_t blocks = (n + kThreads - 1) / kThreads;
    const std::uint64_t cap = static_cast<std::uint64_t>(maxBlocks > 0 ? maxBlocks : 1);
    if (blocks > cap)
        blocks = cap;
    pairHistogramKernel<<<static_cast<unsigned int>(blocks), kThreads, shared ? sharedBytes : 0, stream>>>(
        a, b, n, p, shared);
    return cudaGetLastError();
}

BlockPair hostPairTile(const double *a, const double *b, std::uint64_t n, double rtol, double atol)
{
    // pairSummaryKernel's block 0, thread by thread, then its reduction tree.
    const std::uint64_t end = n < kTile ? n : kTile;
    std::vector<BlockPair> s(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        pairInit(s[t]);
        for (std::uint64_t i = static_cast<std::uint64_t>(t); i < end; i += kThreads)
            pairAdd(s[t], a[i], b[i], rtol, atol);
    }
    for (int st = kThreads / 2; st > 0; st >>= 1)
        for (int t = 0; t < st; ++t)
            pairCombine(s[t], s[t + st]);
    return s[0];
}

void hostPairBins(double x, double y, const PairHistParams &p, int out[3])
{
    pairBins(x, y, p, out);
}

#undef PTSCOPE_DISPATCH

} // namespace ptscope::cuda::detail
