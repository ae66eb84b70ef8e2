// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The load_state_dict emulation against what torch actually does (tests/data/diff/expected.json from
// torch 1.13, tests/data/torch-2.N/diff/expected.json from torch 2.6 and the newest torch, all written
// by tests/fixtures/generate_diff_fixtures.py): every pair of (source checkpoint, target model), with
// the target given as a saved state_dict, a whole-model pickle, a TorchScript file and a manifest,
// under the rules of the torch that wrote the answers. Hand-written cases cover what the pairs
// cannot (pt-format.md 7.1), the classification of each cause, the fixes (re-emulated), value
// comparison and manifests.
#include "checkpoint.h"
#include "diff_explain.h"
#include "load_state_dict.h"
#include "value_compare.h"

#include <QDir>
#include <QFile>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace ptscope::core;

namespace {

// A set of pairs: "" for torch 1.13's (tests/data/diff), "torch-2.N" for a torch 2.x's.
QString dataDir(const QString &set = {})
{
    return set.isEmpty() ? QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/")
                         : QStringLiteral(PTSCOPE_TEST_DATA_DIR "/") + set + QStringLiteral("/diff/");
}

QStringList pairSets()
{
    QStringList sets { QString() };
    sets << QDir(QStringLiteral(PTSCOPE_TEST_DATA_DIR)).entryList({ QStringLiteral("torch-*") }, QDir::Dirs, QDir::Name);
    return sets;
}

QStringList toQt(const std::vector<std::string> &v)
{
    QStringList out;
    for (const std::string &s : v)
        out << QString::fromStdString(s);
    return out;
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &x : v.toArray())
        out << x.toString();
    return out;
}

// strict=True and strict=False as one list, so that a row compares in one QCOMPARE.
QStringList describe(const LoadOutcome &o)
{
    QStringList d;
    d << (o.strictOk() ? QStringLiteral("strict: ok") : QStringLiteral("strict: raises"));
    if (!o.strictOk())
        d << toQt(o.strictMessages());
    if (o.nonStrictOk()) {
        d << QStringLiteral("non-strict: ok") << QStringLiteral("missing:") << toQt(o.missingKeys)
          << QStringLiteral("unexpected:") << toQt(o.unexpectedKeys);
    } else {
        d << QStringLiteral("non-strict: raises") << toQt(o.nonStrictMessages());
    }
    return d;
}

QStringList describe(const QJsonObject &strict, const QJsonObject &nonStrict)
{
    QStringList d;
    d << (strict[QStringLiteral("ok")].toBool() ? QStringLiteral("strict: ok") : QStringLiteral("strict: raises"));
    if (!strict[QStringLiteral("ok")].toBool())
        d << strings(strict[QStringLiteral("lines")]);
    if (nonStrict[QStringLiteral("ok")].toBool()) {
        d << QStringLiteral("non-strict: ok") << QStringLiteral("missing:")
          << strings(nonStrict[QStringLiteral("missing")]) << QStringLiteral("unexpected:")
          << strings(nonStrict[QStringLiteral("unexpected")]);
    } else {
        d << QStringLiteral("non-strict: raises") << strings(nonStrict[QStringLiteral("lines")]);
    }
    return d;
}

const QStringList kKinds { QStringLiteral("state_dict"), QStringLiteral("whole"), QStringLiteral("script"),
    QStringLiteral("manifest") };

// What a kind of target file cannot record, so the answer differs from torch's for that model:
// documented limitations, not bugs (an XPASS here means one was lifted: update the table).
const QHash<QString, QString> kLimits {
    { QStringLiteral("none_child/state_dict"), QStringLiteral("a state_dict does not record children set to None") },
    { QStringLiteral("none_child/script"),
        QStringLiteral("TorchScript does not keep children set to None as modules") },
    { QStringLiteral("non_persistent/script"), QStringLiteral("TorchScript lists non-persistent buffers as buffers") },
    { QStringLiteral("extra_state_missing/whole"),
        QStringLiteral("a pickle does not tell whether a class defines set_extra_state") },
    { QStringLiteral("extra_state_missing/script"), QStringLiteral("TorchScript does not record extra state") },
    { QStringLiteral("extra_state_unexpected/whole"),
        QStringLiteral("a _extra_state key is taken as handled by a user class a pickle cannot describe") },
    { QStringLiteral("extra_state_unexpected/script"),
        QStringLiteral("a _extra_state key is taken as handled by a user class TorchScript cannot describe") },
    { QStringLiteral("instancenorm_legacy/state_dict"), QStringLiteral("a state_dict does not record module classes") },
};

struct Fixture
{
    QString dir;
    QJsonObject pairs;
    TorchRules rules = TorchRules::Torch1_13; // those of the torch that wrote the answers
    QString torchVersion;
    std::map<std::string, std::shared_ptr<const Checkpoint>> files;

