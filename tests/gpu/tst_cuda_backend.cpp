// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The CUDA statistics backend held against the CPU backend: the same counts and the same moments
// (1e-6 relative) on fresh random data of every dtype, on edge cases and on every fixture file,
// for several bin counts; cancellation, progress and determinism. Without a usable GPU those tests
// skip with the reason (PTSCOPE_REQUIRE_GPU=1 turns the skip into a failure, for GPU machines);
// the fallback itself (the reason, and what ptscope-cli does with it) is tested everywhere.
// Pairs (the value comparison and its histograms): every raw element type, mixed dtypes, strided
// views (host cursors) against raw bytes, NaN and infinities, and the diff fixtures, CPU against GPU.
// Before any Qt header: load_state_dict.h has a member named `slots`, a Qt keyword.
#include "diff_json.h"
#include "load_state_dict.h"

#include "../cli/cli_run.h"
#include "../core/pair_data.h"
#include "../core/synthetic_checkpoint.h"

#include "checkpoint.h"
#include "cuda_histogram_backend.h"
#include "device_info.h"
#include "dtype.h"
#include "histogram_backend.h"
#include "tensor_data.h"
#include "tensor_stats.h"
#include "value_histogram.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace {

QString dataDir() { return QStringLiteral(PTSCOPE_TEST_DATA_DIR); }

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using ptscope::test::Synthetic;

bool sameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Empty when the CUDA result matches the CPU's: counts and extrema exactly, mean and std to 1e-6
// relative (plus 1e-12 of the largest magnitude, for means that cancel to nearly zero).
QString difference(const TensorStats &cpu, const TensorStats &gpu, bool moments = true)
{
    auto countsDiffer = [](const char *what, const std::vector<std::uint64_t> &a, const std::vector<std::uint64_t> &b) {
        if (a.size() != b.size())
            return QStringLiteral("%1: %2 bins on the CPU, %3 on the GPU")
                .arg(QLatin1String(what))
                .arg(a.size())
                .arg(b.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i] != b[i])
                return QStringLiteral("%1 bin %2: CPU %3, GPU %4").arg(QLatin1String(what)).arg(i).arg(a[i]).arg(b[i]);
        return QString();
    };
    auto exact = [](const char *what, double a, double b) {
        return sameDouble(a, b) ? QString()
                                : QStringLiteral("%1: CPU %2, GPU %3")
                                      .arg(QLatin1String(what))
                                      .arg(a, 0, 'g', 17)
                                      .arg(b, 0, 'g', 17);
    };
    const double scale = std::isnan(cpu.min) ? 0.0 : std::max(std::fabs(cpu.min), std::fabs(cpu.max));
    auto close = [&](const char *what, double a, double b) {
        if (sameDouble(a, b) || std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b)) + 1e-12 * scale)
            return QString();
        return QStringLiteral("%1: CPU %2, GPU %3").arg(QLatin1String(what)).arg(a, 0, 'g', 17).arg(b, 0, 'g', 17);
    };
    const std::pair<std::uint64_t, std::uint64_t> counts[] = {{cpu.numel, gpu.numel},   {cpu.finiteCount, gpu.finiteCount},
                                                              {cpu.nan, gpu.nan},       {cpu.posInf, gpu.posInf},
                                                              {cpu.negInf, gpu.negInf}, {cpu.zeros, gpu.zeros}};
    const char *names[] = {"numel", "finite", "nan", "+inf", "-inf", "zeros"};
    for (std::size_t i = 0; i < 6; ++i)
        if (counts[i].first != counts[i].second)
            return QStringLiteral("%1: CPU %2, GPU %3")
                .arg(QLatin1String(names[i]))
                .arg(counts[i].first)
                .arg(counts[i].second);
    QString d;
    if (!(d = exact("min", cpu.min, gpu.min)).isEmpty() || !(d = exact("max", cpu.max, gpu.max)).isEmpty())
        return d;
    if (moments
        && (!(d = close("mean", cpu.mean, gpu.mean)).isEmpty() || !(d = close("std", cpu.std, gpu.std)).isEmpty()))
        return d;
    if (!(d = exact("histogram min", cpu.histogram.min, gpu.histogram.min)).isEmpty()
        || !(d = exact("histogram max", cpu.histogram.max, gpu.histogram.max)).isEmpty()
        || !(d = exact("log histogram min", cpu.logHistogram.min, gpu.logHistogram.min)).isEmpty()
        || !(d = exact("log histogram max", cpu.logHistogram.max, gpu.logHistogram.max)).isEmpty())
        return d;
    if (!(d = countsDiffer("histogram", cpu.histogram.counts, gpu.histogram.counts)).isEmpty())
        return d;
    return countsDiffer("log histogram", cpu.logHistogram.counts, gpu.logHistogram.counts);
}

QString errorText(const Result<TensorStats> &r)
{
    return r.ok() ? QString() : QString::fromStdString(r.error().toString());
}

using ptscope::test::Run;

// A crash or a time-out reads as exit code -1.
Run runCli(const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    Run r = ptscope::test::runProgram(QStringLiteral(PTSCOPE_CLI_PATH), args, {}, env);
    if (r.status != QProcess::NormalExit)
        r.exitCode = -1;
    return r;
}

const std::uint32_t kBinCounts[] = {1, 7, 64, 1000, 10000, 20000}; // 20000: global-memory counters

