// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
//
// The host side of the GPU backend: one context, two streams, double-buffered pinned staging.
//
// Both passes walk the source in chunks of at most kChunkElements. Chunk k uses slot k % 2: the host
// waits until the slot's previous chunk (k - 2) has finished on the GPU, folds in its results, fills
// the slot's pinned buffer with chunk k, then queues the copy to the device, the kernel and (pass 1)
// the copy of the per-tile results back, all on the slot's stream. So the host fills one buffer (a
// few threads copying from the mapped file) while the GPU copies and computes the other, and the two
// streams overlap one chunk's copy with the other's kernel. Progress is reported and cancellation
// honoured between chunks.
//
// Contiguous tensors reach the GPU as their raw bytes (ElementSource::runs) and are converted there;
// everything else (strided views, quantized, sparse and complex tensors, big-endian files) is
// converted on the host by the core's element reader and uploaded as doubles.
//
// Pairs (compare, pairHistogram) walk the intersection of the two sides' run lists (core::pairRuns):
// each chunk lies in one run of each side, so each side is either raw bytes or cursor doubles for
// the whole chunk. Both sides share a slot (a in the first half, b in the second); each is converted
// to doubles on the device (a kernel per dtype) unless it is doubles already, then one kernel
// applies the pair rule (summary: per-tile records merged on the host in order; histogram: three
// sets of bins).
#include "cuda_histogram_backend.h"

#include "device_info.h"
#include "stats_kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

namespace ptscope::cuda {

namespace {

using core::BackendStatus;
using core::RawElement;
using namespace detail;

static_assert(int(RawElement::F64) == kF64 && int(RawElement::F32) == kF32 && int(RawElement::F16) == kF16
              && int(RawElement::BF16) == kBF16 && int(RawElement::F8E5M2) == kF8E5M2
              && int(RawElement::F8E4M3FN) == kF8E4M3FN && int(RawElement::F8E5M2FNUZ) == kF8E5M2FNUZ
              && int(RawElement::F8E4M3FNUZ) == kF8E4M3FNUZ && int(RawElement::F8E8M0) == kF8E8M0
              && int(RawElement::I64) == kI64 && int(RawElement::I32) == kI32 && int(RawElement::I16) == kI16
              && int(RawElement::I8) == kI8 && int(RawElement::U64) == kU64 && int(RawElement::U32) == kU32
              && int(RawElement::U16) == kU16 && int(RawElement::U8) == kU8 && int(RawElement::Bool) == kBool,
              "stats_kernels.h's ElemCode must follow core::RawElement");

constexpr std::uint64_t kChunkElements = std::uint64_t(1) << 22; // 32 MiB of doubles a slot
constexpr std::size_t kStageBytes = kChunkElements * sizeof(double);
constexpr int kSlots = 2;

struct Chunk
{
    std::uint64_t first = 0; // element index in the source
    std::uint64_t count = 0;
    const std::uint8_t *bytes = nullptr; // raw bytes, or null: read through the cursor as doubles
    int code = kF64;
};

// Pairs: each side of a chunk takes half of a staging slot, so a chunk holds at most half as many
// positions (8-byte elements, or doubles read through a cursor, fill a half exactly).
constexpr std::uint64_t kPairChunkElements = kChunkElements / 2;
constexpr std::size_t kHalfStage = kStageBytes / 2;

struct PairChunk
{
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    const std::uint8_t *bytes[2] = {nullptr, nullptr}; // per side: raw bytes, or null: the cursor's doubles
    int code[2] = {kF64, kF64};
};

// The intersection of the two sides' runs (core::pairRuns), cut into chunks.
std::vector<PairChunk> pairChunksOf(const std::vector<core::PairRun> &runs)
{
    std::vector<PairChunk> out;
    for (const core::PairRun &r : runs) {
        const std::uint8_t *bytes[2] = {r.bytesA, r.bytesB};
        const int code[2] = {r.bytesA ? static_cast<int>(r.typeA) : kF64, r.bytesB ? static_cast<int>(r.typeB) : kF64};
        for (std::uint64_t at = 0; at < r.count; at += kPairChunkElements) {
            PairChunk c;
            c.first = r.first + at;
            c.count = std::min(kPairChunkElements, r.count - at);
            for (int side = 0; side < 2; ++side) {
                c.code[side] = code[side];
                c.bytes[side] = bytes[side] ? bytes[side] + at * static_cast<std::uint64_t>(elemBytes(code[side])) : nullptr;
            }
            out.push_back(c);
        }
    }
    return out;
}

std::vector<Chunk> chunksOf(const core::ElementSource &source)
{
    std::vector<Chunk> out;
    for (const core::ElementRun &r : core::checkedRuns(source)) {
        const int code = r.bytes ? static_cast<int>(r.type) : kF64;
        const auto size = static_cast<std::uint64_t>(elemBytes(code));
        for (std::uint64_t at = 0; at < r.count; at += kChunkElements) {
            Chunk c;
            c.first = r.first + at;
            c.count = std::min(kChunkElements, r.count - at);
            c.bytes = r.bytes ? r.bytes + at * size : nullptr;
            c.code = code;
            out.push_back(c);
        }
    }
    return out;
}

// Copies a chunk of a source's raw bytes into pinned memory on a few threads: one thread's copy is
// slower than the copy to the GPU that follows. Read from the file where the source can
// (ElementSource::copyRaw: no page of the mapping faulted in), else from the mapping.
void stageCopy(const core::ElementSource &source, std::uint8_t *dst, const std::uint8_t *src, std::size_t bytes)
{
    const auto copy = [&source](std::uint8_t *to, const std::uint8_t *from, std::size_t n) {
        if (!source.copyRaw(from, n, to))
            std::memcpy(to, from, n);
    };
    constexpr std::size_t kMinPart = std::size_t(4) << 20;
    const std::size_t parts = std::min<std::size_t>(
        {std::size_t(std::max(1u, std::thread::hardware_concurrency())), 8, std::max<std::size_t>(1, bytes / kMinPart)});
    const std::size_t per = (bytes + parts - 1) / parts;
    std::vector<std::thread> pool;
    for (std::size_t p = 1; p < parts && p * per < bytes; ++p) {
        const std::size_t begin = p * per, len = std::min(per, bytes - begin);
        try {
            pool.emplace_back([=] { copy(dst + begin, src + begin, len); });
        } catch (const std::system_error &) {
            copy(dst + begin, src + begin, len); // no thread to be had: here
        }
    }
    copy(dst, src, std::min(per, bytes));
    for (auto &t : pool)
        t.join();
}

std::string cudaFailure(const char *what, cudaError_t err)
{
    return std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
}

class CudaHistogramBackend final : public core::HistogramBackend
{
public:
    CudaHistogramBackend() = default;
    CudaHistogramBackend(const CudaHistogramBackend &) = delete;
    CudaHistogramBackend &operator=(const CudaHistogramBackend &) = delete;

