// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The CUDA kernels' element conversion and bin rules, compiled for the host from the same source
// (cuda/stats_kernels.cu), held to the core's: every encoding of the 8- and 16-bit floats, random
// patterns of the wider types, whole histograms against the CPU backend, and the pair rule (value
// comparison and its three histograms) against the core's accumulatePair and CPU pair pass. Runs without a GPU, so
// that the parts of the device code that must match bit for bit are checked in every CUDA build.
#include "checkpoint.h"
#include "dtype.h"
#include "histogram_backend.h"
#include "stats_kernels.h"
#include "tensor_data.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace ptscope::core;
namespace detail = ptscope::cuda::detail;

namespace {

bool sameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 8) == 0; }

// What the core's element reader gives for `bytes` read as a 1-d tensor of `dtype`.
std::vector<double> coreElements(const std::string &dtype, const std::vector<std::uint8_t> &bytes)
{
    Checkpoint cp;
    const DtypeInfo *info = dtypeByName(dtype);
    if (!info)
        return {};
    StorageInfo s;
    s.key = s.id = "0";
    s.dtype = dtype;
    s.nbytes = bytes.size();
    s.dataOffset = 0;
    TensorInfo t;
    t.dtype = dtype;
    t.numel = bytes.size() / info->itemSize;
    t.shape = {static_cast<std::int64_t>(t.numel)};
    t.stride = {1};
    t.storage = 0;
    cp.storages.push_back(s);
    cp.tensors.push_back(t);
    cp.file = MappedFile::fromBuffer(bytes, "synthetic");
    auto r = TensorElementReader::open(cp, 0);
    if (!r)
        return {};
    std::vector<double> out(t.numel);
    out.resize((*r)->read(out));
    return out;
}

// An ElementSource over doubles in memory.
class VectorSource final : public ElementSource
{
public:
    explicit VectorSource(const std::vector<double> &v)
        : m_v(v)
    {
    }
    std::uint64_t size() const override { return m_v.size(); }
    std::unique_ptr<ElementCursor> cursor() const override { return std::make_unique<Cursor>(m_v); }

private:
    class Cursor final : public ElementCursor
    {
    public:
        explicit Cursor(const std::vector<double> &v)
            : m_v(v)
        {
        }
        void seek(std::uint64_t index) override { m_at = std::min<std::uint64_t>(index, m_v.size()); }
        std::size_t read(std::span<double> out) override
        {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), m_v.size() - m_at));
            std::copy_n(m_v.begin() + static_cast<std::ptrdiff_t>(m_at), n, out.begin());
            m_at += n;
            return n;
        }

    private:
        const std::vector<double> &m_v;
        std::uint64_t m_at = 0;
    };
    const std::vector<double> &m_v;
};

} // namespace

class TestCudaKernelsHost : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void conversion_data();
    void conversion();
    void bins_data();
    void bins();
    void pairTile_data();
    void pairTile();
    void pairBins();
};

void TestCudaKernelsHost::conversion_data()
{
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<int>("code");
    QTest::addColumn<bool>("exhaustive"); // every encoding, else 200000 random ones plus extremes
    const std::pair<const char *, int> types[] = {
        {"float64", detail::kF64},         {"float32", detail::kF32},           {"float16", detail::kF16},
        {"bfloat16", detail::kBF16},       {"float8_e5m2", detail::kF8E5M2},    {"float8_e4m3fn", detail::kF8E4M3FN},
        {"float8_e5m2fnuz", detail::kF8E5M2FNUZ}, {"float8_e4m3fnuz", detail::kF8E4M3FNUZ},
        {"float8_e8m0fnu", detail::kF8E8M0}, {"int64", detail::kI64},           {"int32", detail::kI32},
        {"int16", detail::kI16},           {"int8", detail::kI8},               {"uint64", detail::kU64},
        {"uint32", detail::kU32},          {"uint16", detail::kU16},            {"uint8", detail::kU8},
        {"bool", detail::kBool},
    };
    for (const auto &[name, code] : types)
        QTest::addRow("%s", name) << QString::fromLatin1(name) << code << (detail::elemBytes(code) <= 2);
}