    std::string path(const QString &file) const { return (dir + file).toStdString(); }

    std::shared_ptr<const Checkpoint> open(const QString &file)
    {
        const std::string p = path(file);
        if (auto it = files.find(p); it != files.end())
            return it->second;
        auto cp = openCheckpoint(p);
        if (!cp)
            return nullptr;
        files[p] = *cp;
        return *cp;
    }

    std::optional<ModelStructure> target(const QJsonObject &pair, const QString &kind)
    {
        const QString file = pair[QStringLiteral("targets")].toObject()[kind].toString();
        if (file.isEmpty())
            return std::nullopt;
        if (kind == QLatin1String("manifest")) {
            auto m = modelFromManifest(path(file));
            return m ? std::optional<ModelStructure>(*m) : std::nullopt;
        }
        auto cp = open(file);
        if (!cp)
            return std::nullopt;
        auto m = modelFromCheckpoint(*cp);
        return m ? std::optional<ModelStructure>(*m) : std::nullopt;
    }
};

// The pairs of one set, read once.
Fixture &fixture(const QString &set = {})
{
    static std::map<QString, Fixture> sets;
    Fixture &f = sets[set];
    if (f.dir.isEmpty()) {
        f.dir = dataDir(set);
        QFile file(f.dir + QStringLiteral("expected.json"));
        if (file.open(QIODevice::ReadOnly)) {
            const QJsonObject doc = QJsonDocument::fromJson(file.readAll()).object();
            f.pairs = doc[QStringLiteral("pairs")].toObject();
            f.torchVersion = doc[QStringLiteral("torch_version")].toString();
            bool ok = false;
            f.rules = parseTorchRules(f.torchVersion.toStdString(), &ok);
            if (!ok)
                qFatal("%s: unknown torch version %s", qPrintable(f.dir), qPrintable(f.torchVersion));
        }
    }
    return f;
}

// A model and a dict written inline, for the rules torch 1.13 cannot show.
ModelStructure manifestModel(const char *json)
{
    auto m = modelFromManifestText(json);
    if (!m)
        qFatal("bad manifest in test: %s", m.error().message.c_str());
    return *m;
}

SourceStateDict dictOf(std::vector<std::pair<std::string, std::vector<std::int64_t>>> items)
{
    SourceStateDict sd;
    for (auto &[k, shape] : items) {
        SourceEntry e;
        e.key = k;
        e.isTensor = true;
        e.shape = shape;
        e.dtype = "float32";
        e.device = "cpu";
        e.layout = "strided";
        sd.entries.push_back(std::move(e));
    }
    return sd;
}

const char *kNetManifest = R"({"format": "ptscope-manifest/1", "class": "Net",
  "modules": {"": {"class": "Net"}, "conv1": {"class": "Conv2d"},
              "bn1": {"class": "BatchNorm2d", "version": 2, "track_running_stats": true},
              "fc": {"class": "Linear"}},
  "state_dict": {"conv1.weight": {"shape": [4, 2, 3, 3], "dtype": "float32", "parameter": true},
                 "bn1.weight": {"shape": [4], "dtype": "float32", "parameter": true},
                 "bn1.running_mean": {"shape": [4], "dtype": "float32", "parameter": false},
                 "bn1.num_batches_tracked": {"shape": [], "dtype": "int64", "parameter": false},
                 "fc.weight": {"shape": [3, 4], "dtype": "float32", "parameter": true}}})";

} // namespace

class TestLoadStateDict : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void torchAgrees_data();
    void torchAgrees();
    void wholeFile_data();
    void wholeFile();
    void causes_data();
    void causes();
    void fixesVerified_data();
    void fixesVerified();
    void values_data();
    void values();
    void torch2DottedKeys();
    void torch2ZeroDim();
    void torch113EmptyIntoZeroDim();
    void noneChildIgnoredBothRules();
    void metadataVersions();
    void instanceNormVersioned();
    void manifestForms();
    void manifestErrors();
    void renamePrefixKeepsMetadata();
    void valueComparator();
    void pythonStrings();
    void targetKeysInOrder();
};

void TestLoadStateDict::initTestCase()
{
    QVERIFY2(fixture().pairs.size() >= 30, "tests/data/diff/expected.json: run tests/fixtures/generate_diff_fixtures.py");
    QCOMPARE(fixture().rules, TorchRules::Torch1_13);
    // torch 2.6 (Debian trixie) and the newest Debian has: one set for each of the other rule sets.
    std::set<TorchRules> seen;
    for (const QString &set : pairSets()) {
        QVERIFY2(fixture(set).pairs.size() >= 30, qPrintable(set + QStringLiteral(": run tests/fixtures/torch2_env.sh generate")));
        seen.insert(fixture(set).rules);
    }
    QCOMPARE(seen.size(), std::size(kAllTorchRules));
}

