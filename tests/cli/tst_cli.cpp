// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli as a script sees it: exit codes, stderr, and the JSON contracts of `info` and `stats`.
#include "cli_run.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>

namespace {

using ptscope::test::Run;
using ptscope::test::runCli;

QString fixture(const QString &name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/") + name;
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void usageErrors_data();
    void usageErrors();
    void versionSaysBackend();
    void infoJsonContract();
    void infoHumanReadable();
    void infoTree();
    void unreadableFiles_data();
    void unreadableFiles();
    void statsAgainstTorch_data();
    void statsAgainstTorch();
};

void TestCli::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("no arguments") << QStringList{};
    QTest::newRow("unknown command") << QStringList{QStringLiteral("frobnicate")};
    QTest::newRow("info without file") << QStringList{QStringLiteral("info")};
    QTest::newRow("info unknown option") << QStringList{QStringLiteral("info"), QStringLiteral("--bogus"),
                                                        QStringLiteral("x.pt")};
    QTest::newRow("info two files") << QStringList{QStringLiteral("info"), QStringLiteral("a.pt"),
                                                   QStringLiteral("b.pt")};
    QTest::newRow("stats unknown torch") << QStringList{QStringLiteral("stats"), QStringLiteral("--torch"),
                                                        QStringLiteral("3.0"), QStringLiteral("x.pt")};
    QTest::newRow("stats zero bins") << QStringList{QStringLiteral("stats"), QStringLiteral("--bins"),
                                                    QStringLiteral("0"), QStringLiteral("x.pt")};
}

void TestCli::usageErrors()
{
    QFETCH(QStringList, args);
    const Run r = runCli(args);
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.out.isEmpty());
    QVERIFY(!r.err.isEmpty());
}

void TestCli::versionSaysBackend()
{
    const Run r = runCli({QStringLiteral("--version")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.out.startsWith("ptscope-cli "), r.out.constData());
    QVERIFY2(r.out.contains("CUDA: "), r.out.constData());
}

void TestCli::infoJsonContract()
{
    const QString file = fixture(QStringLiteral("training_checkpoint.pt"));
    QVERIFY(QFile::exists(file));
    const Run r = runCli({QStringLiteral("info"), QStringLiteral("--json"), file});
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 0);
    QJsonParseError err{};
    const QJsonObject o = QJsonDocument::fromJson(r.out, &err).object();
    QCOMPARE(err.error, QJsonParseError::NoError);
    QCOMPARE(o[QStringLiteral("file")].toString(), file);
    QCOMPARE(o[QStringLiteral("format")].toString(), QStringLiteral("torch-zip"));
    const QJsonArray tensors = o[QStringLiteral("tensors")].toArray();
    QVERIFY(!tensors.isEmpty());
    for (const auto &tv : tensors) {
        const QJsonObject t = tv.toObject();
        for (const char *field : {"path", "dtype", "shape", "stride", "storage_offset", "device", "nbytes",
                                  "parameter", "requires_grad", "storage"})
            QVERIFY2(t.contains(QLatin1String(field)), field);
        QVERIFY(t[QStringLiteral("path")].isArray());
    }
    const QJsonObject sd = o[QStringLiteral("state_dict")].toObject();
    QVERIFY(sd[QStringLiteral("path")].isArray());
    const QJsonArray keys = sd[QStringLiteral("keys")].toArray();
    QVERIFY(!keys.isEmpty());
    for (const auto &kv : keys) {
        const QJsonObject k = kv.toObject();
        QVERIFY(k.contains(QStringLiteral("key")) && k.contains(QStringLiteral("dtype"))
                && k.contains(QStringLiteral("shape")));
    }
    QVERIFY(o[QStringLiteral("warnings")].isArray());
    QVERIFY(o[QStringLiteral("objects")].isObject());
}

void TestCli::infoHumanReadable()
{
    const Run r = runCli({QStringLiteral("info"), fixture(QStringLiteral("training_checkpoint.pt"))});
    QCOMPARE(r.exitCode, 0);
    // Not a terminal: no colour escapes.
    QVERIFY(!r.out.contains('\033'));
    QVERIFY2(r.out.contains("torch-zip"), r.out.constData());
    QVERIFY2(r.out.contains("State dict"), r.out.constData());
    QVERIFY2(r.out.contains("epoch"), r.out.constData());
}

void TestCli::infoTree()
{
    const Run r = runCli({QStringLiteral("info"), QStringLiteral("--tree"), QStringLiteral("--max-children"),
                          QStringLiteral("3"), fixture(QStringLiteral("training_checkpoint.pt"))});
    QCOMPARE(r.exitCode, 0);
    const QString out = QString::fromUtf8(r.out);
    QVERIFY2(out.startsWith(QStringLiteral("(root): dict, ")), qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("├─ epoch: int 12")), qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("more (--max-children)")), qPrintable(out));
    const Run bad = runCli({QStringLiteral("info"), QStringLiteral("--tree"), QStringLiteral("--depth"),
                            QStringLiteral("x"), fixture(QStringLiteral("training_checkpoint.pt"))});
    QCOMPARE(bad.exitCode, 2);
}

void TestCli::unreadableFiles_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("missing") << QStringLiteral("no-such-file.pt") << QStringLiteral("no such file");
    QTest::newRow("empty") << QStringLiteral("error_empty.pt") << QStringLiteral("empty");
    QTest::newRow("truncated zip") << QStringLiteral("error_truncated_zip.pt") << QStringLiteral("truncated");
}

