// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// `ptscope-cli diff` as a script sees it: exit codes, stderr, and the JSON contract
// (docs: cli-contract.md, "diff"), on the pairs torch 1.13 was run on (tests/data/diff).
#include "cli_run.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <cmath>
#include <QTemporaryDir>
#include <QTest>

namespace {

using ptscope::test::Run;
using ptscope::test::runCli;

QString data(const QString &name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/") + name;
}

QJsonObject expected(const QString &pair)
{
    QFile f(data(QStringLiteral("expected.json")));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("pairs")].toObject()[pair].toObject();
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &x : v.toArray())
        out << x.toString();
    return out;
}

QJsonObject diffJson(const QString &pair, const QString &kind, const QStringList &extra = {})
{
    const QJsonObject rec = expected(pair);
    QStringList args { QStringLiteral("diff"), QStringLiteral("--json"), QStringLiteral("--torch"),
        QStringLiteral("1.13") };
    args << extra << data(rec[QStringLiteral("source")].toString())
         << data(rec[QStringLiteral("targets")].toObject()[kind].toString());
    const Run r = runCli(args);
    if (r.status != QProcess::NormalExit || r.exitCode != 0) {
        qWarning("diff failed: %s", r.err.constData());
        return {};
    }
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(r.out, &e);
    if (e.error != QJsonParseError::NoError)
        qWarning("not JSON: %s", qPrintable(e.errorString()));
    return doc.object();
}

} // namespace

class TestCliDiff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void usageErrors_data();
    void usageErrors();
    void unreadable_data();
    void unreadable();
    void badManifest();
    void contractFields();
    void torchLinesExact_data();
    void torchLinesExact();
    void sizeMismatchesAndDtypes();
    void suggestionsCarryCode();
    void sourceAndTargetKeys();
    void valuesCompared();
    void acrossFormats();
    void valuesBackend();
    void humanReadable();
};

void TestCliDiff::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    const QString a = data(QStringLiteral("src_exact.pt"));
    QTest::newRow("no files") << QStringList { QStringLiteral("diff") };
    QTest::newRow("one file") << QStringList { QStringLiteral("diff"), a };
    QTest::newRow("three files") << QStringList { QStringLiteral("diff"), a, a, a };
    QTest::newRow("unknown option") << QStringList { QStringLiteral("diff"), QStringLiteral("--bogus"), a, a };
    QTest::newRow("bad torch") << QStringList { QStringLiteral("diff"), QStringLiteral("--torch"), QStringLiteral("3"),
        a, a };
    QTest::newRow("key without value") << QStringList { QStringLiteral("diff"), a, a, QStringLiteral("--source-key") };
    QTest::newRow("bad backend") << QStringList { QStringLiteral("diff"), QStringLiteral("--backend"),
        QStringLiteral("gpu"), a, a };
    QTest::newRow("backend without value") << QStringList { QStringLiteral("diff"), a, a, QStringLiteral("--backend") };
}

void TestCliDiff::usageErrors()
{
    QFETCH(QStringList, args);
    const Run r = runCli(args);
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.out.isEmpty());
    QVERIFY(!r.err.isEmpty());
}

void TestCliDiff::unreadable_data()
{
    QTest::addColumn<QStringList>("args");
    const QString good = data(QStringLiteral("src_exact.pt"));
    QTemporaryDir dir;
    QTest::newRow("missing source") << QStringList { QStringLiteral("diff"), QStringLiteral("/nonexistent/a.pt"),
        good };
    QTest::newRow("missing target") << QStringList { QStringLiteral("diff"), good,
        QStringLiteral("/nonexistent/b.pt") };
    QTest::newRow("bad source key") << QStringList { QStringLiteral("diff"), QStringLiteral("--source-key"),
        QStringLiteral("no/such/key"), good, good };
    QTest::newRow("bad target key") << QStringList { QStringLiteral("diff"), QStringLiteral("--target-key"),
        QStringLiteral("nothing"), good, good };
    QTest::newRow("target is a folder") << QStringList { QStringLiteral("diff"), good, data(QString()) };
}

