// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The compute boundary between the core and its backends (CPU here, CUDA in ptscope_cuda). Only
// standard types appear here so a backend can be built without Qt and without the checkpoint model.
//
// Binning rule, shared by every backend so that they give identical counts. It is torch.histc's CPU
// kernel (LINEAR_INTERPOLATION), evaluated in double, in the order of the torch answered for:
//     skip x unless lo <= x <= hi (NaN and values outside the range are skipped);
//     torch 2.x:  bin = (int64) (((x - lo) * bins) / (hi - lo));  // three IEEE double operations,
//     torch 1.13: bin = (int64) (((x - lo) / (hi - lo)) * bins);  // in this order (divideFirst)
//     if (bin >= bins) bin = bins - 1;                  // the maximum belongs to the last bin
// The two orders disagree on values placed exactly on an edge (x - lo = 290, hi - lo = 1000, 100 bins:
// 290 / 1000 * 100 = 28.999999999999996, bin 28 under 1.13; 290 * 100 / 1000 = 29 under 2.x), which
// integer-valued tensors hit often; both were checked against those torches (crosscheck_stats.py).
// Do not precompute bins / (hi - lo), and do not fuse into an FMA: either moves values that sit on bin
// edges. lo and hi are the first and last of torch's linspace(min, max, bins + 1) edges, which the core
// computes (histcEdges in tensor_stats.h): the data's min and max, or under torch 1.13's rules a hi that
// can be one ulp below the maximum. A quotient that is not finite (a product (x - lo) * bins beyond
// the double range, an infinite width) lands in bin 0, as in both torches (checked with 1.13 and
// 2.14; the cast of inf or NaN to int64 comes out as bin 0 there).
//
// Log-magnitude bins are equal-width in log10(|x|) space, but elements are placed by comparing |x|
// against edges precomputed once on the host (BinSpec::edges, |x| units), so no backend depends on
// its own log10 rounding: bin = (index of the last edge <= |x|), the last edge belongs to the last
// bin; zeros, NaN and Inf are skipped.
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ptscope::core {

// A cursor over a sequence of elements already converted to double. Each worker thread gets its own.
class ElementCursor
{
public:
    virtual ~ElementCursor() = default;
    virtual void seek(std::uint64_t index) = 0;
    // Writes up to out.size() next elements; returns how many (0 at the end or on a read error).
    virtual std::size_t read(std::span<double> out) = 0;
};

// Element encodings a backend may convert itself (the CUDA backend converts them on the device),
// each exactly as the core's element reader converts it (tensor_data.h): bool is 1 for any
// non-zero byte, the float8 variants follow c10.
enum class RawElement : std::uint8_t {
    F64, F32, F16, BF16, F8E5M2, F8E4M3FN, F8E5M2FNUZ, F8E4M3FNUZ, F8E8M0,
    I64, I32, I16, I8, U64, U32, U16, U8, Bool,
};

// A run of consecutive elements of a source, [first, first + count). `bytes` non-null: the run is
// `count` contiguous little-endian elements of `type`, in memory (the mapped file) that stays valid
// while the source lives. `bytes` null: the run has to be read through cursor() as doubles (views
// with strides, quantized, sparse and complex tensors, big-endian files).
struct ElementRun
{
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    const std::uint8_t *bytes = nullptr;
    RawElement type = RawElement::F64;
};

// The elements to summarise: one tensor or the concatenation of several.
class ElementSource
{
public:
    virtual ~ElementSource() = default;
    virtual std::uint64_t size() const = 0;
    virtual std::unique_ptr<ElementCursor> cursor() const = 0;
    // The source as consecutive runs covering [0, size()) in order. The default is one run read
    // through the cursor; sources over mapped files describe their contiguous tensors' raw bytes.
    virtual std::vector<ElementRun> runs() const { return {ElementRun{0, size(), nullptr, RawElement::F64}}; }
    // A backend that read bytes [begin, end) of its runs directly, not through a cursor, says so
    // when done with them: a source over a mapped file then lets those pages leave the resident
    // set (whole pages only), as its cursors do. The default does nothing.
    virtual void doneWith(const std::uint8_t *begin, const std::uint8_t *end) const { (void)begin, (void)end; }
    // Copies n bytes of a run, from `at` inside its bytes, to `out` without touching the memory
    // they are mapped at (pread from the file); false when that cannot be done (bytes in memory, a
    // read error): the backend then reads `at` itself. The default cannot.
    virtual bool copyRaw(const std::uint8_t *at, std::size_t n, std::uint8_t *out) const
    {
        (void)at, (void)n, (void)out;
        return false;
    }
    // True while the caller means to read the source twice in a row (statistics, then their
    // histogram) and it is small enough that a backend may keep its raw bytes from the first pass
    // for the second (at most 64 MiB).
    virtual bool keepBetweenPasses() const { return false; }
    // Tells sources apart across calls, where an address could be reused.
    std::uint64_t serial() const { return m_serial; }

private:
    static std::uint64_t nextSerial()
    {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
    }
    const std::uint64_t m_serial = nextSerial();
};

// First-pass result: counts, extrema and moments over the finite values. `mean` and `m2` (sum of
// squared deviations from the mean) are merged with Chan et al.'s pairwise update, which keeps
// std accurate when |mean| >> std.
struct MomentSummary
{
    std::uint64_t count = 0;  // finite values
    std::uint64_t nan = 0;
    std::uint64_t posInf = 0;
    std::uint64_t negInf = 0;
    std::uint64_t zeros = 0;  // +0 and -0
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double minAbs = std::numeric_limits<double>::infinity(); // smallest non-zero finite |x|
    double maxAbs = 0.0;
    double mean = 0.0;
    double m2 = 0.0;

    void merge(const MomentSummary &other);
};

struct BinSpec
{
    std::uint32_t bins = 0;     // 0: no linear histogram
    double lo = 0.0;
    double hi = 0.0;
    bool divideFirst = false; // torch 1.13's order (see the rule above); else torch 2.x's
    // The caller knows every element to be finite and inside [lo, hi], lo < hi and (hi - lo) * bins
    // finite (the range is the data's own and pass 1 found no NaN or infinity): a backend may then
    // leave out its range tests. Counts are the same either way.
    bool inside = false;
    std::vector<double> logEdges; // log-magnitude histogram: logBins + 1 increasing |x| edges; empty: none
};

struct BinCounts
{
    std::vector<std::uint64_t> counts;    // bins
    std::vector<std::uint64_t> logCounts; // logEdges.size() - 1
};

// Called from the thread that called the backend, with monotonically increasing `done`; returning
// false cancels the work.
using ProgressFn = std::function<bool(std::uint64_t done, std::uint64_t total)>;

enum class BackendStatus { Ok, Cancelled, Failed };

// ---- Pairs: two sources of the same size, element by element ------------------------------------
//
// Rule for one position, x from source a and y from source b (each converted to double as the
// element reader converts it), that of ValueComparator in value_compare.h (torch 1.13's
// torch.equal, torch.allclose, cosine_similarity; verified against torch):
//     numel += 1; dot += x * y; normA += x * x; normB += y * y;   // every position (NaN/Inf propagate)
//     x == y (equal infinities included): a difference of 0; sumSqB += y * y
//     else: differing += 1; d = |x - y|;
//         d is NaN:  nanDiffs += 1; notClose += 1
//         otherwise: notClose += !(d <= atol + rtol * |y|) || d == inf; maxAbsDiff = max(maxAbsDiff, d);
//                    sumAbsDiff += d; sumSqDiff += d * d; sumSqB += y * y
//     x, y and x - y: a finite value widens its range (min, max), any other is counted non-finite.
// Backends sum in a fixed order within a work item (the CPU: four interleaved lanes, see
// accumulatePair) and merge items in a fixed order, so a result does not depend on the number of
// threads; counts, flags and extrema are exact everywhere, sums
// agree across backends to rounding.

// The finite minimum and maximum of some values, and how many were not finite.
struct FiniteRange
{
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    std::uint64_t nonFinite = 0;

    bool any() const { return min <= max; }
    void merge(const FiniteRange &o)
    {
        min = o.min < min ? o.min : min;
        max = o.max > max ? o.max : max;
        nonFinite += o.nonFinite;
    }
};

struct PairTolerance
{
    double rtol = 1e-5; // torch.allclose's defaults
    double atol = 1e-8;
};

// First pass over a pair: everything the value comparison and the histogram ranges need.
struct PairSummary
{
    std::uint64_t numel = 0;
    std::uint64_t differing = 0; // x != y (NaN differs from everything)
    std::uint64_t nanDiffs = 0;  // |x - y| is NaN (a NaN on either side, or inf - inf)
    std::uint64_t notClose = 0;  // positions that fail allclose (NaN differences included)
    double maxAbsDiff = 0.0;     // over positions whose difference is a number
    double sumAbsDiff = 0.0;     // the same positions ("counted": numel - nanDiffs)
    double sumSqDiff = 0.0;
    double sumSqB = 0.0;
    double dot = 0.0;            // every position
    double normA = 0.0;
    double normB = 0.0;
    FiniteRange a, b, diff;      // of x, of y and of x - y

    bool identical() const { return differing == 0; }
    bool allclose() const { return notClose == 0; }
    // `o` covers the positions after this one's: sums add in that order.
    void merge(const PairSummary &o);
};

// Adds positions x[i], y[i] (i < n) to `s` with the rule above: the reference every backend is held
// to. Sums run in four interleaved lanes (position i in lane i % 4), added (l0 + l1) + (l2 + l3)
// at the end of the call, the same on every machine; counts, flags and extrema are exact.
void accumulatePair(PairSummary &s, const double *x, const double *y, std::size_t n, const PairTolerance &tol);

// Second pass: `bins` histc bins (rule at the top of this file) of x and of y on the shared range
// [lo, hi], and of x - y on [diffLo, diffHi].
struct PairBinSpec
{
    std::uint32_t bins = 0;
    double lo = 0.0;
    double hi = 0.0;
    double diffLo = 0.0;
    double diffHi = 0.0;
};

struct PairBinCounts
{
    std::vector<std::uint64_t> a, b, diff; // bins each
};

// Size in bytes of one element of `type`.
std::size_t rawElementSize(RawElement type);

// A source's runs as ElementSource::runs() gives them, or one run read through the cursor when
// they do not cover [0, size()) in order: what a backend walks for one source.
std::vector<ElementRun> checkedRuns(const ElementSource &source);

// A stretch of positions [first, first + count) that lies inside one run of each source: the
// intersection of two run lists. bytesA/bytesB (null: read through the cursor) point at the
// element `first` itself.
struct PairRun
{
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    const std::uint8_t *bytesA = nullptr;
    RawElement typeA = RawElement::F64;
    const std::uint8_t *bytesB = nullptr;
    RawElement typeB = RawElement::F64;
};

// Walks both run lists (each covering [0, size) in order, as ElementSource::runs promises) and
// returns their intersection in order. Where the lists disagree (a gap, an overlap, different
// totals) it stops: the caller checks that the counts add up to the size.
std::vector<PairRun> pairRuns(const std::vector<ElementRun> &a, const std::vector<ElementRun> &b);

// A backend keeps threads, buffers and (CUDA) a context between calls, so one object serves many
// tensors cheaply; calls on one object from several threads run one after the other.
class HistogramBackend
{
public:
    virtual ~HistogramBackend() = default;
    virtual std::string name() const = 0; // "cpu", "cuda"

    // Pass 1. `progressBase`/`progressTotal` let a caller run both passes under one progress bar.
    virtual BackendStatus summarize(const ElementSource &source, MomentSummary &out, const ProgressFn &progress,
                                    std::uint64_t progressBase, std::uint64_t progressTotal, std::string *error)
        = 0;
    // Pass 2: counts under `spec` (see the binning rule at the top of this file).
    virtual BackendStatus histogram(const ElementSource &source, const BinSpec &spec, BinCounts &out,
                                    const ProgressFn &progress, std::uint64_t progressBase,
                                    std::uint64_t progressTotal, std::string *error)
        = 0;

    // Pair pass 1 over two sources of the same size (Failed with the reason when the sizes differ).
    // The default runs on the CPU backend; the CPU and CUDA backends implement it themselves.
    virtual BackendStatus compare(const ElementSource &a, const ElementSource &b, const PairTolerance &tolerance,
                                  PairSummary &out, const ProgressFn &progress, std::uint64_t progressBase,
                                  std::uint64_t progressTotal, std::string *error);
    // Pair pass 2: the counts under `spec` (bins from 1 to 2^20).
    virtual BackendStatus pairHistogram(const ElementSource &a, const ElementSource &b, const PairBinSpec &spec,
                                        PairBinCounts &out, const ProgressFn &progress, std::uint64_t progressBase,
                                        std::uint64_t progressTotal, std::string *error);
};

// The reference backend: all cores (threads = 0 means std::thread::hardware_concurrency()).
// Results are identical for every thread count: chunk partials are merged in chunk order.
std::unique_ptr<HistogramBackend> makeCpuHistogramBackend(unsigned threads = 0);

// The bin of x under the linear rule above, or -1 when x is skipped. Exposed so that tests and
// other backends can check themselves against the exact formula.
inline std::int64_t histcBin(double x, double lo, double hi, std::uint32_t bins, bool divideFirst)
{
    if (!(x >= lo && x <= hi))
        return -1;
    const double b = static_cast<double>(bins);
    const double q = divideFirst ? ((x - lo) / (hi - lo)) * b : ((x - lo) * b) / (hi - lo);
    if (!(q <= std::numeric_limits<double>::max()))
        return 0; // NaN or infinite
    return q < b - 1.0 ? static_cast<std::int64_t>(q) : static_cast<std::int64_t>(bins) - 1;
}

} // namespace ptscope::core
