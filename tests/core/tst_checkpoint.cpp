// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Every fixture written by real torch, read by ptscope, compared with what torch itself reported
// when it loaded the same file (tests/data/expected/*.json, written by tests/fixtures/generate_fixtures.py).
#include "checkpoint.h"
#include "checkpoint_analysis.h"
#include "mapped_file.h"
#include "info_json.h"
#include "security_scan.h"
#include "tensor_data.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

using namespace ptscope::core;

namespace {

QString dataDir()
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR);
}

std::string toStd(const QString &s)
{
    return s.toStdString();
}

ObjectPath toPath(const QJsonArray &a)
{
    ObjectPath p;
    for (const auto &v : a)
        p.push_back(toStd(v.toString()));
    return p;
}

std::vector<std::int64_t> toInts(const QJsonArray &a)
{
    std::vector<std::int64_t> out;
    for (const auto &v : a)
        out.push_back(static_cast<std::int64_t>(v.toDouble()));
    return out;
}

QString describe(const ObjectPath &p)
{
    return QString::fromStdString(joinPath(p));
}

std::vector<std::uint8_t> readAll(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray b = f.readAll();
    return std::vector<std::uint8_t>(b.begin(), b.end());
}

bool writeFile(const QString &path, const std::vector<std::uint8_t> &bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    return f.write(reinterpret_cast<const char *>(bytes.data()), static_cast<qint64>(bytes.size()))
        == static_cast<qint64>(bytes.size());
}

} // namespace

class TestCheckpoint : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixtures_data();
    void fixtures();
    void fileErrors_data();
    void fileErrors();
    void extensionIsIgnored();
    void tensorsInSetStateArguments();
    void openingReadsNoTensorData();
    void openFileLimitIsRaised();
    void jsonIsValidForEveryFixture();
    void corruptedFilesNeverCrash();
    void shardedIndexReportsMissingShard();
    void foldersOpenTheirCheckpoint();
    void optimizerIdsMapToParameters();
};

void TestCheckpoint::fixtures_data()
{
    QTest::addColumn<QString>("expectedPath");
    // Files written by torch 1.13 (tests/data) and by each torch 2.x (tests/data/torch-2.N), each
    // with what that torch said when it loaded them.
    QStringList sets{QString()};
    for (const QString &d : QDir(dataDir()).entryList({QStringLiteral("torch-*")}, QDir::Dirs, QDir::Name))
        sets << d;
    QVERIFY2(sets.size() >= 3, "the torch 2.x fixtures are missing: run tests/fixtures/torch2_env.sh generate");
    for (const QString &set : sets) {
        const QDir dir(dataDir() + QLatin1Char('/') + set + QStringLiteral("/expected"));
        const auto files = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
        QVERIFY2(files.size() >= 20, "the fixture expectations are missing: run tests/fixtures/generate_fixtures.py");
        for (const QString &f : files)
            QTest::newRow(qPrintable((set.isEmpty() ? QString() : set + QLatin1Char('/')) + f.chopped(5)))
                << dir.filePath(f);
    }
}

