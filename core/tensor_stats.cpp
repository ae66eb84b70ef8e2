// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "tensor_stats.h"

#include "cpu_stats_kernels.h"
#include "dtype.h"
#include "tensor_data.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

namespace ptscope::core {

void MomentSummary::merge(const MomentSummary &o)
{
    nan += o.nan;
    posInf += o.posInf;
    negInf += o.negInf;
    zeros += o.zeros;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    minAbs = std::min(minAbs, o.minAbs);
    maxAbs = std::max(maxAbs, o.maxAbs);
    if (o.count == 0)
        return;
    if (count == 0) {
        count = o.count;
        mean = o.mean;
        m2 = o.m2;
        return;
    }
    // Chan, Golub and LeVeque's pairwise update: exact in exact arithmetic and stable in floating
    // point, whatever the magnitude of the mean.
    const double na = static_cast<double>(count);
    const double nb = static_cast<double>(o.count);
    const double n = na + nb;
    const double delta = o.mean - mean;
    if (std::isfinite(delta)) {
        mean += delta * (nb / n);
        m2 += o.m2 + delta * delta * (na * nb / n);
    } else {
        // Means of opposite signs beyond about 9e307: their difference overflows, the weighted
        // average does not; the squared deviations are beyond the doubles anyway.
        mean = mean * (na / n) + o.mean * (nb / n);
        m2 = std::numeric_limits<double>::infinity();
    }
    count += o.count;
}

std::pair<double, double> histcRange(double min, double max, HistcEdges mode)
{
    if (min != max)
        return {min, max};
    double lo = min - 1.0, hi = max + 1.0;
    if (mode == HistcEdges::Exact) {
        // torch 2.14: lo 2^60 - 128, hi 2^60 + 256 for a constant 2^60 (checked on both sides of
        // powers of two, and at 2^53, where only the upper end is lost); never beyond the largest
        // finite double (a constant DBL_MAX falls in the last bin, -DBL_MAX in the first).
        constexpr double inf = std::numeric_limits<double>::infinity();
        if (lo == min && std::isfinite(std::nextafter(min, -inf)))
            lo = std::nextafter(min, -inf);
        if (hi == max && std::isfinite(std::nextafter(max, inf)))
            hi = std::nextafter(max, inf);
    }
    return {lo, hi};
}

std::pair<double, double> histcEdges(double min, double max, std::uint32_t bins, HistcEdges mode)
{
    // torch >= 2.0 (checked with 2.6 and 2.14): the first and last linspace elements are the ends.
    if (mode == HistcEdges::Exact)
        return {min, max};
    // torch.histc builds its edges with linspace(min, max, bins + 1) and bins with the first and
    // last of them. torch 1.13's CPU linspace (AVX2 kernels, 4 doubles a vector, 8 a loop
    // iteration) computes the last element in a vector when (bins + 1) is a multiple of 8:
    //     base = end - step * 3   (contracted to one FMA by the compiler)
    //     last = base + 3 * step  (separately rounded)
    // which can differ from `max` by an ulp; elsewhere it is `max` itself. Checked against torch
    // 1.13 on random ranges (0 mismatches in 3000; 14 without the FMA, 41 with two).
    const std::uint64_t steps = std::uint64_t(bins) + 1;
    if (bins == 0 || steps < 8 || steps % 8 != 0)
        return {min, max};
    const double step = (max - min) / static_cast<double>(bins);
    const double base = std::fma(-step, 3.0, max);
    const double three = 3.0 * step;
    return {min, base + three};
}

namespace {

constexpr std::size_t kBufferElements = std::size_t(1) << 16; // pairs: one read, ~512 KiB of doubles
constexpr std::uint64_t kUnitElements = std::uint64_t(1) << 18; // one work item (4 buffers, 32 blocks)
constexpr std::size_t kBlockElements = 8192; // one call of the kernels: a float32 block fits in L1
static_assert(kUnitElements % kBlockElements == 0 && kBufferElements % kBlockElements == 0);

using cpu_kernels::Block;

// The log-magnitude bins of n doubles (BinSpec::logEdges, the rule in histogram_backend.h).
void addLogBins(const double *x, std::size_t n, const std::vector<double> &logEdges, std::uint64_t *c)
{
    const std::size_t logBins = logEdges.size() - 1;
    const double *edges = logEdges.data();
    const double first = edges[0], last = edges[logBins];
    for (std::size_t i = 0; i < n; ++i) {
        const double a = std::fabs(x[i]);
        if (!(a >= first && a <= last))
            continue;
        auto pos = static_cast<std::size_t>(std::upper_bound(edges, edges + logBins + 1, a) - edges) - 1;
        ++c[pos >= logBins ? logBins - 1 : pos];
    }
}

Block doubleBlock(const double *x, std::size_t n) { return Block{reinterpret_cast<const std::uint8_t *>(x), n, false}; }

// Bytes per element of a run that readsDirectly: float32 or float64.
std::size_t directSize(const ElementRun &r)
{
    return r.type == RawElement::F32 ? 4 : 8;
}

bool readsDirectly(const ElementRun &r)
{
    return r.bytes && (r.type == RawElement::F32 || r.type == RawElement::F64);
}

// Scratch memory for raw bytes copied out of a file: anonymous pages advised as transparent huge
// pages, so that first touching a few megabytes takes a few faults, not one per 4 KiB page. Made
// once and reused across passes.
class ScratchBytes
{
public:
    ScratchBytes() = default;
    ScratchBytes(const ScratchBytes &) = delete;
    ScratchBytes &operator=(const ScratchBytes &) = delete;
    ~ScratchBytes() { reset(); }

    // At least n bytes (contents unspecified); false, and empty, when there is no memory for them.
    bool reserve(std::size_t n)
    {
        if (n <= m_size)
            return true;
        reset();
        constexpr std::size_t kHuge = std::size_t(2) << 20;
        const std::size_t size = (n + kHuge - 1) / kHuge * kHuge;
        void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return false;
#ifdef MADV_HUGEPAGE
        ::madvise(p, size, MADV_HUGEPAGE); // advice only
#endif
        m_data = static_cast<std::uint8_t *>(p);
        m_size = size;
        return true;
    }

