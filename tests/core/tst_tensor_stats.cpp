// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Tensor statistics against what torch itself computes (tests/data/stats/expected.json, written by
// tests/fixtures/generate_stats_fixtures.py), plus decoders torch 1.13 cannot write (float8,
// big-endian), cancellation, progress, accuracy on a large synthetic tensor and determinism.
#include "checkpoint.h"
#include "synthetic_checkpoint.h"
#include "histogram_backend.h"
#include "cpu_stats_kernels.h"
#include "tensor_data.h"
#include "tensor_stats.h"

#include <QFile>
#include <QTemporaryFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <algorithm>

#include <cmath>
#include <numeric>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace {

QString dataDir() { return QStringLiteral(PTSCOPE_TEST_DATA_DIR); }

using ptscope::test::Synthetic;

std::vector<double> readAll(const Checkpoint &cp, std::uint32_t t)
{
    auto r = TensorElementReader::open(cp, t);
    if (!r)
        return {};
    std::vector<double> v((*r)->numel());
    const std::size_t n = (*r)->read(v);
    v.resize(n);
    return v;
}

bool sameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 8) == 0; }

bool sameBits(double a, double b) { return std::memcmp(&a, &b, 8) == 0; }

QString describe(const MomentSummary &s)
{
    return QString::asprintf("count %llu nan %llu +inf %llu -inf %llu zeros %llu min %a max %a minAbs %a maxAbs %a "
                             "mean %a m2 %a",
                             static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.nan),
                             static_cast<unsigned long long>(s.posInf), static_cast<unsigned long long>(s.negInf),
                             static_cast<unsigned long long>(s.zeros), s.min, s.max, s.minAbs, s.maxAbs, s.mean, s.m2);
}

bool sameSummary(const MomentSummary &a, const MomentSummary &b)
{
    return a.count == b.count && a.nan == b.nan && a.posInf == b.posInf && a.negInf == b.negInf && a.zeros == b.zeros
        && sameBits(a.min, b.min) && sameBits(a.max, b.max) && sameBits(a.minAbs, b.minAbs)
        && sameBits(a.maxAbs, b.maxAbs) && sameBits(a.mean, b.mean) && sameBits(a.m2, b.m2);
}

// The contract of cpu_stats_kernels.h written out lane by lane in scalar code: element i of a block in
// lane i % 8, the lanes' sums added in the tree ((0+1)+(2+3))+((4+5)+(6+7)), extrema merged in lane
// order, the mean the block's own (when that sum overflows, the sum of x * 2^-600 in element order,
// divided, scaled back) and m2 around it.
MomentSummary referenceBlock(const std::vector<double> &x)
{
    constexpr int L = 8;
    constexpr double inf = std::numeric_limits<double>::infinity();
    auto tree = [](const double *v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); };
    double sum[L] = {}, m2[L] = {}, mn[L], mx[L], minAbs[L], maxAbs[L] = {};
    std::fill(mn, mn + L, inf);
    std::fill(mx, mx + L, -inf);
    std::fill(minAbs, minAbs + L, inf);
    MomentSummary s;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const int l = static_cast<int>(i % L);
        const double v = x[i], a = std::fabs(v);
        if (std::isnan(v)) {
            ++s.nan;
        } else if (std::isinf(v)) {
            ++(v > 0 ? s.posInf : s.negInf);
        } else {
            ++s.count;
            s.zeros += v == 0.0;
            sum[l] += v;
            mn[l] = v < mn[l] ? v : mn[l];
            mx[l] = v > mx[l] ? v : mx[l];
            minAbs[l] = a > 0.0 && a < minAbs[l] ? a : minAbs[l];
            maxAbs[l] = a > maxAbs[l] ? a : maxAbs[l];
        }
    }
    for (int l = 0; l < L; ++l) {
        s.min = std::min(s.min, mn[l]);
        s.max = std::max(s.max, mx[l]);
        s.minAbs = std::min(s.minAbs, minAbs[l]);
        s.maxAbs = std::max(s.maxAbs, maxAbs[l]);
    }
    if (s.count) {
        s.mean = tree(sum) / static_cast<double>(s.count);
        if (!std::isfinite(s.mean)) {
            double scaled = 0.0;
            for (double v : x)
                scaled += std::isfinite(v) ? v * 0x1p-600 : 0.0;
            s.mean = scaled / static_cast<double>(s.count) * 0x1p600;
        }
        for (std::size_t i = 0; i < x.size(); ++i)
            if (std::isfinite(x[i])) {
                const double d = x[i] - s.mean;
                m2[i % L] += d * d;
            }
        s.m2 = tree(m2);
    }
    return s;
}

// Random values in lots of magnitudes, and with `special` set NaN, infinities, signed zeros,
// subnormals and huge values sprinkled in.
template<typename T>
std::vector<T> awkwardValues(std::size_t n, std::uint32_t seed, bool special)
{
    std::vector<T> v(n);
    std::uint32_t state = seed;
    auto next = [&]() { return state = state * 1664525u + 1013904223u; };
    for (auto &x : v) {
        const auto r = next();
        x = static_cast<T>((static_cast<double>(r >> 8) / 16777216.0 - 0.3) * std::ldexp(1.0, static_cast<int>(next() % 40) - 20));
        if (!special)
            continue;
        switch (next() % 16) {
        case 0: x = std::numeric_limits<T>::quiet_NaN(); break;
        case 1: x = std::numeric_limits<T>::infinity(); break;
        case 2: x = -std::numeric_limits<T>::infinity(); break;
        case 3: x = T(0); break;
        case 4: x = -T(0); break;
        case 5: x = std::numeric_limits<T>::denorm_min() * T(next() % 1000 + 1); break;
        case 6: x = -std::numeric_limits<T>::max() / T(4); break;
        default: break;
        }
    }
    return v;
}

// Runs fn() once on every instruction set this CPU has, then goes back to the widest.
template<typename Fn>
void onEveryIsa(Fn fn)
{
    const auto isas = cpu_kernels::supportedIsas();
    for (auto isa : isas) {
        QVERIFY(cpu_kernels::setIsa(isa));
        fn(isa);
    }
    QVERIFY(cpu_kernels::setIsa(isas.back()));
}

} // namespace

class TestTensorStats : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchesTorch_data();
    void matchesTorch();
    void float8_data();
    void float8();
    void bigEndian();
    void torch2xFiles_data();
    void torch2xFiles();
    void shardedFiles_data();
    void shardedFiles();
    void unreadableTensors_data();
    void unreadableTensors();
    void stridedSeek();
    void subByteElements();
    void histcRangeBeyondDoubles_data();
    void histcRangeBeyondDoubles();
    void meanBeyondTheSum();
    void complexCounted();
    void largeAnalytic();
    void hundredMillionElements();
    void offsetMeanAccuracy();
    void threadDeterminism();
    void kernelPaths_data();
    void kernelPaths();
    void statsOnEveryIsa();
    void fileReadsAsMemory();
    void groupOfTensors();
    void progressAndCancel();
    void explicitRange();
    void logHistogram();
    void histcFormula_data();
    void histcFormula();
    void histcEdges_data();
    void histcEdges();
    void complexMagnitudeRange();
    void qint32PerTensor();
    void qint32PerChannel();
    void histcConstant_data();
    void histcConstant();
};

void TestTensorStats::matchesTorch_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("tensor");
    QTest::addColumn<QJsonObject>("expected");
    // torch 1.13's answers (tests/data/stats) and each torch 2.x's (tests/data/torch-2.N/stats, with
    // the float8, uint16/32/64 and complex32 tensors 1.13 cannot make).
    QStringList sets{QStringLiteral("stats")};
    for (const QString &d : QDir(dataDir()).entryList({QStringLiteral("torch-*")}, QDir::Dirs, QDir::Name))
        sets << d + QStringLiteral("/stats");
    QVERIFY2(sets.size() >= 3, "run tests/fixtures/torch2_env.sh generate");
    for (const QString &set : sets) {
        QFile f(dataDir() + QLatin1Char('/') + set + QStringLiteral("/expected.json"));
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(set + QStringLiteral("/expected.json is missing")));
        const QJsonObject files = QJsonDocument::fromJson(f.readAll()).object();
        QVERIFY(files.size() >= 4);
        for (auto file = files.begin(); file != files.end(); ++file) {
            const QJsonObject tensors = file.value().toObject();
            for (auto t = tensors.begin(); t != tensors.end(); ++t)
                QTest::addRow("%s/%s:%s", qPrintable(set), qPrintable(file.key()), qPrintable(t.key()))
                    << set + QLatin1Char('/') + file.key() << t.key() << t.value().toObject();
        }
    }
}