void TestCheckpoint::fixtures()
{
    QFETCH(QString, expectedPath);
    QFile ef(expectedPath);
    QVERIFY(ef.open(QIODevice::ReadOnly));
    const QJsonObject expected = QJsonDocument::fromJson(ef.readAll()).object();
    QVERIFY(!expected.isEmpty());
    // The fixture sits in the expectation folder's sibling "fixtures".
    const QString file = QDir::cleanPath(QFileInfo(expectedPath).absolutePath() + QStringLiteral("/../fixtures/")
                                         + expected[QStringLiteral("file")].toString());
    QVERIFY2(QFile::exists(file), qPrintable(file));

    auto result = openCheckpoint(toStd(file));
    const QJsonValue error = expected[QStringLiteral("error")];
    if (error.isObject()) {
        QVERIFY2(!result, "torch could not load this file, ptscope must refuse it too");
        const QString code = error.toObject()[QStringLiteral("code")].toString();
        QCOMPARE(QString::fromLatin1(errorCodeName(result.error().code)), code);
        // Every message names the file and says something useful.
        const QString message = QString::fromStdString(result.error().toString());
        QVERIFY2(message.contains(file), qPrintable(message));
        QVERIFY2(message.size() > file.size() + 20, qPrintable(message));
        return;
    }
    QVERIFY2(result, qPrintable(QString::fromStdString(result ? std::string() : result.error().toString())));
    const Checkpoint &cp = **result;
    QCOMPARE(QString::fromLatin1(formatName(cp.format)), expected[QStringLiteral("format")].toString());

    // Element values where torch listed them: the same numbers in the same (row-major, dense) order.
    const QJsonObject elements = expected[QStringLiteral("elements")].toObject();
    for (auto it = elements.begin(); it != elements.end(); ++it) {
        std::int64_t index = -1;
        for (const TensorRef &r : cp.tensorRefs)
            if (r.path == ObjectPath{it.key().toStdString()})
                index = r.tensor;
        QVERIFY2(index >= 0, qPrintable(it.key()));
        auto reader = TensorElementReader::open(cp, static_cast<std::uint32_t>(index));
        QVERIFY2(reader, qPrintable(it.key() + QStringLiteral(": ") + QString::fromStdString(reader ? std::string() : reader.error().toString())));
        const QJsonArray want = it.value().toArray();
        std::vector<double> got(static_cast<std::size_t>(want.size()) + 1);
        QCOMPARE((*reader)->read(got), static_cast<std::size_t>(want.size()));
        for (qsizetype i = 0; i < want.size(); ++i) {
            const QJsonValue w = want[i];
            const double x = got[static_cast<std::size_t>(i)];
            const bool same = w.isString() ? (w.toString() == QLatin1String("nan") ? std::isnan(x)
                                                  : x == (w.toString() == QLatin1String("inf") ? INFINITY : -INFINITY))
                                           : x == w.toDouble();
            QVERIFY2(same, qPrintable(QStringLiteral("%1[%2]: %3, torch %4").arg(it.key()).arg(i).arg(x).arg(w.toVariant().toString())));
        }
    }

    // torch >= 2.6: would its default torch.load (weights_only=True) take the file, as that torch said?
    if (const QJsonValue wo = expected[QStringLiteral("weights_only_default")]; wo.isObject()) {
        const WeightsOnlyCheck &check = securityReport(cp).torch26;
        const bool loads = wo.toObject()[QStringLiteral("loads")].toBool();
        QVERIFY2(check.applicable && check.accepted == loads,
                 qPrintable(QStringLiteral("torch says %1; ptscope says %2")
                                .arg(loads ? QStringLiteral("it loads")
                                           : wo.toObject()[QStringLiteral("torch_says")].toString(),
                                     QString::fromStdString(weightsOnlySummary(check)))));
    }

    // Tensors: the same set of paths, each with torch's dtype, shape, strides, offset, device, flags.
    std::map<ObjectPath, const TensorInfo *> ours;
    for (const TensorRef &r : cp.tensorRefs)
        ours.emplace(r.path, &cp.tensors[r.tensor]);
    const QJsonArray tensors = expected[QStringLiteral("tensors")].toArray();
    std::map<int, std::int32_t> groupToStorage; // torch's storage group -> our storage index
    std::map<std::int32_t, int> storageToGroup;
    std::set<ObjectPath> expectedPaths;
    for (const auto &tv : tensors) {
        const QJsonObject t = tv.toObject();
        const ObjectPath path = toPath(t[QStringLiteral("path")].toArray());
        expectedPaths.insert(path);
        auto it = ours.find(path);
        QVERIFY2(it != ours.end(), qPrintable(QStringLiteral("tensor not found: ") + describe(path)));
        const TensorInfo &info = *it->second;
        const QString where = describe(path);
        QCOMPARE(QString::fromStdString(info.dtype), t[QStringLiteral("dtype")].toString());
        const QString layout = t[QStringLiteral("layout")].toString(QStringLiteral("strided"));
        QCOMPARE(QString::fromStdString(info.layout), layout);
        QVERIFY2(info.shape == toInts(t[QStringLiteral("shape")].toArray()), qPrintable(where));
        if (t[QStringLiteral("stride")].isArray()) {
            QVERIFY2(info.stride == toInts(t[QStringLiteral("stride")].toArray()), qPrintable(where));
            QCOMPARE(info.storageOffset, static_cast<std::int64_t>(t[QStringLiteral("storage_offset")].toDouble()));
        }
        QCOMPARE(QString::fromStdString(info.device), t[QStringLiteral("device")].toString());
        if (t[QStringLiteral("nbytes")].isDouble())
            QCOMPARE(info.nbytes, static_cast<std::uint64_t>(t[QStringLiteral("nbytes")].toDouble()));
        QVERIFY2(info.isParameter == t[QStringLiteral("parameter")].toBool(), qPrintable(where));
        QVERIFY2(info.requiresGrad == t[QStringLiteral("requires_grad")].toBool(), qPrintable(where));
        QVERIFY2(info.problem.empty(), qPrintable(where + QStringLiteral(": ") + QString::fromStdString(info.problem)));
        if (t[QStringLiteral("storage_group")].isDouble()) {
            // Sharing must match exactly: same group <=> same storage.
            const int group = t[QStringLiteral("storage_group")].toInt();
            QVERIFY2(info.storage >= 0, qPrintable(where));
            auto g = groupToStorage.emplace(group, info.storage);
            QVERIFY2(g.first->second == info.storage, qPrintable(where + QStringLiteral(": storage sharing differs")));
            auto s = storageToGroup.emplace(info.storage, group);
            QVERIFY2(s.first->second == group, qPrintable(where + QStringLiteral(": storage sharing differs")));
            const StorageInfo &st = cp.storages[static_cast<std::size_t>(info.storage)];
            QVERIFY2(st.problem.empty(), qPrintable(where + QStringLiteral(": ") + QString::fromStdString(st.problem)));
            QVERIFY2(st.dataOffset.has_value() || st.nbytes == 0 || cp.format == FileFormat::Pickle,
                     qPrintable(where + QStringLiteral(": storage bytes not located")));
        }
        const QJsonValue q = t[QStringLiteral("quantized")];
        if (q.isObject()) {
            QVERIFY2(info.quant.has_value(), qPrintable(where));
            const QJsonObject qo = q.toObject();
            QCOMPARE(QString::fromStdString(info.quant->qscheme), qo[QStringLiteral("qscheme")].toString());
            if (qo.contains(QStringLiteral("scale"))) {
                QCOMPARE(info.quant->scale, qo[QStringLiteral("scale")].toDouble());
                QCOMPARE(info.quant->zeroPoint, static_cast<std::int64_t>(qo[QStringLiteral("zero_point")].toDouble()));
            }
            if (qo.contains(QStringLiteral("axis")))
                QCOMPARE(info.quant->axis, static_cast<std::int64_t>(qo[QStringLiteral("axis")].toDouble()));
        }
    }
    for (const auto &[path, info] : ours)
        QVERIFY2(expectedPaths.count(path), qPrintable(QStringLiteral("unexpected tensor path: ") + describe(path)));

    // The state_dict view: where it is, and exactly model.state_dict()'s keys in order.
    const QJsonValue sdv = expected[QStringLiteral("state_dict")];
    if (sdv.isObject()) {
        const QJsonObject sd = sdv.toObject();
        QVERIFY2(cp.stateDict.found, "no state_dict found");
        QCOMPARE(describe(cp.stateDict.path), describe(toPath(sd[QStringLiteral("path")].toArray())));
        const QJsonArray keys = sd[QStringLiteral("keys")].toArray();
        QStringList ourKeys, torchKeys;
        for (const auto &e : cp.stateDict.entries)
            ourKeys << QString::fromStdString(e.key);
        for (const auto &k : keys)
            torchKeys << k.toObject()[QStringLiteral("key")].toString();
        QCOMPARE(ourKeys, torchKeys);
        for (qsizetype i = 0; i < keys.size(); ++i) {
            const QJsonObject k = keys[i].toObject();
            const StateDictEntry &e = cp.stateDict.entries[static_cast<std::size_t>(i)];
            if (!k[QStringLiteral("dtype")].isString())
                continue;
            QVERIFY2(e.tensor >= 0, qPrintable(torchKeys[i]));
            const TensorInfo &t = cp.tensors[static_cast<std::size_t>(e.tensor)];
            QCOMPARE(QString::fromStdString(t.dtype), k[QStringLiteral("dtype")].toString());
            QVERIFY2(t.shape == toInts(k[QStringLiteral("shape")].toArray()), qPrintable(torchKeys[i]));
        }
    } else {
        QVERIFY2(!cp.stateDict.found, "ptscope found a state_dict where torch has none");
    }

    // Non-tensor leaves: numbers, strings, booleans, None, as torch loaded them.
    for (const auto &vv : expected[QStringLiteral("values")].toArray()) {
        const QJsonObject v = vv.toObject();
        const ObjectPath path = toPath(v[QStringLiteral("path")].toArray());
        const ValueId id = resolvePath(cp, path);
        const QString where = describe(path);
        QVERIFY2(cp.arena.valid(id), qPrintable(QStringLiteral("value not found: ") + where));
        const Value &val = cp.arena[id];
        const QString type = v[QStringLiteral("type")].toString();
        const QJsonValue ev = v[QStringLiteral("value")];
        if (type == QLatin1String("int")) {
            if (val.kind == ValueKind::BigInt)
                QCOMPARE(QString::fromStdString(val.text), ev.isString() ? ev.toString() : QString::number(ev.toDouble(), 'f', 0));
            else {
                QVERIFY2(val.kind == ValueKind::Int, qPrintable(where));
                if (ev.isString())
                    QCOMPARE(QString::number(val.integer), ev.toString());
                else
                    QCOMPARE(static_cast<double>(val.integer), ev.toDouble());
            }
        } else if (type == QLatin1String("float")) {
            QVERIFY2(val.kind == ValueKind::Float, qPrintable(where));
            if (ev.isString()) {
                const QString s = ev.toString();
                if (s == QLatin1String("nan"))
                    QVERIFY(std::isnan(val.real));
                else if (s == QLatin1String("inf"))
                    QVERIFY(std::isinf(val.real) && val.real > 0);
                else if (s == QLatin1String("-inf"))
                    QVERIFY(std::isinf(val.real) && val.real < 0);
                else
                    QCOMPARE(val.real, s.toDouble());
            } else {
                QCOMPARE(val.real, ev.toDouble());
            }
        } else if (type == QLatin1String("str")) {
            QVERIFY2(val.kind == ValueKind::String, qPrintable(where));
            QCOMPARE(QString::fromStdString(val.text), ev.toString());
        } else if (type == QLatin1String("bool")) {
            QVERIFY2(val.kind == ValueKind::Bool, qPrintable(where));
            QCOMPARE(val.boolean, ev.toBool());
        } else if (type == QLatin1String("none")) {
            QVERIFY2(val.kind == ValueKind::None, qPrintable(where));
        } else if (type == QLatin1String("bytes")) {
            QVERIFY2(val.kind == ValueKind::Bytes, qPrintable(where));
        }
    }
}

