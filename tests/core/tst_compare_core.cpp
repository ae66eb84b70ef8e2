// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// What the desktop app's comparison is built on: every key of both sides with what load_state_dict
// does with it (checked against what torch 1.13 reported for the diff fixtures), the state dicts a
// file offers, fixes re-emulated from the dict they produce, and the histograms of two tensors and
// of their difference (hand-computed counts), and the value comparison on every CPU core held to
// the single-thread computation it replaced (kept below as the reference).
#include "checkpoint.h"
#include "diff_explain.h"
#include "key_alignment.h"
#include "load_state_dict.h"
#include "pair_data.h"
#include "tensor_data.h"
#include "value_histogram.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

using namespace ptscope::core;

namespace {

QString diffDir()
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/");
}

std::shared_ptr<const Checkpoint> open(const QString &path)
{
    auto cp = openCheckpoint(path.toStdString());
    if (!cp)
        qWarning("%s: %s", qPrintable(path), cp.error().toString().c_str());
    return cp ? *cp : nullptr;
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &x : v.toArray())
        out << x.toString();
    return out;
}

QStringList keysWith(const std::vector<AlignedKey> &rows, KeyStatus status)
{
    QStringList out;
    for (const AlignedKey &a : rows)
        if (a.status == status)
            out << QString::fromStdString(a.key);
    return out;
}

// A safetensors file holding float32 tensors "a" and "b" (the format is simple enough to write here).
QString writeSafetensors(const QTemporaryDir &dir, const std::vector<float> &a, const std::vector<float> &b)
{
    const auto n = qsizetype(a.size());
    const QByteArray header = QStringLiteral(R"({"a":{"dtype":"F32","shape":[%1],"data_offsets":[0,%2]},)"
                                             R"("b":{"dtype":"F32","shape":[%1],"data_offsets":[%2,%3]}})")
                                  .arg(n)
                                  .arg(n * 4)
                                  .arg(n * 8)
                                  .toUtf8();
    QByteArray bytes(8, '\0');
    const quint64 len = quint64(header.size());
    for (int i = 0; i < 8; ++i)
        bytes[i] = char((len >> (8 * i)) & 0xff);
    bytes += header;
    bytes += QByteArray(reinterpret_cast<const char *>(a.data()), n * 4);
    bytes += QByteArray(reinterpret_cast<const char *>(b.data()), n * 4);
    const QString path = dir.filePath(QStringLiteral("pair.safetensors"));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        return {};
    return path;
}

std::uint32_t tensorOf(const Checkpoint &cp, const char *key)
{
    for (const StateDictEntry &e : cp.stateDict.entries)
        if (e.key == key)
            return std::uint32_t(e.tensor);
    return 0xffffffffu;
}

std::vector<std::uint64_t> counts(std::initializer_list<std::uint64_t> c)
{
    return c;
}

// ---- the reference: the single-thread comparison and histograms as they were before the backends
// (ValueComparator::add/result and compareTensorHistograms, torch-verified), kept verbatim in
// substance so that the backends are held to it.

struct RefRange
{
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    std::uint64_t nonFinite = 0;
    void add(double x)
    {
        if (!std::isfinite(x)) {
            ++nonFinite;
            return;
        }
        min = std::min(min, x);
        max = std::max(max, x);
    }
    bool any() const { return min <= max; }
};

struct Reference
{
    ValueComparison cmp;
    Histogram source, target, difference;
    std::uint64_t nonFiniteSource = 0, nonFiniteTarget = 0, nonFiniteDifference = 0;
};

Reference referenceOf(const std::vector<double> &a, const std::vector<double> &b, std::uint32_t bins)
{
    Reference out;
    ValueComparison &r = out.cmp;
    double sumAbs = 0, sumSqDiff = 0, sumSqB = 0, dot = 0, normA = 0, normB = 0;
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        dot += a[i] * b[i];
        normA += a[i] * a[i];
        normB += b[i] * b[i];
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double x = a[i], y = b[i];
        ++r.numel;
        if (x == y)
            continue;
        ++r.differing;
        r.identical = false;
        const double d = std::fabs(x - y);
        if (std::isnan(d)) {
            ++r.nanDiffs;
            r.allclose = false;
            continue;
        }
        if (!(d <= 1e-8 + 1e-5 * std::fabs(y)) || std::isinf(d))
            r.allclose = false;
        r.maxAbsDiff = std::max(r.maxAbsDiff, d);
        sumAbs += d;
        sumSqDiff += d * d;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isnan(a[i] - b[i]) || a[i] == b[i])
            sumSqB += b[i] * b[i];
    const std::uint64_t counted = r.numel - r.nanDiffs;
    r.meanAbsDiff = counted ? sumAbs / static_cast<double>(counted) : 0.0;
    const double nd = std::sqrt(sumSqDiff), nb = std::sqrt(sumSqB);
    r.relativeL2 = nb != 0.0 ? nd / nb : (nd == 0.0 ? 0.0 : INFINITY);
    bool finite = true;
    for (std::size_t i = 0; i < n; ++i)
        finite = finite && std::isfinite(a[i]) && std::isfinite(b[i]);
    if (!finite)
        r.cosine = std::numeric_limits<double>::quiet_NaN();
    else if (!std::isfinite(normA) || !std::isfinite(normB))
        r.cosine = 0.0;
    else
        r.cosine = dot / (std::max(std::sqrt(normA), 1e-8) * std::max(std::sqrt(normB), 1e-8));

    RefRange rs, rt, rd;
    for (std::size_t i = 0; i < n; ++i) {
        rs.add(a[i]);
        rt.add(b[i]);
        rd.add(a[i] - b[i]);
    }
    out.nonFiniteSource = rs.nonFinite;
    out.nonFiniteTarget = rt.nonFinite;
    out.nonFiniteDifference = rd.nonFinite;
    RefRange both = rs;
    if (rt.any()) {
        both.min = std::min(both.min, rt.min);
        both.max = std::max(both.max, rt.max);
    }
    auto empty = [bins](const RefRange &range, double &lo, double &hi) {
        const auto span = histcRange(range.any() ? range.min : 0.0, range.any() ? range.max : 0.0);
        const auto e = histcEdges(span.first, span.second, bins);
        lo = e.first;
        hi = e.second;
        Histogram h;
        h.min = lo;
        h.max = hi;
        h.counts.assign(bins, 0);
        return h;
    };
    double lo = 0, hi = 0, dlo = 0, dhi = 0;
    out.source = empty(both, lo, hi);
    out.target = out.source;
    out.difference = empty(rd, dlo, dhi);
    for (std::size_t i = 0; i < n; ++i) {
        if (const auto k = histcBin(a[i], lo, hi, bins, true); k >= 0)
            ++out.source.counts[std::size_t(k)];
        if (const auto k = histcBin(b[i], lo, hi, bins, true); k >= 0)
            ++out.target.counts[std::size_t(k)];
        if (const auto k = histcBin(a[i] - b[i], dlo, dhi, bins, true); k >= 0)
            ++out.difference.counts[std::size_t(k)];
    }
    return out;
}

