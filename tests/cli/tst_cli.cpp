// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli as a script sees it: exit codes, stderr, and the JSON contract of `info`.
#include "cli_run.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

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

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