    std::uint8_t *data() const { return m_data; }

private:
    void reset()
    {
        if (m_data)
            ::munmap(m_data, m_size);
        m_data = nullptr;
        m_size = 0;
    }

    std::uint8_t *m_data = nullptr;
    std::size_t m_size = 0;
};

// Hands the mapped bytes that the workers read directly back to the source (ElementSource::doneWith),
// in order of position once every unit before them is done, in steps of at least kReleaseStep
// bytes: each release makes the kernel interrupt the other cores to flush their TLBs, so they are
// kept few. Units finish about in order, so the bytes waiting for release stay a few units' worth.
class DirectReadRelease
{
public:
    static constexpr std::size_t kReleaseStep = std::size_t(16) << 20;

    DirectReadRelease(const ElementSource &source, const std::vector<ElementRun> &runs, std::uint64_t units)
        : m_source(source)
        , m_runs(runs)
        , m_done(static_cast<std::size_t>(units), 0)
    {
        m_released.reserve(runs.size());
        for (const ElementRun &r : runs)
            m_released.push_back(r.bytes);
    }

    // `inPlace`: the unit read some of the mapped bytes where they lie (else it read copies and
    // there is nothing to release for it).
    void unitDone(std::uint64_t unit, bool inPlace)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_touched = m_touched || inPlace;
        m_done[static_cast<std::size_t>(unit)] = 1;
        const std::uint64_t before = m_frontier;
        while (m_frontier < m_done.size() && m_done[static_cast<std::size_t>(m_frontier)])
            ++m_frontier;
        if (m_frontier != before && m_touched)
            releaseBefore(m_frontier * kUnitElements, false);
    }

    // Everything not released yet, read or not (at the end of a pass, or after it stopped), when
    // any of it was read in place.
    void finish()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_touched)
            releaseBefore(~std::uint64_t(0), true);
    }

private:
    void releaseBefore(std::uint64_t position, bool all)
    {
        for (; m_next < m_runs.size() && m_runs[m_next].first < position; ++m_next) {
            const ElementRun &r = m_runs[m_next];
            if (!readsDirectly(r))
                continue;
            const std::size_t size = directSize(r);
            const std::uint8_t *runEnd = r.bytes + r.count * size;
            if (position >= r.first + r.count || all) {
                m_source.doneWith(m_released[m_next], runEnd);
                m_released[m_next] = runEnd;
                continue;
            }
            // Inside this run: up to `position`, in big steps.
            const std::uint8_t *upTo = r.bytes + (position - r.first) * size;
            if (static_cast<std::size_t>(upTo - m_released[m_next]) >= kReleaseStep) {
                m_source.doneWith(m_released[m_next], upTo);
                m_released[m_next] = upTo;
            }
            break;
        }
    }

    const ElementSource &m_source;
    const std::vector<ElementRun> &m_runs;
    std::mutex m_mutex;
    std::vector<std::uint8_t> m_done;      // per unit
    std::uint64_t m_frontier = 0;          // units before it are all done
    std::size_t m_next = 0;                // first run not wholly released
    bool m_touched = false;                // some unit read mapped bytes in place
    std::vector<const std::uint8_t *> m_released; // per run: its bytes before this are released
};

// The CPU backend's threads, started on its first pass and kept for the next ones (a checkpoint's
// statistics are hundreds of passes, most over a few megabytes): run(n, worker) calls worker(i,
// i == 0) on n threads, the calling one as worker 0 (the one that may report progress), and returns
// when all are done. Fewer take part when the system had no more threads to give.
class WorkerPool
{
public:
    using Worker = std::function<void(unsigned, bool)>;

    ~WorkerPool()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_quit = true;
        }
        m_wake.notify_all();
        for (auto &t : m_threads)
            t.join();
    }

    void run(unsigned n, const Worker &worker)
    {
        std::lock_guard<std::mutex> one(m_runMutex); // one pass at a time per backend
        std::unique_lock<std::mutex> lock(m_mutex);
        while (m_threads.size() + 1 < n) {
            try {
                const unsigned id = static_cast<unsigned>(m_threads.size()) + 1;
                m_threads.emplace_back([this, id] { serve(id); });
            } catch (const std::system_error &) {
                break; // the threads running (and this one) do the work
            }
        }
        m_worker = &worker;
        m_taking = std::min<unsigned>(n, static_cast<unsigned>(m_threads.size()) + 1);
        m_busy = m_taking - 1;
        ++m_generation;
        lock.unlock();
        m_wake.notify_all();
        worker(0u, true);
        lock.lock();
        m_done.wait(lock, [this] { return m_busy == 0; });
        m_worker = nullptr;
    }

private:
    void serve(unsigned id)
    {
        std::uint64_t seen = 0;
        std::unique_lock<std::mutex> lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [&] { return m_quit || m_generation != seen; });
            if (m_quit)
                return;
            seen = m_generation;
            if (id >= m_taking)
                continue;
            const Worker *worker = m_worker;
            lock.unlock();
            (*worker)(id, false);
            lock.lock();
            if (--m_busy == 0)
                m_done.notify_one();
        }
    }

    std::mutex m_runMutex;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_done;
    std::vector<std::thread> m_threads;
    const Worker *m_worker = nullptr;
    unsigned m_taking = 0;      // workers of the current pass, the calling thread included
    unsigned m_busy = 0;        // pool threads still in the current pass
    std::uint64_t m_generation = 0;
    bool m_quit = false;
};

// One worker's reader of a source's elements as doubles, in any order: raw float32/float64 runs
// copied out of the file (ElementSource::copyRaw) and converted, or converted where they lie when
// they cannot be; the rest through the source's cursor.
class DoubleReader
{
public:
    DoubleReader(const ElementSource &source, const std::vector<ElementRun> &runs)
        : m_source(source)
        , m_runs(runs)
    {
    }

