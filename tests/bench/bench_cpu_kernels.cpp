// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
//
// The CPU statistics kernels (core/cpu_stats_kernels.*) alone, on one thread: nanoseconds per
// element of pass 1 (counts, extrema, moments) and of the histogram pass (64 bins; with range tests,
// and without them as when pass 1 found every value finite and inside the range), for float32 and
// float64, on every instruction set this CPU has, over one 8192-element block kept in cache and
// over a buffer far larger than the caches (read from memory, as the backend reads a held tensor's
// second pass). Timed in the thread's CPU time, so that other work on the machine does not count.
//
//     build/tests/bench_cpu_kernels [MiB of the large buffer, default 256]
#include "cpu_stats_kernels.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

using namespace ptscope::core;

namespace {

double threadSeconds()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Weights-like values: normal-ish around 0 with a scale of 0.02.
template<typename T>
std::vector<std::uint8_t> weights(std::size_t n)
{
    std::vector<std::uint8_t> bytes(n * sizeof(T));
    std::uint64_t s = 0x9E3779B97F4A7C15ull;
    for (std::size_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int k = 0; k < 4; ++k) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            sum += static_cast<double>(s >> 11) * 0x1.0p-53;
        }
        const T v = static_cast<T>((sum - 2.0) * 0.035);
        std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
    }
    return bytes;
}

// Best of `rounds` of `reps` calls over `bytes` in blocks of 8192: ns per element.
template<typename Fn>
double nsPerElement(const std::vector<std::uint8_t> &bytes, std::size_t elementSize, int reps, int rounds, Fn fn)
{
    const std::size_t n = bytes.size() / elementSize;
    double best = 1e300;
    for (int round = 0; round < rounds; ++round) {
        const double t0 = threadSeconds();
        for (int r = 0; r < reps; ++r)
            for (std::size_t at = 0; at < n; at += 8192)
                fn(cpu_kernels::Block{bytes.data() + at * elementSize, std::min<std::size_t>(8192, n - at),
                                      elementSize == 4});
        best = std::min(best, (threadSeconds() - t0) / (static_cast<double>(n) * reps));
    }
    return best * 1e9;
}

} // namespace

int main(int argc, char **argv)
{
    const std::size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    const std::size_t large = mib << 20;
    std::printf("| instruction set | dtype | data | pass 1 ns/element | histogram ns/element | histogram, all inside |\n");
    std::printf("| --- | --- | --- | ---: | ---: | ---: |\n");
    volatile double sink = 0;
    std::vector<std::uint64_t> counts(65);
    for (cpu_kernels::Isa isa : cpu_kernels::supportedIsas()) {
        cpu_kernels::setIsa(isa);
        for (std::size_t size : {std::size_t(4), std::size_t(8)}) {
            const auto block = size == 4 ? weights<float>(8192) : weights<double>(8192);
            const auto big = size == 4 ? weights<float>(large / 4) : weights<double>(large / 8);
            for (const auto *data : {&block, &big}) {
                const bool inCache = data == &block;
                const int reps = inCache ? 20000 : 1;
                const int rounds = inCache ? 3 : 3;
                const auto summary = [&](const cpu_kernels::Block &b) {
                    sink = sink + cpu_kernels::summarizeBlock(b).m2;
                };
                // The values lie in [-0.07, 0.07].
                const auto bins = [&](const cpu_kernels::Block &b) {
                    cpu_kernels::addLinearBins(b, {.lo = -0.08, .hi = 0.08, .bins = 64}, counts.data());
                };
                const auto binsInside = [&](const cpu_kernels::Block &b) {
                    cpu_kernels::addLinearBins(b, {.lo = -0.08, .hi = 0.08, .bins = 64, .inside = true}, counts.data());
                };
                const double p1 = nsPerElement(*data, size, reps, rounds, summary);
                const double p2 = nsPerElement(*data, size, reps, rounds, bins);
                const double p3 = nsPerElement(*data, size, reps, rounds, binsInside);
                std::printf("| %s | %s | %s | %.3f | %.3f | %.3f |\n", cpu_kernels::isaName(isa),
                            size == 4 ? "float32" : "float64", inCache ? "one block in cache" : "large, from memory", p1,
                            p2, p3);
            }
        }
    }
    return sink == 12345.0 ? 1 : 0;
}