void TestCheckpoint::fileErrors_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("code");
    QTest::newRow("missing file") << QStringLiteral("missing") << QStringLiteral("file-not-found");
    QTest::newRow("directory") << QStringLiteral("directory") << QStringLiteral("not-regular-file");
    QTest::newRow("empty") << QStringLiteral("empty") << QStringLiteral("empty-file");
    QTest::newRow("three bytes of the legacy magic") << QStringLiteral("short-legacy") << QStringLiteral("truncated");
    QTest::newRow("the legacy magic at protocol 4, cut") << QStringLiteral("short-legacy-4") << QStringLiteral("truncated");
    QTest::newRow("the legacy magic at protocol 1, cut") << QStringLiteral("short-legacy-1") << QStringLiteral("truncated");
    QTest::newRow("zip without its directory") << QStringLiteral("zip-head") << QStringLiteral("truncated");
    QTest::newRow("gzip") << QStringLiteral("gzip") << QStringLiteral("unknown-format");
    QTest::newRow("text") << QStringLiteral("text") << QStringLiteral("unknown-format");
    QTest::newRow("lfs pointer") << QStringLiteral("lfs") << QStringLiteral("git-lfs-pointer");
    QTest::newRow("html with BOM and blank lines") << QStringLiteral("html") << QStringLiteral("html-page");
}