// Empty when two value comparisons agree: counts, flags and the maximum exactly, the sums'
// results to 1e-9 relative (cosine: absolute, it is at most 1).
QString comparisonDifference(const ValueComparison &cpu, const ValueComparison &gpu)
{
    auto near = [](double a, double b, bool absolute) {
        return sameDouble(a, b) || std::fabs(a - b) <= 1e-9 * (absolute ? 1.0 : std::max(std::fabs(a), std::fabs(b)));
    };
    const std::pair<const char *, bool> checks[] = {
        {"numel", cpu.numel == gpu.numel},
        {"differing", cpu.differing == gpu.differing},
        {"nanDiffs", cpu.nanDiffs == gpu.nanDiffs},
        {"allclose", cpu.allclose == gpu.allclose},
        {"identical", cpu.identical == gpu.identical},
        {"maxAbsDiff", sameDouble(cpu.maxAbsDiff, gpu.maxAbsDiff)},
        {"meanAbsDiff", near(cpu.meanAbsDiff, gpu.meanAbsDiff, false)},
        {"relativeL2", near(cpu.relativeL2, gpu.relativeL2, false)},
        {"cosine", near(cpu.cosine, gpu.cosine, true)},
    };
    for (const auto &[what, ok] : checks)
        if (!ok)
            return QStringLiteral("%1: CPU max %2 mean %3 relL2 %4 cos %5 differing %6; GPU max %7 mean %8 relL2 %9 "
                                  "cos %10 differing %11")
                .arg(QLatin1String(what))
                .arg(cpu.maxAbsDiff, 0, 'g', 17)
                .arg(cpu.meanAbsDiff, 0, 'g', 17)
                .arg(cpu.relativeL2, 0, 'g', 17)
                .arg(cpu.cosine, 0, 'g', 17)
                .arg(cpu.differing)
                .arg(gpu.maxAbsDiff, 0, 'g', 17)
                .arg(gpu.meanAbsDiff, 0, 'g', 17)
                .arg(gpu.relativeL2, 0, 'g', 17)
                .arg(gpu.cosine, 0, 'g', 17)
                .arg(gpu.differing);
    return {};
}

// The same for two sets of value histograms: ranges bit for bit, counts exactly.
QString histogramsDifference(const ValueHistograms &cpu, const ValueHistograms &gpu)
{
    QString d = comparisonDifference(cpu.comparison, gpu.comparison);
    if (!d.isEmpty())
        return d;
    if (cpu.nonFiniteSource != gpu.nonFiniteSource || cpu.nonFiniteTarget != gpu.nonFiniteTarget
        || cpu.nonFiniteDifference != gpu.nonFiniteDifference)
        return QStringLiteral("non-finite counts differ");
    for (const auto &[what, c, g] : {std::tuple{"source", &cpu.source, &gpu.source},
                                     std::tuple{"target", &cpu.target, &gpu.target},
                                     std::tuple{"difference", &cpu.difference, &gpu.difference}}) {
        if (!sameDouble(c->min, g->min) || !sameDouble(c->max, g->max))
            return QStringLiteral("%1 range: CPU [%2, %3], GPU [%4, %5]")
                .arg(QLatin1String(what))
                .arg(c->min, 0, 'g', 17)
                .arg(c->max, 0, 'g', 17)
                .arg(g->min, 0, 'g', 17)
                .arg(g->max, 0, 'g', 17);
        if (c->counts != g->counts)
            for (std::size_t i = 0; i < c->counts.size(); ++i)
                if (i >= g->counts.size() || c->counts[i] != g->counts[i])
                    return QStringLiteral("%1 bin %2: CPU %3, GPU %4")
                        .arg(QLatin1String(what))
                        .arg(i)
                        .arg(c->counts[i])
                        .arg(i < g->counts.size() ? g->counts[i] : 0);
    }
    return {};
}

template<typename T>
QString errorOf(const Result<T> &r)
{
    return r.ok() ? QString() : QString::fromStdString(r.error().toString());
}

} // namespace

class TestCudaBackend : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void fallbackReason();
    void cliBackendChoice();
    void rawBytes();
    void randomDtypes_data();
    void randomDtypes();
    void edgeCases_data();
    void edgeCases();
    void fixtureFiles_data();
    void fixtureFiles();
    void largeAnalytic();
    void determinism();
    void progressAndCancel();
    void pairRandom_data();
    void pairRandom();
    void pairEdgeCases();
    void pairFixtures();
    void pairDeterminismAndCancel();

private:
    // Each GPU test starts with this: skips (or fails with PTSCOPE_REQUIRE_GPU=1) with the reason.
    bool needGpu()
    {
        return m_gpu != nullptr;
    }
    QString skipReason() const
    {
        return QStringLiteral("no usable GPU: ") + QString::fromStdString(m_why);
    }
    // CPU and GPU statistics for `tensors` under `request`, compared; empty when they agree.
    QString compare(const Checkpoint &cp, const std::vector<std::uint32_t> &tensors, const StatsRequest &request,
                    bool moments = true)
    {
        auto cpu = computeStats(cp, tensors, request, {}, m_cpu.get());
        auto gpu = computeStats(cp, tensors, request, {}, m_gpu.get());
        if (!cpu.ok() && !gpu.ok() && cpu.error().code == gpu.error().code)
            return {}; // the same tensor fails the same way on both
        if (!cpu.ok() || !gpu.ok())
            return QStringLiteral("CPU: %1; GPU: %2").arg(errorText(cpu), errorText(gpu));
        return difference(*cpu, *gpu, moments);
    }

    std::unique_ptr<HistogramBackend> m_cpu;
    std::unique_ptr<HistogramBackend> m_gpu;
    std::string m_why;
    bool m_requireGpu = false;
};

#define PTSCOPE_NEED_GPU()                                                                                            \
    do {                                                                                                              \
        if (!needGpu()) {                                                                                             \
            if (m_requireGpu)                                                                                         \
                QFAIL(qPrintable(skipReason() + QStringLiteral(" (PTSCOPE_REQUIRE_GPU is set)")));                   \
            QSKIP(qPrintable(skipReason()));                                                                          \
        }                                                                                                             \
    } while (0)