    // Elements [at, at + n) into out; false when the source could not give them all.
    bool read(std::uint64_t at, std::size_t n, double *out)
    {
        for (std::uint64_t pos = at; pos < at + n;) {
            const ElementRun &piece = m_runs[runAt(pos)];
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(at + n, piece.first + piece.count) - pos);
            double *dst = out + (pos - at);
            if (readsDirectly(piece)) {
                const std::uint8_t *src = piece.bytes + (pos - piece.first) * directSize(piece);
                if (piece.type == RawElement::F64) {
                    if (!m_source.copyRaw(src, k * 8, reinterpret_cast<std::uint8_t *>(dst)))
                        std::memcpy(dst, src, k * 8);
                } else {
                    m_scratch.resize(k * 4);
                    if (m_source.copyRaw(src, k * 4, m_scratch.data()))
                        src = m_scratch.data();
                    convert(src, RawElement::F32, k, dst);
                }
            } else if (!readCursor(pos, k, dst)) {
                return false;
            }
            pos += k;
        }
        return true;
    }

    // Elements [pos, pos + n) through the source's cursor; false when it gives fewer.
    bool readCursor(std::uint64_t pos, std::size_t n, double *out)
    {
        if (!m_cursor)
            m_cursor = m_source.cursor();
        if (m_cursorAt != pos)
            m_cursor->seek(pos);
        std::size_t got = 0;
        while (got < n) {
            const std::size_t r = m_cursor->read(std::span<double>(out + got, n - got));
            if (r == 0)
                break;
            got += r;
        }
        m_cursorAt = got == n ? pos + n : ~std::uint64_t(0);
        return got == n;
    }

    // n raw float32 (F32) or float64 elements at `src` (any alignment) as doubles.
    static void convert(const std::uint8_t *src, RawElement type, std::size_t n, double *out)
    {
        if (type == RawElement::F64) {
            std::memcpy(out, src, n * 8);
            return;
        }
        for (std::size_t i = 0; i < n; ++i) {
            float f;
            std::memcpy(&f, src + 4 * i, 4);
            out[i] = static_cast<double>(f);
        }
    }

    // The index of the run holding element `pos` (remembering the last one: positions mostly ascend).
    std::size_t runAt(std::uint64_t pos)
    {
        if (!(m_runs[m_hint].first <= pos && pos < m_runs[m_hint].first + m_runs[m_hint].count)) {
            auto it = std::upper_bound(m_runs.begin(), m_runs.end(), pos,
                                       [](std::uint64_t p, const ElementRun &r) { return p < r.first; });
            m_hint = static_cast<std::size_t>(it - m_runs.begin()) - 1;
        }
        return m_hint;
    }

private:
    const ElementSource &m_source;
    const std::vector<ElementRun> &m_runs;
    std::unique_ptr<ElementCursor> m_cursor;
    std::uint64_t m_cursorAt = ~std::uint64_t(0);
    std::size_t m_hint = 0;
    std::vector<std::uint8_t> m_scratch;
};

// Progress and cancellation of one pass over a source, shared by its workers: they count elements
// in `done` and stop when `stop` is set; worker 0 calls report(), which asks the caller's progress
// function and sets `stop` when it cancels; `failed` when a source could not be read.
struct PassState
{
    PassState(const ProgressFn &progress, std::uint64_t base, std::uint64_t total)
        : progress(progress)
        , base(base)
        , total(total)
    {
    }

    void report()
    {
        const std::uint64_t now = base + done.load();
        if (progress && now > reported) {
            reported = now;
            if (!progress(now, total)) {
                cancelled = true;
                stop = true;
            }
        }
    }

    // After the workers are joined: the pass's status, with the final progress count.
    BackendStatus finish(std::string *error)
    {
        if (cancelled)
            return BackendStatus::Cancelled;
        if (failed) {
            if (error)
                *error = "a tensor could not be read to the end";
            return BackendStatus::Failed;
        }
        report(); // the final count, after the other workers' last blocks
        return cancelled ? BackendStatus::Cancelled : BackendStatus::Ok;
    }

    const ProgressFn &progress;
    const std::uint64_t base, total;
    std::atomic<std::uint64_t> done{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    std::uint64_t reported = 0; // the calling thread's alone, as `cancelled`
    bool cancelled = false;
};

class CpuHistogramBackend final : public HistogramBackend
{
public:
    explicit CpuHistogramBackend(unsigned threads)
        : m_threads(threads ? threads : std::max(1u, std::thread::hardware_concurrency()))
    {
    }

    std::string name() const override { return "cpu"; }

