// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
//
// The statistics kernels on data already on the GPU, against the device's memory bandwidth:
//
//     bench_cuda_kernels [--gib G] [--runs N] [--device I]
//
// Fills G GiB (default 2) of normally distributed values on the device by a kernel, as float32,
// float16 and bfloat16 in turn (the kernels convert on the device), and times with CUDA events
// (one warm-up, then the median of N runs, default 7) each launcher of cuda/stats_kernels.h:
// launchMoments, launchHistogram (64 bins; 64 bins with the 64-bin log histogram), both again in
// the 4 Mi-element launches the backend makes, and the pair kernels (launchConvert of both sides,
// launchPairSummary, launchPairHistogram). The ceilings: a device-to-device cudaMemcpy (bytes read
// plus written per second: the practical peak), a read-only streaming kernel, and the theoretical
// peak from the device's attributes (memory clock x bus width x 2). A pinned host-to-device copy
// shows what bounds the backend end to end: it copies every chunk to the device before the kernels
// read it, once for the moments and once more for the histograms.
//
// Prints a Markdown table. "input GB/s" counts the bytes of the input a kernel reads once;
// "traffic GB/s" the bytes it reads and writes in device memory (the conversion writes doubles,
// the pair kernels read them), which is what the percentages of the peaks compare.
//
// Exit status: 0 measured (and the counts checked), 1 a CUDA error or a wrong count, 2 no usable
// GPU (one line on stderr says why), 3 bad arguments. No Qt: plain C++ and CUDA.
#include "device_info.h"
#include "stats_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using namespace ptscope::cuda::detail;

namespace {

#define BENCH_CHECK(expr)                                                                                             \
    do {                                                                                                              \
        const cudaError_t err_ = (expr);                                                                              \
        if (err_ != cudaSuccess) {                                                                                    \
            std::fprintf(stderr, "bench_cuda_kernels: %s failed: %s\n", #expr, cudaGetErrorString(err_));            \
            std::exit(1);                                                                                             \
        }                                                                                                             \
    } while (0)

// The backend's chunk (cuda/cuda_histogram_backend.cpp, kChunkElements): the kernels run on at
// most this many elements per launch there.
constexpr std::uint64_t kBackendChunk = std::uint64_t(1) << 22;
constexpr float kScale = 0.02f; // about the spread of a layer's weights
constexpr double kLo = -0.25, kHi = 0.25; // every value lies inside: |x| <= 6.7 * kScale

// ---- data ------------------------------------------------------------------------------------------

__device__ std::uint64_t splitmix(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

__device__ void store(float *p, float v) { *p = v; }
__device__ void store(__half *p, float v) { *p = __float2half_rn(v); }
__device__ void store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

// Box-Muller on two 24-bit uniforms of a hash of (seed, i): normal values, |x| <= 6.7 * scale.
template<typename T>
__global__ void fillKernel(T *out, std::uint64_t n, std::uint64_t seed, float scale)
{
    const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const std::uint64_t h = splitmix(seed * 0x100000001b3ull ^ i);
        const float u1 = static_cast<float>((h >> 40) + 1) * 5.9604644775390625e-08f; // (0, 1]
        const float u2 = static_cast<float>((h >> 16) & 0xffffffu) * 5.9604644775390625e-08f; // [0, 1)
        store(out + i, scale * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
    }
}

// The read-only ceiling: each thread sums 16-byte loads, one word per block is written.
__global__ void readKernel(const uint4 *in, std::uint64_t n, unsigned int *sink)
{
    const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    unsigned int acc = 0;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const uint4 v = in[i];
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678u) // practically never: keeps the loads
        sink[blockIdx.x] = acc;
}

// ---- timing -----------------------------------------------------------------------------------------

struct Timing
{
    double medianMs = 0.0;
    double minMs = 0.0;
};

// One warm-up, then `runs` timed calls of fn on the default stream; fn returns the launch status.
Timing timeIt(int runs, const std::function<cudaError_t()> &fn)
{
    cudaEvent_t start, stop;
    BENCH_CHECK(cudaEventCreate(&start));
    BENCH_CHECK(cudaEventCreate(&stop));
    BENCH_CHECK(fn());
    BENCH_CHECK(cudaDeviceSynchronize());
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
        BENCH_CHECK(cudaEventRecord(start));
        BENCH_CHECK(fn());
        BENCH_CHECK(cudaEventRecord(stop));
        BENCH_CHECK(cudaEventSynchronize(stop));
        float t = 0.0f;
        BENCH_CHECK(cudaEventElapsedTime(&t, start, stop));
        ms.push_back(t);
    }
    BENCH_CHECK(cudaEventDestroy(start));
    BENCH_CHECK(cudaEventDestroy(stop));
    std::sort(ms.begin(), ms.end());
    Timing out;
    out.minMs = ms.front();
    out.medianMs = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    return out;
}

struct Row
{
    std::string what, dtype;
    std::uint64_t elements;
    double inputBytes, trafficBytes;
    Timing t;
};

std::vector<Row> g_rows;
int g_failures = 0;

void addRow(std::string what, std::string dtype, std::uint64_t elements, double inputBytes, double trafficBytes,
            Timing t)
{
    g_rows.push_back({std::move(what), std::move(dtype), elements, inputBytes, trafficBytes, t});
    std::fprintf(stderr, "  %-52s %-9s %8.3f ms (min %.3f)\n", g_rows.back().what.c_str(),
                 g_rows.back().dtype.c_str(), t.medianMs, t.minMs);
}

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "bench_cuda_kernels: wrong result: %s\n", what);
        ++g_failures;
    }
}