bool sameBits(double a, double b)
{
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// Empty when `got` equals the reference: counts, flags and the maximum exactly, the sums' results
// to `tolerance` relative (cosine: absolute, it is at most 1).
QString differenceFromReference(const ValueComparison &want, const ValueComparison &got, double tolerance)
{
    auto near = [&](double w, double g) {
        return w == g || (std::isnan(w) && std::isnan(g)) || std::fabs(w - g) <= tolerance * std::fabs(w);
    };
    const std::pair<const char *, bool> checks[] = {
        {"numel", want.numel == got.numel},
        {"differing", want.differing == got.differing},
        {"nanDiffs", want.nanDiffs == got.nanDiffs},
        {"allclose", want.allclose == got.allclose},
        {"identical", want.identical == got.identical},
        {"maxAbsDiff", want.maxAbsDiff == got.maxAbsDiff},
        {"meanAbsDiff", near(want.meanAbsDiff, got.meanAbsDiff)},
        {"relativeL2", near(want.relativeL2, got.relativeL2)},
        {"cosine", std::isnan(want.cosine) ? std::isnan(got.cosine) : std::fabs(want.cosine - got.cosine) <= tolerance},
    };
    for (const auto &[what, ok] : checks)
        if (!ok)
            return QStringLiteral("%1 differs (numel %2): want max %3 mean %4 relL2 %5 cos %6 differing %7; got "
                                  "max %8 mean %9 relL2 %10 cos %11 differing %12")
                .arg(QLatin1String(what))
                .arg(want.numel)
                .arg(want.maxAbsDiff, 0, 'g', 17)
                .arg(want.meanAbsDiff, 0, 'g', 17)
                .arg(want.relativeL2, 0, 'g', 17)
                .arg(want.cosine, 0, 'g', 17)
                .arg(want.differing)
                .arg(got.maxAbsDiff, 0, 'g', 17)
                .arg(got.meanAbsDiff, 0, 'g', 17)
                .arg(got.relativeL2, 0, 'g', 17)
                .arg(got.cosine, 0, 'g', 17)
                .arg(got.differing);
    return {};
}

QString histogramDifference(const char *what, const Histogram &want, const Histogram &got)
{
    if (!sameBits(want.min, got.min) || !sameBits(want.max, got.max))
        return QStringLiteral("%1: range [%2, %3], want [%4, %5]")
            .arg(QLatin1String(what))
            .arg(got.min, 0, 'g', 17)
            .arg(got.max, 0, 'g', 17)
            .arg(want.min, 0, 'g', 17)
            .arg(want.max, 0, 'g', 17);
    if (want.counts != got.counts)
        return QStringLiteral("%1: the counts differ").arg(QLatin1String(what));
    return {};
}

// Every field, bit for bit.
bool identicalSummaries(const PairSummary &x, const PairSummary &y)
{
    auto range = [](const FiniteRange &p, const FiniteRange &q) {
        return sameBits(p.min, q.min) && sameBits(p.max, q.max) && p.nonFinite == q.nonFinite;
    };
    return x.numel == y.numel && x.differing == y.differing && x.nanDiffs == y.nanDiffs && x.notClose == y.notClose
        && sameBits(x.maxAbsDiff, y.maxAbsDiff) && sameBits(x.sumAbsDiff, y.sumAbsDiff)
        && sameBits(x.sumSqDiff, y.sumSqDiff) && sameBits(x.sumSqB, y.sumSqB) && sameBits(x.dot, y.dot)
        && sameBits(x.normA, y.normA) && sameBits(x.normB, y.normB) && range(x.a, y.a) && range(x.b, y.b)
        && range(x.diff, y.diff);
}

// A source over given runs whose cursor yields 0, 1, 2, ... (for the run walk).
class RunList final : public ElementSource
{
public:
    RunList(std::vector<ElementRun> runs, std::uint64_t size)
        : m_runs(std::move(runs))
        , m_size(size)
    {
    }
    std::uint64_t size() const override { return m_size; }
    std::unique_ptr<ElementCursor> cursor() const override { return nullptr; }
    std::vector<ElementRun> runs() const override { return m_runs; }

private:
    std::vector<ElementRun> m_runs;
    std::uint64_t m_size;
};

using ptscope::test::Synthetic;

} // namespace

class TestCompareCore : public QObject
{
    Q_OBJECT

private:
    QJsonObject m_pairs;

private slots:
    void allCoresMatchTheReference_data();
    void allCoresMatchTheReference();
    void threadCountsGiveIdenticalResults();
    void pairRunsIntersect();
    void pairErrors();
    void pairCancellation();
    void comparisonAgreesWithTorch_data();
    void comparisonAgreesWithTorch();
    void complexPairs_data();
    void complexPairs();
    void complexPairHistograms();
    void complexInfinities();