void TestCheckpoint::fileErrors()
{
    QFETCH(QString, kind);
    QFETCH(QString, code);
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    QString path = tmp.filePath(QStringLiteral("model.pt"));
    std::vector<std::uint8_t> bytes;
    auto text = [&](const char *s) { bytes.assign(s, s + std::strlen(s)); };
    if (kind == QLatin1String("missing")) {
        path = tmp.filePath(QStringLiteral("does-not-exist.pt"));
    } else if (kind == QLatin1String("directory")) {
        path = tmp.path();
    } else {
        if (kind == QLatin1String("short-legacy"))
            bytes = {0x80, 0x02, 0x8A};
        else if (kind == QLatin1String("short-legacy-4"))
            bytes = {0x80, 0x04, 0x95, 0x0D, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8A, 0x0A, 0x6C};
        else if (kind == QLatin1String("short-legacy-1"))
            text("L1195470371460388");
        else if (kind == QLatin1String("zip-head"))
            text("PK\x03\x04\x00\x00\x08\x08\x00\x00 and then nothing");
        else if (kind == QLatin1String("gzip"))
            bytes = {0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03};
        else if (kind == QLatin1String("text"))
            text("epoch,loss\n1,0.5\n2,0.25\n");
        else if (kind == QLatin1String("lfs"))
            text("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1340000000\n");
        else if (kind == QLatin1String("html"))
            text("\xEF\xBB\xBF\n\n  <!DOCTYPE HTML><html><body>Access denied</body></html>");
        QVERIFY(writeFile(path, bytes));
    }
    auto result = openCheckpoint(toStd(path));
    QVERIFY(!result);
    QCOMPARE(QString::fromLatin1(errorCodeName(result.error().code)), code);
    const QString message = QString::fromStdString(result.error().toString());
    QVERIFY2(message.contains(path), qPrintable(message));
    if (kind == QLatin1String("lfs"))
        QVERIFY2(message.contains(QStringLiteral("1340000000")) && message.contains(QStringLiteral("git lfs pull")),
                 qPrintable(message));
}