void TestCliDiff::unreadable()
{
    QFETCH(QStringList, args);
    const Run r = runCli(args);
    QCOMPARE(r.status, QProcess::NormalExit);
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.out.isEmpty());
    QVERIFY(r.err.startsWith("ptscope-cli: "));
    QCOMPARE(r.err.count('\n'), 1);
}

void TestCliDiff::badManifest()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString bad = dir.filePath(QStringLiteral("model.json"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"fc.weight\": {\"dtype\": \"float32\"}}");
    f.close();
    const Run r = runCli({ QStringLiteral("diff"), data(QStringLiteral("src_exact.pt")), bad });
    QCOMPARE(r.exitCode, 1);
    QVERIFY(r.out.isEmpty());
    QVERIFY(r.err.contains("manifest entry 'fc.weight' has no shape"));
}

// The field names of cli-contract.md, with their types; exit 0 whatever the verdict.
void TestCliDiff::contractFields()
{
    const QJsonObject o = diffJson(QStringLiteral("ddp_source"), QStringLiteral("whole"));
    QVERIFY(!o.isEmpty());
    QVERIFY(o[QStringLiteral("strict_ok")].isBool());
    QVERIFY(o[QStringLiteral("torch_message")].isArray());
    QVERIFY(o[QStringLiteral("missing_keys")].isArray());
    QVERIFY(o[QStringLiteral("unexpected_keys")].isArray());
    QVERIFY(o[QStringLiteral("size_mismatches")].isArray());
    QVERIFY(o[QStringLiteral("dtype_differences")].isArray());
    QVERIFY(o[QStringLiteral("non_strict_ok")].isBool());
    QVERIFY(o[QStringLiteral("suggestions")].isArray());
    QVERIFY(o[QStringLiteral("values")].isArray());
    QCOMPARE(o[QStringLiteral("strict_ok")].toBool(), false);
    QCOMPARE(o[QStringLiteral("non_strict_ok")].toBool(), true);
    QCOMPARE(o[QStringLiteral("torch_header")].toString(), QStringLiteral("Error(s) in loading state_dict for Net:"));
    QCOMPARE(o[QStringLiteral("torch_rules")].toString(), QStringLiteral("1.13"));
    QCOMPARE(o[QStringLiteral("target")].toObject()[QStringLiteral("kind")].toString(), QStringLiteral("whole_model"));
}

void TestCliDiff::torchLinesExact_data()
{
    QTest::addColumn<QString>("pair");
    for (const char *p : { "ddp_source", "changed_head", "non_tensor", "instancenorm_legacy", "tied_dropped",
             "meta_tensor", "extra_state_missing", "exact" })
        QTest::newRow(p) << QString::fromLatin1(p);
}

// torch_message holds the very lines torch 1.13 printed after its first line.
void TestCliDiff::torchLinesExact()
{
    QFETCH(QString, pair);
    const QJsonObject rec = expected(pair);
    const QJsonObject o = diffJson(pair, QStringLiteral("manifest"));
    QVERIFY(!o.isEmpty());
    const QJsonObject strict = rec[QStringLiteral("strict")].toObject();
    QCOMPARE(o[QStringLiteral("strict_ok")].toBool(), strict[QStringLiteral("ok")].toBool());
    QCOMPARE(strings(o[QStringLiteral("torch_message")]), strings(strict[QStringLiteral("lines")]));
    const QJsonObject nonStrict = rec[QStringLiteral("non_strict")].toObject();
    QCOMPARE(o[QStringLiteral("non_strict_ok")].toBool(), nonStrict[QStringLiteral("ok")].toBool());
    if (nonStrict[QStringLiteral("ok")].toBool()) {
        QCOMPARE(strings(o[QStringLiteral("missing_keys")]), strings(nonStrict[QStringLiteral("missing")]));
        QCOMPARE(strings(o[QStringLiteral("unexpected_keys")]), strings(nonStrict[QStringLiteral("unexpected")]));
    }
}