    BackendStatus summarize(const ElementSource &source, MomentSummary &out, const ProgressFn &progress,
                            std::uint64_t progressBase, std::uint64_t progressTotal, std::string *error) override
    {
        const std::uint64_t units = (source.size() + kUnitElements - 1) / kUnitElements;
        std::vector<MomentSummary> partial(static_cast<std::size_t>(units));
        auto status = runBlocks(
            source,
            [&](std::uint64_t unit, const Block &block, unsigned) {
                // A unit's blocks come in order from one worker.
                partial[static_cast<std::size_t>(unit)].merge(cpu_kernels::summarizeBlock(block));
            },
            progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        // Merged in unit order, so the result does not depend on the number of threads.
        out = MomentSummary{};
        for (const MomentSummary &p : partial)
            out.merge(p);
        return BackendStatus::Ok;
    }

    BackendStatus histogram(const ElementSource &source, const BinSpec &spec, BinCounts &out,
                            const ProgressFn &progress, std::uint64_t progressBase, std::uint64_t progressTotal,
                            std::string *error) override
    {
        const std::size_t logBins = spec.logEdges.size() > 1 ? spec.logEdges.size() - 1 : 0;
        std::vector<std::vector<std::uint64_t>> counts(m_threads, std::vector<std::uint64_t>(spec.bins + 1, 0));
        std::vector<std::vector<std::uint64_t>> logCounts(m_threads, std::vector<std::uint64_t>(logBins, 0));
        std::vector<std::vector<double>> scratch(m_threads);
        const cpu_kernels::LinearBinning linear{spec.lo, spec.hi, spec.bins, spec.divideFirst, spec.inside};
        auto status = runBlocks(
            source,
            [&](std::uint64_t, const Block &block, unsigned worker) {
                if (spec.bins)
                    cpu_kernels::addLinearBins(block, linear, counts[worker].data());
                if (logBins) {
                    std::vector<double> &x = scratch[worker];
                    x.resize(block.count);
                    for (std::size_t i = 0; i < block.count; ++i) {
                        if (block.isFloat) {
                            float f;
                            std::memcpy(&f, block.bytes + 4 * i, 4);
                            x[i] = static_cast<double>(f);
                        } else {
                            std::memcpy(&x[i], block.bytes + 8 * i, 8);
                        }
                    }
                    addLogBins(x.data(), block.count, spec.logEdges, logCounts[worker].data());
                }
            },
            progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        out.counts.assign(spec.bins, 0);
        out.logCounts.assign(logBins, 0);
        for (unsigned w = 0; w < m_threads; ++w) {
            for (std::size_t b = 0; b < spec.bins; ++b)
                out.counts[b] += counts[w][b];
            for (std::size_t b = 0; b < logBins; ++b)
                out.logCounts[b] += logCounts[w][b];
        }
        return BackendStatus::Ok;
    }

    BackendStatus compare(const ElementSource &a, const ElementSource &b, const PairTolerance &tolerance,
                          PairSummary &out, const ProgressFn &progress, std::uint64_t progressBase,
                          std::uint64_t progressTotal, std::string *error) override
    {
        if (!sameSize(a, b, error))
            return BackendStatus::Failed;
        const std::uint64_t units = (a.size() + kUnitElements - 1) / kUnitElements;
        std::vector<PairSummary> partial(static_cast<std::size_t>(units));
        auto status = run(
            {&a, &b},
            [&](std::uint64_t unit, std::uint64_t, const double *const *buf, std::size_t n, unsigned) {
                // A unit's buffers come in order from one worker: its sums run in element order.
                accumulatePair(partial[static_cast<std::size_t>(unit)], buf[0], buf[1], n, tolerance);
            },
            progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        out = PairSummary{};
        for (const PairSummary &p : partial) // in unit order: the same for every thread count
            out.merge(p);
        return BackendStatus::Ok;
    }

    BackendStatus pairHistogram(const ElementSource &a, const ElementSource &b, const PairBinSpec &spec,
                                PairBinCounts &out, const ProgressFn &progress, std::uint64_t progressBase,
                                std::uint64_t progressTotal, std::string *error) override
    {
        if (!sameSize(a, b, error))
            return BackendStatus::Failed;
        if (spec.bins == 0 || spec.bins > (1u << 20)) {
            if (error)
                *error = "a histogram needs between 1 and 1048576 bins";
            return BackendStatus::Failed;
        }
        const std::size_t slots = std::size_t(spec.bins) + 1;
        // Per worker: counts of a, b and a - b (each with the skip slot), and a buffer for a - b.
        std::vector<std::vector<std::uint64_t>> counts(m_threads, std::vector<std::uint64_t>(3 * slots, 0));
        std::vector<std::vector<double>> diffs(m_threads);
        // The pair histograms are ptscope's own (no torch to agree with): one fixed order, 1.13's.
        const cpu_kernels::LinearBinning values{.lo = spec.lo, .hi = spec.hi, .bins = spec.bins, .divideFirst = true};
        const cpu_kernels::LinearBinning differences{
            .lo = spec.diffLo, .hi = spec.diffHi, .bins = spec.bins, .divideFirst = true};
        auto status = run(
            {&a, &b},
            [&](std::uint64_t, std::uint64_t, const double *const *buf, std::size_t n, unsigned worker) {
                std::uint64_t *c = counts[worker].data();
                std::vector<double> &d = diffs[worker];
                d.resize(n);
                for (std::size_t i = 0; i < n; ++i)
                    d[i] = buf[0][i] - buf[1][i];
                cpu_kernels::addLinearBins(doubleBlock(buf[0], n), values, c);
                cpu_kernels::addLinearBins(doubleBlock(buf[1], n), values, c + slots);
                cpu_kernels::addLinearBins(doubleBlock(d.data(), n), differences, c + 2 * slots);
            },
            progress, progressBase, progressTotal, error);
        if (status != BackendStatus::Ok)
            return status;
        out.a.assign(spec.bins, 0);
        out.b.assign(spec.bins, 0);
        out.diff.assign(spec.bins, 0);
        for (const auto &c : counts)
            for (std::size_t k = 0; k < spec.bins; ++k) {
                out.a[k] += c[k];
                out.b[k] += c[slots + k];
                out.diff[k] += c[2 * slots + k];
            }
        return BackendStatus::Ok;
    }

private:
    static bool sameSize(const ElementSource &a, const ElementSource &b, std::string *error)
    {
        if (a.size() == b.size())
            return true;
        if (error)
            *error = "the two sides have different numbers of elements (" + std::to_string(a.size()) + " and "
                + std::to_string(b.size()) + ")";
        return false;
    }

    // Splits the source into units of kUnitElements and those into blocks of kBlockElements, hands
    // the units to m_threads workers (the calling thread is one of them and the only one that
    // reports progress) and calls fn(unit, block, worker) for each block in order. The raw float32
    // and float64 bytes of a unit are first copied out of the file (ElementSource::copyRaw, which
    // makes no page-table entry and adds nothing to the resident set) into the worker's stage, or
    // into the kept copy of a source read twice in a row (keepBetweenPasses; its second pass then
    // reads nothing); where they cannot be (bytes in memory) they are read where they lie. A block
    // inside one such run is handed over as those bytes; any other is converted to doubles into
    // the worker's buffer, from raw runs directly and from the rest through a cursor. Block
    // boundaries depend only on positions, so the kernels see the same blocks whatever the runs,
    // the thread count or the instruction set. Mapped bytes read in place leave the resident set
    // behind the units done (DirectReadRelease).
    template<typename Fn>
    BackendStatus runBlocks(const ElementSource &source, Fn fn, const ProgressFn &progress,
                            std::uint64_t progressBase, std::uint64_t progressTotal, std::string *error)
    {
        std::lock_guard<std::mutex> one(m_callMutex); // the kept copy and the stages are this call's
        const std::uint64_t total = source.size();
        const std::vector<ElementRun> runs = checkedRuns(source);

        // The kept copy: every direct run's bytes end to end, at keepOffset[run].
        std::vector<std::uint64_t> keepOffset(runs.size(), 0);
        std::uint64_t directBytes = 0;
        for (std::size_t r = 0; r < runs.size(); ++r) {
            keepOffset[r] = directBytes;
            if (readsDirectly(runs[r]))
                directBytes += runs[r].count * directSize(runs[r]);
        }
        const bool useKept = m_keptSerial == source.serial() && m_keptBytes == directBytes && directBytes;
        const bool fillKept = !useKept && source.keepBetweenPasses() && directBytes && directBytes <= kKeepBytes;
        m_keptSerial = 0; // used now, or replaced
        const bool haveKept = useKept || (fillKept && m_kept.reserve(static_cast<std::size_t>(directBytes)));
        std::uint8_t *const keep = haveKept ? m_kept.data() : nullptr;
        if (m_stages.size() < m_threads)
            m_stages = std::vector<ScratchBytes>(m_threads);

        const std::uint64_t units = (total + kUnitElements - 1) / kUnitElements;
        std::atomic<std::uint64_t> next{0};
        PassState pass(progress, progressBase, progressTotal);
        DirectReadRelease releaser(source, runs, units);

        auto worker = [&](unsigned id, bool reports) {
            // Finds runs, and reads the elements that are not raw float32/float64.
            DoubleReader reader(source, runs);
            auto runAt = [&reader](std::uint64_t pos) { return reader.runAt(pos); };
            std::vector<double> buffer(kBlockElements);
            ScratchBytes &stage = m_stages[id];
            // Per direct run in the current unit: its first element there and where that lies now.
            struct Staged
            {
                std::size_t run;
                std::uint64_t from;
                const std::uint8_t *at;
            };
            std::vector<Staged> staged;
            auto bytesAt = [&](std::size_t r, std::uint64_t pos) {
                for (const Staged &st : staged)
                    if (st.run == r)
                        return st.at + (pos - st.from) * directSize(runs[r]);
                return static_cast<const std::uint8_t *>(nullptr); // not reached: every direct run is staged
            };
            std::uint64_t unreported = 0;

            while (!pass.stop.load(std::memory_order_relaxed)) {
                const std::uint64_t unit = next.fetch_add(1);
                if (unit >= units)
                    break;
                const std::uint64_t begin = unit * kUnitElements;
                const std::uint64_t end = std::min(total, begin + kUnitElements);

                staged.clear();
                bool inPlace = false;
                for (std::size_t r = runAt(begin); r < runs.size() && runs[r].first < end; ++r) {
                    const ElementRun &run = runs[r];
                    if (!readsDirectly(run))
                        continue;
                    const std::size_t size = directSize(run);
                    const std::uint64_t from = std::max(run.first, begin), to = std::min(run.first + run.count, end);
                    const std::uint8_t *src = run.bytes + (from - run.first) * size;
                    const auto n = static_cast<std::size_t>((to - from) * size);
                    std::uint8_t *dst = nullptr;
                    if (keep) {
                        dst = keep + keepOffset[r] + (from - run.first) * size;
                    } else {
                        dst = stage.reserve(kUnitElements * 8) ? stage.data() + (from - begin) * 8 : nullptr;
                    }
                    const std::uint8_t *at = dst;
                    if (!dst) {
                        at = src; // no memory for a stage: read in place
                        inPlace = true;
                    } else if (useKept) {
                        // read in the first pass
                    } else if (source.copyRaw(src, n, dst)) {
                        // copied out of the file
                    } else if (keep) {
                        std::memcpy(dst, src, n);
                        inPlace = true;
                    } else {
                        at = src;
                        inPlace = true;
                    }
                    staged.push_back(Staged{r, from, at});
                }

                for (std::uint64_t at = begin; at < end && !pass.stop.load(std::memory_order_relaxed);) {
                    const auto m = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockElements, end - at));
                    const std::size_t r0 = runAt(at);
                    const ElementRun &run = runs[r0];
                    Block block;
                    if (readsDirectly(run) && at + m <= run.first + run.count) {
                        block = Block{bytesAt(r0, at), m, run.type == RawElement::F32};
                    } else {
                        // Several runs, or elements that need more than a float conversion.
                        for (std::uint64_t pos = at; pos < at + m;) {
                            const std::size_t r = runAt(pos);
                            const ElementRun &piece = runs[r];
                            const auto n = static_cast<std::size_t>(
                                std::min<std::uint64_t>(at + m, piece.first + piece.count) - pos);
                            double *out = buffer.data() + (pos - at);
                            if (readsDirectly(piece)) {
                                DoubleReader::convert(bytesAt(r, pos), piece.type, n, out);
                            } else if (!reader.readCursor(pos, n, out)) {
                                pass.failed = true;
                                pass.stop = true;
                                break;
                            }
                            pos += n;
                        }
                        if (pass.failed.load())
                            break;
                        block = doubleBlock(buffer.data(), m);
                    }
                    fn(unit, block, id);
                    at += m;
                    pass.done.fetch_add(m);
                    unreported += m;
                    if (reports && (unreported >= kBufferElements || at == end)) {
                        unreported = 0;
                        pass.report();
                    }
                }
                if (!pass.failed.load())
                    releaser.unitDone(unit, inPlace);
            }
        };

        m_pool.run(static_cast<unsigned>(std::min<std::uint64_t>(m_threads, std::max<std::uint64_t>(units, 1))), worker);
        releaser.finish();
        const BackendStatus status = pass.finish(error);
        if (fillKept && keep && status == BackendStatus::Ok) {
            m_keptSerial = source.serial();
            m_keptBytes = directBytes;
        }
        return status;
    }

    // Splits the sources (all of the first one's size) into units of kUnitElements, hands them to
    // m_threads workers (the calling thread is one of them and the only one that reports
    // progress), reads each unit of every source in step, and calls
    // fn(unit, firstElement, buffers, count, worker) for each buffer read, buffers[k] holding
    // source k's elements.
    template<typename Fn>
    BackendStatus run(std::initializer_list<const ElementSource *> sourceList, Fn fn, const ProgressFn &progress,
                      std::uint64_t progressBase, std::uint64_t progressTotal, std::string *error)
    {
        const std::vector<const ElementSource *> sources(sourceList);
        const std::uint64_t total = sources.front()->size();
        const std::uint64_t units = (total + kUnitElements - 1) / kUnitElements;
        std::atomic<std::uint64_t> next{0};
        PassState pass(progress, progressBase, progressTotal);
        std::vector<std::vector<ElementRun>> runs;
        for (const ElementSource *source : sources)
            runs.push_back(checkedRuns(*source));

        auto worker = [&](unsigned id, bool reports) {
            std::vector<DoubleReader> readers;
            std::vector<std::vector<double>> buffers;
            std::vector<const double *> views;
            for (std::size_t k = 0; k < sources.size(); ++k) {
                readers.emplace_back(*sources[k], runs[k]);
                buffers.emplace_back(kBufferElements);
                views.push_back(buffers.back().data());
            }
            while (!pass.stop.load(std::memory_order_relaxed)) {
                const std::uint64_t unit = next.fetch_add(1);
                if (unit >= units)
                    break;
                const std::uint64_t begin = unit * kUnitElements;
                const std::uint64_t end = std::min(total, begin + kUnitElements);
                for (std::uint64_t at = begin; at < end && !pass.stop.load(std::memory_order_relaxed);) {
                    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kBufferElements, end - at));
                    bool complete = true;
                    for (std::size_t k = 0; k < readers.size() && complete; ++k)
                        complete = readers[k].read(at, want, buffers[k].data());
                    if (!complete) {
                        pass.failed = true;
                        pass.stop = true;
                        break;
                    }
                    fn(unit, at, views.data(), want, id);
                    at += want;
                    pass.done.fetch_add(want);
                    if (reports)
                        pass.report();
                }
            }
        };