double gbps(double bytes, double ms)
{
    return ms > 0.0 ? bytes / (ms * 1e-3) / 1e9 : 0.0;
}

// Edges of the 64-bin log-magnitude histogram, as core/tensor_stats.cpp makes them, over
// |x| in [1e-9, 1].
std::vector<double> logEdges(std::uint32_t bins)
{
    const double lo = -9.0, hi = 0.0;
    std::vector<double> edges(bins + 1);
    edges[0] = 1e-9;
    edges[bins] = 1.0;
    for (std::uint32_t i = 1; i < bins; ++i)
        edges[i] = std::max(edges[i - 1], std::pow(10.0, lo + (hi - lo) * static_cast<double>(i) / bins));
    return edges;
}

struct DType
{
    int code;
    const char *name;
};

template<typename T>
void fill(void *p, std::uint64_t n, std::uint64_t seed)
{
    fillKernel<T><<<4096, 256>>>(static_cast<T *>(p), n, seed, kScale);
    BENCH_CHECK(cudaGetLastError());
}

void fillAs(int code, void *p, std::uint64_t n, std::uint64_t seed)
{
    if (code == kF32)
        fill<float>(p, n, seed);
    else if (code == kF16)
        fill<__half>(p, n, seed);
    else
        fill<__nv_bfloat16>(p, n, seed);
    BENCH_CHECK(cudaDeviceSynchronize());
}

} // namespace