void TestCliDiff::sizeMismatchesAndDtypes()
{
    const QJsonObject head = diffJson(QStringLiteral("changed_head"), QStringLiteral("state_dict"));
    const QJsonArray sm = head[QStringLiteral("size_mismatches")].toArray();
    QCOMPARE(sm.size(), 2);
    const QJsonObject first = sm[0].toObject();
    QCOMPARE(first[QStringLiteral("key")].toString(), QStringLiteral("fc.weight"));
    QCOMPARE(first[QStringLiteral("source_shape")].toArray(), (QJsonArray { 10, 4 }));
    QCOMPARE(first[QStringLiteral("target_shape")].toArray(), (QJsonArray { 5, 4 }));
    const QJsonObject dt = diffJson(QStringLiteral("dtype_change"), QStringLiteral("whole"));
    QCOMPARE(dt[QStringLiteral("strict_ok")].toBool(), true);
    const QJsonArray dd = dt[QStringLiteral("dtype_differences")].toArray();
    QCOMPARE(dd.size(), 10); // every float tensor; num_batches_tracked stays int64
    QCOMPARE(dd[0].toObject()[QStringLiteral("source_dtype")].toString(), QStringLiteral("float64"));
    QCOMPARE(dd[0].toObject()[QStringLiteral("target_dtype")].toString(), QStringLiteral("float32"));
}

void TestCliDiff::suggestionsCarryCode()
{
    const QJsonObject o = diffJson(QStringLiteral("stacked"), QStringLiteral("script"));
    const QJsonArray s = o[QStringLiteral("suggestions")].toArray();
    QVERIFY(!s.isEmpty());
    bool strip = false;
    for (const QJsonValue &v : s) {
        const QJsonObject x = v.toObject();
        for (const char *f : { "kind", "title", "explanation", "code" })
            QVERIFY2(x[QLatin1String(f)].isString() && !x[QLatin1String(f)].toString().isEmpty(), f);
        if (x[QStringLiteral("kind")].toString() == QLatin1String("strip_prefix")) {
            strip = true;
            QVERIFY(x[QStringLiteral("code")].toString().contains(
                QStringLiteral("rename_prefix(sd, \"module._orig_mod.\", \"\")")));
            QCOMPARE(x[QStringLiteral("strict_ok_after")].toBool(), true);
        }
    }
    QVERIFY(strip);
    bool trap = false;
    for (const QJsonValue &v : o[QStringLiteral("causes")].toArray())
        trap = trap || v.toObject()[QStringLiteral("kind")].toString() == QLatin1String("non_strict_trap");
    QVERIFY(trap);
}

void TestCliDiff::sourceAndTargetKeys()
{
    // The whole training checkpoint named explicitly: its top-level keys are unexpected.
    const QJsonObject rec = expected(QStringLiteral("training_checkpoint"));
    const Run r
        = runCli({ QStringLiteral("diff"), QStringLiteral("--json"), QStringLiteral("--torch"), QStringLiteral("1.13"),
            QStringLiteral("--source-key"), QStringLiteral("model_state_dict"), QStringLiteral("--target-key"),
            QStringLiteral(""), data(rec[QStringLiteral("source")].toString()), data(QStringLiteral("tgt_net.pt")) });
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(o[QStringLiteral("strict_ok")].toBool(), true);
    QCOMPARE(strings(o[QStringLiteral("source")].toObject()[QStringLiteral("state_dict_path")]),
        QStringList { QStringLiteral("model_state_dict") });
    const QJsonObject whole = o[QStringLiteral("whole_file")].toObject();
    QCOMPARE(strings(whole[QStringLiteral("torch_message")]),
        strings(rec[QStringLiteral("whole_file")].toObject()[QStringLiteral("strict")].toObject()[QStringLiteral(
            "lines")]));
    // A target key into a training checkpoint used as the model.
    const Run t = runCli({ QStringLiteral("diff"), QStringLiteral("--json"), QStringLiteral("--target-key"),
        QStringLiteral("model_state_dict"), data(QStringLiteral("src_exact.pt")),
        data(rec[QStringLiteral("source")].toString()) });
    QCOMPARE(t.exitCode, 0);
    QVERIFY(QJsonDocument::fromJson(t.out).object()[QStringLiteral("strict_ok")].toBool());
}