void TestLoadStateDict::torchAgrees_data()
{
    QTest::addColumn<QString>("set");
    QTest::addColumn<QString>("pair");
    QTest::addColumn<QString>("kind");
    for (const QString &set : pairSets()) {
        const QJsonObject &pairs = fixture(set).pairs;
        const QString torch = QStringLiteral("torch ") + fixture(set).torchVersion.section(QLatin1Char('+'), 0, 0);
        for (auto it = pairs.begin(); it != pairs.end(); ++it)
            for (const QString &kind : kKinds)
                if (!it.value().toObject()[QStringLiteral("targets")].toObject()[kind].toString().isEmpty())
                    QTest::addRow("%s: %s/%s", qPrintable(torch), qPrintable(it.key()), qPrintable(kind))
                        << set << it.key() << kind;
    }
}

// The exact lines that torch printed, in its order, and what strict=False returned, under that
// torch's rules.
void TestLoadStateDict::torchAgrees()
{
    QFETCH(QString, set);
    QFETCH(QString, pair);
    QFETCH(QString, kind);
    Fixture &fx = fixture(set);
    const QJsonObject rec = fx.pairs[pair].toObject();
    auto source = fx.open(rec[QStringLiteral("source")].toString());
    QVERIFY(source);
    auto sd = sourceFromCheckpoint(*source);
    QVERIFY2(sd.ok(), sd.ok() ? "" : sd.error().message.c_str());
    QCOMPARE(toQt(sd->path), strings(rec[QStringLiteral("source_key")]));
    auto model = fx.target(rec, kind);
    QVERIFY(model);
    if (kind != QLatin1String("state_dict") && kind != QLatin1String("manifest"))
        QCOMPARE(
            QString::fromStdString(model->modules[0].shortClassName()), rec[QStringLiteral("target_class")].toString());
    const LoadOutcome o = emulateLoadStateDict(*model, *sd, fx.rules);
    const QString row = pair + QLatin1Char('/') + kind;
    if (kLimits.contains(row))
        QEXPECT_FAIL("", qPrintable(kLimits[row]), Abort);
    QCOMPARE(
        describe(o), describe(rec[QStringLiteral("strict")].toObject(), rec[QStringLiteral("non_strict")].toObject()));
    if (!o.strictOk() && !o.typeError && model->classesKnown)
        QCOMPARE(QString::fromStdString(o.header),
            rec[QStringLiteral("strict")].toObject()[QStringLiteral("header")].toString());
}

void TestLoadStateDict::wholeFile_data()
{
    QTest::addColumn<QString>("set");
    QTest::addColumn<QString>("pair");
    for (const QString &set : pairSets()) {
        const QJsonObject &pairs = fixture(set).pairs;
        for (auto it = pairs.begin(); it != pairs.end(); ++it)
            if (it.value().toObject().contains(QStringLiteral("whole_file")))
                QTest::addRow("%s%s", qPrintable(set.isEmpty() ? QString() : set + QStringLiteral(": ")),
                              qPrintable(it.key()))
                    << set << it.key();
    }
}

// load_state_dict(torch.load(SOURCE)) with the whole object: a training checkpoint's top-level
// keys, or a TypeError for a pickled module.
void TestLoadStateDict::wholeFile()
{
    QFETCH(QString, set);
    QFETCH(QString, pair);
    Fixture &fx = fixture(set);
    const QJsonObject rec = fx.pairs[pair].toObject();
    auto source = fx.open(rec[QStringLiteral("source")].toString());
    QVERIFY(source);
    auto model = fx.target(rec, QStringLiteral("whole"));
    QVERIFY(model);
    auto sd = sourceFromCheckpoint(*source);
    QVERIFY(sd);
    const SourceContext ctx = sourceContext(*source, *sd, *model, fx.rules, "src.pt");
    QVERIFY(ctx.wholeFile);
    const QJsonObject whole = rec[QStringLiteral("whole_file")].toObject();
    QCOMPARE(describe(*ctx.wholeFile),
        describe(whole[QStringLiteral("strict")].toObject(), whole[QStringLiteral("non_strict")].toObject()));
}

void TestLoadStateDict::causes_data()
{
    QTest::addColumn<QString>("pair");
    QTest::addColumn<QString>("kind");
    const QJsonObject &pairs = fixture().pairs;
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
        for (const QString &kind : { QStringLiteral("whole"), QStringLiteral("manifest") })
            QTest::addRow("%s/%s", qPrintable(it.key()), qPrintable(kind)) << it.key() << kind;
}