        m_pool.run(static_cast<unsigned>(std::min<std::uint64_t>(m_threads, std::max<std::uint64_t>(units, 1))), worker);
        return pass.finish(error);
    }

    // A source's raw bytes kept from its first pass for its second (keepBetweenPasses): at most this.
    static constexpr std::uint64_t kKeepBytes = std::uint64_t(64) << 20;

    unsigned m_threads;
    std::mutex m_callMutex;
    WorkerPool m_pool;
    // Per worker, a unit's raw bytes copied out of the file (made on first use, kept for the next
    // passes); and one kept copy (m_keptSerial: the source it holds whole, 0 when none).
    std::vector<ScratchBytes> m_stages;
    ScratchBytes m_kept;
    std::uint64_t m_keptSerial = 0;
    std::uint64_t m_keptBytes = 0;
};

// Several tensors read one after the other as a single sequence.
class TensorGroupSource final : public ElementSource
{
public:
    // `raw`: per tensor, its raw element bytes (TensorElementReader::rawBytes; bytes null when none).
    // `files`: the mappings the raw bytes lie in (per tensor; repeats and nulls allowed).
    TensorGroupSource(const Checkpoint &cp, std::vector<std::uint32_t> tensors, std::vector<std::uint64_t> sizes,
                      std::vector<ElementRun> raw, std::vector<const MappedFile *> files)
        : m_cp(cp)
        , m_tensors(std::move(tensors))
        , m_raw(std::move(raw))
        , m_files(std::move(files))
    {
        // Each mapping once (a checkpoint's tensors mostly share one), none null.
        std::sort(m_files.begin(), m_files.end());
        m_files.erase(std::unique(m_files.begin(), m_files.end()), m_files.end());
        m_files.erase(std::remove(m_files.begin(), m_files.end(), nullptr), m_files.end());
        m_starts.push_back(0);
        for (std::uint64_t s : sizes)
            m_starts.push_back(m_starts.back() + s);
    }