void TestTensorStats::matchesTorch()
{
    QFETCH(QString, file);
    QFETCH(QString, tensor);
    QFETCH(QJsonObject, expected);
    auto cp = openCheckpoint((dataDir() + QLatin1Char('/') + file).toStdString());
    QVERIFY2(cp.ok(), cp.ok() ? "" : cp.error().toString().c_str());
    std::int64_t index = -1;
    for (const TensorRef &ref : (*cp)->tensorRefs)
        if (joinPath(ref.path) == tensor.toStdString())
            index = ref.tensor;
    QVERIFY2(index >= 0, "tensor path not found");

    // torch 1.13's own numbers need its outer bin edges (HistcEdges); torch 2.x's are exact.
    const bool torch113 = file.startsWith(QLatin1String("stats/"));
    for (int bins : {7, 10, 63, 64}) {
        StatsRequest request;
        request.bins = static_cast<std::uint32_t>(bins);
        request.edges = torch113 ? HistcEdges::Torch1_13 : HistcEdges::Exact;
        auto st = computeStats(**cp, {static_cast<std::uint32_t>(index)}, request);
        QVERIFY2(st.ok(), st.ok() ? "" : st.error().toString().c_str());
        QCOMPARE(st->numel, static_cast<std::uint64_t>(expected[QStringLiteral("numel")].toInteger()));
        QCOMPARE(st->nan, static_cast<std::uint64_t>(expected[QStringLiteral("nan")].toInteger()));
        QCOMPARE(st->posInf, static_cast<std::uint64_t>(expected[QStringLiteral("posinf")].toInteger()));
        QCOMPARE(st->negInf, static_cast<std::uint64_t>(expected[QStringLiteral("neginf")].toInteger()));
        QCOMPARE(st->zeros, static_cast<std::uint64_t>(expected[QStringLiteral("zeros")].toInteger()));
        QCOMPARE(st->finiteCount, static_cast<std::uint64_t>(expected[QStringLiteral("finite")].toInteger()));
        if (expected[QStringLiteral("min")].isNull()) {
            QVERIFY(std::isnan(st->min) && std::isnan(st->max) && std::isnan(st->mean) && std::isnan(st->std));
        } else {
            // Extrema are element values: exact. Moments: torch's float64 answer to 1e-12 relative.
            // Except complex64 magnitudes under torch 2.x, whose abs() kernel rounds differently
            // from 1.13's (one float32 ulp at most, on some elements).
            const bool ulpApart = !torch113 && tensor.startsWith(QLatin1String("complex64"));
            const double rel = ulpApart ? 0x1p-23 : 1e-12;
            const double mn = expected[QStringLiteral("min")].toDouble(), mx = expected[QStringLiteral("max")].toDouble();
            if (ulpApart) {
                QVERIFY(std::fabs(st->min - mn) <= rel * std::fabs(mn) && std::fabs(st->max - mx) <= rel * std::fabs(mx));
            } else {
                QCOMPARE(st->min, mn);
                QCOMPARE(st->max, mx);
            }
            const double mean = expected[QStringLiteral("mean")].toDouble();
            const double sd = expected[QStringLiteral("std")].toDouble();
            const double scale = std::max(std::fabs(st->max), std::fabs(st->min));
            QVERIFY2(std::fabs(st->mean - mean) <= rel * std::max(std::fabs(mean), 1e-300) + 1e-15 * scale,
                     qPrintable(QStringLiteral("mean %1 vs torch %2").arg(st->mean, 0, 'g', 17).arg(mean, 0, 'g', 17)));
            QVERIFY2(std::fabs(st->std - sd) <= rel * sd + 1e-15 * scale,
                     qPrintable(QStringLiteral("std %1 vs torch %2").arg(st->std, 0, 'g', 17).arg(sd, 0, 'g', 17)));
        }
        const QJsonArray counts = expected[QStringLiteral("histc_%1").arg(bins)].toArray();
        QCOMPARE(st->histogram.counts.size(), static_cast<std::size_t>(counts.size()));
        for (qsizetype i = 0; i < counts.size(); ++i)
            QVERIFY2(st->histogram.counts[static_cast<std::size_t>(i)]
                         == static_cast<std::uint64_t>(counts[i].toInteger()),
                     qPrintable(QStringLiteral("bins=%1, bin %2: %3 vs torch %4")
                                    .arg(bins)
                                    .arg(i)
                                    .arg(st->histogram.counts[static_cast<std::size_t>(i)])
                                    .arg(counts[i].toInteger())));
    }
}

void TestTensorStats::float8_data()
{
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<int>("byte");
    QTest::addColumn<double>("value");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    struct Row
    {
        const char *dtype;
        int byte;
        double value;
    };
    // Reference values from the OCP FP8 spec and c10's Float8_* tables.
    const Row rows[] = {
        {"float8_e4m3fn", 0x00, 0.0},          {"float8_e4m3fn", 0x01, std::ldexp(1.0, -9)},
        {"float8_e4m3fn", 0x07, 7 * std::ldexp(1.0, -9)}, {"float8_e4m3fn", 0x08, std::ldexp(1.0, -6)},
        {"float8_e4m3fn", 0x38, 1.0},          {"float8_e4m3fn", 0x7e, 448.0},
        {"float8_e4m3fn", 0x7f, nan},          {"float8_e4m3fn", 0xff, nan},
        {"float8_e4m3fn", 0xb8, -1.0},         {"float8_e4m3fn", 0x78, 256.0},
        {"float8_e5m2", 0x3c, 1.0},            {"float8_e5m2", 0x01, std::ldexp(1.0, -16)},
        {"float8_e5m2", 0x7b, 57344.0},        {"float8_e5m2", 0x7c, inf},
        {"float8_e5m2", 0xfc, -inf},           {"float8_e5m2", 0x7d, nan},
        {"float8_e5m2", 0xc0, -2.0},
        {"float8_e5m2fnuz", 0x40, 1.0},        {"float8_e5m2fnuz", 0x80, nan},
        {"float8_e5m2fnuz", 0x7f, 57344.0},    {"float8_e5m2fnuz", 0x01, std::ldexp(1.0, -17)},
        {"float8_e5m2fnuz", 0xff, -57344.0},
        {"float8_e4m3fnuz", 0x40, 1.0},        {"float8_e4m3fnuz", 0x80, nan},
        {"float8_e4m3fnuz", 0x7f, 240.0},      {"float8_e4m3fnuz", 0x01, std::ldexp(1.0, -10)},
        {"float8_e4m3fnuz", 0xc0, -1.0},
        {"float8_e8m0fnu", 0x7f, 1.0},         {"float8_e8m0fnu", 0x00, std::ldexp(1.0, -127)},
        {"float8_e8m0fnu", 0xfe, std::ldexp(1.0, 127)}, {"float8_e8m0fnu", 0xff, nan},
        {"float8_e8m0fnu", 0x80, 2.0},
    };
    for (const Row &r : rows)
        QTest::addRow("%s_0x%02x", r.dtype, r.byte) << QString::fromLatin1(r.dtype) << r.byte << r.value;
}

void TestTensorStats::float8()
{
    QFETCH(QString, dtype);
    QFETCH(int, byte);
    QFETCH(double, value);
    Synthetic s;
    // The byte under test sits in the middle of a strided view, to exercise the strided path too.
    const std::uint8_t data[] = {0x11, static_cast<std::uint8_t>(byte), 0x22};
    s.add(dtype.toStdString(), data, sizeof data, {1}, {2}, 1);
    s.finish();
    const auto v = readAll(s.cp, 0);
    QCOMPARE(v.size(), std::size_t(1));
    QVERIFY2(sameDouble(v[0], value), qPrintable(QStringLiteral("got %1").arg(v[0], 0, 'g', 17)));
}