void TestCudaBackend::initTestCase()
{
    m_requireGpu = qEnvironmentVariableIntValue("PTSCOPE_REQUIRE_GPU") != 0;
    m_cpu = makeCpuHistogramBackend();
    m_gpu = ptscope::cuda::makeCudaHistogramBackend(&m_why);
    if (m_gpu)
        qInfo("CUDA backend on %s", ptscope::cuda::cudaDeviceName(0).c_str());
    else
        qInfo("no CUDA backend: %s", m_why.c_str());
}

void TestCudaBackend::fallbackReason()
{
    if (!ptscope::cuda::compiledWithCuda()) {
        QVERIFY(!m_gpu);
        QVERIFY2(QString::fromStdString(m_why).contains(QStringLiteral("no CUDA backend")), m_why.c_str());
        return;
    }
    std::string why;
    const int devices = ptscope::cuda::cudaDeviceCount(&why);
    if (devices == 0) {
        QVERIFY(!m_gpu);
        QVERIFY(!m_why.empty());
        QCOMPARE(m_why, why); // the device query's own words: "no CUDA device found", "CUDA unavailable: ..."
        QVERIFY2(QString::fromStdString(m_why).contains(QStringLiteral("CUDA")), m_why.c_str());
        // Without a driver the runtime says "driver version is insufficient"; the reason says what is missing.
        if (void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL))
            dlclose(driver);
        else
            QVERIFY2(QString::fromStdString(m_why).contains(QStringLiteral("no NVIDIA driver")), m_why.c_str());
    } else {
        QVERIFY2(m_gpu != nullptr, m_why.c_str()); // a GPU is there: the backend must come up
        QCOMPARE(m_gpu->name(), std::string("cuda"));
    }
    // The switch that turns it off, in every build.
    qputenv("PTSCOPE_NO_CUDA", "1");
    std::string off;
    auto none = ptscope::cuda::makeCudaHistogramBackend(&off);
    qunsetenv("PTSCOPE_NO_CUDA");
    QVERIFY(!none);
    QVERIFY2(QString::fromStdString(off).contains(QStringLiteral("PTSCOPE_NO_CUDA")), off.c_str());
}

void TestCudaBackend::cliBackendChoice()
{
    const QString file = dataDir() + QStringLiteral("/stats/stats_main.pt");
    auto jsonOf = [](const Run &r) { return QJsonDocument::fromJson(r.out).object(); };

    const Run cpu = runCli({QStringLiteral("stats"), QStringLiteral("--json"), QStringLiteral("--backend"),
                               QStringLiteral("cpu"), file});
    QCOMPARE(cpu.exitCode, 0);
    QCOMPARE(jsonOf(cpu)[QStringLiteral("backend")].toString(), QStringLiteral("cpu"));
    QVERIFY(!jsonOf(cpu).contains(QStringLiteral("backend_reason")));

    const Run cuda = runCli({QStringLiteral("stats"), QStringLiteral("--json"), QStringLiteral("--backend"),
                                QStringLiteral("cuda"), file});
    const Run automatic = runCli({QStringLiteral("stats"), QStringLiteral("--json"), file});
    if (!m_gpu) {
        // cuda: exit 1, nothing on stdout, the reason on stderr.
        QCOMPARE(cuda.exitCode, 1);
        QVERIFY(cuda.out.isEmpty());
        QVERIFY2(cuda.err.contains("cannot use --backend cuda") && cuda.err.contains(QByteArray::fromStdString(m_why)),
                 cuda.err.constData());
        // auto: the CPU, saying why.
        QCOMPARE(automatic.exitCode, 0);
        QCOMPARE(jsonOf(automatic)[QStringLiteral("backend")].toString(), QStringLiteral("cpu"));
        QCOMPARE(jsonOf(automatic)[QStringLiteral("backend_reason")].toString(), QString::fromStdString(m_why));
    } else {
        QCOMPARE(cuda.exitCode, 0);
        QCOMPARE(jsonOf(cuda)[QStringLiteral("backend")].toString(), QStringLiteral("cuda"));
        QCOMPARE(automatic.exitCode, 0);
        QCOMPARE(jsonOf(automatic)[QStringLiteral("backend")].toString(), QStringLiteral("cuda"));
        QVERIFY(!jsonOf(automatic).contains(QStringLiteral("backend_reason")));
        // Same tensors, same counts.
        const QJsonArray a = jsonOf(cpu)[QStringLiteral("tensors")].toArray();
        const QJsonArray b = jsonOf(cuda)[QStringLiteral("tensors")].toArray();
        QCOMPARE(a.size(), b.size());
        for (qsizetype i = 0; i < a.size(); ++i)
            QCOMPARE(b[i].toObject()[QStringLiteral("histogram")], a[i].toObject()[QStringLiteral("histogram")]);
    }
    // Turned off: auto falls back to the CPU with that reason (a build without CUDA keeps its own).
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("PTSCOPE_NO_CUDA"), QStringLiteral("1"));
    const QString offReason = ptscope::cuda::compiledWithCuda() ? QStringLiteral("PTSCOPE_NO_CUDA")
                                                                : QString::fromStdString(m_why);
    const Run off = runCli({QStringLiteral("stats"), QStringLiteral("--json"), file}, env);
    QCOMPARE(off.exitCode, 0);
    QCOMPARE(jsonOf(off)[QStringLiteral("backend")].toString(), QStringLiteral("cpu"));
    QVERIFY2(jsonOf(off)[QStringLiteral("backend_reason")].toString().contains(offReason), off.out.constData());
    const Run offHuman = runCli({QStringLiteral("stats"), QStringLiteral("--backend"), QStringLiteral("cuda"), file},
                                   env);
    QCOMPARE(offHuman.exitCode, 1);
    QVERIFY2(QString::fromUtf8(offHuman.err).contains(offReason), offHuman.err.constData());
}