    void initTestCase()
    {
        QFile f(diffDir() + QStringLiteral("expected.json"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        m_pairs = QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("pairs")].toObject();
        QVERIFY(m_pairs.size() >= 30);
    }

    void alignmentAgreesWithTorch_data()
    {
        QTest::addColumn<QString>("pair");
        for (auto it = m_pairs.begin(); it != m_pairs.end(); ++it)
            if (it.value().toObject()[QStringLiteral("non_strict")].toObject()[QStringLiteral("ok")].toBool())
                QTest::newRow(qPrintable(it.key())) << it.key();
    }

    // Rows marked missing/unexpected are exactly the keys torch's strict=False returned, in its
    // order; every other row is a key both sides hold, or one torch ignores or fills in.
    void alignmentAgreesWithTorch()
    {
        QFETCH(QString, pair);
        const QJsonObject rec = m_pairs[pair].toObject();
        auto source = open(diffDir() + rec[QStringLiteral("source")].toString());
        const QString targetFile = rec[QStringLiteral("targets")].toObject()[QStringLiteral("manifest")].toString();
        auto model = modelFromManifest((diffDir() + targetFile).toStdString());
        QVERIFY(source && model);
        auto sd = sourceFromCheckpoint(*source);
        QVERIFY(sd);
        const LoadOutcome o = emulateLoadStateDict(*model, *sd, TorchRules::Torch1_13);
        const std::vector<AlignedKey> rows = alignKeys(*model, *sd, o);
        const QJsonObject nonStrict = rec[QStringLiteral("non_strict")].toObject();
        // One row per key; torch lists a key twice where spectral_norm's load hook reports it too.
        QStringList missing = strings(nonStrict[QStringLiteral("missing")]);
        missing.removeDuplicates();
        QCOMPARE(keysWith(rows, KeyStatus::Missing), missing);
        QCOMPARE(keysWith(rows, KeyStatus::Unexpected), strings(nonStrict[QStringLiteral("unexpected")]));
        // One row per key of either side, each key once.
        QSet<QString> all;
        for (const AlignedKey &a : rows)
            all.insert(QString::fromStdString(a.key));
        QCOMPARE(qsizetype(all.size()), qsizetype(rows.size()));
        for (const std::string &k : model->stateDictKeys())
            QVERIFY(all.contains(QString::fromStdString(k)));
        for (const SourceEntry &e : sd->entries)
            QVERIFY(all.contains(QString::fromStdString(e.key)));
        for (const AlignedKey &a : rows) {
            if (a.status == KeyStatus::Matched || a.status == KeyStatus::DtypeDiffers
                || a.status == KeyStatus::ShapeMismatch)
                QVERIFY2(a.sourceEntry >= 0 && a.inTarget, a.key.c_str());
            if (a.status == KeyStatus::Missing || a.status == KeyStatus::FilledIn)
                QVERIFY2(a.sourceEntry < 0 && a.inTarget, a.key.c_str());
            if (a.status == KeyStatus::Unexpected)
                QVERIFY2(a.sourceEntry >= 0 && !a.inTarget, a.key.c_str());
        }
    }

    void statusesOfSpecificPairs()
    {
        auto check = [this](const char *pair, KeyStatus status, QStringList keys) {
            const QJsonObject rec = m_pairs[QLatin1String(pair)].toObject();
            auto source = open(diffDir() + rec[QStringLiteral("source")].toString());
            auto target
                = open(diffDir() + rec[QStringLiteral("targets")].toObject()[QStringLiteral("state_dict")].toString());
            QVERIFY(source && target);
            auto sd = sourceFromCheckpoint(*source);
            auto model = modelFromCheckpoint(*target);
            QVERIFY(sd && model);
            const auto rows = alignKeys(*model, *sd, emulateLoadStateDict(*model, *sd, TorchRules::Torch2));
            QCOMPARE(keysWith(rows, status), keys);
        };
        check("changed_head", KeyStatus::ShapeMismatch, { QStringLiteral("fc.weight"), QStringLiteral("fc.bias") });
        check("dtype_change", KeyStatus::DtypeDiffers,
            { QStringLiteral("conv1.weight"), QStringLiteral("conv1.bias"), QStringLiteral("bn1.weight"),
                QStringLiteral("bn1.bias"), QStringLiteral("bn1.running_mean"), QStringLiteral("bn1.running_var"),
                QStringLiteral("conv2.weight"), QStringLiteral("conv2.bias"), QStringLiteral("fc.weight"),
                QStringLiteral("fc.bias") });
        check("non_tensor", KeyStatus::Error, { QStringLiteral("bn1.bias") });
        check("meta_tensor", KeyStatus::Error, { QStringLiteral("conv2.bias") });
        check("exact", KeyStatus::Missing, {});
    }

    // A fix carries the dict it produced: emulating it again gives the verdict the fix claims.
    void suggestionCarriesTheFixedDict()
    {
        const QJsonObject rec = m_pairs[QStringLiteral("prefix_and_head")].toObject();
        auto source = open(diffDir() + rec[QStringLiteral("source")].toString());
        auto target = open(diffDir() + QStringLiteral("tgt_net.pt"));
        QVERIFY(source && target);
        auto sd = sourceFromCheckpoint(*source);
        auto model = modelFromCheckpoint(*target);
        QVERIFY(sd && model);
        const DiffReport report = explainDiff(
            *model, *sd, sourceContext(*source, *sd, *model, TorchRules::Torch2, "src.pt"), TorchRules::Torch2);
        QVERIFY(!report.outcome.strictOk());
        QCOMPARE(keysWith(alignKeys(*model, *sd, report.outcome), KeyStatus::ShapeMismatch), QStringList {});
        const DiffSuggestion *strip = nullptr;
        for (const DiffSuggestion &s : report.suggestions)
            if (s.kind == "strip_prefix")
                strip = &s;
        QVERIFY(strip && strip->sourceAfter);
        const LoadOutcome after = emulateLoadStateDict(*model, *strip->sourceAfter, TorchRules::Torch2);
        QCOMPARE(after.strictOk(), strip->strictOkAfter);
        QCOMPARE(after.missingKeys, strip->missingAfter);
        // Once 'module.' is stripped, the keys align: the head's shapes differ and two keys have no match.
        const auto rows = alignKeys(*model, *strip->sourceAfter, after);
        QCOMPARE(keysWith(rows, KeyStatus::ShapeMismatch), (QStringList { QStringLiteral("fc.weight"),
                                                               QStringLiteral("fc.bias") }));
        QCOMPARE(keysWith(rows, KeyStatus::Unexpected),
            (QStringList { QStringLiteral("fc.extra"), QStringLiteral("zz") }));
        QCOMPARE(keysWith(rows, KeyStatus::Matched).size(), 9);
    }

    void stateDictCandidatesOfATrainingCheckpoint()
    {
        auto cp = open(diffDir() + QStringLiteral("src_training_checkpoint.pt"));
        QVERIFY(cp);
        const auto candidates = stateDictCandidates(*cp);
        QVERIFY(!candidates.empty());
        QCOMPARE(candidates.front(), ObjectPath { "model_state_dict" });
        auto plain = open(diffDir() + QStringLiteral("src_exact.pt"));
        QVERIFY(plain);
        QCOMPARE(stateDictCandidates(*plain), std::vector<ObjectPath> { ObjectPath {} });
    }

    // Counts worked out by hand: a = 0..7, b = the same but 9 for the last element, 4 bins.
    void differenceHistogramCounts()
    {
        QTemporaryDir dir;
        const QString path = writeSafetensors(dir, { 0, 1, 2, 3, 4, 5, 6, 7 }, { 0, 1, 2, 3, 4, 5, 6, 9 });
        auto cp = open(path);
        QVERIFY(cp);
        auto r = compareTensorHistograms(*cp, tensorOf(*cp, "a"), *cp, tensorOf(*cp, "b"), 4);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        // Shared bins over [0, 9] (width 2.25): {0,1,2} {3,4} {5,6} {7 | 9}.
        QCOMPARE(r->source.min, 0.0);
        QCOMPARE(r->source.max, 9.0);
        QCOMPARE(r->target.min, r->source.min);
        QCOMPARE(r->target.max, r->source.max);
        QCOMPARE(r->source.counts, counts({ 3, 2, 2, 1 }));
        QCOMPARE(r->target.counts, counts({ 3, 2, 2, 1 }));
        // a - b is 0 seven times and -2 once: bins over [-2, 0], the 0s in the last one.
        QCOMPARE(r->difference.min, -2.0);
        QCOMPARE(r->difference.max, 0.0);
        QCOMPARE(r->difference.counts, counts({ 1, 0, 0, 7 }));
        QCOMPARE(r->comparison.maxAbsDiff, 2.0);
        QCOMPARE(r->comparison.differing, std::uint64_t(1));
        QVERIFY(!r->comparison.allclose);
    }

    void differenceOfEqualTensorsIsOneBin()
    {
        QTemporaryDir dir;
        const QString path = writeSafetensors(dir, { -1.5f, 0.25f, 3 }, { -1.5f, 0.25f, 3 });
        auto cp = open(path);
        QVERIFY(cp);
        auto r = compareTensorHistograms(*cp, tensorOf(*cp, "a"), *cp, tensorOf(*cp, "b"), 8);
        QVERIFY(r.ok());
        // histc widens a zero-width range by 1 each side: 0 falls in the middle bin, [0, 0.25).
        QCOMPARE(r->difference.min, -1.0);
        QCOMPARE(r->difference.max, 1.0);
        QCOMPARE(r->difference.counts, counts({ 0, 0, 0, 0, 3, 0, 0, 0 }));
        QVERIFY(r->comparison.identical);
    }

    void nonFiniteValuesAreCountedApart()
    {
        QTemporaryDir dir;
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const QString path = writeSafetensors(dir, { nan, inf, 1, 2 }, { 0, inf, 1, 4 });
        auto cp = open(path);
        QVERIFY(cp);
        auto r = compareTensorHistograms(*cp, tensorOf(*cp, "a"), *cp, tensorOf(*cp, "b"), 2);
        QVERIFY(r.ok());
        QCOMPARE(r->nonFiniteSource, std::uint64_t(2));
        QCOMPARE(r->nonFiniteTarget, std::uint64_t(1));
        QCOMPARE(r->nonFiniteDifference, std::uint64_t(2)); // NaN - 0 and inf - inf
        // Finite differences 0 and -2 over [-2, 0].
        QCOMPARE(r->difference.counts, counts({ 1, 1 }));
        // Shared range [0, 4]: a = {1, 2}, b = {0, 1, 4}.
        QCOMPARE(r->source.counts, counts({ 1, 1 }));
        QCOMPARE(r->target.counts, counts({ 2, 1 }));
    }

    void mismatchedSizesAndCancel()
    {
        auto a = open(diffDir() + QStringLiteral("src_changed_head.pt"));
        auto b = open(diffDir() + QStringLiteral("tgt_net5.pt"));
        QVERIFY(a && b);
        const std::uint32_t fcA = tensorOf(*a, "fc.weight");
        const std::uint32_t fcB = tensorOf(*b, "fc.weight");
        auto r = compareTensorHistograms(*a, fcA, *b, fcB, 16);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::InvalidTensor);
        const std::uint32_t convA = tensorOf(*a, "conv1.weight");
        const std::uint32_t convB = tensorOf(*b, "conv1.weight");
        auto cancelled = compareTensorHistograms(*a, convA, *b, convB, 16, [](std::uint64_t, std::uint64_t) {
            return false;
        });
        QVERIFY(!cancelled.ok());
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        auto ok = compareTensorHistograms(*a, convA, *b, convB, 16);
        QVERIFY(ok.ok());
        std::uint64_t sum = 0;
        for (std::uint64_t c : ok->difference.counts)
            sum += c;
        QCOMPARE(sum, ok->comparison.numel);
        QCOMPARE(ok->comparison.numel, std::uint64_t(72));
    }
};