void TestTensorStats::bigEndian()
{
    Synthetic s;
    const std::uint8_t f32[] = {0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00}; // 1.5, -2.0
    s.add("float32", f32, sizeof f32, {2});
    const std::uint8_t i16[] = {0xff, 0xfe, 0x01, 0x00}; // -2, 256
    s.add("int16", i16, sizeof i16, {2});
    const std::uint8_t c64[] = {0x40, 0x40, 0x00, 0x00, 0x40, 0x80, 0x00, 0x00}; // 3 + 4i -> 5
    s.add("complex64", c64, sizeof c64, {1});
    const std::uint8_t f16[] = {0x3c, 0x00, 0x7c, 0x00}; // 1.0, inf
    s.add("float16", f16, sizeof f16, {2});
    const std::uint8_t u8[] = {7, 200};
    s.add("uint8", u8, sizeof u8, {2});
    s.cp.byteOrder = "big";
    s.finish();
    QCOMPARE(readAll(s.cp, 0), (std::vector<double>{1.5, -2.0}));
    QCOMPARE(readAll(s.cp, 1), (std::vector<double>{-2.0, 256.0}));
    QCOMPARE(readAll(s.cp, 2), (std::vector<double>{5.0}));
    QCOMPARE(readAll(s.cp, 3), (std::vector<double>{1.0, std::numeric_limits<double>::infinity()}));
    QCOMPARE(readAll(s.cp, 4), (std::vector<double>{7.0, 200.0}));
}

void TestTensorStats::torch2xFiles_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("little-endian") << QStringLiteral("torch2x_layout.pt");
    QTest::newRow("big-endian") << QStringLiteral("torch2x_big_endian.pt");
}

void TestTensorStats::torch2xFiles()
{
    // Hand-built torch 2.x files (tests/fixtures/generate_fixtures.py): float8_e4m3fn and uint16
    // through _rebuild_tensor_v3 on untyped storages, in both byte orders.
    QFETCH(QString, file);
    auto cp = openCheckpoint((dataDir() + QStringLiteral("/fixtures/") + file).toStdString());
    QVERIFY(cp.ok());
    std::map<std::string, std::vector<double>> got;
    for (const TensorRef &ref : (*cp)->tensorRefs)
        got[joinPath(ref.path)] = readAll(**cp, ref.tensor);
    QCOMPARE(got["w8"], (std::vector<double>{1.0, 2.0, 3.0, -1.0, 0.0, 448.0}));
    QCOMPARE(got["ids"], (std::vector<double>{0, 1, 65535, 40000}));
    QCOMPARE(got["scale"], (std::vector<double>{0.5, -1.25, 3.0}));
}

void TestTensorStats::shardedFiles_data()
{
    QTest::addColumn<QString>("index");
    QTest::newRow("torch.save shards") << QStringLiteral("sharded_model.bin.index.json");
    QTest::newRow("safetensors shards") << QStringLiteral("sharded_st.safetensors.index.json");
}

void TestTensorStats::shardedFiles()
{
    // Through the index, every tensor reads the bytes of its own shard: the same elements as
    // opening that shard alone.
    QFETCH(QString, index);
    const std::string dir = (dataDir() + QStringLiteral("/fixtures/")).toStdString();
    auto cp = openCheckpoint(dir + index.toStdString());
    QVERIFY(cp.ok());
    QVERIFY((*cp)->shards.size() > 1);
    std::map<std::string, std::shared_ptr<const Checkpoint>> shards;
    int compared = 0;
    for (const TensorRef &ref : (*cp)->tensorRefs) {
        const TensorInfo &t = (*cp)->tensors[ref.tensor];
        QVERIFY(t.storage >= 0);
        const std::string &shard = (*cp)->storages[static_cast<std::size_t>(t.storage)].shard;
        QVERIFY(!shard.empty());
        if (!shards.count(shard)) {
            auto one = openCheckpoint(dir + shard);
            QVERIFY2(one.ok(), shard.c_str());
            shards[shard] = std::move(*one);
        }
        const Checkpoint &alone = *shards[shard];
        const std::string key = joinPath(ref.path);
        bool found = false;
        for (const TensorRef &other : alone.tensorRefs) {
            if (joinPath(other.path) != key)
                continue;
            found = true;
            QCOMPARE(readAll(**cp, ref.tensor), readAll(alone, other.tensor));
            ++compared;
        }
        QVERIFY2(found, key.c_str());
    }
    QVERIFY(compared >= 5);
    QVERIFY(shards.size() > 1);
}

void TestTensorStats::unreadableTensors_data()
{
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<int>("storageBytes");
    QTest::addColumn<int>("numel");
    QTest::addColumn<int>("offset");
    QTest::addColumn<QString>("why");
    // Sub-byte types hold two or four elements a byte: 17 nibbles need 9 bytes, 33 crumbs 9 bytes.
    QTest::newRow("quint4x2 past the storage") << QStringLiteral("quint4x2") << 8 << 17 << 0
                                               << QStringLiteral("reaches past");
    QTest::newRow("quint2x4 offset past the storage") << QStringLiteral("quint2x4") << 8 << 30 << 3
                                                      << QStringLiteral("reaches past");
    QTest::newRow("packed float4") << QStringLiteral("float4_e2m1fn_x2") << 8 << 8 << 0 << QStringLiteral("dtype");
    QTest::newRow("bits16") << QStringLiteral("bits16") << 8 << 4 << 0 << QStringLiteral("dtype");
    QTest::newRow("past the storage") << QStringLiteral("float32") << 16 << 5 << 0 << QStringLiteral("reaches past");
    QTest::newRow("offset past the storage") << QStringLiteral("float32") << 16 << 2 << 3
                                             << QStringLiteral("reaches past");
}

void TestTensorStats::unreadableTensors()
{
    QFETCH(QString, dtype);
    QFETCH(int, storageBytes);
    QFETCH(int, numel);
    QFETCH(int, offset);
    QFETCH(QString, why);
    Synthetic s;
    std::vector<std::uint8_t> data(static_cast<std::size_t>(storageBytes), 0);
    s.add(dtype.toStdString(), data.data(), data.size(), {numel}, {1}, offset);
    s.finish();
    // The loader's validation is bypassed on purpose: the reader must check again.
    auto r = TensorElementReader::open(s.cp, 0);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, ErrorCode::InvalidTensor);
    QVERIFY2(QString::fromStdString(r.error().message).contains(why), r.error().message.c_str());
    auto st = computeStats(s.cp, {0});
    QVERIFY(!st.ok());
    QCOMPARE(st.error().path, std::string("synthetic"));
}

void TestTensorStats::stridedSeek()
{
    // A 4x5x3 buffer viewed as a permuted, stepped tensor; every seek position must give the
    // same tail as reading from the start.
    Synthetic s;
    std::vector<float> data(60);
    for (int i = 0; i < 60; ++i)
        data[static_cast<std::size_t>(i)] = static_cast<float>(i);
    s.add("float32", data.data(), data.size() * 4, {3, 2, 4}, {1, 6, 15}, 1); // offset 1, no contiguous dim
    s.finish();
    const auto all = readAll(s.cp, 0);
    QCOMPARE(all.size(), std::size_t(24));
    // Logical order: element (i, j, k) = 1 + i + 6j + 15k.
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j)
            for (int k = 0; k < 4; ++k)
                QCOMPARE(all[static_cast<std::size_t>(i * 8 + j * 4 + k)], double(1 + i + 6 * j + 15 * k));
    auto r = TensorElementReader::open(s.cp, 0);
    QVERIFY(r.ok());
    for (std::uint64_t at = 0; at <= 24; ++at) {
        (*r)->seek(at);
        std::vector<double> tail(30);
        std::size_t got = 0;
        while (std::size_t n = (*r)->read(std::span<double>(tail.data() + got, 3))) // small reads cross rows
            got += n;
        QCOMPARE(got, static_cast<std::size_t>(24 - at));
        for (std::size_t i = 0; i < got; ++i)
            QCOMPARE(tail[i], all[at + i]);
    }
}