// A whole pickled model with dynamically quantized layers keeps its packed weights in
// torch.ScriptObject states ((qweight, bias), class name) set by BUILD, not in attribute dicts: they
// are listed under the step "(state)", with the shapes the model's state_dict gives them
// (fc1: Linear(6, 8), fc2: Linear(8, 3), rnn: LSTM(3, 3)).
void TestCheckpoint::tensorsInSetStateArguments()
{
    auto cp = openCheckpoint(PTSCOPE_TEST_DATA_DIR "/diff/tgt_qmlp_dynamic_whole.pt");
    QVERIFY(cp.ok());
    QStringList found;
    for (const TensorRef &ref : (*cp)->tensorRefs) {
        const TensorInfo &t = (*cp)->tensors[ref.tensor];
        QString path;
        for (const std::string &step : ref.path)
            path += QString::fromStdString(step) + QLatin1Char('/');
        QString shape;
        for (std::int64_t d : t.shape)
            shape += QString::number(d) + QLatin1Char(' ');
        found << path + QStringLiteral(" ") + QString::fromStdString(t.dtype) + QStringLiteral(" ") + shape.trimmed();
    }
    const QString fc1 = QStringLiteral("_modules/fc1/_modules/_packed_params/_packed_params/(state)/0/");
    QVERIFY2(found.contains(fc1 + QStringLiteral("0/ qint8 8 6")), qPrintable(found.join(QLatin1Char('\n'))));
    QVERIFY(found.contains(fc1 + QStringLiteral("1/ float32 8")));
    QVERIFY(found.contains(QStringLiteral("_modules/fc2/_modules/_packed_params/_packed_params/(state)/0/0/ qint8 3 8")));
    QCOMPARE(found.size(), 10); // 2 per Linear, 6 for the LSTM (two packed weights with their biases, two biases)
}

void TestCheckpoint::extensionIsIgnored()
{
    // Content decides, never the name: a zip checkpoint named .txt, a legacy one with no extension.
    const QDir dir(dataDir() + QStringLiteral("/fixtures"));
    QTemporaryDir tmp;
    const QStringList zips = dir.entryList({QStringLiteral("*.pt"), QStringLiteral("*.pth")}, QDir::Files, QDir::Name);
    QVERIFY(!zips.isEmpty());
    int opened = 0;
    for (const QString &name : zips) {
        const auto bytes = readAll(dir.filePath(name));
        if (bytes.size() < 4)
            continue;
        const QString renamed = tmp.filePath(QStringLiteral("renamed_%1.txt").arg(opened));
        QVERIFY(writeFile(renamed, bytes));
        auto a = openCheckpoint(toStd(dir.filePath(name)));
        auto b = openCheckpoint(toStd(renamed));
        QCOMPARE(bool(a), bool(b));
        if (a) {
            QCOMPARE((*a)->format, (*b)->format);
            QCOMPARE((*a)->tensorRefs.size(), (*b)->tensorRefs.size());
        }
        if (++opened == 5)
            break;
    }
    QCOMPARE(opened, 5);
}

