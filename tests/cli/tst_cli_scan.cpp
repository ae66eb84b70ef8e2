// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli scan as a script sees it: exit codes, stderr, and the JSON contract.
#include "cli_run.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

namespace {

using ptscope::test::Run;
using ptscope::test::runCli;

QString security(const QString &name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/security/") + name;
}

QJsonObject parse(const QByteArray &out)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(out, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        qWarning("not a JSON object: %s", qPrintable(error.errorString()));
    return doc.object();
}

QJsonObject findingFor(const QJsonObject &doc, const QString &global)
{
    for (const QJsonValue &f : doc.value(QStringLiteral("findings")).toArray())
        if (f.toObject().value(QStringLiteral("global")).toString() == global)
            return f.toObject();
    return {};
}

} // namespace

class TestCliScan : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void exitCodesAndVerdicts_data();
    void exitCodesAndVerdicts();
    void jsonContract();
    void humanReadable();
    void notFullyReadExitsOne();
    void unreadable_data();
    void unreadable();
    void usageErrors_data();
    void usageErrors();
    void infoJsonCarriesSecurity();
};

void TestCliScan::exitCodesAndVerdicts_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("verdict");
    QTest::newRow("state_dict") << "state_dict.pt" << 0 << "safe";
    QTest::newRow("legacy state_dict") << "legacy_state_dict.pt" << 0 << "safe";
    QTest::newRow("training checkpoint") << "training_checkpoint.pt" << 0 << "suspicious";
    QTest::newRow("whole model") << "whole_model.pt" << 0 << "suspicious";
    QTest::newRow("torchscript") << "torchscript.pt" << 0 << "suspicious";
    QTest::newRow("numpy") << "numpy_arrays.pt" << 0 << "suspicious";
    QTest::newRow("os.system") << "reduce_os_system.pt" << 3 << "dangerous";
    QTest::newRow("eval") << "reduce_eval.pt" << 3 << "dangerous";
    QTest::newRow("subprocess") << "reduce_subprocess.pt" << 3 << "dangerous";
    QTest::newRow("pickle.loads") << "reduce_pickle_loads.pt" << 3 << "dangerous";
    QTest::newRow("getattr chain") << "getattr_chain.pt" << 3 << "dangerous";
    QTest::newRow("hidden member") << "hidden_member.pt" << 3 << "dangerous";
    QTest::newRow("legacy os.system") << "legacy_os_system.pt" << 3 << "dangerous";
    QTest::newRow("truncated after the payload") << "truncated_dangerous.pt" << 3 << "dangerous";
}

void TestCliScan::exitCodesAndVerdicts()
{
    QFETCH(QString, file);
    QFETCH(int, exitCode);
    QFETCH(QString, verdict);
    for (bool json : {true, false}) {
        QStringList args{QStringLiteral("scan")};
        if (json)
            args << QStringLiteral("--json");
        const Run r = runCli(args << security(file));
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.exitCode, exitCode);
        if (json)
            QCOMPARE(parse(r.out).value(QStringLiteral("verdict")).toString(), verdict);
        else
            QVERIFY(r.out.contains(verdict.toUpper().toUtf8()));
    }
}

void TestCliScan::jsonContract()
{
    const Run r = runCli({QStringLiteral("scan"), QStringLiteral("--json"), security(QStringLiteral("reduce_os_system.pt"))});
    QCOMPARE(r.exitCode, 3);
    QVERIFY(r.err.isEmpty());
    const QJsonObject doc = parse(r.out);
    QCOMPARE(doc.value(QStringLiteral("file")).toString(), security(QStringLiteral("reduce_os_system.pt")));
    QCOMPARE(doc.value(QStringLiteral("fully_read")).toBool(), true);
    const QJsonObject f = findingFor(doc, QStringLiteral("posix.system"));
    QCOMPARE(f.value(QStringLiteral("severity")).toString(), QStringLiteral("dangerous"));
    QCOMPARE(f.value(QStringLiteral("kind")).toString(), QStringLiteral("dangerous-global"));
    QCOMPARE(f.value(QStringLiteral("use")).toString(), QStringLiteral("called"));
    QCOMPARE(f.value(QStringLiteral("pickle")).toString(), QStringLiteral("reduce_os_system/data.pkl"));
    QCOMPARE(f.value(QStringLiteral("path")).toArray(), QJsonArray({QStringLiteral("payload")}));
    QVERIFY(f.value(QStringLiteral("offset")).toInteger() > 0);
    QVERIFY(!f.value(QStringLiteral("what")).toString().isEmpty());
    const QJsonObject wo = doc.value(QStringLiteral("weights_only")).toObject();
    const QJsonObject w26 = wo.value(QStringLiteral("torch_2_6")).toObject();
    QCOMPARE(w26.value(QStringLiteral("accepted")).toBool(), false);
    QCOMPARE(w26.value(QStringLiteral("never_acceptable")).toArray(), QJsonArray({QStringLiteral("posix.system")}));
    QVERIFY(wo.value(QStringLiteral("torch_1_13")).toObject().contains(QStringLiteral("reason")));

    const Run train = runCli({QStringLiteral("scan"), QStringLiteral("--json"),
                              security(QStringLiteral("training_checkpoint.pt"))});
    QCOMPARE(train.exitCode, 0);
    const QJsonObject t26 = parse(train.out).value(QStringLiteral("weights_only")).toObject()
                                .value(QStringLiteral("torch_2_6")).toObject();
    QCOMPARE(t26.value(QStringLiteral("add_safe_globals")).toArray(), QJsonArray({QStringLiteral("argparse.Namespace")}));
    QCOMPARE(t26.value(QStringLiteral("fixable_by_allowlisting")).toBool(), true);
}