void TestTensorStats::subByteElements()
{
    // torch packs quint4x2 two and quint2x4 four to a byte, in the tensor's flat order, the first
    // element in the low bits (quantize_per_channel, int_repr); a view counts storage elements.
    Synthetic s;
    const std::uint8_t nibbles[] = {0x21, 0x43, 0xf5};
    const std::uint8_t crumbs[] = {0xe4, 0x1b};
    s.add("quint4x2", nibbles, sizeof nibbles, {2, 3}, {3, 1}, 0);
    s.add("quint4x2", nibbles, sizeof nibbles, {2, 2}, {1, 2}, 1); // a strided view from element 1
    s.add("quint2x4", crumbs, sizeof crumbs, {7}, {1}, 1);
    s.finish();
    QCOMPARE(readAll(s.cp, 0), (std::vector<double> {1, 2, 3, 4, 5, 15}));
    QCOMPARE(readAll(s.cp, 1), (std::vector<double> {2, 4, 3, 5}));
    QCOMPARE(readAll(s.cp, 2), (std::vector<double> {1, 2, 3, 3, 2, 1, 0}));
    auto r = TensorElementReader::open(s.cp, 0);
    QVERIFY(r.ok());
    (*r)->seek(3);
    std::vector<double> tail(3);
    QCOMPARE((*r)->read(tail), std::size_t(3));
    QCOMPARE(tail, (std::vector<double> {4, 5, 15}));
}

void TestTensorStats::largeAnalytic()
{
    // x_i = i for i < N: mean (N-1)/2, population variance (N^2-1)/12, and with 64 bins over
    // [0, N-1] the bin of i is floor(64 i / (N-1)), exact in integers.
    constexpr std::uint32_t N = 2'000'000;
    Synthetic s;
    std::vector<float> data(N);
    for (std::uint32_t i = 0; i < N; ++i)
        data[i] = static_cast<float>(i);
    s.add("float32", data.data(), data.size() * 4, {1000, 2000});
    s.finish();
    StatsRequest request;
    request.bins = 64;
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    const double n = N;
    QCOMPARE(st->min, 0.0);
    QCOMPARE(st->max, n - 1);
    QVERIFY(std::fabs(st->mean - (n - 1) / 2) <= 1e-12 * n);
    const double sd = std::sqrt((n * n - 1) / 12);
    QVERIFY2(std::fabs(st->std - sd) <= 1e-10 * sd, qPrintable(QString::number(st->std, 'g', 17)));
    std::vector<std::uint64_t> expected(64, 0);
    for (std::uint64_t i = 0; i < N; ++i)
        ++expected[std::min<std::uint64_t>(63, i * 64 / (N - 1))];
    QCOMPARE(st->histogram.counts, expected);
    QCOMPARE(st->zeros, std::uint64_t(1));
}

void TestTensorStats::hundredMillionElements()
{
    // The accuracy asked of the engine: a 100-million-element tensor to 1e-6 relative of the exact
    // (float64) answer. int32 x_i = i (exact in every dtype it passes through): mean (N-1)/2,
    // population std sqrt((N^2-1)/12), and histc's 64 bins over [0, N-1] in integers.
    constexpr std::uint32_t N = 100'000'000;
    Synthetic s;
    std::vector<std::int32_t> data(N);
    for (std::uint32_t i = 0; i < N; ++i)
        data[i] = static_cast<std::int32_t>(i);
    s.add("int32", data.data(), data.size() * 4, {N});
    s.finish();
    StatsRequest request;
    request.bins = 64;
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    const double n = N;
    QCOMPARE(st->finiteCount, std::uint64_t(N));
    QCOMPARE(st->min, 0.0);
    QCOMPARE(st->max, n - 1);
    QVERIFY2(std::fabs(st->mean - (n - 1) / 2) <= 1e-6 * ((n - 1) / 2), qPrintable(QString::number(st->mean, 'g', 17)));
    const double sd = std::sqrt((n * n - 1) / 12);
    QVERIFY2(std::fabs(st->std - sd) <= 1e-6 * sd, qPrintable(QString::number(st->std, 'g', 17)));
    // What the engine actually achieves, far inside the requirement.
    QVERIFY2(std::fabs(st->std - sd) <= 1e-12 * sd, qPrintable(QString::number(st->std, 'g', 17)));
    std::vector<std::uint64_t> expected(64, 0);
    for (std::uint64_t i = 0; i < N; ++i)
        ++expected[std::min<std::uint64_t>(63, i * 64 / (N - 1))];
    QCOMPARE(st->histogram.counts, expected);
}

void TestTensorStats::offsetMeanAccuracy()
{
    // A large mean with a small spread: naive sum-of-squares loses every digit here.
    constexpr std::uint32_t N = 2'000'000;
    Synthetic s;
    std::vector<double> data(N);
    for (std::uint32_t i = 0; i < N; ++i)
        data[i] = 1e9 + 0.5 * static_cast<double>(i % 1000);
    s.add("float64", data.data(), data.size() * 8, {N});
    s.finish();
    auto st = computeStats(s.cp, {0}, StatsRequest{0, std::nullopt, false, 0});
    QVERIFY(st.ok());
    QVERIFY(st->histogram.counts.empty());
    // i % 1000 is uniform on 0..999: mean 1e9 + 249.75, variance 0.25 * (1000^2 - 1) / 12.
    QVERIFY(std::fabs(st->mean - (1e9 + 249.75)) <= 1e-15 * 1e9 * 4);
    const double sd = 0.5 * std::sqrt((1e6 - 1) / 12);
    QVERIFY2(std::fabs(st->std - sd) <= 1e-9 * sd, qPrintable(QString::number(st->std, 'g', 17)));
}

void TestTensorStats::threadDeterminism()
{
    constexpr std::uint32_t N = 3'500'000; // several work units
    Synthetic s;
    std::vector<float> data(N);
    std::uint32_t state = 12345;
    for (auto &v : data) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(state >> 8) / 65536.0f - 128.0f;
    }
    data[17] = std::numeric_limits<float>::quiet_NaN();
    data[N - 3] = -std::numeric_limits<float>::infinity();
    s.add("float32", data.data(), data.size() * 4, {N});
    s.finish();
    StatsRequest request;
    request.bins = 100;
    request.logHistogram = true;
    auto one = makeCpuHistogramBackend(1);
    auto many = makeCpuHistogramBackend(7);
    auto a = computeStats(s.cp, {0}, request, {}, one.get());
    auto b = computeStats(s.cp, {0}, request, {}, many.get());
    QVERIFY(a.ok() && b.ok());
    QVERIFY(sameDouble(a->mean, b->mean));
    QVERIFY(sameDouble(a->std, b->std));
    QCOMPARE(a->min, b->min);
    QCOMPARE(a->max, b->max);
    QCOMPARE(a->nan, std::uint64_t(1));
    QCOMPARE(a->negInf, std::uint64_t(1));
    QCOMPARE(a->histogram.counts, b->histogram.counts);
    QCOMPARE(a->logHistogram.counts, b->logHistogram.counts);
    std::uint64_t total = 0;
    for (auto c : a->histogram.counts)
        total += c;
    QCOMPARE(total, a->finiteCount);
    QCOMPARE(a->finiteCount, std::uint64_t(N - 2));
}

void TestTensorStats::kernelPaths_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<bool>("isFloat");
    QTest::addColumn<bool>("special");
    for (int length : {1, 3, 8, 13, 64, 100, 517, 4096, 8191, 8192})
        for (bool isFloat : {true, false})
            for (bool special : {false, true})
                QTest::addRow("%d %s%s", length, isFloat ? "float32" : "float64", special ? " NaN/Inf/0/subnormal" : "")
                    << length << isFloat << special;
}