// Every pair is classified by the cause it was built to show.
void TestLoadStateDict::causes()
{
    QFETCH(QString, pair);
    QFETCH(QString, kind);
    const QJsonObject rec = fixture().pairs[pair].toObject();
    auto source = fixture().open(rec[QStringLiteral("source")].toString());
    auto model = fixture().target(rec, kind);
    QVERIFY(source && model);
    auto sd = sourceFromCheckpoint(*source);
    QVERIFY(sd);
    const TorchRules rules = TorchRules::Torch1_13;
    const SourceContext ctx = sourceContext(*source, *sd, *model, rules, "src.pt");
    const DiffReport report = explainDiff(*model, *sd, ctx, rules);
    QStringList found;
    for (const DiffCause &c : report.causes)
        found << QString::fromStdString(c.kind);
    for (const QString &want : strings(rec[QStringLiteral("causes")])) {
        if (pair.startsWith(QLatin1String("extra_state_")) && kind == QLatin1String("whole"))
            continue; // see kLimits
        const QString k = want == QLatin1String("torch_version") ? QStringLiteral("torch_version") : want;
        QVERIFY2(found.contains(k),
            qPrintable(
                pair + QStringLiteral(": wanted ") + k + QStringLiteral(", got ") + found.join(QStringLiteral(", "))));
    }
    // The trap is named whenever strict=False would load less than half of the model.
    if (!report.outcome.strictOk() && report.outcome.nonStrictOk()
        && report.outcome.loadedFromSource() * 2 < report.targetKeys)
        QVERIFY(found.contains(QStringLiteral("non_strict_trap")));
    for (const DiffSuggestion &s : report.suggestions)
        QVERIFY2(s.code.find("model.load_state_dict(sd") != std::string::npos, s.title.c_str());
}

void TestLoadStateDict::fixesVerified_data()
{
    QTest::addColumn<QString>("pair");
    QTest::addColumn<QString>("suggestion");
    QTest::addColumn<bool>("strictAfter");
    QTest::addColumn<QStringList>("missingAfter");
    const QStringList none;
    QTest::newRow("ddp_source") << QStringLiteral("ddp_source") << QStringLiteral("strip_prefix") << true << none;
    QTest::newRow("ddp_target") << QStringLiteral("ddp_target") << QStringLiteral("add_prefix") << true << none;
    QTest::newRow("orig_mod") << QStringLiteral("orig_mod") << QStringLiteral("strip_prefix") << true << none;
    QTest::newRow("stacked") << QStringLiteral("stacked") << QStringLiteral("strip_prefix") << true << none;
    QTest::newRow("peft") << QStringLiteral("peft") << QStringLiteral("strip_prefix") << true << none;
    QTest::newRow("lightning") << QStringLiteral("lightning") << QStringLiteral("strip_prefix") << true << none;
    QTest::newRow("renamed_head") << QStringLiteral("renamed_head") << QStringLiteral("rename") << true << none;
    QTest::newRow("ema") << QStringLiteral("ema") << QStringLiteral("drop_ema") << true << none;
    QTest::newRow("ema weights") << QStringLiteral("ema") << QStringLiteral("load_ema") << true << none;
    QTest::newRow("tied_dropped") << QStringLiteral("tied_dropped") << QStringLiteral("copy_tied") << true << none;
    QTest::newRow("bn_nbt_missing_metadata")
        << QStringLiteral("bn_nbt_missing_metadata") << QStringLiteral("fill_num_batches_tracked") << true << none;
    QTest::newRow("changed_head") << QStringLiteral("changed_head") << QStringLiteral("drop_head") << false
                                  << QStringList { QStringLiteral("fc.weight"), QStringLiteral("fc.bias") };
    QTest::newRow("non_persistent") << QStringLiteral("non_persistent") << QStringLiteral("drop_keys") << true << none;
    QTest::newRow("instancenorm_legacy") << QStringLiteral("instancenorm_legacy") << QStringLiteral("drop_keys") << true
                                         << none;
    QTest::newRow("extra_state_unexpected")
        << QStringLiteral("extra_state_unexpected") << QStringLiteral("drop_keys") << true << none;
    QTest::newRow("non_tensor") << QStringLiteral("non_tensor") << QStringLiteral("drop_keys") << false
                                << QStringList { QStringLiteral("bn1.bias") };
    QTest::newRow("meta_tensor") << QStringLiteral("meta_tensor") << QStringLiteral("drop_keys") << false
                                 << QStringList { QStringLiteral("conv2.bias") };
    QTest::newRow("prefix_and_head") << QStringLiteral("prefix_and_head") << QStringLiteral("drop_head") << false
                                     << QStringList { QStringLiteral("fc.weight"), QStringLiteral("fc.bias") };
    QTest::newRow("training_checkpoint") << QStringLiteral("training_checkpoint") << QStringLiteral("load_nested")
                                         << true << none;
    QTest::newRow("whole_model_source") << QStringLiteral("whole_model_source")
                                        << QStringLiteral("state_dict_of_module") << true << none;
    QTest::newRow("gpu_storages") << QStringLiteral("gpu_storages") << QStringLiteral("map_location") << true << none;
}