    std::uint64_t size() const override { return m_starts.back(); }
    std::unique_ptr<ElementCursor> cursor() const override { return std::make_unique<Cursor>(*this); }

    std::vector<ElementRun> runs() const override
    {
        std::vector<ElementRun> out;
        for (std::size_t k = 0; k < m_tensors.size(); ++k) {
            const std::uint64_t count = m_starts[k + 1] - m_starts[k];
            if (count == 0)
                continue;
            ElementRun r = k < m_raw.size() ? m_raw[k] : ElementRun{};
            r.first = m_starts[k];
            r.count = count;
            if (!r.bytes)
                r.type = RawElement::F64;
            // Neighbouring runs read through the cursor are merged into one.
            if (!r.bytes && !out.empty() && !out.back().bytes)
                out.back().count += count;
            else
                out.push_back(r);
        }
        return out;
    }

    void doneWith(const std::uint8_t *begin, const std::uint8_t *end) const override
    {
        if (!m_holdPages)
            release(begin, end);
    }

    bool copyRaw(const std::uint8_t *at, std::size_t n, std::uint8_t *out) const override
    {
        const MappedFile *f = fileOf(at, at + n);
        return f && f->copyOut(at, n, out);
    }

    bool keepBetweenPasses() const override { return m_holdPages; }

    // Held: the caller reads the source twice in a row. A backend may keep its raw bytes from the
    // first pass for the second (keepBetweenPasses), and doneWith keeps mapped pages mapped (the
    // next pass releases them as it reads).
    void holdPages(bool hold) { m_holdPages = hold; }

    // The raw bytes of every tensor leave the resident set (after a held pass that had no sequel).
    void releaseAll() const
    {
        for (const ElementRun &r : runs())
            if (r.bytes)
                release(r.bytes, r.bytes + r.count * rawElementSize(r.type));
    }