// A mapped file holds a descriptor (for copyOut): with the soft limit low, as some systems set it,
// raiseOpenFileLimit lets a process hold more mapped files than that limit allowed.
void TestCheckpoint::openFileLimitIsRaised()
{
    QTemporaryDir tmp;
    const QString path = tmp.filePath(QStringLiteral("shard.bin"));
    QVERIFY(writeFile(path, std::vector<std::uint8_t>(4096, 7)));
    auto openMany = [&](std::size_t n, std::vector<std::shared_ptr<const MappedFile>> &held) -> std::string {
        for (std::size_t i = 0; i < n; ++i) {
            auto f = MappedFile::open(toStd(path));
            if (!f)
                return f.error().message;
            held.push_back(*f);
        }
        return {};
    };

    rlimit before{};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &before), 0);
    if (before.rlim_max != RLIM_INFINITY && before.rlim_max < 256)
        QSKIP("the hard limit on open files here is below 256: nothing to raise it to");
    rlimit low = before;
    low.rlim_cur = 64;
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &low), 0);
    {
        // Each mapped file holds a descriptor: 100 of them do not fit under 64, and the error says so.
        std::vector<std::shared_ptr<const MappedFile>> held;
        const std::string why = openMany(100, held);
        QVERIFY2(!why.empty(), "100 mapped files opened under a limit of 64 descriptors");
        QVERIFY2(why.find("open") != std::string::npos, why.c_str());
    }
    raiseOpenFileLimit();
    rlimit after{};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &after), 0);
    QCOMPARE(after.rlim_cur, before.rlim_max);
    std::vector<std::shared_ptr<const MappedFile>> held;
    const std::string why = openMany(100, held);
    QVERIFY2(why.empty(), why.c_str());
    std::uint8_t byte = 0;
    QVERIFY(held.back()->copyOut(held.back()->bytes().data() + 100, 1, &byte));
    QCOMPARE(byte, std::uint8_t(7));
    held.clear();
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &before), 0);
}

void TestCheckpoint::openingReadsNoTensorData()
{
    // Overwrite every storage's bytes with garbage: the tree must come out identical, because
    // opening reads the pickle and the directory only.
    const QDir dir(dataDir() + QStringLiteral("/fixtures"));
    int checked = 0;
    for (const QString &name : dir.entryList(QDir::Files, QDir::Name)) {
        auto original = openCheckpoint(toStd(dir.filePath(name)));
        // Plain pickles embed their storages in the pickle; shard indexes point into other files.
        if (!original || (*original)->format == FileFormat::Pickle || (*original)->format == FileFormat::Sharded)
            continue;
        std::vector<std::uint8_t> bytes = readAll(dir.filePath(name));
        bool touched = false;
        for (const StorageInfo &s : (*original)->storages)
            if (s.dataOffset && s.nbytes) {
                std::memset(bytes.data() + *s.dataOffset, 0xA5, s.nbytes);
                touched = true;
            }
        if (!touched)
            continue;
        QTemporaryDir tmp;
        const QString scrambled = tmp.filePath(name);
        QVERIFY(writeFile(scrambled, bytes));
        auto again = openCheckpoint(toStd(scrambled));
        QVERIFY2(again, qPrintable(name));
        QCOMPARE((*again)->tensorRefs.size(), (*original)->tensorRefs.size());
        for (std::size_t i = 0; i < (*again)->tensors.size(); ++i)
            QVERIFY((*again)->tensors[i].shape == (*original)->tensors[i].shape);
        ++checked;
    }
    QVERIFY(checked >= 10);
}