void TestCudaBackend::rawBytes()
{
    // Which tensors reach a GPU as raw bytes (runs everywhere: it is the core's side of the contract).
    Synthetic s;
    const float f[] = {1, 2, 3, 4, 5, 6};
    s.add("float32", f, sizeof f, {2, 3});         // 0: contiguous
    s.add("float32", f, sizeof f, {3, 2}, {1, 3}); // 1: transposed
    s.add("float32", f, sizeof f, {2}, {1}, 3);    // 2: contiguous slice at an offset
    s.add("complex64", f, sizeof f, {3});          // 3: complex: magnitude on the host
    const std::int8_t q[] = {1, 2, 3};
    const std::uint32_t quantized = s.add("qint8", q, sizeof q, {3}); // 4: quantized
    s.cp.tensors[quantized].quant = QuantInfo{"per_tensor_affine", 0.5, 1, -1, -1, -1};
    s.add("float32", f, sizeof f, {1, 1}, {7, 9}, 5); // 5: one element, odd strides
    s.finish();
    const std::uint8_t *base = s.cp.file->bytes().data();
    auto raw = [&](std::uint32_t t, RawElement &type, const std::uint8_t *&bytes) {
        auto r = TensorElementReader::open(s.cp, t);
        return r.ok() && (*r)->rawBytes(type, bytes);
    };
    RawElement type = RawElement::Bool;
    const std::uint8_t *bytes = nullptr;
    QVERIFY(raw(0, type, bytes));
    QVERIFY(type == RawElement::F32);
    QCOMPARE(bytes, base + s.cp.storages[0].dataOffset.value());
    QVERIFY(!raw(1, type, bytes));
    QVERIFY(raw(2, type, bytes));
    QCOMPARE(bytes, base + s.cp.storages[2].dataOffset.value() + 3 * sizeof(float));
    QVERIFY(!raw(3, type, bytes));
    QVERIFY(!raw(4, type, bytes));
    QVERIFY(raw(5, type, bytes));
    QCOMPARE(bytes, base + s.cp.storages[5].dataOffset.value() + 5 * sizeof(float));

    // Big-endian files: bytes only for one-byte elements.
    Synthetic big;
    const std::uint8_t u8[] = {1, 2};
    big.add("float32", f, sizeof f, {6});
    big.add("uint8", u8, sizeof u8, {2});
    big.cp.byteOrder = "big";
    big.finish();
    auto bigReader = TensorElementReader::open(big.cp, 0);
    QVERIFY(bigReader.ok());
    QVERIFY(!(*bigReader)->rawBytes(type, bytes));
    auto u8Reader = TensorElementReader::open(big.cp, 1);
    QVERIFY(u8Reader.ok());
    QVERIFY((*u8Reader)->rawBytes(type, bytes));
    QVERIFY(type == RawElement::U8);
}

void TestCudaBackend::randomDtypes_data()
{
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<int>("numel");
    QTest::addColumn<QString>("layout"); // "contiguous", "strided" (host path), "big-endian" (host path)
    const char *dtypes[] = {"float64",         "float32",        "float16",     "bfloat16",      "float8_e5m2",
                            "float8_e4m3fn",   "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu", "int64",
                            "int32",           "int16",          "int8",        "uint64",        "uint32",
                            "uint16",          "uint8",          "bool",        "complex128",    "complex64",
                            "complex32"};
    for (const char *d : dtypes)
        QTest::addRow("%s", d) << QString::fromLatin1(d) << 100'003 << QStringLiteral("contiguous");
    QTest::addRow("float32 strided") << QStringLiteral("float32") << 100'003 << QStringLiteral("strided");
    QTest::addRow("float32 big-endian") << QStringLiteral("float32") << 100'003 << QStringLiteral("big-endian");
    QTest::addRow("float16 big-endian") << QStringLiteral("float16") << 100'003 << QStringLiteral("big-endian");
    // Several chunks (the staging slots are reused) in both paths.
    QTest::addRow("float32 9M") << QStringLiteral("float32") << 9'000'001 << QStringLiteral("contiguous");
    QTest::addRow("bfloat16 9M") << QStringLiteral("bfloat16") << 9'000'001 << QStringLiteral("contiguous");
    QTest::addRow("float32 9M strided") << QStringLiteral("float32") << 9'000'001 << QStringLiteral("strided");
}