void TestCompareCore::allCoresMatchTheReference_data()
{
    QTest::addColumn<QString>("dtypeA");
    QTest::addColumn<QString>("dtypeB");
    QTest::addColumn<bool>("strided");
    QTest::addColumn<bool>("close");
    QTest::addColumn<int>("numel");
    const char *dtypes[] = {"float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int64",
                            "int32", "int8", "uint8", "bool"};
    for (const char *d : dtypes)
        QTest::addRow("%s", d) << QString::fromLatin1(d) << QString::fromLatin1(d) << false << false << 70'001;
    QTest::addRow("float16 vs float32") << QStringLiteral("float16") << QStringLiteral("float32") << false << false
                                        << 70'001;
    QTest::addRow("bfloat16 vs float64") << QStringLiteral("bfloat16") << QStringLiteral("float64") << false << false
                                         << 70'001;
    QTest::addRow("int32 vs float64") << QStringLiteral("int32") << QStringLiteral("float64") << false << false
                                      << 70'001;
    QTest::addRow("strided float32 vs float32") << QStringLiteral("float32") << QStringLiteral("float32") << true
                                                << false << 70'001;
    QTest::addRow("strided float16 vs float32") << QStringLiteral("float16") << QStringLiteral("float32") << true
                                                << false << 70'001;
    QTest::addRow("allclose, not equal") << QStringLiteral("float64") << QStringLiteral("float64") << false << true
                                         << 70'001;
    QTest::addRow("one element") << QStringLiteral("float32") << QStringLiteral("float32") << false << false << 1;
    QTest::addRow("empty") << QStringLiteral("float32") << QStringLiteral("float32") << false << false << 0;
    // Several units of work (2^20 elements each), the last one partial.
    QTest::addRow("float32, 3 units") << QStringLiteral("float32") << QStringLiteral("float32") << false << false
                                      << 2'500'003;
    QTest::addRow("strided float16 vs float32, 3 units") << QStringLiteral("float16") << QStringLiteral("float32")
                                                         << true << false << 2'200'001;
    QTest::addRow("int64, 2 units") << QStringLiteral("int64") << QStringLiteral("int64") << false << false
                                    << 1'048'577;
}