    std::uint64_t rawBytes() const
    {
        std::uint64_t n = 0;
        for (const ElementRun &r : runs())
            n += r.bytes ? r.count * rawElementSize(r.type) : 0;
        return n;
    }

private:
    // The mapping [begin, end) lies in, or null.
    const MappedFile *fileOf(const std::uint8_t *begin, const std::uint8_t *end) const
    {
        for (const MappedFile *f : m_files) {
            const std::span<const std::uint8_t> bytes = f->bytes();
            if (begin >= bytes.data() && end <= bytes.data() + bytes.size())
                return f;
        }
        return nullptr;
    }

    void release(const std::uint8_t *begin, const std::uint8_t *end) const
    {
        if (const MappedFile *f = fileOf(begin, end))
            f->releasePages(begin, end);
    }

    class Cursor final : public ElementCursor
    {
    public:
        explicit Cursor(const TensorGroupSource &s)
            : m_s(s)
        {
        }

        void seek(std::uint64_t index) override
        {
            // The tensor holding `index`: the last start <= index among non-empty tensors.
            auto it = std::upper_bound(m_s.m_starts.begin(), m_s.m_starts.end() - 1, index);
            std::size_t k = static_cast<std::size_t>(it - m_s.m_starts.begin()) - 1;
            while (k + 1 < m_s.m_tensors.size() && m_s.m_starts[k + 1] == m_s.m_starts[k])
                ++k;
            if (!select(k))
                return;
            if (m_reader)
                m_reader->seek(index - m_s.m_starts[k]);
        }

        std::size_t read(std::span<double> out) override
        {
            std::size_t done = 0;
            while (done < out.size() && m_current < m_s.m_tensors.size()) {
                if (!m_reader)
                    return done;
                const std::size_t r = m_reader->read(out.subspan(done));
                done += r;
                if (r == 0) {
                    if (m_current + 1 >= m_s.m_tensors.size() || !select(m_current + 1))
                        break;
                    m_reader->seek(0);
                }
            }
            return done;
        }

    private:
        bool select(std::size_t k)
        {
            if (k >= m_s.m_tensors.size())
                return false;
            if (k == m_current && m_reader)
                return true;
            m_current = k;
            auto r = TensorElementReader::open(m_s.m_cp, m_s.m_tensors[k]);
            m_reader = r ? std::move(*r) : nullptr;
            return m_reader != nullptr;
        }

        const TensorGroupSource &m_s;
        std::size_t m_current = static_cast<std::size_t>(-1);
        std::unique_ptr<TensorElementReader> m_reader;
    };

    const Checkpoint &m_cp;
    std::vector<std::uint32_t> m_tensors;
    std::vector<ElementRun> m_raw;
    std::vector<const MappedFile *> m_files;
    std::vector<std::uint64_t> m_starts;
    bool m_holdPages = false;
};

// Bin edges of the log-magnitude histogram, in |x| units, from its log10 range.
std::vector<double> logEdges(double lo, double hi, std::uint32_t bins, double first, double last)
{
    std::vector<double> edges(bins + 1);
    edges[0] = first;
    edges[bins] = last;
    for (std::uint32_t i = 1; i < bins; ++i)
        edges[i] = std::max(edges[i - 1], std::pow(10.0, lo + (hi - lo) * static_cast<double>(i) / bins));
    edges[bins] = std::max(edges[bins], edges[bins - 1]);
    return edges;
}

} // namespace

std::unique_ptr<HistogramBackend> makeCpuHistogramBackend(unsigned threads)
{
    return std::make_unique<CpuHistogramBackend>(threads);
}

BackendStatus HistogramBackend::compare(const ElementSource &a, const ElementSource &b, const PairTolerance &tolerance,
                                        PairSummary &out, const ProgressFn &progress, std::uint64_t progressBase,
                                        std::uint64_t progressTotal, std::string *error)
{
    return CpuHistogramBackend(0).compare(a, b, tolerance, out, progress, progressBase, progressTotal, error);
}

BackendStatus HistogramBackend::pairHistogram(const ElementSource &a, const ElementSource &b, const PairBinSpec &spec,
                                              PairBinCounts &out, const ProgressFn &progress,
                                              std::uint64_t progressBase, std::uint64_t progressTotal,
                                              std::string *error)
{
    return CpuHistogramBackend(0).pairHistogram(a, b, spec, out, progress, progressBase, progressTotal, error);
}

namespace {

Result<std::unique_ptr<TensorGroupSource>> groupSource(const Checkpoint &cp, const std::vector<std::uint32_t> &tensors)
{
    // Every tensor opened once up front: one that cannot be read is an error with its reason,
    // before any work starts.
    std::vector<std::uint64_t> sizes;
    std::vector<ElementRun> raw;
    std::vector<const MappedFile *> files;
    for (std::uint32_t t : tensors) {
        auto r = TensorElementReader::open(cp, t);
        if (!r)
            return r.error();
        sizes.push_back((*r)->numel());
        ElementRun run;
        if (!(*r)->rawBytes(run.type, run.bytes))
            run = ElementRun{};
        raw.push_back(run);
        // The reader's mapping (TensorElementReader::open): the storage's own (shards) or the file's.
        const std::int32_t storage = cp.tensors[t].storage;
        const MappedFile *file = cp.file.get();
        if (storage >= 0 && static_cast<std::size_t>(storage) < cp.storages.size()
            && cp.storages[static_cast<std::size_t>(storage)].file)
            file = cp.storages[static_cast<std::size_t>(storage)].file.get();
        files.push_back(file);
    }
    return std::make_unique<TensorGroupSource>(cp, tensors, sizes, std::move(raw), std::move(files));
}

} // namespace

Result<std::unique_ptr<ElementSource>> tensorElementSource(const Checkpoint &cp,
                                                           const std::vector<std::uint32_t> &tensors)
{
    auto source = groupSource(cp, tensors);
    if (!source)
        return source.error();
    return std::unique_ptr<ElementSource>(std::move(*source));
}