void TestCliDiff::valuesCompared()
{
    const QJsonObject o = diffJson(QStringLiteral("exact"), QStringLiteral("state_dict"));
    const QJsonArray v = o[QStringLiteral("values")].toArray();
    QCOMPARE(v.size(), 11);
    for (const QJsonValue &x : v) {
        QVERIFY(x.toObject()[QStringLiteral("identical")].toBool());
        QCOMPARE(x.toObject()[QStringLiteral("max_abs_diff")].toDouble(), 0.0);
    }
    const QJsonObject m = diffJson(QStringLiteral("exact"), QStringLiteral("manifest"));
    QVERIFY(m[QStringLiteral("values")].toArray().isEmpty());
    QVERIFY(m[QStringLiteral("values_skipped")].isString());
}

// --backend: cpu compares on every core and says so (torch's numbers); cuda fails with the reason
// where no GPU is usable (always with PTSCOPE_NO_CUDA=1), or gives the CPU's numbers where one is;
// auto falls back to the CPU and says why.
void TestCliDiff::valuesBackend()
{
    const QString pair = QStringLiteral("dict_comprehension_strip");
    const QJsonObject rec = expected(pair);
    const QJsonObject cpu = diffJson(pair, QStringLiteral("state_dict"), { QStringLiteral("--backend"),
        QStringLiteral("cpu") });
    QCOMPARE(cpu[QStringLiteral("values_backend")].toString(), QStringLiteral("cpu"));
    QVERIFY(!cpu.contains(QStringLiteral("values_backend_reason")));
    const QJsonObject want = rec[QStringLiteral("values")].toObject();
    const QJsonArray got = cpu[QStringLiteral("values")].toArray();
    QVERIFY(!want.isEmpty());
    QCOMPARE(got.size(), want.size());
    for (const QJsonValue &v : got) {
        const QJsonObject g = v.toObject();
        const QJsonObject w = want[g[QStringLiteral("key")].toString()].toObject();
        QVERIFY2(!w.isEmpty(), qPrintable(g[QStringLiteral("key")].toString()));
        QCOMPARE(g[QStringLiteral("numel")].toInteger(), w[QStringLiteral("numel")].toInteger());
        QCOMPARE(g[QStringLiteral("differing")].toInteger(), w[QStringLiteral("differing")].toInteger());
        QCOMPARE(g[QStringLiteral("identical")].toBool(), w[QStringLiteral("identical")].toBool());
        QCOMPARE(g[QStringLiteral("allclose")].toBool(), w[QStringLiteral("allclose")].toBool());
        QVERIFY(std::fabs(g[QStringLiteral("max_abs_diff")].toDouble() - w[QStringLiteral("max_abs_diff")].toDouble())
            <= 1e-12);
    }
    // Without a manifest's values, nothing is said about a backend.
    const QJsonObject manifest = diffJson(pair, QStringLiteral("manifest"), { QStringLiteral("--backend"),
        QStringLiteral("cpu") });
    QVERIFY(!manifest.contains(QStringLiteral("values_backend")));

    const QString source = data(rec[QStringLiteral("source")].toString());
    const QString target = data(rec[QStringLiteral("targets")].toObject()[QStringLiteral("state_dict")].toString());
    QProcessEnvironment off = QProcessEnvironment::systemEnvironment();
    off.insert(QStringLiteral("PTSCOPE_NO_CUDA"), QStringLiteral("1"));
    const QString cli = QStringLiteral(PTSCOPE_CLI_PATH);
    const Run refused = ptscope::test::runProgram(cli,
        { QStringLiteral("diff"), QStringLiteral("--json"), QStringLiteral("--backend"), QStringLiteral("cuda"), source,
            target },
        {}, off);
    QCOMPARE(refused.status, QProcess::NormalExit);
    QCOMPARE(refused.exitCode, 1);
    QVERIFY(refused.out.isEmpty());
    QVERIFY2(refused.err.startsWith("ptscope-cli diff: cannot use --backend cuda: ") && refused.err.size() > 60,
        refused.err.constData());
    QVERIFY2(refused.err.contains("Use --backend cpu or auto"), refused.err.constData());
    const Run fallback = ptscope::test::runProgram(cli, { QStringLiteral("diff"), QStringLiteral("--json"), source,
        target }, {}, off);
    QCOMPARE(fallback.exitCode, 0);
    const QJsonObject f = QJsonDocument::fromJson(fallback.out).object();
    QCOMPARE(f[QStringLiteral("values_backend")].toString(), QStringLiteral("cpu"));
    QVERIFY(!f[QStringLiteral("values_backend_reason")].toString().isEmpty());
    QCOMPARE(f[QStringLiteral("values")], cpu[QStringLiteral("values")]);
    // The human output names the backend too.
    const Run human = ptscope::test::runProgram(cli, { QStringLiteral("diff"), QStringLiteral("--backend"),
        QStringLiteral("cpu"), source, target }, {}, off);
    QCOMPARE(human.exitCode, 0);
    QVERIFY2(human.out.contains("compared on the cpu backend"), human.out.constData());

    // Here, without the switch: either a usable GPU (the CPU's counts) or the reason.
    const Run cuda = runCli({ QStringLiteral("diff"), QStringLiteral("--json"), QStringLiteral("--backend"),
        QStringLiteral("cuda"), source, target });
    QCOMPARE(cuda.status, QProcess::NormalExit);
    if (cuda.exitCode == 0) {
        const QJsonObject c = QJsonDocument::fromJson(cuda.out).object();
        QCOMPARE(c[QStringLiteral("values_backend")].toString(), QStringLiteral("cuda"));
        const QJsonArray gv = c[QStringLiteral("values")].toArray();
        QCOMPARE(gv.size(), got.size());
        for (qsizetype i = 0; i < gv.size(); ++i)
            for (const char *k : { "key", "numel", "differing", "identical", "allclose", "max_abs_diff" })
                QCOMPARE(gv[i].toObject()[QLatin1String(k)], got[i].toObject()[QLatin1String(k)]);
    } else {
        QCOMPARE(cuda.exitCode, 1);
        QVERIFY(cuda.out.isEmpty());
        QVERIFY2(cuda.err.contains("cannot use --backend cuda: "), cuda.err.constData());
    }
}