void TestCudaKernelsHost::conversion()
{
    QFETCH(QString, dtype);
    QFETCH(int, code);
    QFETCH(bool, exhaustive);
    const std::size_t item = static_cast<std::size_t>(detail::elemBytes(code));
    QCOMPARE(item, static_cast<std::size_t>(dtypeByName(dtype.toStdString())->itemSize));
    std::vector<std::uint8_t> bytes;
    if (exhaustive) {
        const std::uint32_t count = 1u << (8 * item);
        for (std::uint32_t v = 0; v < count; ++v)
            for (std::size_t b = 0; b < item; ++b)
                bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    } else {
        std::mt19937_64 rng(42);
        for (int i = 0; i < 200000; ++i) {
            const std::uint64_t v = rng();
            for (std::size_t b = 0; b < item; ++b)
                bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
        }
        for (std::uint64_t v : {0ull, ~0ull, 1ull << 63, (1ull << 63) - 1, 1ull << 31, (1ull << 31) - 1, 1ull,
                                0x7ff0000000000000ull, 0x7f800000ull, 0x7fc00000ull, 0x00000001ull})
            for (std::size_t b = 0; b < item; ++b)
                bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    }
    const std::vector<double> expected = coreElements(dtype.toStdString(), bytes);
    QCOMPARE(expected.size(), bytes.size() / item);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const double got = detail::hostConvert(code, bytes.data(), i);
        if (!sameDouble(got, expected[i]))
            QFAIL(qPrintable(QStringLiteral("element %1: device code %2, core %3")
                                 .arg(i)
                                 .arg(got, 0, 'g', 17)
                                 .arg(expected[i], 0, 'g', 17)));
    }
}

void TestCudaKernelsHost::bins_data()
{
    QTest::addColumn<double>("lo");
    QTest::addColumn<double>("hi");
    QTest::addColumn<int>("bins");
    QTest::addColumn<bool>("divideFirst");
    for (bool d : {false, true}) { // torch 2.x's order, then torch 1.13's
        const char *order = d ? "1.13" : "2.x";
        QTest::addRow("[0, 1], 10 bins, %s", order) << 0.0 << 1.0 << 10 << d;
        QTest::addRow("[0.1, 0.8], 7 bins, %s", order) << 0.1 << 0.8 << 7 << d;
        QTest::addRow("[0, 1000], 100 bins, %s", order) << 0.0 << 1000.0 << 100 << d;
        QTest::addRow("[-3.5, 15081.39], 63 bins, %s", order) << -3.523344703336752 << 15081.394047747855 << 63 << d;
        QTest::addRow("[-1, 1], 1 bin, %s", order) << -1.0 << 1.0 << 1 << d;
        QTest::addRow("[-1e-3, 2e-3], 20000 bins, %s", order) << -1e-3 << 2e-3 << 20000 << d;
        QTest::addRow("zero width, %s", order) << 1e20 << 1e20 << 64 << d;
        QTest::addRow("infinite width, %s", order) << -1.7e308 << 1.7e308 << 64 << d;
        QTest::addRow("[0, 1e307], 64 bins (overflowing products), %s", order) << 0.0 << 1e307 << 64 << d;
    }
}