// Every instruction set's kernels give the scalar reference's bits, for blocks with and without
// non-finite values, of awkward lengths, at awkward addresses.
void TestTensorStats::kernelPaths()
{
    QFETCH(int, length);
    QFETCH(bool, isFloat);
    QFETCH(bool, special);
    const auto n = static_cast<std::size_t>(length);
    const std::uint32_t seed = static_cast<std::uint32_t>(length) * 2654435761u + isFloat + 2 * special;
    std::vector<double> values;
    std::vector<std::uint8_t> bytes(1); // one byte first: the elements are misaligned
    if (isFloat) {
        const auto f = awkwardValues<float>(n, seed, special);
        values.assign(f.begin(), f.end());
        bytes.insert(bytes.end(), reinterpret_cast<const std::uint8_t *>(f.data()),
                     reinterpret_cast<const std::uint8_t *>(f.data() + n));
    } else {
        values = awkwardValues<double>(n, seed, special);
        bytes.insert(bytes.end(), reinterpret_cast<const std::uint8_t *>(values.data()),
                     reinterpret_cast<const std::uint8_t *>(values.data() + n));
    }
    const MomentSummary expected = referenceBlock(values);
    // A range inside the data (some values skipped) with the maximum on the upper edge.
    const double lo = expected.count ? expected.min / 2 : -1.0, hi = expected.count ? expected.max : 1.0;
    for (std::uint32_t bins : {7u, 64u}) {
        std::vector<std::uint64_t> expectedCounts(bins + 1, 0);
        for (double x : values) {
            const std::int64_t b = histcBin(x, lo, hi, bins, false);
            ++expectedCounts[b < 0 ? bins : static_cast<std::size_t>(b)];
        }
        onEveryIsa([&](cpu_kernels::Isa isa) {
            const cpu_kernels::Block block{bytes.data() + 1, n, isFloat};
            if (bins == 7) {
                const MomentSummary got = cpu_kernels::summarizeBlock(block);
                QVERIFY2(sameSummary(got, expected),
                         qPrintable(QLatin1String(cpu_kernels::isaName(isa)) + QStringLiteral(": ") + describe(got)
                                    + QStringLiteral(" expected ") + describe(expected)));
            }
            std::vector<std::uint64_t> counts(bins + 1, 0);
            cpu_kernels::addLinearBins(block, {.lo = lo, .hi = hi, .bins = bins}, counts.data());
            QVERIFY2(counts == expectedCounts, cpu_kernels::isaName(isa));
        });
    }
    if (special || !expected.count)
        return;
    // Every value finite and the range the data's own (as computeStats then says): the kernels may
    // leave out the range tests and must give the same counts.
    const auto [rlo, rhi] = histcRange(expected.min, expected.max); // min == max: widened, as torch does
    for (std::uint32_t bins : {1u, 7u, 64u, 1000u}) {
        std::vector<std::uint64_t> expectedCounts(bins + 1, 0);
        for (double x : values)
            ++expectedCounts[static_cast<std::size_t>(histcBin(x, rlo, rhi, bins, false))];
        onEveryIsa([&](cpu_kernels::Isa isa) {
            const cpu_kernels::Block block{bytes.data() + 1, n, isFloat};
            std::vector<std::uint64_t> counts(bins + 1, 0);
            cpu_kernels::addLinearBins(block, {.lo = rlo, .hi = rhi, .bins = bins, .inside = true}, counts.data());
            QVERIFY2(counts == expectedCounts, qPrintable(QString::asprintf("%s, %u bins", cpu_kernels::isaName(isa), bins)));
            // A caller wrong about the range gets every element counted once, none written
            // outside the counts (ASan watches the guard slots around them).
            std::vector<std::uint64_t> wrong(bins + 3, 0);
            const double mid = (expected.min + expected.max) / 2;
            cpu_kernels::addLinearBins(block, {.lo = mid, .hi = mid + std::fabs(mid) / 4 + 1e-300, .bins = bins, .inside = true},
                                       wrong.data() + 1);
            QCOMPARE(wrong.front(), std::uint64_t(0));
            QCOMPARE(wrong.back(), std::uint64_t(0));
            QCOMPARE(std::accumulate(wrong.begin(), wrong.end(), std::uint64_t(0)), std::uint64_t(n));
        });
    }
}