// Each fix is applied to the keys and load_state_dict emulated again: what it claims holds.
void TestLoadStateDict::fixesVerified()
{
    QFETCH(QString, pair);
    QFETCH(QString, suggestion);
    QFETCH(bool, strictAfter);
    QFETCH(QStringList, missingAfter);
    const QJsonObject rec = fixture().pairs[pair].toObject();
    auto source = fixture().open(rec[QStringLiteral("source")].toString());
    auto model = fixture().target(rec, QStringLiteral("manifest"));
    QVERIFY(source && model);
    auto sd = sourceFromCheckpoint(*source);
    QVERIFY(sd);
    const SourceContext ctx = sourceContext(*source, *sd, *model, TorchRules::Torch2, "src.pt");
    const DiffReport report = explainDiff(*model, *sd, ctx, TorchRules::Torch2);
    const DiffSuggestion *found = nullptr;
    for (const DiffSuggestion &s : report.suggestions)
        if (s.kind == suggestion.toStdString())
            found = &s;
    QVERIFY2(found, qPrintable(QStringLiteral("no ") + suggestion));
    QVERIFY(found->verified);
    QCOMPARE(found->strictOkAfter, strictAfter);
    QVERIFY(found->nonStrictOkAfter);
    QCOMPARE(toQt(found->missingAfter), missingAfter);
    QVERIFY(!found->code.empty());
    QVERIFY(found->code.find("torch.load(\"src.pt\"") != std::string::npos);
}

void TestLoadStateDict::values_data()
{
    QTest::addColumn<QString>("pair");
    const QJsonObject &pairs = fixture().pairs;
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
        if (!it.value().toObject()[QStringLiteral("values")].toObject().isEmpty())
            QTest::newRow(qPrintable(it.key())) << it.key();
}

// Max/mean abs diff, relative L2, differing count, allclose and equal as torch computes them in float64.
void TestLoadStateDict::values()
{
    QFETCH(QString, pair);
    const QJsonObject rec = fixture().pairs[pair].toObject();
    auto source = fixture().open(rec[QStringLiteral("source")].toString());
    auto target = fixture().open(rec[QStringLiteral("targets")].toObject()[QStringLiteral("state_dict")].toString());
    QVERIFY(source && target);
    auto sd = sourceFromCheckpoint(*source);
    auto model = modelFromCheckpoint(*target);
    QVERIFY(sd && model);
    const QJsonObject want = rec[QStringLiteral("values")].toObject();
    for (auto it = want.begin(); it != want.end(); ++it) {
        const SourceEntry *e = sd->find(it.key().toStdString());
        const ModuleSlot *slot = model->slotForKey(it.key().toStdString());
        QVERIFY(e && slot && e->tensor >= 0 && slot->tensor >= 0);
        auto r = compareTensorValues(
            *source, static_cast<std::uint32_t>(e->tensor), *target, static_cast<std::uint32_t>(slot->tensor));
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
        const QJsonObject x = it.value().toObject();
        auto number = [&](const char *field) {
            const QJsonValue v = x[QLatin1String(field)];
            return v.isString() ? std::strtod(v.toString().toLatin1().constData(), nullptr) : v.toDouble();
        };
        auto near
            = [](double a, double b) { return a == b || std::fabs(a - b) <= 1e-12 * std::max(1.0, std::fabs(b)); };
        QCOMPARE(static_cast<qint64>(r->numel), x[QStringLiteral("numel")].toInteger());
        QCOMPARE(static_cast<qint64>(r->differing), x[QStringLiteral("differing")].toInteger());
        QVERIFY2(near(r->maxAbsDiff, number("max_abs_diff")), qPrintable(it.key()));
        QVERIFY2(near(r->meanAbsDiff, number("mean_abs_diff")), qPrintable(it.key()));
        QVERIFY2(near(r->relativeL2, number("rel_l2")), qPrintable(it.key()));
        QCOMPARE(r->allclose, x[QStringLiteral("allclose")].toBool());
        QCOMPARE(r->identical, x[QStringLiteral("identical")].toBool());
        const double cosine = number("cosine");
        QVERIFY2(std::isnan(cosine) ? std::isnan(r->cosine) : std::fabs(r->cosine - cosine) <= 1e-12,
                 qPrintable(it.key() + QStringLiteral(": ") + QString::number(r->cosine, 'g', 17)));
    }
}