int main(int argc, char **argv)
{
    double gib = 2.0;
    int runs = 7;
    int device = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--gib" && i + 1 < argc)
            gib = std::atof(argv[++i]);
        else if (a == "--runs" && i + 1 < argc)
            runs = std::atoi(argv[++i]);
        else if (a == "--device" && i + 1 < argc)
            device = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_cuda_kernels [--gib G] [--runs N] [--device I]\n");
            return 3;
        }
    }
    if (!(gib > 0.0 && gib <= 64.0) || runs < 1 || device < 0) {
        std::fprintf(stderr, "bench_cuda_kernels: --gib must be in (0, 64], --runs at least 1\n");
        return 3;
    }

    std::string why;
    const int devices = ptscope::cuda::cudaDeviceCount(&why);
    if (devices <= device) {
        std::fprintf(stderr, "bench_cuda_kernels: no GPU to measure: %s\n",
                     devices == 0 ? why.c_str() : "no such device index");
        return 2;
    }
    BENCH_CHECK(cudaSetDevice(device));
    cudaDeviceProp prop{};
    BENCH_CHECK(cudaGetDeviceProperties(&prop, device));
    int clockKHz = 0, busBits = 0;
    const bool haveClock = cudaDeviceGetAttribute(&clockKHz, cudaDevAttrMemoryClockRate, device) == cudaSuccess
        && cudaDeviceGetAttribute(&busBits, cudaDevAttrGlobalMemoryBusWidth, device) == cudaSuccess && clockKHz > 0
        && busBits > 0;
    cudaGetLastError();
    const double theoretical = haveClock ? 2.0 * clockKHz * 1e3 * (busBits / 8.0) : 0.0; // bytes/s

    // Sizes: `gib` GiB of input per side; the pair kernels also need both sides as doubles.
    const std::uint64_t bytes = static_cast<std::uint64_t>(gib * 1073741824.0) / 64 * 64;
    std::size_t freeBytes = 0, totalBytes = 0;
    BENCH_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
    const std::uint64_t margin = std::uint64_t(1) << 30;
    if (2 * bytes + margin > freeBytes) {
        std::fprintf(stderr, "bench_cuda_kernels: %.1f GiB free on the device, too little for 2 x %.2f GiB\n",
                     freeBytes / 1073741824.0, gib);
        return 1;
    }
    // Pair positions: both sides' doubles must fit beside the two inputs.
    std::uint64_t pairN = bytes / 2; // float16's element count: the largest of the three
    if (2 * bytes + 16 * pairN + margin > freeBytes)
        pairN = (freeBytes - 2 * bytes - margin) / 16 / kTile * kTile;

    std::printf("# Statistics kernels on resident data\n\n");
    int driverVersion = 0, runtimeVersion = 0;
    cudaDriverGetVersion(&driverVersion);
    cudaRuntimeGetVersion(&runtimeVersion);
    std::printf("Device: %s, %d SMs, %.1f GiB; driver CUDA %d.%d, runtime %d.%d\n", prop.name,
                prop.multiProcessorCount, totalBytes / 1073741824.0, driverVersion / 1000, driverVersion % 1000 / 10,
                runtimeVersion / 1000, runtimeVersion % 1000 / 10);
    std::printf("Input: %.2f GiB per buffer of normal values (sigma %.2f); %d timed runs after a warm-up, median\n\n",
                bytes / 1073741824.0, kScale, runs);
    std::fflush(stdout);

    void *a = nullptr, *b = nullptr;
    double *da = nullptr, *db = nullptr;
    BENCH_CHECK(cudaMalloc(&a, bytes));
    BENCH_CHECK(cudaMalloc(&b, bytes));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&da), pairN * sizeof(double)));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&db), pairN * sizeof(double)));
    const std::uint64_t maxN = bytes / 2;
    BlockMoments *dMoments = nullptr;
    BlockPair *dPair = nullptr;
    unsigned long long *dCounts = nullptr;
    double *dEdges = nullptr;
    unsigned int *dSink = nullptr;
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&dMoments), momentBlocks(maxN) * sizeof(BlockMoments)));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&dPair), momentBlocks(pairN) * sizeof(BlockPair)));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&dCounts), 3 * 64 * sizeof(unsigned long long)));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&dEdges), 65 * sizeof(double)));
    BENCH_CHECK(cudaMalloc(reinterpret_cast<void **>(&dSink), 65536 * sizeof(unsigned int)));
    const std::vector<double> edges = logEdges(64);
    BENCH_CHECK(cudaMemcpy(dEdges, edges.data(), edges.size() * sizeof(double), cudaMemcpyHostToDevice));
    const int maxBlocks = std::max(1, prop.multiProcessorCount) * 8; // as the backend

    // ---- ceilings ----
    fillAs(kF32, a, bytes / 4, 1);
    const Timing copy = timeIt(runs, [&] { return cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice); });
    addRow("device-to-device cudaMemcpy (practical peak)", "-", 0, static_cast<double>(bytes), 2.0 * bytes, copy);
    const double copyPeak = gbps(2.0 * bytes, copy.medianMs) * 1e9;
    const Timing read = timeIt(runs, [&] {
        readKernel<<<prop.multiProcessorCount * 16, 256>>>(static_cast<const uint4 *>(a), bytes / 16, dSink);
        return cudaGetLastError();
    });
    addRow("read-only stream (16-byte loads)", "-", 0, static_cast<double>(bytes), static_cast<double>(bytes), read);
    {
        const std::uint64_t hostBytes = std::min<std::uint64_t>(bytes, std::uint64_t(1) << 30);
        void *pinned = nullptr;
        BENCH_CHECK(cudaMallocHost(&pinned, hostBytes));
        std::memset(pinned, 1, hostBytes);
        const Timing h2d
            = timeIt(runs, [&] { return cudaMemcpyAsync(a, pinned, hostBytes, cudaMemcpyHostToDevice); });
        addRow("host-to-device cudaMemcpy from pinned memory", "-", 0, static_cast<double>(hostBytes),
               static_cast<double>(hostBytes), h2d);
        BENCH_CHECK(cudaFreeHost(pinned));
    }
    const std::size_t ceilingRows = g_rows.size();

    // ---- kernels, per element type ----
    const DType types[] = {{kF32, "float32"}, {kF16, "float16"}, {kBF16, "bfloat16"}};
    for (const DType &t : types) {
        const int eb = elemBytes(t.code);
        const std::uint64_t n = bytes / eb;
        const double in = static_cast<double>(n) * eb;
        fillAs(t.code, a, n, 1);
        fillAs(t.code, b, n, 2);

        // Moments: one launch over everything, then the backend's chunked launches.
        const Timing mom = timeIt(runs, [&] { return launchMoments(t.code, a, n, dMoments, 0); });
        addRow("launchMoments", t.name, n, in, in, mom);
        {
            std::vector<BlockMoments> host(momentBlocks(n));
            BENCH_CHECK(cudaMemcpy(host.data(), dMoments, host.size() * sizeof(BlockMoments), cudaMemcpyDeviceToHost));
            unsigned long long count = 0, odd = 0;
            for (const BlockMoments &m : host) {
                count += m.count;
                odd += m.nan + m.posInf + m.negInf;
            }
            check(count == n && odd == 0, "launchMoments: the tiles' counts do not add up to the element count");
        }
        const Timing momChunked = timeIt(runs, [&] {
            for (std::uint64_t at = 0; at < n; at += kBackendChunk) {
                const cudaError_t err = launchMoments(t.code, static_cast<const char *>(a) + at * eb,
                                                      std::min(kBackendChunk, n - at), dMoments + at / kTile, 0);
                if (err != cudaSuccess)
                    return err;
            }
            return cudaSuccess;
        });
        addRow("launchMoments, 4 Mi-element launches", t.name, n, in, in, momChunked);

        // Histograms: the counts add up over the warm-up and the timed runs.
        HistParams p{};
        p.bins = 64;
        p.lo = kLo;
        p.hi = kHi;
        p.width = kHi - kLo;
        p.binsD = 64.0;
        p.lastBinD = 63.0;
        p.counts = dCounts;
        for (int withLog = 0; withLog < 2; ++withLog) {
            p.logBins = withLog ? 64 : 0;
            p.edges = withLog ? dEdges : nullptr;
            p.logCounts = withLog ? dCounts + 64 : nullptr;
            BENCH_CHECK(cudaMemset(dCounts, 0, 3 * 64 * sizeof(unsigned long long)));
            const Timing h = timeIt(runs, [&] { return launchHistogram(t.code, a, n, p, maxBlocks, 0); });
            addRow(withLog ? "launchHistogram, 64 bins + 64 log bins" : "launchHistogram, 64 bins", t.name, n, in, in,
                   h);
            std::vector<unsigned long long> counts(128);
            BENCH_CHECK(cudaMemcpy(counts.data(), dCounts, counts.size() * sizeof(unsigned long long),
                                   cudaMemcpyDeviceToHost));
            unsigned long long linear = 0, logTotal = 0;
            for (int k = 0; k < 64; ++k) {
                linear += counts[k];
                logTotal += counts[64 + k];
            }
            const unsigned long long expected = static_cast<unsigned long long>(runs + 1) * n;
            check(linear == expected, "launchHistogram: the 64 bins do not hold every element");
            check(!withLog || (logTotal <= expected && logTotal > expected / 2),
                  "launchHistogram: the log bins hold too few elements");
        }
        const Timing hChunked = timeIt(runs, [&] {
            for (std::uint64_t at = 0; at < n; at += kBackendChunk) {
                const cudaError_t err = launchHistogram(t.code, static_cast<const char *>(a) + at * eb,
                                                        std::min(kBackendChunk, n - at), p, maxBlocks, 0);
                if (err != cudaSuccess)
                    return err;
            }
            return cudaSuccess;
        });
        addRow("launchHistogram, 64 + 64 log bins, 4 Mi-element launches", t.name, n, in, in, hChunked);

        // Pairs: both sides converted to doubles, then summarised and binned.
        const std::uint64_t pn = std::min(n, pairN);
        const double pin = 2.0 * static_cast<double>(pn) * eb;
        const double doubles = 2.0 * static_cast<double>(pn) * sizeof(double);
        const Timing conv = timeIt(runs, [&] {
            const cudaError_t err = launchConvert(t.code, a, pn, da, 0);
            return err != cudaSuccess ? err : launchConvert(t.code, b, pn, db, 0);
        });
        addRow("launchConvert, both sides", t.name, pn, pin, pin + doubles, conv);
        const Timing pair = timeIt(runs, [&] { return launchPairSummary(da, db, pn, 1e-5, 1e-8, dPair, 0); });
        addRow("launchPairSummary (on the doubles)", t.name, pn, pin, doubles, pair);
        {
            std::vector<BlockPair> host(momentBlocks(pn));
            BENCH_CHECK(cudaMemcpy(host.data(), dPair, host.size() * sizeof(BlockPair), cudaMemcpyDeviceToHost));
            unsigned long long numel = 0;
            for (const BlockPair &s : host)
                numel += s.numel;
            check(numel == pn, "launchPairSummary: the tiles' counts do not add up to the position count");
        }
        PairHistParams pp{};
        pp.bins = 64;
        pp.lo = kLo;
        pp.hi = kHi;
        pp.width = kHi - kLo;
        pp.diffLo = 2 * kLo;
        pp.diffHi = 2 * kHi;
        pp.diffWidth = pp.diffHi - pp.diffLo;
        pp.binsD = 64.0;
        pp.lastBinD = 63.0;
        pp.counts = dCounts;
        const Timing pairHist
            = timeIt(runs, [&] { return launchPairHistogram(da, db, pn, pp, maxBlocks, 0); });
        addRow("launchPairHistogram, 64 bins (on the doubles)", t.name, pn, pin, doubles, pairHist);
        Timing all;
        all.medianMs = conv.medianMs + pair.medianMs;
        all.minMs = conv.minMs + pair.minMs;
        addRow("convert + pair summary (the comparison)", t.name, pn, pin, pin + 2.0 * doubles, all);
    }

    // ---- the table ----
    std::printf("| kernel | dtype | elements | median ms | input GB/s | traffic GB/s | %% of copy | %% of theoretical |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (std::size_t i = 0; i < g_rows.size(); ++i) {
        const Row &r = g_rows[i];
        const double traffic = gbps(r.trafficBytes, r.t.medianMs);
        char elements[32] = "-";
        if (r.elements)
            std::snprintf(elements, sizeof elements, "%.0f Mi", r.elements / 1048576.0);
        char ofTheory[32] = "n/a";
        if (theoretical > 0.0)
            std::snprintf(ofTheory, sizeof ofTheory, "%.0f", 100.0 * traffic * 1e9 / theoretical);
        std::printf("| %s | %s | %s | %.3f | %.0f | %.0f | %.0f | %s |\n", r.what.c_str(), r.dtype.c_str(), elements,
                    r.t.medianMs, gbps(r.inputBytes, r.t.medianMs), traffic, 100.0 * traffic * 1e9 / copyPeak,
                    ofTheory);
        if (i + 1 == ceilingRows)
            std::printf("| | | | | | | | |\n");
    }
    std::printf("\n");
    if (haveClock)
        std::printf("Theoretical peak: %.0f GB/s (memory clock %d MHz x %d-bit bus x 2).\n", theoretical / 1e9,
                    clockKHz / 1000, busBits);
    else
        std::printf("Theoretical peak: unavailable (the device reports no memory clock or bus width).\n");
    std::printf("Practical peak: %.0f GB/s (device-to-device copy, bytes read + written).\n", copyPeak / 1e9);

    // What bounds the backend end to end: every chunk crosses to the device before its kernels run.
    double h2d = 0.0, slowest = 1e300;
    for (std::size_t i = 0; i < g_rows.size(); ++i) {
        const Row &r = g_rows[i];
        if (r.what.rfind("host-to-device", 0) == 0)
            h2d = gbps(r.inputBytes, r.t.medianMs);
        if (r.what.find("4 Mi-element") != std::string::npos)
            slowest = std::min(slowest, gbps(r.inputBytes, r.t.medianMs));
    }
    std::printf("End to end: pinned host-to-device copy %.0f GB/s; the slowest statistics kernel in the "
                "backend's launches %.0f GB/s of input: %s. The backend copies each chunk once per pass "
                "(moments, then histograms), so a whole stats run is bounded by about %.0f GB/s of checkpoint.\n",
                h2d, slowest,
                h2d < slowest ? "the copy bounds the backend, not the kernels" : "the kernels bound the backend",
                std::min(h2d, slowest) / 2.0);
    if (g_failures)
        std::printf("\n%d result check(s) FAILED (see stderr).\n", g_failures);

    cudaFree(a);
    cudaFree(b);
    cudaFree(da);
    cudaFree(db);
    cudaFree(dMoments);
    cudaFree(dPair);
    cudaFree(dCounts);
    cudaFree(dEdges);
    cudaFree(dSink);
    return g_failures ? 1 : 0;
}