void TestCudaBackend::randomDtypes()
{
    PTSCOPE_NEED_GPU();
    QFETCH(QString, dtype);
    QFETCH(int, numel);
    QFETCH(QString, layout);
    const std::string dt = dtype.toStdString();
    const DtypeInfo *info = dtypeByName(dt);
    QVERIFY(info);
    const std::size_t item = info->itemSize;
    const auto n = static_cast<std::size_t>(numel);
    const bool strided = layout == QStringLiteral("strided");
    // Strided: every other element of a buffer twice as long.
    std::vector<std::uint8_t> bytes(n * item * (strided ? 2 : 1));
    std::mt19937_64 rng(static_cast<std::uint64_t>(qHash(QByteArray(QTest::currentDataTag()))));
    std::normal_distribution<double> normal(0.0, 1.0);
    // Floating types wider than a byte (each component of a complex one): a quarter random bit
    // patterns (every NaN, Inf, subnormal and extreme), the rest normal values with an offset, plus
    // zeros and specials; integer types and the one-byte floats: random bits (every encoding).
    // 8-byte floats get no random bits: squares of 1e300 overflow and the moments are then
    // infinite on both sides.
    const bool isComplex = dt.rfind("complex", 0) == 0;
    const std::size_t comp = isComplex ? item / 2 : item;
    const bool floating = isComplex || dt == "float64" || dt == "float32" || dt == "float16" || dt == "bfloat16";
    for (std::size_t i = 0; i < bytes.size(); i += comp) {
        std::uint64_t bits = rng();
        if (floating && (comp == 8 || rng() % 4 != 0)) {
            const std::uint64_t pick = rng() % 1000;
            const double x = pick == 0 ? kNan
                : pick == 1            ? kInf
                : pick == 2            ? -kInf
                : pick < 10            ? 0.0
                                       : normal(rng) * 3.0 + 1.5;
            const float fx = static_cast<float>(x);
            std::uint32_t b32;
            std::memcpy(&b32, &fx, 4);
            if (comp == 8)
                std::memcpy(&bits, &x, 8);
            else if (comp == 4)
                bits = b32;
            else if (dt == "bfloat16")
                bits = b32 >> 16;
            else // float16 and complex32 parts: 0 or +-[1, 4)
                bits = (pick < 10 ? 0u : 0x3c00u + rng() % 0x800u) | (rng() % 2 ? 0x8000u : 0u);
        }
        std::memcpy(bytes.data() + i, &bits, comp);
    }
    if (dt == "bool")
        for (std::size_t i = 0; i < bytes.size(); ++i)
            bytes[i] = static_cast<std::uint8_t>(bytes[i] % 3 == 0 ? 0 : bytes[i] % 3); // 0, 1 and 2
    Synthetic s;
    if (strided)
        s.add(dt, bytes.data(), bytes.size(), {static_cast<std::int64_t>(n)}, {2}, 1);
    else
        s.add(dt, bytes.data(), bytes.size(), {static_cast<std::int64_t>(n)});
    if (layout == QStringLiteral("big-endian"))
        s.cp.byteOrder = "big";
    s.finish();
    for (std::uint32_t bins : kBinCounts) {
        if (numel > 1'000'000 && bins != 64 && bins != 20000)
            continue; // the big rows test the chunking, not every bin count again
        StatsRequest request;
        request.bins = bins;
        request.logHistogram = true;
        const QString d = compare(s.cp, {0}, request);
        QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("bins=%1: ").arg(bins) + d));
    }
}

void TestCudaBackend::edgeCases_data()
{
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<QVector<double>>("values");
    QTest::addColumn<bool>("moments"); // false: mean/std overflow, only counts and extrema compared
    QTest::addColumn<double>("rangeLo"); // rangeLo < rangeHi: an explicit histogram range
    QTest::addColumn<double>("rangeHi");
    QVector<double> edges; // k/d for every bin count tested, with 0 and 1 the extrema: values on bin edges
    for (int d : {7, 10, 63, 64, 100, 1000, 10000})
        for (int k = 0; k <= d; ++k)
            edges.push_back(static_cast<double>(k) / d);
    QVector<double> shiftedEdges; // the same on [0.1, 0.8]
    for (int d : {7, 10, 63, 64})
        for (int k = 0; k <= d; ++k)
            shiftedEdges.push_back(0.1 + 0.7 * static_cast<double>(k) / d);
    QVector<double> offset, offset32;
    for (int i = 0; i < 2'000'000; ++i) {
        offset.push_back(1e9 + 0.5 * (i % 1000));
        offset32.push_back(1e6 + 0.125 * (i % 1000));
    }
    QVector<double> constant(5000, 3.25);
    QVector<double> tiny{5e-324, -1e-310, 2.2250738585072014e-308, 1e-300, 0.0, -0.0, 1.0};
    QTest::addRow("values on bin edges") << QStringLiteral("float64") << edges << true << 0.0 << 0.0;
    QTest::addRow("values on bin edges, float32") << QStringLiteral("float32") << edges << true << 0.0 << 0.0;
    QTest::addRow("edges of [0.1, 0.8]") << QStringLiteral("float64") << shiftedEdges << true << 0.0 << 0.0;
    QTest::addRow("explicit range") << QStringLiteral("float64") << edges << true << 0.25 << 0.75;
    QTest::addRow("min == max") << QStringLiteral("float64") << constant << true << 0.0 << 0.0;
    QTest::addRow("min == max, float16") << QStringLiteral("float16") << constant << true << 0.0 << 0.0;
    QTest::addRow("one element") << QStringLiteral("float32") << QVector<double>{42.0} << true << 0.0 << 0.0;
    QTest::addRow("empty") << QStringLiteral("float32") << QVector<double>{} << true << 0.0 << 0.0;
    QTest::addRow("only NaN") << QStringLiteral("float64") << QVector<double>(300, kNan) << true << 0.0 << 0.0;
    QTest::addRow("only non-finite") << QStringLiteral("float32") << QVector<double>{kInf, -kInf, kNan, kInf}
                                     << true << 0.0 << 0.0;
    QTest::addRow("zeros of both signs") << QStringLiteral("float64") << QVector<double>{0.0, -0.0, 0.0, -0.0}
                                         << true << 0.0 << 0.0;
    QTest::addRow("huge offset") << QStringLiteral("float64") << offset << true << 0.0 << 0.0;
    QTest::addRow("huge offset, float32") << QStringLiteral("float32") << offset32 << true << 0.0 << 0.0;
    QTest::addRow("subnormals") << QStringLiteral("float64") << tiny << true << 0.0 << 0.0;
    QTest::addRow("whole double range") << QStringLiteral("float64")
                                        << QVector<double>{-1.7e308, 1.7e308, 0.0, 1.0, -1e300, 1e300} << false
                                        << 0.0 << 0.0;
    QTest::addRow("1e20 constant (width 0)") << QStringLiteral("float64") << QVector<double>(10, 1e20) << true << 0.0
                                             << 0.0;
}