// pt-format.md 7.1, 2.x: a dotted remainder is unexpected unless its first component is a child;
// a plain remainder unless it is a local parameter or buffer. 1.13 accepts both (torch 1.13 ran it:
// the dotted_leaf_keys pair).
void TestLoadStateDict::torch2DottedKeys()
{
    auto source = fixture().open(QStringLiteral("src_dotted_leaf_keys.pt"));
    QVERIFY(source);
    auto sd = sourceFromCheckpoint(*source);
    QVERIFY(sd);
    for (const QString &kind : kKinds) {
        auto model = fixture().target(fixture().pairs[QStringLiteral("dotted_leaf_keys")].toObject(), kind);
        QVERIFY(model);
        const LoadOutcome o2 = emulateLoadStateDict(*model, *sd, TorchRules::Torch2);
        // The root's scan finds "fc" (a child's name as a leaf), bn1's scan "bn1.running_mean.extra".
        QCOMPARE(
            toQt(o2.unexpectedKeys), (QStringList { QStringLiteral("fc"), QStringLiteral("bn1.running_mean.extra") }));
        QCOMPARE(toQt(o2.strictMessages()),
            QStringList { QStringLiteral("Unexpected key(s) in state_dict: \"fc\", \"bn1.running_mean.extra\". ") });
        QVERIFY(o2.nonStrictOk());
        const LoadOutcome o1 = emulateLoadStateDict(*model, *sd, TorchRules::Torch1_13);
        QVERIFY(o1.strictOk());
        QCOMPARE(
            toQt(o1.ignoredKeys), (QStringList { QStringLiteral("bn1.running_mean.extra"), QStringLiteral("fc") }));
    }
    // The report says the answer depends on the version.
    auto model
        = fixture().target(fixture().pairs[QStringLiteral("dotted_leaf_keys")].toObject(), QStringLiteral("whole"));
    const SourceContext ctx = sourceContext(*source, *sd, *model, TorchRules::Torch2, "src.pt");
    const DiffReport r = explainDiff(*model, *sd, ctx, TorchRules::Torch2);
    bool named = false;
    for (const DiffCause &c : r.causes)
        named = named || c.kind == "torch_version";
    QVERIFY(named);
}

// pt-format.md 7.1: up to 2.9 torch feeds input[0] of any 1-dim tensor to a 0-dim parameter; 2.10
// and later only a 1-element one, and report a size mismatch otherwise (torch.Size([]) for the
// model). The torch-2.6 and torch-2.14 pairs hold both answers; this states them outright.
void TestLoadStateDict::torch2ZeroDim()
{
    for (const QString &pair : { QStringLiteral("zero_dim_one"), QStringLiteral("zero_dim_three") }) {
        const QJsonObject rec = fixture().pairs[pair].toObject();
        auto source = fixture().open(rec[QStringLiteral("source")].toString());
        auto model = fixture().target(rec, QStringLiteral("whole"));
        QVERIFY(source && model);
        auto sd = sourceFromCheckpoint(*source);
        QVERIFY(sd);
        const LoadOutcome o = emulateLoadStateDict(*model, *sd, TorchRules::Torch2);
        const LoadOutcome o24 = emulateLoadStateDict(*model, *sd, TorchRules::Torch2_4);
        QVERIFY(o24.strictOk());
        QVERIFY(o24.loaded.front().firstElementOnly);
        if (pair == QLatin1String("zero_dim_one")) {
            QVERIFY(o.strictOk());
            QVERIFY(o.loaded.front().firstElementOnly);
        } else {
            const QString line = QStringLiteral("size mismatch for scale: copying a param with shape torch.Size([3]) "
                                                "from checkpoint, the shape in current model is torch.Size([]).");
            QCOMPARE(toQt(o.strictMessages()), QStringList { line });
            QVERIFY(!o.nonStrictOk());
            QCOMPARE(o.sizeMismatches.size(), std::size_t(1));
            QVERIFY(o.sizeMismatches[0].targetShape.empty());
        }
    }
}

// input_param[0] of an empty 1-dim tensor raises IndexError out of load_state_dict (1.13).
void TestLoadStateDict::torch113EmptyIntoZeroDim()
{
    const ModelStructure m = manifestModel(R"({"scale": {"shape": [], "dtype": "float32"}})");
    const SourceStateDict sd = dictOf({ { "scale", { 0 } } });
    const LoadOutcome o1 = emulateLoadStateDict(m, sd, TorchRules::Torch1_13);
    QVERIFY(!o1.strictOk() && !o1.nonStrictOk());
    QCOMPARE(QString::fromStdString(*o1.exception),
        QStringLiteral("IndexError: index 0 is out of bounds for dimension 0 with size 0"));
    const LoadOutcome o2 = emulateLoadStateDict(m, sd, TorchRules::Torch2);
    QCOMPARE(o2.sizeMismatches.size(), std::size_t(1));
}

// Keys under a child registered as None are skipped under both rules (the name is in _modules).
void TestLoadStateDict::noneChildIgnoredBothRules()
{
    const ModelStructure m = manifestModel(R"({"format": "ptscope-manifest/1", "class": "M",
        "modules": {"": {"class": "M", "none_children": ["aux"]}, "fc": {"class": "Linear"}},
        "state_dict": {"fc.weight": {"shape": [2, 3], "dtype": "float32"}}})");
    const SourceStateDict sd
        = dictOf({ { "fc.weight", { 2, 3 } }, { "aux.weight", { 3, 3 } }, { "aux.inner.bias", { 3 } } });
    for (TorchRules rules : { TorchRules::Torch1_13, TorchRules::Torch2 }) {
        const LoadOutcome o = emulateLoadStateDict(m, sd, rules);
        QVERIFY(o.strictOk());
        QCOMPARE(toQt(o.ignoredKeys), (QStringList { QStringLiteral("aux.weight"), QStringLiteral("aux.inner.bias") }));
    }
}