void TestCliDiff::acrossFormats()
{
    // The same model as torch.save shards and as safetensors shards (tests/fixtures/generate_fixtures.py):
    // every key matches and every value is read from its own shard, bit for bit the same.
    const QString dir = QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/");
    const Run r = runCli({QStringLiteral("diff"), QStringLiteral("--json"), dir + QStringLiteral("sharded_model.bin.index.json"),
                          dir + QStringLiteral("sharded_st.safetensors.index.json")});
    QCOMPARE(r.status, QProcess::NormalExit);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QVERIFY(o[QStringLiteral("strict_ok")].toBool());
    const QJsonArray values = o[QStringLiteral("values")].toArray();
    QCOMPARE(values.size(), 11);
    int parallel = 0;
    for (const QJsonValue &v : values) {
        QVERIFY2(v[QStringLiteral("identical")].toBool(), qPrintable(v[QStringLiteral("key")].toString()));
        // torch's cosine_similarity of a tensor with itself: 1, or 0 for an all-zero tensor (eps clamp).
        const double cosine = v[QStringLiteral("cosine_similarity")].toDouble();
        QVERIFY(std::fabs(cosine - 1.0) <= 1e-12 || cosine == 0.0);
        parallel += cosine != 0.0;
    }
    QVERIFY(parallel >= 4);
}

void TestCliDiff::humanReadable()
{
    const QJsonObject rec = expected(QStringLiteral("ddp_source"));
    const Run r = runCli({ QStringLiteral("diff"), data(rec[QStringLiteral("source")].toString()),
        data(QStringLiteral("tgt_net.json")) });
    QCOMPARE(r.exitCode, 0);
    const QString out = QString::fromUtf8(r.out);
    QVERIFY(out.contains(QStringLiteral("strict=True: raises")));
    QVERIFY(out.contains(QStringLiteral("Missing key(s) in state_dict: \"conv1.weight\"")));
    QVERIFY(out.contains(QStringLiteral("sd = rename_prefix(sd, \"module.\", \"\")")));
    QVERIFY(!out.contains(QStringLiteral("\033["))); // no colour when not a terminal
}

QTEST_GUILESS_MAIN(TestCliDiff)
#include "tst_cli_diff.moc"