void TestCudaBackend::edgeCases()
{
    PTSCOPE_NEED_GPU();
    QFETCH(QString, dtype);
    QFETCH(QVector<double>, values);
    QFETCH(bool, moments);
    QFETCH(double, rangeLo);
    QFETCH(double, rangeHi);
    Synthetic s;
    if (dtype == QStringLiteral("float64")) {
        s.addVector("float64", std::vector<double>(values.begin(), values.end()));
    } else if (dtype == QStringLiteral("float32")) {
        std::vector<float> f;
        for (double v : values)
            f.push_back(static_cast<float>(v));
        s.addVector("float32", f);
    } else { // float16: values chosen to be exact
        QCOMPARE(dtype, QStringLiteral("float16"));
        std::vector<std::uint16_t> h;
        for (double v : values) {
            QCOMPARE(v, 3.25);
            h.push_back(0x4280); // 3.25
        }
        s.addVector("float16", h);
    }
    s.finish();
    // Under both torches' edges and bin order (torch 1.13's keeps a constant beyond 2^53 at a width
    // of 0: every quotient 0 / 0, bin 0).
    for (HistcEdges edges : {HistcEdges::Exact, HistcEdges::Torch1_13}) {
        for (std::uint32_t bins : kBinCounts) {
            StatsRequest request;
            request.bins = bins;
            request.logHistogram = true;
            request.edges = edges;
            if (rangeLo < rangeHi)
                request.range = std::make_pair(rangeLo, rangeHi);
            const QString d = compare(s.cp, {0}, request, moments);
            QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("bins=%1%2: ")
                                                 .arg(bins)
                                                 .arg(edges == HistcEdges::Torch1_13 ? QStringLiteral(", torch 1.13") : QString())
                                             + d));
        }
    }
}

void TestCudaBackend::fixtureFiles_data()
{
    QTest::addColumn<QString>("path");
    for (const char *dir : {"/stats", "/fixtures"}) {
        const QDir d(dataDir() + QLatin1String(dir));
        for (const QString &name : d.entryList(QDir::Files, QDir::Name)) {
            if (name.endsWith(QStringLiteral(".md")))
                continue;
            QTest::addRow("%s/%s", dir + 1, qPrintable(name)) << d.filePath(name);
        }
    }
}

void TestCudaBackend::fixtureFiles()
{
    PTSCOPE_NEED_GPU();
    QFETCH(QString, path);
    auto cp = openCheckpoint(path.toStdString());
    if (!cp.ok())
        QSKIP("not a readable checkpoint (an error fixture)");
    // Every readable tensor alone, then all of them as one group (raw and host runs mixed).
    std::set<std::uint32_t> seen;
    std::vector<std::uint32_t> readable;
    for (const TensorRef &ref : (*cp)->tensorRefs) {
        if (!seen.insert(ref.tensor).second || !TensorElementReader::open(**cp, ref.tensor).ok())
            continue;
        readable.push_back(ref.tensor);
        for (std::uint32_t bins : {7u, 64u, 1000u}) {
            StatsRequest request;
            request.bins = bins;
            request.logHistogram = true;
            const QString d = compare(**cp, {ref.tensor}, request);
            QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("%1, bins=%2: ")
                                                 .arg(QString::fromStdString(joinPath(ref.path)))
                                                 .arg(bins)
                                             + d));
        }
    }
    if (readable.empty())
        QSKIP("no tensor with readable elements");
    StatsRequest request;
    request.bins = 64;
    request.logHistogram = true;
    const QString d = compare(**cp, readable, request);
    QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("all tensors together: ") + d));
}

void TestCudaBackend::largeAnalytic()
{
    // 100 million int32 elements x_i = i, converted on the device: mean (N-1)/2, population
    // variance (N^2-1)/12, the bin of i is floor(64 i / (N-1)) (no i but the ends sits on an edge).
    PTSCOPE_NEED_GPU();
    constexpr std::uint32_t N = 100'000'000;
    Synthetic s;
    {
        std::vector<std::int32_t> data(N);
        for (std::uint32_t i = 0; i < N; ++i)
            data[i] = static_cast<std::int32_t>(i);
        s.add("int32", data.data(), data.size() * 4, {10'000, 10'000});
    }
    s.finish();
    StatsRequest request;
    request.bins = 64;
    auto st = computeStats(s.cp, {0}, request, {}, m_gpu.get());
    QVERIFY2(st.ok(), qPrintable(errorText(st)));
    const double n = N;
    QCOMPARE(st->min, 0.0);
    QCOMPARE(st->max, n - 1);
    QVERIFY2(std::fabs(st->mean - (n - 1) / 2) <= 1e-12 * n, qPrintable(QString::number(st->mean, 'g', 17)));
    const double sd = std::sqrt((n * n - 1) / 12);
    QVERIFY2(std::fabs(st->std - sd) <= 1e-9 * sd, qPrintable(QString::number(st->std, 'g', 17)));
    std::vector<std::uint64_t> expected(64, 0);
    for (std::uint64_t i = 0; i < N; ++i)
        ++expected[std::min<std::uint64_t>(63, i * 64 / (N - 1))];
    QCOMPARE(st->histogram.counts, expected);
    QCOMPARE(st->zeros, std::uint64_t(1));
}

void TestCudaBackend::determinism()
{
    PTSCOPE_NEED_GPU();
    constexpr std::uint32_t N = 9'000'000;
    Synthetic s;
    std::vector<float> data(N);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(100.0f, 0.01f);
    for (auto &v : data)
        v = normal(rng);
    s.addVector("float32", data);
    s.finish();
    StatsRequest request;
    request.bins = 100;
    auto a = computeStats(s.cp, {0}, request, {}, m_gpu.get());
    auto b = computeStats(s.cp, {0}, request, {}, m_gpu.get());
    QVERIFY(a.ok() && b.ok());
    QVERIFY(std::memcmp(&a->mean, &b->mean, sizeof(double)) == 0);
    QVERIFY(std::memcmp(&a->std, &b->std, sizeof(double)) == 0);
    QCOMPARE(a->histogram.counts, b->histogram.counts);
}