// The backends copy raw bytes out of a file with pread (copyRaw), keep a small source between its
// passes and stage larger ones per unit; a checkpoint in memory is read in place. Both give the same
// bits, for a group whose units mix float32, float64 and converted (float16) runs, with and without
// a second pass (kept / staged), on 1 and 3 threads.
void TestTensorStats::fileReadsAsMemory()
{
    const auto a = awkwardValues<float>(300'000, 11, true); // crosses a unit boundary (262144)
    const auto b = awkwardValues<double>(70'001, 12, false);
    std::vector<std::uint16_t> c(5000);
    for (std::size_t i = 0; i < c.size(); ++i)
        c[i] = static_cast<std::uint16_t>(0x3c00 + (i * 37) % 0x0800); // float16 values in [1, 2)
    const auto d = awkwardValues<float>(10, 13, false);
    auto build = [&](Synthetic &x) {
        x.addVector("float32", a);
        x.addVector("float64", b);
        x.addVector("float16", c);
        x.addVector("float32", d);
        x.finish();
    };
    Synthetic s, onDisk;
    build(s);
    build(onDisk);

    QTemporaryFile tmp;
    QVERIFY(tmp.open());
    QCOMPARE(tmp.write(reinterpret_cast<const char *>(s.bytes.data()), static_cast<qint64>(s.bytes.size())),
             static_cast<qint64>(s.bytes.size()));
    tmp.close();
    auto mapped = MappedFile::open(tmp.fileName().toStdString());
    QVERIFY(mapped.ok());
    onDisk.cp.file = *mapped; // the same layout, read from the file

    // copyOut itself: a file's bytes, nothing from a buffer or outside the file.
    std::vector<std::uint8_t> out(1000);
    QVERIFY((*mapped)->copyOut((*mapped)->bytes().data() + 123, out.size(), out.data()));
    QVERIFY(std::equal(out.begin(), out.end(), s.bytes.begin() + 123));
    QVERIFY(!s.cp.file->copyOut(s.cp.file->bytes().data(), 10, out.data()));
    QVERIFY(!(*mapped)->copyOut((*mapped)->bytes().data() + s.bytes.size() - 5, 10, out.data()));

    for (unsigned threads : {1u, 3u})
        for (std::uint32_t bins : {0u, 64u})
            for (const std::vector<std::uint32_t> &tensors :
                 {std::vector<std::uint32_t>{0, 1, 2, 3}, {2, 1}, {0}, {1}}) {
                StatsRequest request;
                request.bins = bins;
                auto backend = makeCpuHistogramBackend(threads);
                auto inMemory = computeStats(s.cp, tensors, request, {}, backend.get());
                auto fromFile = computeStats(onDisk.cp, tensors, request, {}, backend.get());
                QVERIFY(inMemory.ok() && fromFile.ok());
                const QByteArray what = QString::asprintf("%u threads, %u bins, %zu tensors", threads, bins,
                                                          tensors.size()).toUtf8();
                QVERIFY2(sameBits(inMemory->mean, fromFile->mean) && sameBits(inMemory->std, fromFile->std)
                             && sameBits(inMemory->min, fromFile->min) && sameBits(inMemory->max, fromFile->max),
                         what.constData());
                QCOMPARE(inMemory->finiteCount, fromFile->finiteCount);
                QCOMPARE(inMemory->nan, fromFile->nan);
                QCOMPARE(inMemory->zeros, fromFile->zeros);
                QCOMPARE(inMemory->histogram.counts, fromFile->histogram.counts);
                // And the numbers are the elements': the group's count and the float16 values.
                QCOMPARE(fromFile->numel, std::accumulate(tensors.begin(), tensors.end(), std::uint64_t(0),
                                                          [&](std::uint64_t n, std::uint32_t t) {
                                                              return n + s.cp.tensors[t].numel;
                                                          }));
                if (tensors == std::vector<std::uint32_t>{2, 1}) {
                    double mn = std::numeric_limits<double>::infinity();
                    for (double x : b)
                        mn = std::min(mn, x);
                    QCOMPARE(fromFile->min, std::min(mn, 1.0));
                }
            }
}

// Whole statistics, several blocks and units, a group of float32 and float64 tensors: the same
// bits on every instruction set and thread count.
void TestTensorStats::statsOnEveryIsa()
{
    Synthetic s;
    const auto f = awkwardValues<float>(2'500'000, 7, true);
    const auto d = awkwardValues<double>(100'003, 8, false);
    s.add("float32", f.data(), f.size() * 4, {static_cast<std::int64_t>(f.size())});
    s.add("float64", d.data(), d.size() * 8, {static_cast<std::int64_t>(d.size())});
    s.finish();
    StatsRequest request;
    request.bins = 64;
    request.logHistogram = true;
    std::vector<TensorStats> results;
    std::vector<QString> names;
    onEveryIsa([&](cpu_kernels::Isa isa) {
        for (unsigned threads : {1u, 3u}) {
            for (const std::vector<std::uint32_t> &tensors : {std::vector<std::uint32_t>{0, 1}, {1}}) {
                auto r = computeStats(s.cp, tensors, request, {}, makeCpuHistogramBackend(threads).get());
                QVERIFY(r.ok());
                results.push_back(*r);
                names.push_back(QString::asprintf("%s, %u threads, %zu tensors", cpu_kernels::isaName(isa), threads,
                                                  tensors.size()));
            }
        }
    });
    qInfo("instruction sets checked: %zu", cpu_kernels::supportedIsas().size());
    QVERIFY(results.size() >= 4);
    for (std::size_t i = 2; i < results.size(); ++i) {
        const TensorStats &a = results[i % 2], &b = results[i]; // the same tensors on the first path
        QVERIFY2(sameBits(a.mean, b.mean) && sameBits(a.std, b.std) && sameBits(a.min, b.min)
                     && sameBits(a.max, b.max),
                 qPrintable(names[i]));
        QCOMPARE(a.finiteCount, b.finiteCount);
        QCOMPARE(a.nan, b.nan);
        QCOMPARE(a.posInf, b.posInf);
        QCOMPARE(a.negInf, b.negInf);
        QCOMPARE(a.zeros, b.zeros);
        QCOMPARE(a.histogram.counts, b.histogram.counts);
        QCOMPARE(a.logHistogram.counts, b.logHistogram.counts);
        QVERIFY(sameBits(a.logHistogram.min, b.logHistogram.min) && sameBits(a.logHistogram.max, b.logHistogram.max));
    }
}

void TestTensorStats::groupOfTensors()
{
    Synthetic s;
    const float a[] = {1, 2, 3};
    const double b[] = {-4, std::numeric_limits<double>::quiet_NaN(), 10};
    const std::int8_t empty[] = {0};
    s.add("float32", a, sizeof a, {3});
    s.add("int8", empty, sizeof empty, {0});
    s.add("float64", b, sizeof b, {3});
    s.finish();
    StatsRequest request;
    request.bins = 7;
    auto g = computeStats(s.cp, {0, 1, 2}, request, {}, makeCpuHistogramBackend(3).get());
    QVERIFY(g.ok());
    QCOMPARE(g->numel, std::uint64_t(6));
    QCOMPARE(g->finiteCount, std::uint64_t(5));
    QCOMPARE(g->nan, std::uint64_t(1));
    QCOMPARE(g->min, -4.0);
    QCOMPARE(g->max, 10.0);
    QCOMPARE(g->mean, 12.0 / 5);
    // values 1,2,3,-4,10: sum of squared deviations from 2.4 = 101.2
    QVERIFY(std::fabs(g->std - std::sqrt(101.2 / 5)) < 1e-14);
    // torch.histc(tensor([1,2,3,-4,10.]), bins=7) = [1, 0, 1, 2, 0, 0, 1]
    QCOMPARE(g->histogram.counts, (std::vector<std::uint64_t>{1, 0, 1, 2, 0, 0, 1}));
}

void TestTensorStats::progressAndCancel()
{
    constexpr std::uint32_t N = 2'000'000;
    Synthetic s;
    std::vector<float> data(N, 1.0f);
    s.add("float32", data.data(), data.size() * 4, {N});
    s.finish();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    auto ok = computeStats(s.cp, {0}, {}, [&](std::uint64_t done, std::uint64_t total) {
        calls.emplace_back(done, total);
        return true;
    });
    QVERIFY(ok.ok());
    QVERIFY(calls.size() >= 4);
    for (std::size_t i = 1; i < calls.size(); ++i) {
        QVERIFY(calls[i].first > calls[i - 1].first);
        QCOMPARE(calls[i].second, calls[0].second);
    }
    QCOMPARE(calls.back().first, std::uint64_t(2) * N); // two passes
    QCOMPARE(calls.back().second, std::uint64_t(2) * N);

    int seen = 0;
    auto cancelled = computeStats(s.cp, {0}, {}, [&](std::uint64_t, std::uint64_t) { return ++seen < 3; });
    QVERIFY(!cancelled.ok());
    QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
    QCOMPARE(seen, 3); // no call after the one that said stop
}

void TestTensorStats::explicitRange()
{
    Synthetic s;
    const float v[] = {-5, 0, 0.5, 1, 2, 2.5, 9, std::numeric_limits<float>::infinity()};
    s.add("float32", v, sizeof v, {8});
    s.finish();
    StatsRequest request;
    request.bins = 4;
    request.range = std::make_pair(0.0, 2.0);
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    // torch.histc(x, bins=4, min=0, max=2): values outside are dropped, 2 goes in the last bin.
    QCOMPARE(st->histogram.counts, (std::vector<std::uint64_t>{1, 1, 1, 1}));
    QCOMPARE(st->histogram.min, 0.0);
    QCOMPARE(st->histogram.max, 2.0);
    request.range = std::make_pair(3.0, 1.0);
    QCOMPARE(computeStats(s.cp, {0}, request).error().code, ErrorCode::InvalidTensor);
    // min == max means "from the data", as in torch.histc.
    request.range = std::make_pair(1.0, 1.0);
    st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    QCOMPARE(st->histogram.min, -5.0);
    QCOMPARE(st->histogram.max, 9.0);
}

void TestTensorStats::logHistogram()
{
    Synthetic s;
    const double v[] = {0, 1e-3, 1e-2, 1, 10, 100, -1000, std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity()};
    s.add("float64", v, sizeof v, {9});
    s.finish();
    StatsRequest request;
    request.bins = 6;
    request.logHistogram = true;
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    QCOMPARE(st->logHistogram.min, -3.0);
    QCOMPARE(st->logHistogram.max, 3.0);
    // Edges 1e-3, 1e-2, ..., 1e3: zero, NaN and Inf are left out; |-1000| is the maximum.
    QCOMPARE(st->logHistogram.counts, (std::vector<std::uint64_t>{1, 1, 0, 1, 1, 2}));
}

void TestTensorStats::histcFormula_data()
{
    QTest::addColumn<double>("x");
    QTest::addColumn<double>("lo");
    QTest::addColumn<double>("hi");
    QTest::addColumn<int>("bins");
    QTest::addColumn<int>("bin113");
    QTest::addColumn<int>("bin2");
    // torch.histc(torch.tensor([x], dtype=torch.float64), bins, lo, hi).argmax() under torch 1.13 and
    // torch 2.14: 1.13 divides first, 2.x multiplies first, and values on an edge part ways.
    QTest::newRow("max in last bin") << 1.0 << 0.0 << 1.0 << 10 << 9 << 9;
    QTest::newRow("min in first bin") << 0.0 << 0.0 << 1.0 << 10 << 0 << 0;
    QTest::newRow("edge 0.3 of [0,1]") << 0.3 << 0.0 << 1.0 << 10 << 3 << 3; // 0.3 * 10 rounds up to exactly 3.0
    QTest::newRow("edge 0.5 of [0,1]") << 0.5 << 0.0 << 1.0 << 10 << 5 << 5;
    QTest::newRow("edge 0.7 of [0.1,0.8]") << 0.7 << 0.1 << 0.8 << 7 << 5 << 6;
    QTest::newRow("edge 290 of [0,1000]") << 290.0 << 0.0 << 1000.0 << 100 << 28 << 29;
    QTest::newRow("0.29 of [0,1]") << 0.29 << 0.0 << 1.0 << 100 << 28 << 28;
    QTest::newRow("edge 7 of [0,10]") << 7.0 << 0.0 << 10.0 << 10 << 7 << 7;
    QTest::newRow("below") << -0.1 << 0.0 << 1.0 << 10 << -1 << -1;
    QTest::newRow("above") << 1.0000001 << 0.0 << 1.0 << 10 << -1 << -1;
    QTest::newRow("nan") << std::numeric_limits<double>::quiet_NaN() << 0.0 << 1.0 << 10 << -1 << -1;
}

// The formula, the kernels on every instruction set and computeStats under each torch's rules.
void TestTensorStats::histcFormula()
{
    QFETCH(double, x);
    QFETCH(double, lo);
    QFETCH(double, hi);
    QFETCH(int, bins);
    QFETCH(int, bin113);
    QFETCH(int, bin2);
    const auto b = static_cast<std::uint32_t>(bins);
    QCOMPARE(histcBin(x, lo, hi, b, true), static_cast<std::int64_t>(bin113));
    QCOMPARE(histcBin(x, lo, hi, b, false), static_cast<std::int64_t>(bin2));
    // Eight copies, so that the kernels take them as a whole group with and without range tests.
    const std::vector<double> values(8, x);
    const cpu_kernels::Block block{reinterpret_cast<const std::uint8_t *>(values.data()), values.size(), false};
    const bool inside = x >= lo && x <= hi;
    onEveryIsa([&](cpu_kernels::Isa isa) {
        for (bool divideFirst : {true, false})
            for (bool claimInside : {false, inside}) {
                std::vector<std::uint64_t> counts(b + 1, 0);
                cpu_kernels::addLinearBins(
                    block, {.lo = lo, .hi = hi, .bins = b, .divideFirst = divideFirst, .inside = claimInside},
                    counts.data());
                const int want = divideFirst ? bin113 : bin2;
                QVERIFY2(counts[want < 0 ? b : static_cast<std::size_t>(want)] == 8,
                         qPrintable(QString::asprintf("%s, %s first%s", cpu_kernels::isaName(isa),
                                                      divideFirst ? "divide" : "multiply",
                                                      claimInside ? ", no range tests" : "")));
            }
    });
    if (!inside)
        return;
    // computeStats with the range given: the default answers as the newest torch, 1.13 on request.
    Synthetic s;
    s.addVector("float64", values);
    s.finish();
    for (HistcEdges mode : {HistcEdges::Exact, HistcEdges::Torch1_13}) {
        StatsRequest request;
        request.bins = b;
        request.range = std::make_pair(lo, hi);
        request.edges = mode;
        auto st = computeStats(s.cp, {0}, request);
        QVERIFY(st.ok());
        QCOMPARE(st->histogram.counts[static_cast<std::size_t>(mode == HistcEdges::Exact ? bin2 : bin113)],
                 std::uint64_t(8));
    }
}

void TestTensorStats::histcEdges_data()
{
    QTest::addColumn<double>("lo");
    QTest::addColumn<double>("hi");
    QTest::addColumn<int>("bins");
    QTest::addColumn<double>("last");
    // torch 1.13: torch.linspace(lo, hi, bins + 1, dtype=torch.float64)[-1], the right edge histc uses.
    QTest::newRow("exact_0") << -3.523344703336752 << 15081.394047747855 << 7 << 15081.394047747855;
    QTest::newRow("exact_1") << -8.551274266649145 << -8.015392261342456 << 63 << -8.015392261342456;
    QTest::newRow("off_by_ulp_2") << 0.8137177106428499 << 57092.18268238508 << 63 << 57092.182682385086;
    QTest::newRow("off_by_ulp_3") << -1.4481538866119426 << 31413.26888379354 << 15 << 31413.268883793542;
    QTest::newRow("off_by_ulp_4") << -0.09767280889488816 << 0.24580288206348513 << 15 << 0.2458028820634851;
    QTest::newRow("off_by_ulp_5") << -2.9964322456166332 << -2.4997574493176455 << 7 << -2.499757449317646;
    QTest::newRow("off_by_ulp_6") << 8.749350212575123 << 15599.991923370557 << 7 << 15599.991923370555;
    QTest::newRow("off_by_ulp_7") << -9.572066513561765 << 79926.12910322424 << 63 << 79926.12910322423;
    QTest::newRow("64 bins: scalar tail") << -9.572066513561765 << 79926.12910322424 << 64 << 79926.12910322424;
}

void TestTensorStats::histcEdges()
{
    QFETCH(double, lo);
    QFETCH(double, hi);
    QFETCH(int, bins);
    QFETCH(double, last);
    const auto edges = ptscope::core::histcEdges(lo, hi, static_cast<std::uint32_t>(bins), HistcEdges::Torch1_13);
    QCOMPARE(edges.first, lo);
    QVERIFY2(sameDouble(edges.second, last), qPrintable(QString::number(edges.second, 'g', 17)));
    // torch 2.x: both ends exact, whatever the bin count.
    const auto exact = ptscope::core::histcEdges(lo, hi, static_cast<std::uint32_t>(bins));
    QVERIFY(sameDouble(exact.first, lo) && sameDouble(exact.second, hi));
}

void TestTensorStats::complexMagnitudeRange()
{
    // Where the squares overflow or underflow in the component precision the magnitude is hypot's,
    // as torch 2.x gives it (tests/fixtures/crosscheck_stats.py); Inf beside NaN is Inf.
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const float c64[] = {3e20f, 4e20f, 3e-25f, -4e-25f, 3.0f, 4.0f, inf, nan, nan, 1.0f, 0.0f, -0.0f, 1e-45f, 0.0f};
    const double c128[] = {3e200, -4e200, 3e-200, 4e-200, 1.5, -2.0, std::numeric_limits<double>::infinity(), 2.0};
    Synthetic s;
    s.add("complex64", c64, sizeof c64, {7});
    s.add("complex128", c128, sizeof c128, {4});
    s.finish();
    auto hypotf = [](float a, float b) { return double(float(std::sqrt(double(a) * a + double(b) * b))); };
    const auto v = readAll(s.cp, 0);
    QCOMPARE(v.size(), std::size_t(7));
    QCOMPARE(v[0], hypotf(3e20f, 4e20f));
    QCOMPARE(v[1], hypotf(3e-25f, 4e-25f));
    QCOMPARE(v[2], 5.0);
    QCOMPARE(v[3], double(inf));
    QVERIFY(std::isnan(v[4]));
    QCOMPARE(v[5], 0.0);
    QCOMPARE(v[6], double(1e-45f));
    const auto w = readAll(s.cp, 1);
    QCOMPARE(w, (std::vector<double>{std::hypot(3e200, 4e200), std::hypot(3e-200, 4e-200), 2.5,
                                     std::numeric_limits<double>::infinity()}));
}

void TestTensorStats::qint32PerTensor()
{
    // torch's per-tensor dequantize is float(q - zp) * float(scale) in float, the difference in
    // int32: checked with torch 1.13, 2.6 and 2.14 (q.dequantize() of these int_repr values).
    const std::int32_t q[] = {230769235, -123456789, 16777217, std::numeric_limits<std::int32_t>::min(), 5};
    Synthetic s;
    const auto t = s.add("qint32", q, sizeof q, {5});
    QuantInfo quant;
    quant.qscheme = "per_tensor_affine";
    quant.scale = 1.3e-7;
    quant.zeroPoint = 123;
    s.cp.tensors[t].quant = quant;
    s.finish();
    const float scale = 1.3e-7f;
    const auto v = readAll(s.cp, t);
    QCOMPARE(v.size(), std::size_t(5));
    QCOMPARE(v[0], double(float(230769235 - 123) * scale)); // rounded to float before the product
    QVERIFY(v[0] != double(float(double(230769235 - 123) * double(scale))));
    QCOMPARE(v[1], double(float(-123456789 - 123) * scale));
    QCOMPARE(v[2], double(float(16777217 - 123) * scale));
    QCOMPARE(v[3], double(float(2147483648.0 - 123) * scale)); // -2^31 - 123 wraps to 2^31 - 123
    QCOMPARE(v[4], double(float(5 - 123) * scale));
}

void TestTensorStats::qint32PerChannel()
{
    // torch's per-channel dequantize: (float(q) - float(zp)) * scale, the difference in float and
    // the product in double, rounded to float (torch 1.13, 2.6 and 2.14, on an axis in the middle).
    const std::int32_t q[] = {230769280, 230769280, -5, 7};
    const double scales[] = {1.2345678901234567e-5, 0.25};
    const std::int64_t zps[] = {-777, 3};
    Synthetic s;
    const auto t = s.add("qint32", q, sizeof q, {1, 2, 2});
    const auto st = s.add("float64", scales, sizeof scales, {2});
    const auto zt = s.add("int64", zps, sizeof zps, {2});
    QuantInfo quant;
    quant.qscheme = "per_channel_affine";
    quant.axis = 1;
    quant.scalesTensor = static_cast<std::int32_t>(st);
    quant.zeroPointsTensor = static_cast<std::int32_t>(zt);
    s.cp.tensors[t].quant = quant;
    s.finish();
    auto torch = [](std::int32_t v, std::int64_t zp, double scale) {
        return double(float(double(float(v) - float(zp)) * scale));
    };
    const auto v = readAll(s.cp, t);
    QCOMPARE(v, (std::vector<double>{torch(230769280, -777, scales[0]), torch(230769280, -777, scales[0]),
                                     torch(-5, 3, 0.25), torch(7, 3, 0.25)}));
    QCOMPARE(v[0], 2849.01318359375); // not 2849.012939453125, (q - zp) * scale rounded once
}

void TestTensorStats::histcConstant_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<bool>("torch113");
    QTest::addColumn<int>("bin");
    // torch.histc(torch.tensor([value], dtype=torch.float64), bins=7).argmax(): torch 2.14 moves an
    // end that +-1 cannot move by one ulp; torch 1.13 and 2.6 keep it (and raise when both stay).
    QTest::newRow("3") << 3.0 << false << 3;
    QTest::newRow("2^60") << std::ldexp(1.0, 60) << false << 2;
    QTest::newRow("-2^60") << -std::ldexp(1.0, 60) << false << 4;
    QTest::newRow("1e19") << 1e19 << false << 3;
    QTest::newRow("2^53") << std::ldexp(1.0, 53) << false << 2;
    QTest::newRow("-2^53") << -std::ldexp(1.0, 53) << false << 4;
    QTest::newRow("2^53 - 1") << std::ldexp(1.0, 53) - 1 << false << 3;
    QTest::newRow("2^53 + 4") << std::ldexp(1.0, 53) + 4 << false << 3;
    QTest::newRow("2^54") << std::ldexp(1.0, 54) << false << 2;
    QTest::newRow("2^127 (float8_e8m0fnu's largest)") << std::ldexp(1.0, 127) << false << 2;
    QTest::newRow("DBL_MAX") << std::numeric_limits<double>::max() << false << 6;
    QTest::newRow("-DBL_MAX") << -std::numeric_limits<double>::max() << false << 0;
    QTest::newRow("torch 1.13: 2^53") << std::ldexp(1.0, 53) << true << 6;
    QTest::newRow("torch 1.13: -2^53") << -std::ldexp(1.0, 53) << true << 0;
    QTest::newRow("torch 1.13: 2^53 - 1") << std::ldexp(1.0, 53) - 1 << true << 3;
    // Both ends stay (torch 1.13 raises there): a width of 0, every quotient 0 / 0, bin 0 by the rule.
    QTest::newRow("torch 1.13: 2^60") << std::ldexp(1.0, 60) << true << 0;
    QTest::newRow("torch 1.13: -1e20") << -1e20 << true << 0;
}

void TestTensorStats::histcConstant()
{
    QFETCH(double, value);
    QFETCH(bool, torch113);
    QFETCH(int, bin);
    Synthetic s;
    // Enough values for the vector kernels (the histogram pass without range tests among them).
    s.addVector("float64", std::vector<double>(100, value));
    s.finish();
    StatsRequest request;
    request.bins = 7;
    request.edges = torch113 ? HistcEdges::Torch1_13 : HistcEdges::Exact;
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    std::vector<std::uint64_t> want(7, 0);
    want[static_cast<std::size_t>(bin)] = 100;
    QCOMPARE(st->histogram.counts, want);
}

void TestTensorStats::histcRangeBeyondDoubles_data()
{
    QTest::addColumn<bool>("torch113");
    QTest::addColumn<int>("bins");
    QTest::addColumn<int>("inFirst");
    // torch.histc over the finite values of [DBL_MAX, -DBL_MAX, 1.67e308, -1.44e308, 1, 0, -2.5e307,
    // NaN, +Inf, -Inf]: max - min overflows. torch 1.13 counts the 7 finite values in bin 0 (with 7
    // or 63 bins its linspace makes the last edge NaN); torch 2.14 counts nothing.
    for (int bins : {7, 8, 63}) {
        QTest::addRow("torch 1.13, %d bins", bins) << true << bins << 7;
        QTest::addRow("torch 2.14, %d bins", bins) << false << bins << 0;
    }
}

void TestTensorStats::histcRangeBeyondDoubles()
{
    QFETCH(bool, torch113);
    QFETCH(int, bins);
    QFETCH(int, inFirst);
    constexpr double big = std::numeric_limits<double>::max(), inf = std::numeric_limits<double>::infinity();
    const std::vector<double> v {big, -big, 1.6656936067232456e+308, -1.4394801584921258e+308, 1.0, 0.0, -2.5e307,
                                 std::numeric_limits<double>::quiet_NaN(), inf, -inf};
    Synthetic s;
    s.addVector("float64", v);
    s.finish();
    StatsRequest request;
    request.bins = static_cast<std::uint32_t>(bins);
    request.edges = torch113 ? HistcEdges::Torch1_13 : HistcEdges::Exact;
    auto st = computeStats(s.cp, {0}, request);
    QVERIFY(st.ok());
    std::vector<std::uint64_t> want(static_cast<std::size_t>(bins), 0);
    want[0] = static_cast<std::uint64_t>(inFirst);
    QCOMPARE(st->histogram.counts, want); // +Inf never counts, whatever the edges
    QCOMPARE(st->histogram.min, -big);
    if (torch113 && (bins + 1) % 8 == 0)
        QVERIFY(std::isnan(st->histogram.max)); // torch 1.13's own last edge
    else
        QCOMPARE(st->histogram.max, big);
}

// The statistics say how many of their elements are complex magnitudes (the plots label the axis by it).
void TestTensorStats::complexCounted()
{
    Synthetic s;
    const std::vector<float> z{3.0f, 4.0f, 0.0f, -1.0f}; // |3+4i| = 5, |-i| = 1
    s.add("complex64", z.data(), z.size() * sizeof(float), {2});
    s.addVector("float32", std::vector<float>{2.0f, 7.0f, -1.0f});
    s.finish();
    auto complexOnly = computeStats(s.cp, {0});
    QVERIFY(complexOnly.ok());
    QCOMPARE(complexOnly->complexCount, std::uint64_t(2));
    QCOMPARE(complexOnly->numel, std::uint64_t(2));
    QCOMPARE(complexOnly->max, 5.0);
    QCOMPARE(complexOnly->min, 1.0);
    auto mixed = computeStats(s.cp, {0, 1});
    QVERIFY(mixed.ok());
    QCOMPARE(mixed->complexCount, std::uint64_t(2));
    QCOMPARE(mixed->numel, std::uint64_t(5));
    auto real = computeStats(s.cp, {1});
    QVERIFY(real.ok());
    QCOMPARE(real->complexCount, std::uint64_t(0));
}

void TestTensorStats::meanBeyondTheSum()
{
    // float64 values whose sum overflows the doubles have a mean that does not: blocks whose sum
    // overflows are summed scaled down, and means of opposite signs are merged as a weighted
    // average. (torch 1.13's float64 mean is NaN for both tensors; on the values times 2^-600 it
    // gives 2.5e307 and 1.2499479188401211e303.)
    std::vector<double> alternating(20000);
    for (std::size_t i = 0; i < alternating.size(); ++i)
        alternating[i] = i % 2 ? -1.0e308 : 1.5e308;
    std::vector<double> halves(12000, 1.7e308);
    halves.resize(24000, -1.7e308);
    halves.push_back(3.0e307);
    Synthetic s;
    s.addVector("float64", alternating);
    s.addVector("float64", halves);
    s.finish();
    auto a = computeStats(s.cp, {0});
    QVERIFY(a.ok());
    QCOMPARE(a->finiteCount, std::uint64_t(20000));
    QVERIFY2(std::fabs(a->mean - 2.5e307) <= 1e-12 * 2.5e307, qPrintable(QString::number(a->mean, 'g', 17)));
    auto h = computeStats(s.cp, {1});
    QVERIFY(h.ok());
    const double want = 3.0e307 / 24001.0;
    QVERIFY2(std::fabs(h->mean - want) <= 1e-9 * want, qPrintable(QString::number(h->mean, 'g', 17)));
}

QTEST_GUILESS_MAIN(TestTensorStats)
#include "tst_tensor_stats.moc"