void TestCheckpoint::jsonIsValidForEveryFixture()
{
    const QDir dir(dataDir() + QStringLiteral("/fixtures"));
    int checked = 0;
    for (const QString &name : dir.entryList(QDir::Files, QDir::Name)) {
        auto cp = openCheckpoint(toStd(dir.filePath(name)));
        if (!cp)
            continue;
        const std::string json = infoJson(**cp);
        QJsonParseError err{};
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(json), &err);
        QVERIFY2(err.error == QJsonParseError::NoError, qPrintable(name + QStringLiteral(": ") + err.errorString()));
        const QJsonObject o = doc.object();
        for (const char *field : {"file", "format", "tensors", "state_dict", "objects", "warnings"})
            QVERIFY2(o.contains(QLatin1String(field)), field);
        QCOMPARE(o[QStringLiteral("tensors")].toArray().size(), static_cast<qsizetype>((*cp)->tensorRefs.size()));
        ++checked;
    }
    QVERIFY(checked >= 20);
}

void TestCheckpoint::corruptedFilesNeverCrash()
{
    // Truncations at many points and random byte damage of every fixture: each open must end
    // with a tree or a clear error, never a crash, a hang or a huge allocation (run under ASan in CI).
    const QDir dir(dataDir() + QStringLiteral("/fixtures"));
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    int opened = 0, refused = 0;
    for (const QString &name : dir.entryList(QDir::Files, QDir::Name)) {
        const std::vector<std::uint8_t> original = readAll(dir.filePath(name));
        if (original.size() < 16 || original.size() > (1 << 20))
            continue;
        for (int round = 0; round < 60; ++round) {
            std::vector<std::uint8_t> bytes = original;
            if (round < 20) {
                bytes.resize(original.size() * static_cast<std::size_t>(round) / 20);
            } else {
                const int flips = 1 + static_cast<int>(next() % 8);
                for (int f = 0; f < flips; ++f)
                    bytes[next() % bytes.size()] = static_cast<std::uint8_t>(next());
            }
            auto file = MappedFile::fromBuffer(std::move(bytes), toStd(name));
            auto cp = openCheckpoint(file);
            if (cp) {
                ++opened;
                (void)infoJson(**cp);
            } else {
                ++refused;
                QVERIFY(!cp.error().message.empty());
            }
        }
    }
    QVERIFY(opened > 0 && refused > 0);
}