// compareTensorValues and compareTensorHistograms on every core against the reference: counts,
// flags, extrema and bins exactly; sums to 1e-12 relative.
void TestCompareCore::allCoresMatchTheReference()
{
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
    const std::vector<double> x = ptscope::test::elementsOf(s.cp, a);
    const std::vector<double> y = ptscope::test::elementsOf(s.cp, b);
    QCOMPARE(x.size(), std::size_t(numel));
    QCOMPARE(y.size(), std::size_t(numel));
    // Counts, flags and maxima exactly; sums to rounding (the backend sums in four lanes per work
    // item, the reference in element order).
    for (std::uint32_t bins : {1u, 7u, 64u, 1000u}) {
        const Reference want = referenceOf(x, y, bins);
        if (bins == 64 && close)
            QVERIFY(want.cmp.allclose && !want.cmp.identical); // the case is what it says
        auto values = compareTensorValues(s.cp, a, s.cp, b);
        QVERIFY2(values.ok(), values.ok() ? "" : values.error().message.c_str());
        QString d = differenceFromReference(want.cmp, *values, 1e-12);
        QVERIFY2(d.isEmpty(), qPrintable(d));
        auto h = compareTensorHistograms(s.cp, a, s.cp, b, bins);
        QVERIFY2(h.ok(), h.ok() ? "" : h.error().message.c_str());
        d = differenceFromReference(want.cmp, h->comparison, 1e-12);
        QVERIFY2(d.isEmpty(), qPrintable(d));
        QCOMPARE(h->nonFiniteSource, want.nonFiniteSource);
        QCOMPARE(h->nonFiniteTarget, want.nonFiniteTarget);
        QCOMPARE(h->nonFiniteDifference, want.nonFiniteDifference);
        for (const auto &[what, w, g] : {std::tuple{"source", &want.source, &h->source},
                                         std::tuple{"target", &want.target, &h->target},
                                         std::tuple{"difference", &want.difference, &h->difference}}) {
            d = histogramDifference(what, *w, *g);
            QVERIFY2(d.isEmpty(), qPrintable(QStringLiteral("bins=%1: ").arg(bins) + d));
        }
    }
}

// The same pair on 1, 2 and 7 threads (and the default): every number bit for bit.
void TestCompareCore::threadCountsGiveIdenticalResults()
{
    Synthetic s;
    std::uint32_t a = 0, b = 0, c = 0, d = 0;
    ptscope::test::addPair(s, "float16", "float32", true, false, 3'300'007, 11, a, b); // NaN, Inf: infinite sums
    ptscope::test::addPair(s, "float64", "float64", false, true, 3'300'007, 12, c, d); // finite sums
    s.finish();
    for (auto [x, y] : {std::pair{a, b}, std::pair{c, d}}) {
        auto sa = tensorElementSource(s.cp, {x});
        auto sb = tensorElementSource(s.cp, {y});
        QVERIFY(sa.ok() && sb.ok());
        std::vector<PairSummary> summaries;
        std::vector<PairBinCounts> counts;
        PairBinSpec spec;
        spec.bins = 100;
        spec.lo = -20;
        spec.hi = 20;
        spec.diffLo = -5;
        spec.diffHi = 5;
        for (unsigned threads : {1u, 2u, 7u, 0u}) {
            auto backend = makeCpuHistogramBackend(threads);
            PairSummary sum;
            std::string why;
            QVERIFY(backend->compare(**sa, **sb, PairTolerance{}, sum, {}, 0, 0, &why) == BackendStatus::Ok);
            summaries.push_back(sum);
            PairBinCounts bins;
            QVERIFY(backend->pairHistogram(**sa, **sb, spec, bins, {}, 0, 0, &why) == BackendStatus::Ok);
            counts.push_back(bins);
        }
        QCOMPARE(summaries[0].numel, std::uint64_t(3'300'007));
        QVERIFY(summaries[0].differing > 0);
        for (std::size_t i = 1; i < summaries.size(); ++i) {
            QVERIFY2(identicalSummaries(summaries[0], summaries[i]), qPrintable(QString::number(i)));
            QCOMPARE(counts[i].a, counts[0].a);
            QCOMPARE(counts[i].b, counts[0].b);
            QCOMPARE(counts[i].diff, counts[0].diff);
        }
        // The pair rule applied in one sequence over everything: the same counts and extrema, the
        // same sums to rounding.
        const std::vector<double> vx = ptscope::test::elementsOf(s.cp, x);
        const std::vector<double> vy = ptscope::test::elementsOf(s.cp, y);
        PairSummary sequential;
        accumulatePair(sequential, vx.data(), vy.data(), vx.size(), PairTolerance{});
        QCOMPARE(sequential.differing, summaries[0].differing);
        QCOMPARE(sequential.nanDiffs, summaries[0].nanDiffs);
        QCOMPARE(sequential.notClose, summaries[0].notClose);
        QCOMPARE(sequential.maxAbsDiff, summaries[0].maxAbsDiff);
        QCOMPARE(sequential.diff.min, summaries[0].diff.min);
        QCOMPARE(sequential.diff.nonFinite, summaries[0].diff.nonFinite);
        for (auto [p, q] : {std::pair{sequential.sumAbsDiff, summaries[0].sumAbsDiff},
                            std::pair{sequential.sumSqDiff, summaries[0].sumSqDiff},
                            std::pair{sequential.sumSqB, summaries[0].sumSqB}})
            QVERIFY2(p == q || std::fabs(p - q) <= 1e-12 * std::fabs(p),
                     qPrintable(QStringLiteral("%1 %2").arg(p, 0, 'g', 17).arg(q, 0, 'g', 17)));
        if (x == c) {
            QVERIFY(summaries[0].allclose() && std::isfinite(summaries[0].sumSqDiff) && summaries[0].sumSqDiff > 0);
            QVERIFY(summaries[0].a.nonFinite > 0); // the infinities, equal on both sides
        }
    }
}