void TestCudaBackend::progressAndCancel()
{
    PTSCOPE_NEED_GPU();
    constexpr std::uint32_t N = 9'000'000; // three chunks
    Synthetic s;
    std::vector<float> data(N, 1.0f);
    s.addVector("float32", data);
    s.finish();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    auto ok = computeStats(
        s.cp, {0}, {},
        [&](std::uint64_t done, std::uint64_t total) {
            calls.emplace_back(done, total);
            return true;
        },
        m_gpu.get());
    QVERIFY2(ok.ok(), qPrintable(errorText(ok)));
    QVERIFY(calls.size() >= 4);
    for (std::size_t i = 1; i < calls.size(); ++i) {
        QVERIFY(calls[i].first > calls[i - 1].first);
        QCOMPARE(calls[i].second, calls[0].second);
    }
    QCOMPARE(calls.back().first, std::uint64_t(2) * N); // two passes
    QCOMPARE(calls.back().second, std::uint64_t(2) * N);

    for (int stopAt : {1, 2, 4}) { // during pass 1, and during pass 2
        int seen = 0;
        auto cancelled = computeStats(
            s.cp, {0}, {}, [&](std::uint64_t, std::uint64_t) { return ++seen < stopAt; }, m_gpu.get());
        QVERIFY(!cancelled.ok());
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        QCOMPARE(seen, stopAt); // no call after the one that said stop
    }
    // The backend is still usable after a cancellation.
    auto again = computeStats(s.cp, {0}, {}, {}, m_gpu.get());
    QVERIFY2(again.ok(), qPrintable(errorText(again)));
    QCOMPARE(again->mean, 1.0);
}

void TestCudaBackend::pairRandom_data()
{
    QTest::addColumn<QString>("dtypeA");
    QTest::addColumn<QString>("dtypeB");
    QTest::addColumn<bool>("strided"); // a through the host cursor, b as raw bytes
    QTest::addColumn<bool>("close");
    QTest::addColumn<int>("numel");
    // Every RawElement encoding against itself (both sides converted on the device).
    const char *dtypes[] = {"float64",         "float32",       "float16",        "bfloat16", "float8_e5m2",
                            "float8_e4m3fn",   "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu", "int64",
                            "int32",           "int16",         "int8",           "uint64",   "uint32",
                            "uint16",          "uint8",         "bool"};
    for (const char *d : dtypes)
        QTest::addRow("%s", d) << QString::fromLatin1(d) << QString::fromLatin1(d) << false << false << 100'003;
    // Mixed dtypes, and views read on the host against raw bytes converted on the device.
    for (const char *d : {"float16", "bfloat16", "float8_e4m3fn", "int32", "uint8"}) {
        QTest::addRow("%s vs float32", d) << QString::fromLatin1(d) << QStringLiteral("float32") << false << false
                                          << 100'003;
        QTest::addRow("strided %s vs float64", d) << QString::fromLatin1(d) << QStringLiteral("float64") << true
                                                  << false << 100'003;
    }
    QTest::addRow("strided float32 vs float32") << QStringLiteral("float32") << QStringLiteral("float32") << true
                                                << false << 100'003;
    QTest::addRow("allclose, not equal") << QStringLiteral("float64") << QStringLiteral("float64") << false << true
                                         << 100'003;
    QTest::addRow("float32 close vs float64") << QStringLiteral("float32") << QStringLiteral("float64") << false
                                              << true << 100'003;
    // Several pair chunks (2^21 positions each), the staging slots reused, in both paths.
    QTest::addRow("float16 vs float32, 5M") << QStringLiteral("float16") << QStringLiteral("float32") << false
                                            << false << 5'000'011;
    QTest::addRow("strided float32 vs float32, 5M") << QStringLiteral("float32") << QStringLiteral("float32") << true
                                                    << false << 5'000'011;
}

void TestCudaBackend::pairRandom()
{
    PTSCOPE_NEED_GPU();
    QFETCH(QString, dtypeA);
    QFETCH(QString, dtypeB);
    QFETCH(bool, strided);
    QFETCH(bool, close);
    QFETCH(int, numel);
    Synthetic s;
    std::uint32_t a = 0, b = 0;
    ptscope::test::addPair(s, dtypeA.toStdString(), dtypeB.toStdString(), strided, close, std::size_t(numel),
                           std::uint64_t(qHash(QByteArray(QTest::currentDataTag()))), a, b);
    s.finish();
    for (std::uint32_t bins : {1u, 64u, 5000u}) { // 5000: three sets of bins overflow shared memory
        auto cpu = compareTensorHistograms(s.cp, a, s.cp, b, bins, {}, m_cpu.get());
        auto gpu = compareTensorHistograms(s.cp, a, s.cp, b, bins, {}, m_gpu.get());
        QVERIFY2(cpu.ok() && gpu.ok(), qPrintable(errorOf(cpu) + QStringLiteral("; ") + errorOf(gpu)));
        const QString d = histogramsDifference(*cpu, *gpu);
        QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("bins=%1: ").arg(bins) + d));
        if (close)
            QVERIFY(gpu->comparison.allclose && !gpu->comparison.identical);
    }
    auto cpu = compareTensorValues(s.cp, a, s.cp, b, m_cpu.get());
    auto gpu = compareTensorValues(s.cp, a, s.cp, b, m_gpu.get());
    QVERIFY2(cpu.ok() && gpu.ok(), qPrintable(errorOf(cpu) + QStringLiteral("; ") + errorOf(gpu)));
    const QString d = comparisonDifference(*cpu, *gpu);
    QVERIFY2(d.isEmpty(), qPrintable(d));
}