    ~CudaHistogramBackend() override
    {
        cudaSetDevice(m_device);
        for (int s = 0; s < kSlots; ++s) {
            if (m_stream[s])
                cudaStreamSynchronize(m_stream[s]);
            if (m_done[s])
                cudaEventDestroy(m_done[s]);
            if (m_stream[s])
                cudaStreamDestroy(m_stream[s]);
            if (m_hostStage[s])
                cudaFreeHost(m_hostStage[s]);
            if (m_deviceStage[s])
                cudaFree(m_deviceStage[s]);
            if (m_hostMoments[s])
                cudaFreeHost(m_hostMoments[s]);
            if (m_deviceMoments[s])
                cudaFree(m_deviceMoments[s]);
        }
        if (m_deviceCounts)
            cudaFree(m_deviceCounts);
        if (m_deviceEdges)
            cudaFree(m_deviceEdges);
        for (int s = 0; s < kSlots; ++s) {
            for (double *d : m_deviceDoubles[s])
                if (d)
                    cudaFree(d);
            if (m_hostPair[s])
                cudaFreeHost(m_hostPair[s]);
            if (m_devicePair[s])
                cudaFree(m_devicePair[s]);
        }
        cudaGetLastError();
    }

    // Context, streams, events and the staging buffers, once. Empty on success, else why not.
    std::string init(int device)
    {
        m_device = device;
        cudaError_t err = cudaSetDevice(device);
        if (err != cudaSuccess)
            return cudaFailure("cudaSetDevice", err);
        cudaDeviceProp prop{};
        if ((err = cudaGetDeviceProperties(&prop, device)) != cudaSuccess)
            return cudaFailure("cudaGetDeviceProperties", err);
        m_maxHistogramBlocks = std::max(1, prop.multiProcessorCount) * 8;
        const std::size_t momentsBytes = momentBlocks(kChunkElements) * sizeof(BlockMoments);
        for (int s = 0; s < kSlots; ++s) {
            if ((err = cudaStreamCreateWithFlags(&m_stream[s], cudaStreamNonBlocking)) != cudaSuccess)
                return cudaFailure("cudaStreamCreate", err);
            if ((err = cudaEventCreateWithFlags(&m_done[s], cudaEventDisableTiming)) != cudaSuccess)
                return cudaFailure("cudaEventCreate", err);
            if ((err = cudaHostAlloc(reinterpret_cast<void **>(&m_hostStage[s]), kStageBytes, cudaHostAllocDefault))
                != cudaSuccess)
                return cudaFailure("cudaHostAlloc (pinned staging buffer)", err);
            if ((err = cudaMalloc(&m_deviceStage[s], kStageBytes)) != cudaSuccess)
                return cudaFailure("cudaMalloc (staging buffer)", err);
            if ((err = cudaHostAlloc(reinterpret_cast<void **>(&m_hostMoments[s]), momentsBytes, cudaHostAllocDefault))
                != cudaSuccess)
                return cudaFailure("cudaHostAlloc (results)", err);
            if ((err = cudaMalloc(reinterpret_cast<void **>(&m_deviceMoments[s]), momentsBytes)) != cudaSuccess)
                return cudaFailure("cudaMalloc (results)", err);
        }
        // A tiny launch proves that this build carries code the GPU can run (CMAKE_CUDA_ARCHITECTURES).
        const double one = 1.0;
        if ((err = cudaMemcpyAsync(m_deviceStage[0], &one, sizeof one, cudaMemcpyHostToDevice, m_stream[0]))
            != cudaSuccess)
            return cudaFailure("cudaMemcpyAsync", err);
        if ((err = launchMoments(kF64, m_deviceStage[0], 1, m_deviceMoments[0], m_stream[0])) != cudaSuccess
            || (err = cudaStreamSynchronize(m_stream[0])) != cudaSuccess)
            return "this build's kernels cannot run on " + cudaDeviceName(device) + ": " + cudaFailure("launch", err)
                + "; rebuild with CMAKE_CUDA_ARCHITECTURES including this GPU's";
        BlockMoments probe{};
        if ((err = cudaMemcpy(&probe, m_deviceMoments[0], sizeof probe, cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cudaFailure("cudaMemcpy", err);
        if (probe.count != 1 || probe.mean != 1.0 || probe.min != 1.0)
            return "the GPU's self-test gave a wrong answer";
        return {};
    }

    std::string name() const override { return "cuda"; }

    BackendStatus summarize(const core::ElementSource &source, core::MomentSummary &out,
                            const core::ProgressFn &progress, std::uint64_t progressBase, std::uint64_t progressTotal,
                            std::string *error) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        core::MomentSummary total;
        auto submit = [&](int slot, const Chunk &c) -> cudaError_t {
            cudaError_t err = launchMoments(c.code, m_deviceStage[slot], c.count, m_deviceMoments[slot], m_stream[slot]);
            if (err != cudaSuccess)
                return err;
            return cudaMemcpyAsync(m_hostMoments[slot], m_deviceMoments[slot],
                                   momentBlocks(c.count) * sizeof(BlockMoments), cudaMemcpyDeviceToHost,
                                   m_stream[slot]);
        };
        // Called in chunk order, tiles in tile order: the merge order is fixed.
        auto retire = [&](int slot, const Chunk &c) {
            const std::uint64_t blocks = momentBlocks(c.count);
            for (std::uint64_t b = 0; b < blocks; ++b) {
                const BlockMoments &m = m_hostMoments[slot][b];
                core::MomentSummary s;
                s.count = m.count;
                s.nan = m.nan;
                s.posInf = m.posInf;
                s.negInf = m.negInf;
                s.zeros = m.zeros;
                s.min = m.min;
                s.max = m.max;
                s.minAbs = m.minAbs;
                s.maxAbs = m.maxAbs;
                s.mean = m.mean;
                s.m2 = m.m2;
                total.merge(s);
            }
        };
        const BackendStatus status = pipeline(source, submit, retire, progress, progressBase, progressTotal, error);
        if (status == BackendStatus::Ok)
            out = total;
        return status;
    }

    BackendStatus histogram(const core::ElementSource &source, const core::BinSpec &spec, core::BinCounts &out,
                            const core::ProgressFn &progress, std::uint64_t progressBase, std::uint64_t progressTotal,
                            std::string *error) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const std::size_t logBins = spec.logEdges.size() > 1 ? spec.logEdges.size() - 1 : 0;
        const std::size_t slots = std::size_t(spec.bins) + logBins;
        cudaError_t err = cudaSetDevice(m_device);
        if (err != cudaSuccess)
            return fail(error, "cudaSetDevice", err);
        // Counts for both histograms, and the edge table: grown when needed, kept for the next call.
        if (slots > m_countsCapacity) {
            if (m_deviceCounts)
                cudaFree(m_deviceCounts);
            m_deviceCounts = nullptr;
            m_countsCapacity = 0;
            if ((err = cudaMalloc(reinterpret_cast<void **>(&m_deviceCounts), slots * sizeof(unsigned long long)))
                != cudaSuccess)
                return fail(error, "cudaMalloc (histogram counts)", err);
            m_countsCapacity = slots;
        }
        if (spec.logEdges.size() > m_edgesCapacity) {
            if (m_deviceEdges)
                cudaFree(m_deviceEdges);
            m_deviceEdges = nullptr;
            m_edgesCapacity = 0;
            if ((err = cudaMalloc(reinterpret_cast<void **>(&m_deviceEdges), spec.logEdges.size() * sizeof(double)))
                != cudaSuccess)
                return fail(error, "cudaMalloc (edges)", err);
            m_edgesCapacity = spec.logEdges.size();
        }
        // On a stream, then waited for: the streams are non-blocking, they do not order themselves
        // after the legacy default stream that cudaMemset or cudaMemcpy would use.
        if (slots
            && (err = cudaMemsetAsync(m_deviceCounts, 0, slots * sizeof(unsigned long long), m_stream[0]))
                != cudaSuccess)
            return fail(error, "cudaMemsetAsync", err);
        if (logBins
            && (err = cudaMemcpyAsync(m_deviceEdges, spec.logEdges.data(), spec.logEdges.size() * sizeof(double),
                                      cudaMemcpyHostToDevice, m_stream[0]))
                != cudaSuccess)
            return fail(error, "cudaMemcpyAsync (edges)", err);
        if ((err = cudaStreamSynchronize(m_stream[0])) != cudaSuccess)
            return fail(error, "cudaStreamSynchronize", err);

        HistParams p{};
        p.bins = spec.bins;
        p.lo = spec.lo;
        p.hi = spec.hi;
        p.width = spec.hi - spec.lo; // as the CPU backend computes it
        p.binsD = static_cast<double>(spec.bins);
        p.lastBinD = static_cast<double>(spec.bins) - 1.0;
        p.divideFirst = spec.divideFirst;
        p.counts = m_deviceCounts;
        p.logBins = static_cast<std::uint32_t>(logBins);
        p.edges = logBins ? m_deviceEdges : nullptr;
        p.logCounts = m_deviceCounts + spec.bins;
        auto submit = [&](int slot, const Chunk &c) -> cudaError_t {
            return launchHistogram(c.code, m_deviceStage[slot], c.count, p, m_maxHistogramBlocks, m_stream[slot]);
        };
        auto retire = [](int, const Chunk &) {};
        const BackendStatus status = pipeline(source, submit, retire, progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        std::vector<unsigned long long> counts(slots);
        if (slots
            && (err = cudaMemcpy(counts.data(), m_deviceCounts, slots * sizeof(unsigned long long),
                                 cudaMemcpyDeviceToHost))
                != cudaSuccess)
            return fail(error, "cudaMemcpy (histogram counts)", err);
        out.counts.assign(counts.begin(), counts.begin() + spec.bins);
        out.logCounts.assign(counts.begin() + spec.bins, counts.end());
        return BackendStatus::Ok;
    }

    BackendStatus compare(const core::ElementSource &a, const core::ElementSource &b,
                          const core::PairTolerance &tolerance, core::PairSummary &out, const core::ProgressFn &progress,
                          std::uint64_t progressBase, std::uint64_t progressTotal, std::string *error) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<PairChunk> chunks;
        BackendStatus status = preparePair(a, b, chunks, error);
        if (status != BackendStatus::Ok)
            return status;
        core::PairSummary total;
        auto submit = [&](int slot, const PairChunk &c) -> cudaError_t {
            const double *side[2] = {};
            cudaError_t err = deviceDoubles(slot, c, side);
            if (err != cudaSuccess)
                return err;
            if ((err = launchPairSummary(side[0], side[1], c.count, tolerance.rtol, tolerance.atol, m_devicePair[slot],
                                         m_stream[slot]))
                != cudaSuccess)
                return err;
            return cudaMemcpyAsync(m_hostPair[slot], m_devicePair[slot], momentBlocks(c.count) * sizeof(BlockPair),
                                   cudaMemcpyDeviceToHost, m_stream[slot]);
        };
        // Called in chunk order, tiles in tile order: the merge order is fixed.
        auto retire = [&](int slot, const PairChunk &c) {
            const std::uint64_t blocks = momentBlocks(c.count);
            for (std::uint64_t k = 0; k < blocks; ++k) {
                const BlockPair &p = m_hostPair[slot][k];
                core::PairSummary s;
                s.numel = p.numel;
                s.differing = p.differing;
                s.nanDiffs = p.nanDiffs;
                s.notClose = p.notClose;
                s.maxAbsDiff = p.maxAbsDiff;
                s.sumAbsDiff = p.sumAbsDiff;
                s.sumSqDiff = p.sumSqDiff;
                s.sumSqB = p.sumSqB;
                s.dot = p.dot;
                s.normA = p.normA;
                s.normB = p.normB;
                s.a = core::FiniteRange{p.minA, p.maxA, p.nonFiniteA};
                s.b = core::FiniteRange{p.minB, p.maxB, p.nonFiniteB};
                s.diff = core::FiniteRange{p.minDiff, p.maxDiff, p.nonFiniteDiff};
                total.merge(s);
            }
        };
        status = pairPipeline(a, b, chunks, submit, retire, progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        if (total.numel != a.size()) {
            if (error)
                *error = "the GPU summarised " + std::to_string(total.numel) + " of " + std::to_string(a.size())
                    + " positions";
            return BackendStatus::Failed;
        }
        out = total;
        return BackendStatus::Ok;
    }

    BackendStatus pairHistogram(const core::ElementSource &a, const core::ElementSource &b,
                                const core::PairBinSpec &spec, core::PairBinCounts &out,
                                const core::ProgressFn &progress, std::uint64_t progressBase,
                                std::uint64_t progressTotal, std::string *error) override
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (spec.bins == 0 || spec.bins > (1u << 20)) {
            if (error)
                *error = "a histogram needs between 1 and 1048576 bins";
            return BackendStatus::Failed;
        }
        std::vector<PairChunk> chunks;
        BackendStatus status = preparePair(a, b, chunks, error);
        if (status != BackendStatus::Ok)
            return status;
        const std::size_t slots = std::size_t(3) * spec.bins;
        cudaError_t err = cudaSuccess;
        if (slots > m_countsCapacity) {
            if (m_deviceCounts)
                cudaFree(m_deviceCounts);
            m_deviceCounts = nullptr;
            m_countsCapacity = 0;
            if ((err = cudaMalloc(reinterpret_cast<void **>(&m_deviceCounts), slots * sizeof(unsigned long long)))
                != cudaSuccess)
                return fail(error, "cudaMalloc (histogram counts)", err);
            m_countsCapacity = slots;
        }
        if ((err = cudaMemsetAsync(m_deviceCounts, 0, slots * sizeof(unsigned long long), m_stream[0])) != cudaSuccess
            || (err = cudaStreamSynchronize(m_stream[0])) != cudaSuccess)
            return fail(error, "cudaMemsetAsync", err);
        PairHistParams p{};
        p.bins = spec.bins;
        p.lo = spec.lo;
        p.hi = spec.hi;
        p.width = spec.hi - spec.lo; // as the CPU backend computes them
        p.diffLo = spec.diffLo;
        p.diffHi = spec.diffHi;
        p.diffWidth = spec.diffHi - spec.diffLo;
        p.binsD = static_cast<double>(spec.bins);
        p.lastBinD = static_cast<double>(spec.bins) - 1.0;
        p.counts = m_deviceCounts;
        auto submit = [&](int slot, const PairChunk &c) -> cudaError_t {
            const double *side[2] = {};
            const cudaError_t e = deviceDoubles(slot, c, side);
            if (e != cudaSuccess)
                return e;
            return launchPairHistogram(side[0], side[1], c.count, p, m_maxHistogramBlocks, m_stream[slot]);
        };
        auto retire = [](int, const PairChunk &) {};
        status = pairPipeline(a, b, chunks, submit, retire, progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        std::vector<unsigned long long> counts(slots);
        if ((err = cudaMemcpy(counts.data(), m_deviceCounts, slots * sizeof(unsigned long long), cudaMemcpyDeviceToHost))
            != cudaSuccess)
            return fail(error, "cudaMemcpy (histogram counts)", err);
        out.a.assign(counts.begin(), counts.begin() + spec.bins);
        out.b.assign(counts.begin() + spec.bins, counts.begin() + 2 * std::ptrdiff_t(spec.bins));
        out.diff.assign(counts.begin() + 2 * std::ptrdiff_t(spec.bins), counts.end());
        return BackendStatus::Ok;
    }

private:
    // Sizes, the chunks of the two run lists' intersection, and the pair buffers (made on the first
    // pair call: a process that never compares two tensors does not pay for them).
    BackendStatus preparePair(const core::ElementSource &a, const core::ElementSource &b,
                              std::vector<PairChunk> &chunks, std::string *error)
    {
        if (a.size() != b.size()) {
            if (error)
                *error = "the two sides have different numbers of elements (" + std::to_string(a.size()) + " and "
                    + std::to_string(b.size()) + ")";
            return BackendStatus::Failed;
        }
        const std::vector<core::PairRun> runs = core::pairRuns(a.runs(), b.runs());
        std::uint64_t covered = 0;
        for (const core::PairRun &r : runs)
            covered += r.count;
        if (covered != a.size()) {
            if (error)
                *error = "the two sides' element runs do not cover " + std::to_string(a.size()) + " positions";
            return BackendStatus::Failed;
        }
        chunks = pairChunksOf(runs);
        cudaError_t err = cudaSetDevice(m_device);
        if (err != cudaSuccess)
            return fail(error, "cudaSetDevice", err);
        const std::size_t recordBytes = momentBlocks(kPairChunkElements) * sizeof(BlockPair);
        for (int s = 0; s < kSlots; ++s) {
            for (double *&d : m_deviceDoubles[s])
                if (!d && (err = cudaMalloc(reinterpret_cast<void **>(&d), kPairChunkElements * sizeof(double)))
                        != cudaSuccess)
                    return fail(error, "cudaMalloc (pair buffers)", err);
            if (!m_hostPair[s]
                && (err = cudaHostAlloc(reinterpret_cast<void **>(&m_hostPair[s]), recordBytes, cudaHostAllocDefault))
                    != cudaSuccess)
                return fail(error, "cudaHostAlloc (pair results)", err);
            if (!m_devicePair[s]
                && (err = cudaMalloc(reinterpret_cast<void **>(&m_devicePair[s]), recordBytes)) != cudaSuccess)
                return fail(error, "cudaMalloc (pair results)", err);
        }
        return BackendStatus::Ok;
    }

    // Both sides of the chunk staged in `slot` as device doubles: doubles are used where they lie
    // (8-byte floats, and what the host cursors wrote), other encodings are converted on the device.
    cudaError_t deviceDoubles(int slot, const PairChunk &c, const double *side[2])
    {
        for (int k = 0; k < 2; ++k) {
            const void *staged = static_cast<const std::uint8_t *>(m_deviceStage[slot]) + k * kHalfStage;
            if (c.code[k] == kF64) {
                side[k] = static_cast<const double *>(staged);
                continue;
            }
            const cudaError_t err = launchConvert(c.code[k], staged, c.count, m_deviceDoubles[slot][k], m_stream[slot]);
            if (err != cudaSuccess)
                return err;
            side[k] = m_deviceDoubles[slot][k];
        }
        return cudaSuccess;
    }

    BackendStatus fail(std::string *error, const char *what, cudaError_t err)
    {
        if (error)
            *error = cudaFailure(what, err);
        cudaGetLastError(); // clear a non-sticky error so that the next call can run
        return BackendStatus::Failed;
    }

    void drain()
    {
        for (int s = 0; s < kSlots; ++s)
            cudaStreamSynchronize(m_stream[s]);
    }

    // Drains the streams when a chunk loop is left in any way, an exception from a cursor or from
    // the progress callback included: the next call reuses the staging buffers and the counts.
    struct DrainOnExit
    {
        CudaHistogramBackend &owner;
        ~DrainOnExit() { owner.drain(); }
    };

    // The chunk loop described at the top of this file. submit(slot, chunk) queues the work on
    // the slot's stream after the upload; retire(slot, chunk) runs on the host once it finished.
    template<typename Submit, typename Retire>
    BackendStatus pipeline(const core::ElementSource &source, Submit submit, Retire retire,
                           const core::ProgressFn &progress, std::uint64_t progressBase, std::uint64_t progressTotal,
                           std::string *error)
    {
        cudaError_t err = cudaSetDevice(m_device);
        if (err != cudaSuccess)
            return fail(error, "cudaSetDevice", err);
        const std::vector<Chunk> chunks = chunksOf(source);
        const DrainOnExit drainOnExit{*this};
        std::unique_ptr<core::ElementCursor> cursor; // made on the first chunk that needs the host
        std::optional<std::size_t> inFlight[kSlots];
        std::uint64_t done = 0, reported = 0;

        auto finish = [&](int slot) -> cudaError_t {
            if (!inFlight[slot])
                return cudaSuccess;
            const cudaError_t e = cudaEventSynchronize(m_done[slot]);
            if (e != cudaSuccess)
                return e;
            const Chunk &c = chunks[*inFlight[slot]];
            retire(slot, c);
            done += c.count;
            inFlight[slot].reset();
            return cudaSuccess;
        };
        // False: the caller cancelled. Nothing is reported before this call has finished a chunk
        // (the previous pass already reported progressBase).
        auto report = [&]() {
            const std::uint64_t now = progressBase + done;
            if (!progress || done == 0 || now <= reported)
                return true;
            reported = now;
            return progress(now, progressTotal);
        };

        for (std::size_t k = 0; k < chunks.size(); ++k) {
            const int slot = static_cast<int>(k % kSlots);
            if ((err = finish(slot)) != cudaSuccess) {
                drain();
                return fail(error, "a kernel", err);
            }
            if (!report()) {
                drain();
                return BackendStatus::Cancelled;
            }
            const Chunk &c = chunks[k];
            const std::size_t bytes = static_cast<std::size_t>(c.count) * static_cast<std::size_t>(elemBytes(c.code));
            if (c.bytes) {
                stageCopy(source, m_hostStage[slot], c.bytes, bytes);
            } else {
                if (!cursor)
                    cursor = source.cursor();
                cursor->seek(c.first);
                auto *dst = reinterpret_cast<double *>(m_hostStage[slot]);
                std::size_t got = 0;
                while (got < c.count) {
                    const std::size_t r = cursor->read(std::span<double>(dst + got, static_cast<std::size_t>(c.count) - got));
                    if (r == 0)
                        break;
                    got += r;
                }
                if (got != c.count) {
                    drain();
                    if (error)
                        *error = "a tensor could not be read to the end";
                    return BackendStatus::Failed;
                }
            }
            if ((err = cudaMemcpyAsync(m_deviceStage[slot], m_hostStage[slot], bytes, cudaMemcpyHostToDevice,
                                       m_stream[slot]))
                    != cudaSuccess
                || (err = submit(slot, c)) != cudaSuccess
                || (err = cudaEventRecord(m_done[slot], m_stream[slot])) != cudaSuccess) {
                drain();
                return fail(error, "queueing a chunk", err);
            }
            inFlight[slot] = k;
        }
        // The last two chunks, older first.
        const int firstSlot = static_cast<int>(chunks.size() % kSlots);
        for (int i = 0; i < kSlots; ++i) {
            if ((err = finish((firstSlot + i) % kSlots)) != cudaSuccess) {
                drain();
                return fail(error, "a kernel", err);
            }
        }
        if (!report())
            return BackendStatus::Cancelled;
        return BackendStatus::Ok;
    }

    // pipeline() for pairs: each chunk stages side a in the first half of its slot and side b in
    // the second, raw bytes copied from the mapped file or doubles read through that side's cursor.
    template<typename Submit, typename Retire>
    BackendStatus pairPipeline(const core::ElementSource &a, const core::ElementSource &b,
                               const std::vector<PairChunk> &chunks, Submit submit, Retire retire,
                               const core::ProgressFn &progress, std::uint64_t progressBase,
                               std::uint64_t progressTotal, std::string *error)
    {
        const core::ElementSource *sources[2] = {&a, &b};
        const DrainOnExit drainOnExit{*this};
        std::unique_ptr<core::ElementCursor> cursors[2]; // made on the first chunk that needs the host
        std::optional<std::size_t> inFlight[kSlots];
        std::uint64_t done = 0, reported = 0;
        cudaError_t err = cudaSuccess;

        auto finish = [&](int slot) -> cudaError_t {
            if (!inFlight[slot])
                return cudaSuccess;
            const cudaError_t e = cudaEventSynchronize(m_done[slot]);
            if (e != cudaSuccess)
                return e;
            const PairChunk &c = chunks[*inFlight[slot]];
            retire(slot, c);
            done += c.count;
            inFlight[slot].reset();
            return cudaSuccess;
        };
        auto report = [&]() {
            const std::uint64_t now = progressBase + done;
            if (!progress || done == 0 || now <= reported)
                return true;
            reported = now;
            return progress(now, progressTotal);
        };

        for (std::size_t k = 0; k < chunks.size(); ++k) {
            const int slot = static_cast<int>(k % kSlots);
            if ((err = finish(slot)) != cudaSuccess) {
                drain();
                return fail(error, "a kernel", err);
            }
            if (!report()) {
                drain();
                return BackendStatus::Cancelled;
            }
            const PairChunk &c = chunks[k];
            for (int side = 0; side < 2; ++side) {
                std::uint8_t *host = m_hostStage[slot] + side * kHalfStage;
                const std::size_t bytes
                    = static_cast<std::size_t>(c.count) * static_cast<std::size_t>(elemBytes(c.code[side]));
                if (c.bytes[side]) {
                    stageCopy(*sources[side], host, c.bytes[side], bytes);
                } else {
                    if (!cursors[side])
                        cursors[side] = sources[side]->cursor();
                    cursors[side]->seek(c.first);
                    auto *dst = reinterpret_cast<double *>(host);
                    std::size_t got = 0;
                    while (got < c.count) {
                        const std::size_t r
                            = cursors[side]->read(std::span<double>(dst + got, static_cast<std::size_t>(c.count) - got));
                        if (r == 0)
                            break;
                        got += r;
                    }
                    if (got != c.count) {
                        drain();
                        if (error)
                            *error = "a tensor could not be read to the end";
                        return BackendStatus::Failed;
                    }
                }
                if ((err = cudaMemcpyAsync(static_cast<std::uint8_t *>(m_deviceStage[slot]) + side * kHalfStage, host,
                                           bytes, cudaMemcpyHostToDevice, m_stream[slot]))
                    != cudaSuccess) {
                    drain();
                    return fail(error, "queueing a chunk", err);
                }
            }
            if ((err = submit(slot, c)) != cudaSuccess
                || (err = cudaEventRecord(m_done[slot], m_stream[slot])) != cudaSuccess) {
                drain();
                return fail(error, "queueing a chunk", err);
            }
            inFlight[slot] = k;
        }
        const int firstSlot = static_cast<int>(chunks.size() % kSlots);
        for (int i = 0; i < kSlots; ++i) {
            if ((err = finish((firstSlot + i) % kSlots)) != cudaSuccess) {
                drain();
                return fail(error, "a kernel", err);
            }
        }
        if (!report())
            return BackendStatus::Cancelled;
        return BackendStatus::Ok;
    }

    std::mutex m_mutex;
    int m_device = 0;
    int m_maxHistogramBlocks = 1;
    cudaStream_t m_stream[kSlots] = {};
    cudaEvent_t m_done[kSlots] = {};
    std::uint8_t *m_hostStage[kSlots] = {};
    void *m_deviceStage[kSlots] = {};
    BlockMoments *m_hostMoments[kSlots] = {};
    BlockMoments *m_deviceMoments[kSlots] = {};
    unsigned long long *m_deviceCounts = nullptr;
    std::size_t m_countsCapacity = 0;
    double *m_deviceEdges = nullptr;
    std::size_t m_edgesCapacity = 0;
    // Pairs: per slot, both sides converted to doubles, and the per-tile results.
    double *m_deviceDoubles[kSlots][2] = {};
    BlockPair *m_hostPair[kSlots] = {};
    BlockPair *m_devicePair[kSlots] = {};
};

} // namespace

std::unique_ptr<core::HistogramBackend> makeCudaHistogramBackend(std::string *whyNot)
{
    auto decline = [&](std::string why) -> std::unique_ptr<core::HistogramBackend> {
        if (whyNot)
            *whyNot = std::move(why);
        return nullptr;
    };
    if (const char *off = std::getenv("PTSCOPE_NO_CUDA"); off && *off && std::string(off) != "0")
        return decline("the CUDA backend is turned off (PTSCOPE_NO_CUDA is set)");
    std::string why;
    if (cudaDeviceCount(&why) == 0)
        return decline(why);
    auto backend = std::make_unique<CudaHistogramBackend>();
    why = backend->init(0);
    if (!why.empty())
        return decline("CUDA set-up failed on " + cudaDeviceName(0) + ": " + why);
    return backend;
}

} // namespace ptscope::cuda