void TestCompareCore::pairRunsIntersect()
{
    const std::uint8_t bytes[400] = {};
    const std::uint8_t *p = bytes;
    // a: raw f32 [0, 10), cursor [10, 25), raw f16 [25, 40); b: cursor [0, 5), raw f64 [5, 40).
    const std::vector<ElementRun> a{{0, 10, p, RawElement::F32}, {10, 15, nullptr, RawElement::F64},
                                    {25, 15, p + 100, RawElement::F16}};
    const std::vector<ElementRun> b{{0, 5, nullptr, RawElement::F64}, {5, 35, p + 8, RawElement::F64}};
    const std::vector<PairRun> r = pairRuns(a, b);
    QCOMPARE(r.size(), std::size_t(4));
    QCOMPARE(r[0].first, std::uint64_t(0));
    QCOMPARE(r[0].count, std::uint64_t(5));
    QCOMPARE(r[0].bytesA, p);
    QVERIFY(r[0].typeA == RawElement::F32);
    QCOMPARE(r[0].bytesB, static_cast<const std::uint8_t *>(nullptr));
    QCOMPARE(r[1].first, std::uint64_t(5));
    QCOMPARE(r[1].count, std::uint64_t(5));
    QCOMPARE(r[1].bytesA, p + 5 * 4); // element 5 of the f32 run
    QCOMPARE(r[1].bytesB, p + 8);     // element 0 of b's f64 run
    QCOMPARE(r[2].first, std::uint64_t(10));
    QCOMPARE(r[2].count, std::uint64_t(15));
    QCOMPARE(r[2].bytesA, static_cast<const std::uint8_t *>(nullptr));
    QCOMPARE(r[2].bytesB, p + 8 + 5 * 8);
    QCOMPARE(r[3].first, std::uint64_t(25));
    QCOMPARE(r[3].count, std::uint64_t(15));
    QCOMPARE(r[3].bytesA, p + 100);
    QVERIFY(r[3].typeA == RawElement::F16);
    QCOMPARE(r[3].bytesB, p + 8 + 20 * 8);
    QVERIFY(r[3].typeB == RawElement::F64);
    // Cursor stretches next to each other make one; empty runs are passed over.
    const std::vector<ElementRun> c1{{0, 4, nullptr, RawElement::F64}, {4, 0, p, RawElement::F32},
                                     {4, 6, nullptr, RawElement::F64}};
    const std::vector<ElementRun> c2{{0, 7, nullptr, RawElement::F64}, {7, 3, nullptr, RawElement::F64}};
    const std::vector<PairRun> merged = pairRuns(c1, c2);
    QCOMPARE(merged.size(), std::size_t(1));
    QCOMPARE(merged[0].count, std::uint64_t(10));
    // A gap stops the walk: what is returned no longer covers the size.
    const std::vector<ElementRun> gap{{0, 4, nullptr, RawElement::F64}, {6, 4, nullptr, RawElement::F64}};
    std::uint64_t covered = 0;
    for (const PairRun &x : pairRuns(gap, c2))
        covered += x.count;
    QCOMPARE(covered, std::uint64_t(4));
    // A backend refuses sources of different sizes with the reason.
    const RunList small({{0, 3, nullptr, RawElement::F64}}, 3);
    const RunList large({{0, 4, nullptr, RawElement::F64}}, 4);
    PairSummary sum;
    std::string why;
    QCOMPARE(makeCpuHistogramBackend(2)->compare(small, large, PairTolerance{}, sum, {}, 0, 0, &why),
             BackendStatus::Failed);
    QVERIFY2(QString::fromStdString(why).contains(QStringLiteral("3 and 4")), why.c_str());
}

void TestCompareCore::pairErrors()
{
    Synthetic s;
    const float f[4] = {1, 2, 3, 4};
    const std::uint32_t four = s.add("float32", f, sizeof f, {4});
    const std::uint32_t three = s.add("float32", f, 12, {3});
    const std::uint32_t broken = s.add("float32", f, sizeof f, {10}); // a view past its storage
    s.finish();
    auto sizes = compareTensorValues(s.cp, four, s.cp, three);
    QVERIFY(!sizes.ok());
    QCOMPARE(sizes.error().code, ErrorCode::InvalidTensor);
    QVERIFY2(QString::fromStdString(sizes.error().message).contains(QStringLiteral("4 and 3")),
             sizes.error().message.c_str());
    for (auto [x, y] : {std::pair{four, broken}, std::pair{broken, four}}) {
        auto r = compareTensorValues(s.cp, x, s.cp, y);
        QVERIFY(!r.ok());
        QVERIFY(!r.error().message.empty());
        auto h = compareTensorHistograms(s.cp, x, s.cp, y, 16);
        QVERIFY(!h.ok());
        QVERIFY(!h.error().message.empty());
    }
    for (std::uint32_t bins : {0u, (1u << 20) + 1}) {
        auto h = compareTensorHistograms(s.cp, four, s.cp, four, bins);
        QVERIFY(!h.ok());
        QCOMPARE(h.error().code, ErrorCode::InvalidTensor);
    }
    auto ok = compareTensorValues(s.cp, four, s.cp, four);
    QVERIFY(ok.ok() && ok->identical && ok->numel == 4);
}