void TestCli::unreadableFiles()
{
    QFETCH(QString, name);
    QFETCH(QString, fragment);
    const QString file = fixture(name);
    const Run r = runCli({QStringLiteral("info"), QStringLiteral("--json"), file});
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.out.isEmpty(), "no partial JSON on stdout");
    const QString err = QString::fromUtf8(r.err);
    QCOMPARE(err.count(QLatin1Char('\n')), 1); // one line
    QVERIFY2(err.contains(file), qPrintable(err));
    QVERIFY2(err.contains(fragment, Qt::CaseInsensitive), qPrintable(err));
}

void TestCli::statsAgainstTorch_data()
{
    QTest::addColumn<QString>("set");
    QTest::addColumn<QStringList>("options");
    // torch 1.13's histc needs its outer edges (--torch 1.13); torch 2.x's is the default.
    QTest::newRow("torch 1.13") << QStringLiteral("stats") << QStringList{QStringLiteral("--torch"), QStringLiteral("1.13")};
    QTest::newRow("torch 2.6") << QStringLiteral("torch-2.6/stats") << QStringList{};
    QTest::newRow("torch 2.14") << QStringLiteral("torch-2.14/stats") << QStringList{};
}

// `stats --json` as the contract says, every number against what that torch computed for the file
// it wrote (tests/fixtures/generate_stats_fixtures.py), 7 bins: the count where the edges differ.
void TestCli::statsAgainstTorch()
{
    QFETCH(QString, set);
    QFETCH(QStringList, options);
    const QString dir = QStringLiteral(PTSCOPE_TEST_DATA_DIR "/") + set + QLatin1Char('/');
    QFile ef(dir + QStringLiteral("expected.json"));
    QVERIFY(ef.open(QIODevice::ReadOnly));
    const QJsonObject expected = QJsonDocument::fromJson(ef.readAll()).object()[QStringLiteral("stats_main.pt")].toObject();
    QVERIFY(expected.size() >= 25);
    const Run r = runCli(QStringList{QStringLiteral("stats"), QStringLiteral("--json"), QStringLiteral("--bins"),
                                     QStringLiteral("7"), QStringLiteral("--backend"), QStringLiteral("cpu")}
                         + options + QStringList{dir + QStringLiteral("stats_main.pt")});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject doc = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(doc[QStringLiteral("backend")].toString(), QStringLiteral("cpu"));
    const QJsonArray tensors = doc[QStringLiteral("tensors")].toArray();
    QCOMPARE(tensors.size(), expected.size());
    int leftOut = 0;
    for (const QJsonValue &v : tensors) {
        const QJsonObject t = v.toObject();
        const QString name = t[QStringLiteral("path")].toArray()[0].toString();
        const QJsonObject e = expected[name].toObject();
        QVERIFY2(!e.isEmpty(), qPrintable(name));
        for (const char *count : {"numel", "nan", "posinf", "neginf", "zeros", "finite"})
            QVERIFY2(t[QLatin1String(count)].toInteger() == e[QLatin1String(count)].toInteger(), qPrintable(name + QLatin1Char(' ') + QLatin1String(count)));
        QCOMPARE(t[QStringLiteral("inf")].toInteger(), e[QStringLiteral("posinf")].toInteger() + e[QStringLiteral("neginf")].toInteger());
        if (e[QStringLiteral("min")].isNull()) {
            QVERIFY(t[QStringLiteral("min")].isNull());
        } else {
            // torch 2.x's complex64 abs() rounds some magnitudes one float32 ulp away from 1.13's.
            const double rel = set != QLatin1String("stats") && name.startsWith(QLatin1String("complex64")) ? 0x1p-23 : 1e-9;
            const double mn = e[QStringLiteral("min")].toDouble(), mx = e[QStringLiteral("max")].toDouble();
            QVERIFY2(std::fabs(t[QStringLiteral("min")].toDouble() - mn) <= rel * std::fabs(mn), qPrintable(name));
            QVERIFY2(std::fabs(t[QStringLiteral("max")].toDouble() - mx) <= rel * std::fabs(mx), qPrintable(name));
            const double mean = e[QStringLiteral("mean")].toDouble(), sd = e[QStringLiteral("std")].toDouble();
            const double scale = std::max(std::fabs(mn), std::fabs(mx));
            QVERIFY2(std::fabs(t[QStringLiteral("mean")].toDouble() - mean) <= rel * std::fabs(mean) + 1e-15 * scale, qPrintable(name));
            QVERIFY2(std::fabs(t[QStringLiteral("std")].toDouble() - sd) <= rel * sd + 1e-15 * scale, qPrintable(name));
        }
        const QJsonArray counts = t[QStringLiteral("histogram")][QStringLiteral("counts")].toArray();
        QCOMPARE(counts, e[QStringLiteral("histc_7")].toArray());
        qint64 sum = 0;
        for (const QJsonValue &c : counts)
            sum += c.toInteger();
        leftOut += sum < e[QStringLiteral("finite")].toInteger();
    }
    // Only torch 1.13 leaves a maximum out (max_left_out_by_1_13).
    QCOMPARE(leftOut, set == QLatin1String("stats") ? 1 : 0);
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