// _NormBase: num_batches_tracked is filled in when the metadata entry is missing or older than 2,
// and reported missing at version 2 (pt-format.md 7.3; the bn_* pairs are torch's own answers).
void TestLoadStateDict::metadataVersions()
{
    const ModelStructure m = manifestModel(kNetManifest);
    SourceStateDict sd = dictOf({ { "conv1.weight", { 4, 2, 3, 3 } }, { "bn1.weight", { 4 } },
        { "bn1.running_mean", { 4 } }, { "fc.weight", { 3, 4 } } });
    LoadOutcome o = emulateLoadStateDict(m, sd, TorchRules::Torch2);
    QVERIFY(o.strictOk());
    QCOMPARE(toQt(o.filledIn), QStringList { QStringLiteral("bn1.num_batches_tracked") });
    sd.hasMetadata = true;
    sd.metadata = { { "", 1 }, { "bn1", 2 } };
    o = emulateLoadStateDict(m, sd, TorchRules::Torch2);
    QCOMPARE(toQt(o.missingKeys), QStringList { QStringLiteral("bn1.num_batches_tracked") });
    sd.metadata = { { "", 1 }, { "bn1", 1 } };
    QVERIFY(emulateLoadStateDict(m, sd, TorchRules::Torch2).strictOk());
    sd.metadata = { { "", 1 }, { "bn1", std::nullopt } };
    QVERIFY(emulateLoadStateDict(m, sd, TorchRules::Torch2).strictOk());
    sd.metadata = { { "", 1 } }; // no entry for bn1: {} -> version None
    QVERIFY(emulateLoadStateDict(m, sd, TorchRules::Torch2).strictOk());
}

void TestLoadStateDict::instanceNormVersioned()
{
    // With a version in _metadata the legacy check is off: plain unexpected keys (torch: instancenorm_versioned).
    const QJsonObject rec = fixture().pairs[QStringLiteral("instancenorm_versioned")].toObject();
    auto model = fixture().target(rec, QStringLiteral("manifest"));
    QVERIFY(model);
    QVERIFY(
        model->modules.size() == 3 && model->modules[2].instanceNorm && model->modules[2].trackRunningStats == false);
}

void TestLoadStateDict::manifestForms()
{
    // Minimal forms: {key: {shape, dtype}} and {key: shape}.
    const ModelStructure a = manifestModel(R"({"fc.weight": {"shape": [10, 5], "dtype": "float32"}, "fc.bias": [10]})");
    QCOMPARE(toQt(a.stateDictKeys()), (QStringList { QStringLiteral("fc.weight"), QStringLiteral("fc.bias") }));
    QVERIFY(!a.classesKnown);
    const ModuleSlot *w = a.slotForKey("fc.weight");
    QVERIFY(w && w->shape == (std::vector<std::int64_t> { 10, 5 }) && w->dtype == "float32");
    // Full form: classes, non-persistent buffers, ties, extra state.
    const ModelStructure b = manifestModel(R"({"format": "ptscope-manifest/1", "class": "LM",
        "modules": {"": {"class": "LM", "non_persistent": ["pos"], "extra_state": false},
                    "embed": {"class": "Embedding"}, "head": {"class": "Linear", "extra_state": true}},
        "state_dict": {"embed.weight": {"shape": [7, 4], "dtype": "float32", "parameter": true, "ptr": 4096},
                       "head.weight": {"shape": [7, 4], "dtype": "float32", "parameter": true, "ptr": 4096},
                       "head._extra_state": {"type": "dict"}}})");
    QVERIFY(b.classesKnown);
    QCOMPARE(QString::fromStdString(b.modules[0].className), QStringLiteral("LM"));
    QCOMPARE(toQt(b.stateDictKeys()),
        (QStringList {
            QStringLiteral("embed.weight"), QStringLiteral("head.weight"), QStringLiteral("head._extra_state") }));
    QCOMPARE(QString::fromStdString(b.slotForKey("head.weight")->tiedTo), QStringLiteral("embed.weight"));
    const ModuleSlot *pos = b.slotForKey("pos");
    QVERIFY(pos && pos->buffer && !pos->persistent);
    const LoadOutcome o
        = emulateLoadStateDict(b, dictOf({ { "embed.weight", { 7, 4 } }, { "pos", { 3 } } }), TorchRules::Torch2);
    QCOMPARE(toQt(o.missingKeys), (QStringList { QStringLiteral("head.weight"), QStringLiteral("head._extra_state") }));
    QCOMPARE(toQt(o.unexpectedKeys), QStringList { QStringLiteral("pos") });
    QCOMPARE(QString::fromStdString(o.header), QStringLiteral("Error(s) in loading state_dict for LM:"));
    // A sharded index is not taken for a manifest.
    QVERIFY(looksLikeManifest(fixture().path(QStringLiteral("tgt_net.json"))));
}