void TestCudaKernelsHost::bins()
{
    QFETCH(double, lo);
    QFETCH(double, hi);
    QFETCH(int, bins);
    QFETCH(bool, divideFirst);
    // Values on every edge and around it, random values across and beyond the range, specials.
    std::vector<double> values;
    std::mt19937_64 rng(1);
    const double width = hi - lo;
    for (int k = 0; k <= bins && k <= 20000; ++k) {
        const double e = std::isfinite(width) ? lo + width * k / bins : (k % 2 ? hi : lo);
        values.push_back(e);
        values.push_back(std::nextafter(e, -std::numeric_limits<double>::infinity()));
        values.push_back(std::nextafter(e, std::numeric_limits<double>::infinity()));
    }
    std::uniform_real_distribution<double> across(-0.1, 1.1);
    for (int i = 0; i < 100000; ++i)
        values.push_back(std::isfinite(width) ? lo + width * across(rng) : across(rng) * 1e308);
    for (double v : {0.0, -0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity(), lo, hi})
        values.push_back(v);

    BinSpec spec;
    spec.bins = static_cast<std::uint32_t>(bins);
    spec.lo = lo;
    spec.hi = hi;
    spec.divideFirst = divideFirst;
    // Log edges as the core lays them out: 10^k steps between the smallest and largest magnitude.
    const double first = 1e-4, last = 1e4;
    for (int i = 0; i <= 16; ++i)
        spec.logEdges.push_back(std::pow(10.0, -4.0 + 0.5 * i));
    spec.logEdges.front() = first;
    spec.logEdges.back() = last;
    for (double e : spec.logEdges) { // magnitudes on and around every log edge
        values.push_back(e);
        values.push_back(-std::nextafter(e, 0.0));
    }
    VectorSource source(values);
    BinCounts cpu;
    auto backend = makeCpuHistogramBackend(2);
    std::string why;
    QCOMPARE(backend->histogram(source, spec, cpu, {}, 0, 0, &why), BackendStatus::Ok);

    detail::HistParams p{};
    p.bins = spec.bins;
    p.lo = spec.lo;
    p.hi = spec.hi;
    p.width = spec.hi - spec.lo;
    p.binsD = static_cast<double>(spec.bins);
    p.lastBinD = static_cast<double>(spec.bins) - 1.0;
    p.divideFirst = spec.divideFirst;
    const auto logBins = static_cast<unsigned int>(spec.logEdges.size() - 1);
    std::vector<std::uint64_t> linear(spec.bins, 0), log(logBins, 0);
    for (double x : values) {
        const int b = detail::hostLinearBin(x, p);
        if (b >= 0) {
            QVERIFY(b < bins);
            ++linear[static_cast<std::size_t>(b)];
        }
        const int l = detail::hostLogBin(x, spec.logEdges.data(), logBins);
        if (l >= 0) {
            QVERIFY(l < static_cast<int>(logBins));
            ++log[static_cast<std::size_t>(l)];
        }
        // The documented rule, where it is defined (a finite, non-zero width).
        if (std::isfinite(width) && width > 0)
            QCOMPARE(static_cast<std::int64_t>(b), histcBin(x, lo, hi, spec.bins, spec.divideFirst));
    }
    QCOMPARE(linear, cpu.counts);
    QCOMPARE(log, cpu.logCounts);
}

namespace {

// Pairs with every case of the rule: equal values, equal and opposite infinities, NaN on either
// side, nudged values (close), different values, zeros of both signs.
void pairValues(std::size_t n, std::uint64_t seed, std::vector<double> &x, std::vector<double> &y)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    x.resize(n);
    y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = normal(rng) * 4.0;
        switch (rng() % 12) {
        case 0: x[i] = y[i] = v; break;
        case 1: x[i] = y[i] = (rng() % 2 ? inf : -inf); break;
        case 2: x[i] = inf; y[i] = -inf; break;
        case 3: x[i] = nan; y[i] = v; break;
        case 4: x[i] = v; y[i] = nan; break;
        case 5: x[i] = v; y[i] = v * (1.0 + 1e-7); break;
        case 6: x[i] = 0.0; y[i] = -0.0; break;
        case 7: x[i] = v; y[i] = inf; break;
        default: x[i] = v; y[i] = normal(rng); break;
        }
    }
}

bool sameOrNear(double a, double b)
{
    return sameDouble(a, b) || a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
}

} // namespace

void TestCudaKernelsHost::pairTile_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<bool>("finite"); // no infinity or NaN: the sums are numbers to compare
    for (int n : {0, 1, 255, 257, 5000, int(detail::kTile)}) {
        QTest::addRow("%d", n) << n << false;
        QTest::addRow("%d finite", n) << n << true;
    }
}