// Cancelling stops the work at once, in either pass, and says so; no call after the refusal.
void TestCompareCore::pairCancellation()
{
    Synthetic s;
    std::uint32_t a = 0, b = 0;
    ptscope::test::addPair(s, "float32", "float32", false, false, 3'000'000, 5, a, b);
    s.finish();
    // One thread: one call per buffer of 2^16 elements, 46 a pass (60 stops in pass 2).
    auto backend = makeCpuHistogramBackend(1);
    for (int stopAt : {1, 3, 40, 60}) {
        int calls = 0;
        std::uint64_t last = 0, total = 0;
        auto h = compareTensorHistograms(
            s.cp, a, s.cp, b, 64,
            [&](std::uint64_t done, std::uint64_t t) {
                last = done;
                total = t;
                return ++calls < stopAt;
            },
            backend.get());
        QVERIFY(!h.ok());
        QCOMPARE(h.error().code, ErrorCode::Cancelled);
        QCOMPARE(calls, stopAt);
        QCOMPARE(total, std::uint64_t(6'000'000));
        QVERIFY(last < total);
    }
    // Several threads, stopped at the first report of pass 2.
    auto threads = makeCpuHistogramBackend(3);
    int reports = 0;
    auto second = compareTensorHistograms(
        s.cp, a, s.cp, b, 64,
        [&](std::uint64_t done, std::uint64_t) {
            ++reports;
            return done <= 3'000'000;
        },
        threads.get());
    QVERIFY(!second.ok());
    QCOMPARE(second.error().code, ErrorCode::Cancelled);
    QVERIFY(reports >= 2);
    int calls = 0;
    auto v = compareTensorValues(s.cp, a, s.cp, b, backend.get(), [&](std::uint64_t, std::uint64_t) {
        ++calls;
        return false;
    });
    QVERIFY(!v.ok());
    QCOMPARE(v.error().code, ErrorCode::Cancelled);
    QCOMPARE(calls, 1);
    // Progress without cancelling ends at the total; the backend is usable again.
    std::uint64_t last = 0;
    auto done = compareTensorValues(s.cp, a, s.cp, b, backend.get(), [&](std::uint64_t d, std::uint64_t t) {
        [&] { QVERIFY(d > last && t == 3'000'000); }();
        last = d;
        return true;
    });
    QVERIFY(done.ok());
    QCOMPARE(last, std::uint64_t(3'000'000));
}

// What torch 1.13, 2.6 and 2.14 give for torch.allclose(a, b) and
// torch.nn.functional.cosine_similarity(a, b, dim=0) on these float64 vectors (found by
// tests/fixtures/crosscheck_values.py): a difference of inf is never close, even to an infinite b;
// each norm is clamped to 1e-8 on its own, not their product to 1e-16, and a norm whose squares
// overflow makes every term 0.
void TestCompareCore::comparisonAgreesWithTorch_data()
{
    QTest::addColumn<std::vector<double>>("a");
    QTest::addColumn<std::vector<double>>("b");
    QTest::addColumn<bool>("allclose");
    QTest::addColumn<double>("cosine");
    constexpr double inf = std::numeric_limits<double>::infinity();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    using V = std::vector<double>;
    QTest::addRow("finite vs inf") << V{1.0, 2.0} << V{1.0, inf} << false << nan;
    QTest::addRow("-inf vs inf") << V{-inf} << V{inf} << false << nan;
    QTest::addRow("inf vs inf") << V{inf, 1.0} << V{inf, 1.0} << true << nan;
    QTest::addRow("norms below 1e-8 apart") << V{1e-5, 2e-5} << V{1e-5, 2e-5} << true << 1.0;
    QTest::addRow("both norms clamped") << V{3e-9} << V{2e-9} << true << 0.06;
    QTest::addRow("product of squares overflows") << V{1e100, 1.0} << V{1e100, 2.0} << false << 1.0;
    QTest::addRow("squares overflow") << V{1e155, 1.0} << V{1e155, 1.0} << true << 0.0;
    QTest::addRow("zero target") << V{0.0, 0.0} << V{1.0, 2.0} << false << 0.0;
    QTest::addRow("empty") << V{} << V{} << true << 0.0;
}

void TestCompareCore::comparisonAgreesWithTorch()
{
    QFETCH(std::vector<double>, a);
    QFETCH(std::vector<double>, b);
    QFETCH(bool, allclose);
    QFETCH(double, cosine);
    ValueComparator c;
    c.add(a, b);
    const ValueComparison r = c.result();
    QCOMPARE(r.allclose, allclose);
    if (std::isnan(cosine))
        QVERIFY2(std::isnan(r.cosine), qPrintable(QString::number(r.cosine, 'g', 17)));
    else
        QVERIFY2(std::fabs(r.cosine - cosine) <= 1e-15, qPrintable(QString::number(r.cosine, 'g', 17)));
    QCOMPARE(differenceFromReference(referenceOf(a, b, 1).cmp, r, 1e-15), QString());
}

// A complex pair is compared as complex numbers (torch.equal / torch.allclose on the complex
// tensors), not by magnitude: a conjugate, a negation or a real part has the same |z| almost
// everywhere but is not the same tensor. Hand-computed: a = [1+2i, 3-i, 0.5+0.5i, 0].
void TestCompareCore::complexPairs_data()
{
    QTest::addColumn<QString>("other");
    QTest::addColumn<qint64>("differing");
    QTest::addColumn<double>("maxAbsDiff");
    QTest::addColumn<double>("sumAbsDiff");
    QTest::addColumn<double>("sumSqDiff");
    QTest::addColumn<double>("dot"); // sum of re*re' + im*im'
    QTest::addColumn<double>("normB"); // sum of |b|^2
    // conj(a) = [1-2i, 3+i, 0.5-0.5i, 0]: a - b = [4i, -2i, i, 0]
    QTest::newRow("conjugate, stored") << QStringLiteral("conj") << qint64(3) << 4.0 << 7.0 << 21.0 << 5.0 << 15.5;
    QTest::newRow("conjugate view") << QStringLiteral("conj view") << qint64(3) << 4.0 << 7.0 << 21.0 << 5.0 << 15.5;
    // -a: a - b = 2a; the 0 against -0 is equal
    QTest::newRow("negative view") << QStringLiteral("neg view") << qint64(3) << 2 * std::sqrt(10.0)
                                   << 2 * (std::sqrt(5.0) + std::sqrt(10.0) + std::sqrt(0.5)) << 62.0 << -15.5
                                   << 15.5;
    // the real part as float32: a - b = [2i, -i, 0.5i, 0]
    QTest::newRow("real part (float32)") << QStringLiteral("real") << qint64(3) << 2.0 << 3.5 << 5.25 << 10.25 << 10.25;
    QTest::newRow("itself") << QStringLiteral("same") << qint64(0) << 0.0 << 0.0 << 0.0 << 15.5 << 15.5;
}

