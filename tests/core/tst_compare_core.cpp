// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// What the desktop app's comparison is built on: every key of both sides with what load_state_dict
// does with it (checked against what torch 1.13 reported for the diff fixtures), the state dicts a
// file offers, fixes re-emulated from the dict they produce, and the histograms of two tensors and
// of their difference (hand-computed counts).
#include "checkpoint.h"
#include "diff_explain.h"
#include "key_alignment.h"
#include "load_state_dict.h"
#include "value_histogram.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

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

} // namespace

class TestCompareCore : public QObject
{
    Q_OBJECT

private:
    QJsonObject m_pairs;

private slots:
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
        QCOMPARE(keysWith(rows, KeyStatus::Missing), strings(nonStrict[QStringLiteral("missing")]));
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

QTEST_GUILESS_MAIN(TestCompareCore)
#include "tst_compare_core.moc"