Result<TensorStats> computeStats(const Checkpoint &cp, const std::vector<std::uint32_t> &tensors,
                                 const StatsRequest &request, const ProgressSink &progress, HistogramBackend *backend)
{
    constexpr std::uint32_t kMaxBins = 1u << 24;
    auto requestError = [&](const std::string &why) {
        Error e = makeError(ErrorCode::InvalidTensor, why);
        e.path = cp.path;
        return e;
    };
    if (request.bins > kMaxBins || request.logBins > kMaxBins)
        return requestError("at most " + std::to_string(kMaxBins) + " histogram bins");
    if (request.range
        && (!std::isfinite(request.range->first) || !std::isfinite(request.range->second)
            || request.range->first > request.range->second))
        return requestError("the histogram range must be finite with min <= max");

    auto opened = groupSource(cp, tensors);
    if (!opened)
        return opened.error();
    TensorGroupSource &source = **opened;

    std::unique_ptr<HistogramBackend> own;
    if (!backend) {
        own = makeCpuHistogramBackend();
        backend = own.get();
    }
    const std::uint64_t n = source.size();
    const bool secondPass = request.bins > 0 || request.logHistogram;
    const std::uint64_t progressTotal = secondPass ? 2 * n : n;

    auto statusError = [&](BackendStatus s, const std::string &why) {
        Error e = s == BackendStatus::Cancelled
            ? makeError(ErrorCode::Cancelled, "statistics cancelled")
            : makeError(ErrorCode::ReadFailed, "the " + backend->name() + " backend failed: " + why);
        e.path = cp.path;
        return e;
    };

    // A source this small stays mapped from the first pass to the second, which then neither
    // faults its pages back in nor (the smallest) misses the cache. Larger ones are released as
    // they are read in both passes, so that memory stays flat.
    constexpr std::uint64_t kHoldBytes = std::uint64_t(64) << 20;
    const bool hold = secondPass && source.rawBytes() <= kHoldBytes;
    source.holdPages(hold);
    MomentSummary m;
    std::string why;
    BackendStatus s = backend->summarize(source, m, progress, 0, progressTotal, &why);
    source.holdPages(false);
    if (s != BackendStatus::Ok) {
        if (hold)
            source.releaseAll();
        return statusError(s, why);
    }

    TensorStats out;
    out.numel = n;
    for (std::uint32_t t : tensors)
        if (isComplexDtype(cp.tensors[t].dtype))
            out.complexCount += cp.tensors[t].numel;
    out.finiteCount = m.count;
    out.nan = m.nan;
    out.posInf = m.posInf;
    out.negInf = m.negInf;
    out.zeros = m.zeros;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    out.min = m.count ? m.min : nan;
    out.max = m.count ? m.max : nan;
    out.mean = m.count ? m.mean : nan;
    out.std = m.count ? std::sqrt(m.m2 / static_cast<double>(m.count)) : nan;

    if (!secondPass)
        return out;

    BinSpec spec;
    spec.bins = request.bins;
    // torch.histc: a range with min == max means "use the data's min and max".
    std::pair<double, double> range = request.range && request.range->first != request.range->second
        ? *request.range
        : histcRange(m.count ? m.min : 0.0, m.count ? m.max : 0.0, request.edges);
    if (request.range && request.range->first == request.range->second && m.count == 0)
        range = histcRange(request.range->first, request.range->second, request.edges);
    const auto edges = histcEdges(range.first, range.second, request.bins, request.edges);
    spec.lo = edges.first;
    spec.hi = edges.second;
    spec.divideFirst = request.edges == HistcEdges::Torch1_13;
    // torch 1.13's linspace makes the last edge NaN when max - min overflows the doubles, and then
    // counts every finite value in bin 0 (its range test lets them through and the quotient is not
    // a number). The kernels get the largest double instead: the width stays infinite, so the bins
    // are the same, and +Inf still falls outside. The edge reported is torch's.
    const bool nanEdge = spec.divideFirst && std::isnan(spec.hi) && std::isfinite(spec.lo);
    if (nanEdge)
        spec.hi = std::numeric_limits<double>::max();
    // Every value finite and inside the range, no product (x - lo) * bins that overflows, and a
    // width that is not 0 (torch 1.13's range of a constant beyond 2^53: every quotient 0 / 0).
    spec.inside = m.count > 0 && m.count == n && spec.lo <= m.min && m.max <= spec.hi && spec.lo < spec.hi
        && std::isfinite((spec.hi - spec.lo) * static_cast<double>(spec.bins));
    const std::uint32_t logBins = request.logBins ? request.logBins : (request.bins ? request.bins : 64);
    const bool haveMagnitudes = m.count > m.zeros && m.maxAbs > 0.0;
    if (request.logHistogram) {
        double lo = haveMagnitudes ? std::log10(m.minAbs) : 0.0;
        double hi = haveMagnitudes ? std::log10(m.maxAbs) : 0.0;
        double first = m.minAbs, last = m.maxAbs;
        if (!haveMagnitudes || lo >= hi) {
            lo -= 1.0;
            hi += 1.0;
            first = std::pow(10.0, lo);
            last = std::pow(10.0, hi);
        }
        out.logHistogram.min = lo;
        out.logHistogram.max = hi;
        spec.logEdges = logEdges(lo, hi, logBins, first, last);
    }
    // A range wider than the doubles: torch 2.x's edges are then not numbers and it counts nothing
    // (torch 1.13 counts its values in bin 0, which the bin rule gives).
    const std::uint32_t bins = spec.bins;
    const bool countsNothing = !spec.divideFirst && !std::isfinite(spec.hi - spec.lo);
    if (countsNothing)
        spec.bins = 0;
    BinCounts counts;
    if (spec.bins || !spec.logEdges.empty()) {
        s = backend->histogram(source, spec, counts, progress, n, progressTotal, &why);
        if (s != BackendStatus::Ok)
            return statusError(s, why);
    }
    else if (progress)
        progress(progressTotal, progressTotal); // no second pass to make
    if (countsNothing)
        counts.counts.assign(bins, 0);
    out.histogram.min = spec.lo;
    out.histogram.max = nanEdge ? edges.second : spec.hi;
    out.histogram.counts = std::move(counts.counts);
    out.logHistogram.counts = std::move(counts.logCounts);
    return out;
}

} // namespace ptscope::core