// A model folder opens as transformers would load it; an ambiguous or empty one says what it holds.
void TestCheckpoint::foldersOpenTheirCheckpoint()
{
    const QString fixtures = dataDir() + QStringLiteral("/fixtures/");
    QTemporaryDir tmp;
    auto copy = [&](const QString &from, const QString &dir, const QString &as) {
        QDir().mkpath(tmp.filePath(dir));
        QVERIFY(QFile::copy(fixtures + from, tmp.filePath(dir + QLatin1Char('/') + as)));
    };
    auto open = [&](const QString &dir) { return openCheckpoint(toStd(tmp.filePath(dir))); };
    auto picked = [&](const QString &dir) {
        auto r = checkpointInFolder(toStd(tmp.filePath(dir)));
        return r ? QFileInfo(QString::fromStdString(*r)).fileName() : QString();
    };

    // The index wins over the shards and the other files; the index names the shards.
    for (const char *shard : {"sharded_st-00001-of-00003.safetensors", "sharded_st-00002-of-00003.safetensors",
                              "sharded_st-00003-of-00003.safetensors"})
        copy(QLatin1String(shard), QStringLiteral("st"), QLatin1String(shard));
    copy(QStringLiteral("sharded_st.safetensors.index.json"), QStringLiteral("st"), QStringLiteral("model.safetensors.index.json"));
    copy(QStringLiteral("cnn_state_dict.pt"), QStringLiteral("st"), QStringLiteral("optimizer.pt"));
    QCOMPARE(picked(QStringLiteral("st")), QStringLiteral("model.safetensors.index.json"));
    auto st = open(QStringLiteral("st"));
    QVERIFY2(st, st ? "" : st.error().toString().c_str());
    QCOMPARE((*st)->format, FileFormat::Sharded);
    QCOMPARE((*st)->stateDict.entries.size(), std::size_t(11)); // Linear, BatchNorm1d (5), Linear, Linear

    // model.safetensors before pytorch_model.bin, as transformers prefers it.
    copy(QStringLiteral("safetensors_model.safetensors"), QStringLiteral("both"), QStringLiteral("pytorch_model.bin.txt"));
    copy(QStringLiteral("cnn_state_dict.pt"), QStringLiteral("both"), QStringLiteral("pytorch_model.bin"));
    copy(QStringLiteral("safetensors_model.safetensors"), QStringLiteral("both"), QStringLiteral("model.safetensors"));
    QCOMPARE(picked(QStringLiteral("both")), QStringLiteral("model.safetensors"));

    // One checkpoint under any name: that one.
    copy(QStringLiteral("training_checkpoint.pt"), QStringLiteral("one"), QStringLiteral("last.ckpt"));
    auto one = open(QStringLiteral("one"));
    QVERIFY(one);
    QCOMPARE(QFileInfo(QString::fromStdString((*one)->path)).fileName(), QStringLiteral("last.ckpt"));

    // Several, or shards without their index, or nothing: an error that says what is there.
    copy(QStringLiteral("cnn_state_dict.pt"), QStringLiteral("two"), QStringLiteral("a.pt"));
    copy(QStringLiteral("views.pt"), QStringLiteral("two"), QStringLiteral("b.pth"));
    copy(QStringLiteral("sharded_model-00001-of-00003.bin"), QStringLiteral("noindex"), QStringLiteral("sharded_model-00001-of-00003.bin"));
    copy(QStringLiteral("sharded_model-00002-of-00003.bin"), QStringLiteral("noindex"), QStringLiteral("sharded_model-00002-of-00003.bin"));
    QDir().mkpath(tmp.filePath(QStringLiteral("empty")));
    const std::pair<const char *, const char *> errors[] = {
        {"two", "several checkpoints (a.pt, b.pth)"}, {"noindex", "not the *.index.json"}, {"empty", "holds no checkpoint"}};
    for (const auto &[dir, says] : errors) {
        auto r = open(QLatin1String(dir));
        QVERIFY2(!r, dir);
        const std::string message = r.error().toString();
        QVERIFY2(message.find(says) != std::string::npos && message.find(toStd(tmp.filePath(QLatin1String(dir)))) != std::string::npos,
                 message.c_str());
    }
}

void TestCheckpoint::shardedIndexReportsMissingShard()
{
    auto cp = openCheckpoint(toStd(dataDir() + QStringLiteral("/fixtures/sharded_missing.bin.index.json")));
    QVERIFY(cp);
    QCOMPARE((*cp)->format, FileFormat::Sharded);
    QCOMPARE((*cp)->shards.size(), std::size_t(3));
    bool missingShard = false, totalSize = false;
    for (const Warning &w : (*cp)->warnings) {
        missingShard |= w.message.find("sharded_missing-00003-of-00003.bin") != std::string::npos
            && w.message.find("cannot be read") != std::string::npos;
        totalSize |= w.message.find("total_size") != std::string::npos;
    }
    QVERIFY(missingShard);
    QVERIFY(totalSize);
    // Every tensor knows its shard, and its bytes are located in that shard's file.
    for (const StorageInfo &s : (*cp)->storages) {
        QVERIFY(!s.shard.empty());
        QVERIFY(s.file && s.dataOffset && *s.dataOffset + s.nbytes <= s.file->size());
    }
}

void TestCheckpoint::optimizerIdsMapToParameters()
{
    // Adam after two steps: every id has exp_avg shaped like its parameter, so the order-based
    // mapping is verified for all of them; buffers (running stats, num_batches_tracked) are skipped.
    auto cp = openCheckpoint(toStd(dataDir() + QStringLiteral("/fixtures/training_checkpoint.pt")));
    QVERIFY(cp);
    QCOMPARE((*cp)->optimizers.size(), std::size_t(1));
    const OptimizerInfo &o = (*cp)->optimizers[0];
    QCOMPARE(o.paramNames.size(), o.params);
    QVERIFY2(o.mapping.find("verified for " + std::to_string(o.params) + " of") != std::string::npos, o.mapping.c_str());
    for (const std::string &name : o.paramNames) {
        QVERIFY(name.find("running_") == std::string::npos && name.find("num_batches") == std::string::npos);
    }
    QCOMPARE(o.paramNames.front(), (*cp)->stateDict.entries.front().key);
}

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