// The kernel's per-position rule, thread order and reduction (run on the host) against the core.
void TestCudaKernelsHost::pairTile()
{
    QFETCH(int, n);
    QFETCH(bool, finite);
    std::vector<double> x, y;
    pairValues(std::size_t(n), std::uint64_t(n) * 2 + finite, x, y);
    if (finite)
        for (std::size_t i = 0; i < x.size(); ++i)
            if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
                x[i] = y[i] = 1.5;
    PairSummary core;
    accumulatePair(core, x.data(), y.data(), x.size(), PairTolerance{});
    const detail::BlockPair gpu = detail::hostPairTile(x.data(), y.data(), x.size(), 1e-5, 1e-8);
    QCOMPARE(gpu.numel, core.numel);
    QCOMPARE(gpu.differing, core.differing);
    QCOMPARE(gpu.nanDiffs, core.nanDiffs);
    QCOMPARE(gpu.notClose, core.notClose);
    QCOMPARE(gpu.nonFiniteA, core.a.nonFinite);
    QCOMPARE(gpu.nonFiniteB, core.b.nonFinite);
    QCOMPARE(gpu.nonFiniteDiff, core.diff.nonFinite);
    QCOMPARE(gpu.maxAbsDiff, core.maxAbsDiff);
    const std::pair<double, double> extrema[] = {{gpu.minA, core.a.min},       {gpu.maxA, core.a.max},
                                                 {gpu.minB, core.b.min},       {gpu.maxB, core.b.max},
                                                 {gpu.minDiff, core.diff.min}, {gpu.maxDiff, core.diff.max}};
    for (const auto &[g, c] : extrema)
        QCOMPARE(g, c);
    const std::pair<double, double> sums[] = {{gpu.sumAbsDiff, core.sumAbsDiff}, {gpu.sumSqDiff, core.sumSqDiff},
                                              {gpu.sumSqB, core.sumSqB},         {gpu.dot, core.dot},
                                              {gpu.normA, core.normA},           {gpu.normB, core.normB}};
    for (const auto &[g, c] : sums)
        QVERIFY2(sameOrNear(g, c), qPrintable(QStringLiteral("%1 vs %2").arg(g, 0, 'g', 17).arg(c, 0, 'g', 17)));
    if (finite && n > 100) // the case is what it says: finite sums with differences in them
        QVERIFY(std::isfinite(gpu.dot) && gpu.sumSqDiff > 0);
}

// The pair histogram kernel's three bins against the CPU backend's pair pass.
void TestCudaKernelsHost::pairBins()
{
    std::vector<double> x, y;
    pairValues(200'000, 3, x, y);
    // Values on the edges of both ranges, and the ranges' ends themselves.
    for (int k = 0; k <= 64; ++k) {
        x.push_back(-8.0 + 16.0 * k / 64);
        y.push_back(x.back() - (-2.0 + 4.0 * k / 64));
    }
    VectorSource a(x), b(y);
    auto backend = makeCpuHistogramBackend(2);
    for (std::uint32_t bins : {1u, 7u, 64u, 2000u, 20000u}) {
        PairBinSpec spec;
        spec.bins = bins;
        spec.lo = -8.0;
        spec.hi = 8.0;
        spec.diffLo = -2.0;
        spec.diffHi = 2.0;
        PairBinCounts cpu;
        std::string why;
        QVERIFY(backend->pairHistogram(a, b, spec, cpu, {}, 0, 0, &why) == BackendStatus::Ok);
        detail::PairHistParams p{};
        p.bins = bins;
        p.lo = spec.lo;
        p.hi = spec.hi;
        p.width = spec.hi - spec.lo;
        p.diffLo = spec.diffLo;
        p.diffHi = spec.diffHi;
        p.diffWidth = spec.diffHi - spec.diffLo;
        p.binsD = static_cast<double>(bins);
        p.lastBinD = static_cast<double>(bins) - 1.0;
        std::vector<std::uint64_t> counts[3] = {std::vector<std::uint64_t>(bins), std::vector<std::uint64_t>(bins),
                                                std::vector<std::uint64_t>(bins)};
        for (std::size_t i = 0; i < x.size(); ++i) {
            int pos[3];
            detail::hostPairBins(x[i], y[i], p, pos);
            for (int k = 0; k < 3; ++k)
                if (pos[k] >= 0)
                    ++counts[k][static_cast<std::size_t>(pos[k])];
            // The documented rule.
            QCOMPARE(static_cast<std::int64_t>(pos[2]), histcBin(x[i] - y[i], spec.diffLo, spec.diffHi, bins, true));
        }
        QCOMPARE(counts[0], cpu.a);
        QCOMPARE(counts[1], cpu.b);
        QCOMPARE(counts[2], cpu.diff);
    }
}

QTEST_GUILESS_MAIN(TestCudaKernelsHost)
#include "tst_cuda_kernels_host.moc"