void TestCudaBackend::pairEdgeCases()
{
    PTSCOPE_NEED_GPU();
    const double inf = kInf, nan = kNan;
    const std::vector<std::pair<std::vector<double>, std::vector<double>>> cases = {
        {{}, {}},
        {{1.0}, {1.0}},
        {{inf, -inf, inf, 0.0}, {inf, -inf, -inf, -0.0}}, // equal infinities differ by 0; inf - (-inf) = inf
        {{nan, nan, 1.0}, {nan, 2.0, nan}},
        {{0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}},             // cosine of zero vectors: 0 (eps clamp)
        {{1e300, -1e300, 5.0}, {-1e300, 1e300, 5.0}},   // differences overflow to infinity
        {std::vector<double>(50'000, 3.25), std::vector<double>(50'000, 3.25)},
    };
    for (std::size_t k = 0; k < cases.size(); ++k) {
        Synthetic s;
        const std::uint32_t a = s.addVector("float64", cases[k].first);
        const std::uint32_t b = s.addVector("float64", cases[k].second);
        s.finish();
        auto cpu = compareTensorHistograms(s.cp, a, s.cp, b, 16, {}, m_cpu.get());
        auto gpu = compareTensorHistograms(s.cp, a, s.cp, b, 16, {}, m_gpu.get());
        QVERIFY2(cpu.ok() && gpu.ok(), qPrintable(errorOf(cpu) + QStringLiteral("; ") + errorOf(gpu)));
        const QString d = histogramsDifference(*cpu, *gpu);
        QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("case %1: ").arg(k) + d));
    }
    // Sizes that differ: the same refusal from both.
    Synthetic s;
    const std::uint32_t a = s.addVector("float32", std::vector<float>(10, 1.0f));
    const std::uint32_t b = s.addVector("float32", std::vector<float>(11, 1.0f));
    s.finish();
    auto gpu = compareTensorValues(s.cp, a, s.cp, b, m_gpu.get());
    QVERIFY(!gpu.ok());
    QCOMPARE(gpu.error().code, ErrorCode::InvalidTensor);
}

// Every diff fixture pair with a target state dict: what ptscope-cli diff compares, CPU against GPU.
void TestCudaBackend::pairFixtures()
{
    PTSCOPE_NEED_GPU();
    QFile f(dataDir() + QStringLiteral("/diff/expected.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject pairs = QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("pairs")].toObject();
    int compared = 0;
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
        const QJsonObject rec = it.value().toObject();
        const QString targetFile = rec[QStringLiteral("targets")].toObject()[QStringLiteral("state_dict")].toString();
        if (targetFile.isEmpty())
            continue;
        auto source = openCheckpoint((dataDir() + QStringLiteral("/diff/") + rec[QStringLiteral("source")].toString())
                                         .toStdString());
        auto target = openCheckpoint((dataDir() + QStringLiteral("/diff/") + targetFile).toStdString());
        if (!source.ok() || !target.ok())
            continue;
        auto sd = sourceFromCheckpoint(**source);
        auto model = modelFromCheckpoint(**target);
        if (!sd.ok() || !model.ok())
            continue;
        const LoadOutcome o = emulateLoadStateDict(*model, *sd, TorchRules::Torch2);
        const auto cpu = compareLoadedValues(**source, *sd, target->get(), *model, o, m_cpu.get());
        const auto gpu = compareLoadedValues(**source, *sd, target->get(), *model, o, m_gpu.get());
        QCOMPARE(gpu.size(), cpu.size());
        for (std::size_t i = 0; i < cpu.size(); ++i) {
            QCOMPARE(gpu[i].key, cpu[i].key);
            QCOMPARE(gpu[i].cmp.has_value(), cpu[i].cmp.has_value());
            if (!cpu[i].cmp)
                continue;
            const QString d = comparisonDifference(*cpu[i].cmp, *gpu[i].cmp);
            QVERIFY2(d.isEmpty(), qPrintable(it.key() + QStringLiteral(" ") + QString::fromStdString(cpu[i].key)
                                             + QStringLiteral(": ") + d));
            ++compared;
        }
    }
    QVERIFY(compared >= 100);
}

void TestCudaBackend::pairDeterminismAndCancel()
{
    PTSCOPE_NEED_GPU();
    Synthetic s;
    std::uint32_t a = 0, b = 0;
    ptscope::test::addPair(s, "float32", "float32", false, false, 9'000'001, 3, a, b); // five pair chunks
    s.finish();
    auto first = compareTensorHistograms(s.cp, a, s.cp, b, 64, {}, m_gpu.get());
    auto second = compareTensorHistograms(s.cp, a, s.cp, b, 64, {}, m_gpu.get());
    QVERIFY(first.ok() && second.ok());
    QVERIFY(std::memcmp(&first->comparison.meanAbsDiff, &second->comparison.meanAbsDiff, sizeof(double)) == 0);
    QVERIFY(std::memcmp(&first->comparison.relativeL2, &second->comparison.relativeL2, sizeof(double)) == 0);
    QVERIFY(std::memcmp(&first->comparison.cosine, &second->comparison.cosine, sizeof(double)) == 0);
    QCOMPARE(first->difference.counts, second->difference.counts);

    for (int stopAt : {1, 2, 7}) { // during pass 1, and during pass 2
        int seen = 0;
        auto cancelled = compareTensorHistograms(
            s.cp, a, s.cp, b, 64, [&](std::uint64_t, std::uint64_t) { return ++seen < stopAt; }, m_gpu.get());
        QVERIFY(!cancelled.ok());
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        QCOMPARE(seen, stopAt);
    }
    auto again = compareTensorValues(s.cp, a, s.cp, b, m_gpu.get());
    QVERIFY2(again.ok(), qPrintable(errorOf(again)));
    QCOMPARE(again->differing, first->comparison.differing);
}

QTEST_GUILESS_MAIN(TestCudaBackend)
#include "tst_cuda_backend.moc"