void TestLoadStateDict::manifestErrors()
{
    for (const char *text : { "[1, 2]", "{\"a\": {\"dtype\": \"float32\"}}", "{\"a\": [1, -2]}", "{\"a\": \"x\"}", "{",
             "{\"state_dict\": {}, \"modules\": {\"x\": 3}}" }) {
        auto m = modelFromManifestText(text, "m.json");
        QVERIFY2(!m, text);
        QCOMPARE(m.error().code, ErrorCode::BadRecord);
        QCOMPARE(QString::fromStdString(m.error().path), QStringLiteral("m.json"));
    }
}

// The fix's Python keeps _metadata in step with the keys; the C++ that checks the fix does the same.
void TestLoadStateDict::renamePrefixKeepsMetadata()
{
    SourceStateDict sd = dictOf({ { "module.bn1.weight", { 4 } }, { "other", { 1 } } });
    sd.hasMetadata = true;
    sd.metadata = { { "", 1 }, { "module", 1 }, { "module.bn1", 2 } };
    const SourceStateDict stripped = renamePrefix(sd, "module.", "");
    QCOMPARE(stripped.entries[0].key, std::string("bn1.weight"));
    QCOMPARE(stripped.entries[1].key, std::string("other"));
    QCOMPARE(stripped.metadata.size(), std::size_t(2)); // "module" -> "" overwrote the root, in its place
    QCOMPARE(stripped.metadata[0].first, std::string(""));
    QCOMPARE(stripped.metadata[1].first, std::string("bn1"));
    QCOMPARE(*stripped.versionFor("bn1."), std::int64_t(2));
    const SourceStateDict added = renamePrefix(stripped, "", "module.");
    QCOMPARE(added.entries[0].key, std::string("module.bn1.weight"));
    QCOMPARE(added.metadata[0].first, std::string("module"));
    QCOMPARE(added.metadata[1].first, std::string("module.bn1"));
    // Colliding keys keep the first place and the last value, like OrderedDict(pairs).
    SourceStateDict twice = dictOf({ { "ema.w", { 1 } }, { "w", { 2 } } });
    const SourceStateDict merged = renamePrefix(twice, "ema.", "");
    QCOMPARE(merged.entries.size(), std::size_t(1));
    QCOMPARE(merged.entries[0].shape, std::vector<std::int64_t> { 2 });
}

void TestLoadStateDict::valueComparator()
{
    ValueComparator c;
    const double inf = INFINITY;
    const std::vector<double> a { 1.0, 2.0, inf, 5.0, NAN, 0.0 };
    const std::vector<double> b { 1.0, 2.5, inf, 5.0 + 1e-9, 1.0, 0.0 };
    c.add(a, b);
    const ValueComparison r = c.result();
    QCOMPARE(r.numel, std::uint64_t(6));
    QCOMPARE(r.differing, std::uint64_t(3));
    QCOMPARE(r.nanDiffs, std::uint64_t(1));
    QCOMPARE(r.maxAbsDiff, 0.5);
    QVERIFY(!r.allclose && !r.identical);
    ValueComparator same;
    same.add(std::vector<double> { 1.0, -2.0 }, std::vector<double> { 1.0, -2.0 });
    QVERIFY(same.result().identical && same.result().allclose);
    QCOMPARE(same.result().relativeL2, 0.0);
    ValueComparator zero;
    zero.add(std::vector<double> { 1.0 }, std::vector<double> { 0.0 });
    QVERIFY(std::isinf(zero.result().relativeL2));
}

void TestLoadStateDict::pythonStrings()
{
    QCOMPARE(pythonString("module."), std::string("\"module.\""));
    QCOMPARE(pythonString("a\"b\\c\nd\x01"), std::string("\"a\\\"b\\\\c\\nd\\x01\""));
}

// The structure a target yields lists state_dict()'s keys in torch's order, whatever the file kind.
void TestLoadStateDict::targetKeysInOrder()
{
    const QJsonObject rec = fixture().pairs[QStringLiteral("exact")].toObject();
    QStringList reference;
    for (const QString &kind : kKinds) {
        auto model = fixture().target(rec, kind);
        QVERIFY(model);
        const QStringList keys = toQt(model->stateDictKeys());
        if (reference.isEmpty())
            reference = keys;
        QCOMPARE(keys, reference);
    }
    QCOMPARE(reference.size(), 11);
}

QTEST_GUILESS_MAIN(TestLoadStateDict)
#include "tst_load_state_dict.moc"