namespace {

// Tensor 0: a; then the tensor named `other` of complexPairs_data.
std::uint32_t complexPair(Synthetic &s, const QString &other)
{
    const std::vector<float> a{1.0f, 2.0f, 3.0f, -1.0f, 0.5f, 0.5f, 0.0f, 0.0f};
    s.add("complex64", a.data(), a.size() * sizeof(float), {4});
    if (other == QStringLiteral("real"))
        return s.addVector("float32", std::vector<float>{1.0f, 3.0f, 0.5f, 0.0f});
    if (other == QStringLiteral("conj")) {
        const std::vector<float> c{1.0f, -2.0f, 3.0f, 1.0f, 0.5f, -0.5f, 0.0f, -0.0f};
        return s.add("complex64", c.data(), c.size() * sizeof(float), {4});
    }
    const std::uint32_t b = s.add("complex64", a.data(), a.size() * sizeof(float), {4});
    s.cp.tensors[b].conjView = other == QStringLiteral("conj view");
    s.cp.tensors[b].negView = other == QStringLiteral("neg view");
    return b;
}

} // namespace

void TestCompareCore::complexPairs()
{
    QFETCH(QString, other);
    QFETCH(qint64, differing);
    QFETCH(double, maxAbsDiff);
    QFETCH(double, sumAbsDiff);
    QFETCH(double, sumSqDiff);
    QFETCH(double, dot);
    QFETCH(double, normB);
    Synthetic s;
    const std::uint32_t b = complexPair(s, other);
    s.finish();
    auto r = compareTensorValues(s.cp, 0, s.cp, b);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(r->numel, std::uint64_t(4));
    QCOMPARE(static_cast<qint64>(r->differing), differing);
    QCOMPARE(r->identical, differing == 0);
    QCOMPARE(r->allclose, differing == 0);
    QCOMPARE(r->nanDiffs, std::uint64_t(0));
    QCOMPARE(r->maxAbsDiff, maxAbsDiff);
    QVERIFY(std::fabs(r->meanAbsDiff - sumAbsDiff / 4) <= 1e-15);
    QVERIFY(std::fabs(r->relativeL2 - std::sqrt(sumSqDiff) / std::sqrt(normB)) <= 1e-15);
    // torch's cosine_similarity of torch.view_as_real of each side (|a|^2 = 15.5)
    QVERIFY2(std::fabs(r->cosine - dot / (std::sqrt(15.5) * std::sqrt(normB))) <= 1e-15,
             qPrintable(QString::number(r->cosine, 'g', 17)));
    // The other way round: the same differences.
    auto back = compareTensorValues(s.cp, b, s.cp, 0);
    QVERIFY(back.ok());
    QCOMPARE(back->differing, r->differing);
    QCOMPARE(back->maxAbsDiff, r->maxAbsDiff);
}

// Infinite parts: torch.sub computes x - 1 * y in complex arithmetic, so (inf - 431i) - (inf + inf i)
// is NaN + NaN i (a NaN difference), and (1 + 2i) - (inf + 0i) is -inf + NaN i, whose |.| is inf
// (torch 2.x, and 1.13's scalar loop). What torch 2.14 answered for this pair: differing 3,
// max_abs_diff inf, allclose false; the equal infinities of the third position are equal.
void TestCompareCore::complexInfinities()
{
    constexpr double inf = std::numeric_limits<double>::infinity();
    Synthetic s;
    const std::vector<double> a{inf, -431.0, 1.0, 2.0, inf, inf, 5.0, 0.0};
    const std::vector<double> b{inf, inf, inf, 0.0, inf, inf, 4.0, 0.0};
    s.add("complex128", a.data(), a.size() * sizeof(double), {4});
    s.add("complex128", b.data(), b.size() * sizeof(double), {4});
    s.finish();
    auto r = compareTensorValues(s.cp, 0, s.cp, 1);
    QVERIFY(r.ok());
    QCOMPARE(r->differing, std::uint64_t(3));
    QCOMPARE(r->nanDiffs, std::uint64_t(1));
    QCOMPARE(r->maxAbsDiff, inf);
    QVERIFY(!r->allclose && !r->identical);
    QVERIFY(std::isnan(r->cosine));
}

void TestCompareCore::complexPairHistograms()
{
    // |a| = [sqrt 5, sqrt 10, sqrt 0.5, 0] on both sides; |a - conj(a)| = [4, 2, 1, 0].
    Synthetic s;
    const std::uint32_t b = complexPair(s, QStringLiteral("conj view"));
    s.finish();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
    auto h = compareTensorHistograms(s.cp, 0, s.cp, b, 4, [&](std::uint64_t done, std::uint64_t total) {
        seen.emplace_back(done, total);
        return true;
    });
    QVERIFY2(h.ok(), h.ok() ? "" : h.error().message.c_str());
    QCOMPARE(h->difference.min, 0.0);
    QCOMPARE(h->difference.max, 4.0);
    QCOMPARE(h->difference.counts, (std::vector<std::uint64_t>{1, 1, 1, 1}));
    QCOMPARE(h->source.counts, h->target.counts);
    QCOMPARE(h->source.min, 0.0);
    QCOMPARE(h->source.max, std::sqrt(10.0));
    // bins of width sqrt(10) / 4 = 0.79: 0 and sqrt(0.5) in the first, sqrt(5) in the third
    QCOMPARE(h->source.counts, (std::vector<std::uint64_t>{2, 0, 1, 1}));
    QVERIFY(!h->comparison.identical);
    QVERIFY(h->magnitudes);
    // Both passes under one total.
    QCOMPARE(seen, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{4, 8}, {8, 8}}));
    // Cancelled in the first pass.
    auto cancelled = compareTensorHistograms(s.cp, 0, s.cp, b, 4, [](std::uint64_t, std::uint64_t) { return false; });
    QVERIFY(!cancelled.ok());
    QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
}

QTEST_GUILESS_MAIN(TestCompareCore)
#include "tst_compare_core.moc"