void TestCliScan::humanReadable()
{
    const Run r = runCli({QStringLiteral("scan"), security(QStringLiteral("getattr_chain.pt"))});
    QCOMPARE(r.exitCode, 3);
    QVERIFY(r.out.contains("DANGEROUS"));
    QVERIFY(r.out.contains("builtins.getattr"));
    QVERIFY(r.out.contains("payload/(callable)"));
    QVERIFY(r.out.contains("weights_only=True"));
    QVERIFY(!r.out.contains("\033[")); // no colour when stdout is not a terminal
}

void TestCliScan::notFullyReadExitsOne()
{
    const Run r = runCli({QStringLiteral("scan"), QStringLiteral("--json"), security(QStringLiteral("truncated_early.pt"))});
    QCOMPARE(r.exitCode, 1);
    const QJsonObject doc = parse(r.out); // still one whole document
    QCOMPARE(doc.value(QStringLiteral("verdict")).toString(), QStringLiteral("suspicious"));
    QCOMPARE(doc.value(QStringLiteral("fully_read")).toBool(), false);
    QVERIFY(r.err.contains("not fully read"));
    QVERIFY(r.err.contains("byte"));
    QCOMPARE(r.err.count('\n'), 1);
}

void TestCliScan::unreadable_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("missing") << security(QStringLiteral("no_such_file.pt"));
    QTest::newRow("png renamed") << QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/error_png_renamed.pt");
    QTest::newRow("html page") << QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/error_html_page.pt");
}

void TestCliScan::unreadable()
{
    QFETCH(QString, file);
    const Run r = runCli({QStringLiteral("scan"), QStringLiteral("--json"), file});
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.out.isEmpty());
    QVERIFY(r.err.contains(file.toUtf8()));
}

void TestCliScan::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("no file") << QStringList{QStringLiteral("scan")};
    QTest::newRow("unknown option") << QStringList{QStringLiteral("scan"), QStringLiteral("--bogus"), QStringLiteral("x.pt")};
    QTest::newRow("two files") << QStringList{QStringLiteral("scan"), QStringLiteral("a.pt"), QStringLiteral("b.pt")};
}

void TestCliScan::usageErrors()
{
    QFETCH(QStringList, args);
    const Run r = runCli(args);
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.out.isEmpty());
    QVERIFY(!r.err.isEmpty());
}

void TestCliScan::infoJsonCarriesSecurity()
{
    const Run r = runCli({QStringLiteral("info"), QStringLiteral("--json"), security(QStringLiteral("whole_model.pt"))});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject sec = parse(r.out).value(QStringLiteral("security")).toObject();
    QCOMPARE(sec.value(QStringLiteral("verdict")).toString(), QStringLiteral("suspicious"));
    QCOMPARE(findingFor(sec, QStringLiteral("__main__.Net")).value(QStringLiteral("use")).toString(),
             QStringLiteral("instantiated"));
    // info opens a hostile file (nothing runs) and says what it is; its exit code stays info's.
    const Run evil = runCli({QStringLiteral("info"), QStringLiteral("--json"), security(QStringLiteral("reduce_eval.pt"))});
    QCOMPARE(evil.exitCode, 0);
    QCOMPARE(parse(evil.out).value(QStringLiteral("security")).toObject().value(QStringLiteral("verdict")).toString(),
             QStringLiteral("dangerous"));
}

QTEST_GUILESS_MAIN(TestCliScan)
#include "tst_cli_scan.moc"
