// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Reports: the content (data, document) and the text formats, parsed back as a reader would.
#include "checkpoint.h"
#include "report.h"
#include "tensor_stats.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTest>
#include <QXmlStreamReader>

#include <cmath>

using namespace ptscope::core;

namespace {

QString fixture(const char *name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/") + QLatin1String(name);
}

QString diffData(const QString &name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/") + name;
}

QStringList stateDictKeys(const Checkpoint &cp)
{
    QStringList keys;
    for (const StateDictEntry &e : cp.stateDict.entries)
        if (e.tensor >= 0)
            keys << QString::fromStdString(e.key);
    return keys;
}

// An RFC 4180 reader: quoted fields, doubled quotes, CRLF records.
QList<QStringList> parseCsv(const QString &text)
{
    QList<QStringList> rows;
    QStringList row;
    QString field;
    bool quoted = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (quoted) {
            if (c == QLatin1Char('"') && i + 1 < text.size() && text[i + 1] == QLatin1Char('"')) {
                field += c;
                ++i;
            } else if (c == QLatin1Char('"')) {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            row << field;
            field.clear();
        } else if (c == QLatin1Char('\r')) {
            continue;
        } else if (c == QLatin1Char('\n')) {
            row << field;
            field.clear();
            rows << row;
            row.clear();
        } else {
            field += c;
        }
    }
    if (!field.isEmpty() || !row.isEmpty())
        rows << (row << field);
    return rows;
}

// The HTML as an XML reader sees it: every table cell's text by table id, and the figures.
struct ParsedHtml
{
    QString error;
    QMap<QString, QList<QStringList>> tables; // id -> rows (header row first)
    QString text;                             // all character data
    int svgs = 0;
    QString script;
};

ParsedHtml parseHtml(const std::string &html)
{
    ParsedHtml out;
    QXmlStreamReader xml(QByteArray::fromStdString(html));
    QString table;
    QStringList row;
    QString cell;
    int cellDepth = 0;
    bool inScript = false;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            const auto name = xml.name();
            if (name == QLatin1String("table")) {
                table = xml.attributes().value(QLatin1String("id")).toString();
                out.tables[table];
            } else if (name == QLatin1String("tr")) {
                row.clear();
            } else if (name == QLatin1String("td") || name == QLatin1String("th")) {
                cell.clear();
                cellDepth = 1;
            } else if (name == QLatin1String("svg")) {
                ++out.svgs;
            } else if (name == QLatin1String("script")) {
                inScript = true;
            }
        } else if (xml.isEndElement()) {
            const auto name = xml.name();
            if (name == QLatin1String("td") || name == QLatin1String("th")) {
                row << cell;
                cellDepth = 0;
            } else if (name == QLatin1String("tr") && !table.isEmpty()) {
                out.tables[table] << row;
            } else if (name == QLatin1String("table")) {
                table.clear();
            } else if (name == QLatin1String("script")) {
                inScript = false;
            }
        } else if (xml.isCharacters()) {
            if (inScript)
                out.script += xml.text();
            else
                out.text += xml.text();
            if (cellDepth)
                cell += xml.text();
        }
    }
    if (xml.hasError())
        out.error = QStringLiteral("%1 at line %2").arg(xml.errorString()).arg(xml.lineNumber());
    return out;
}

QJsonObject expectedPair(const QString &pair)
{
    QFile f(diffData(QStringLiteral("expected.json")));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("pairs")].toObject()[pair].toObject();
}

} // namespace

class TestReport : public QObject
{
    Q_OBJECT

private slots:
    void content_data();
    void content();
    void htmlIsWellFormedAndComplete_data() { content_data(); }
    void htmlIsWellFormedAndComplete();
    void jsonCarriesInfoAndStats();
    void csvHasOneRowPerTensor_data() { content_data(); }
    void csvHasOneRowPerTensor();
    void markdownListsEveryKey();
    void histogramSvg();
    void comparison_data();
    void comparison();
    void comparisonWithManifest();
    void securityVerdict_data();
    void securityVerdict();
    void cancelled();
    void unreadable();
};

void TestReport::content_data()
{
    QTest::addColumn<QString>("file");
    QTest::addRow("cnn state_dict") << fixture("cnn_state_dict.pt");
    QTest::addRow("training checkpoint") << fixture("training_checkpoint.pt");
    QTest::addRow("legacy") << fixture("cnn_state_dict_legacy.pt");
    QTest::addRow("safetensors") << fixture("safetensors_model.safetensors");
    QTest::addRow("special tensors") << fixture("special_tensors.pt");
}

// The data: every tensor once, state_dict keys first, statistics equal to computeStats', modules
// adding up to the state_dict, the largest tensors' histograms in decreasing size.
void TestReport::content()
{
    QFETCH(QString, file);
    auto report = buildReport({file.toStdString()});
    QVERIFY2(report.ok(), report.ok() ? "" : report.error().toString().c_str());
    QCOMPARE(report->files.size(), std::size_t(1));
    const FileReport &fr = report->files[0];
    const Checkpoint &cp = *fr.checkpoint;

    QSet<std::uint32_t> reachable;
    for (const TensorRef &r : cp.tensorRefs)
        reachable.insert(r.tensor);
    QSet<std::uint32_t> listed;
    for (const ReportTensor &t : fr.tensors)
        listed.insert(t.tensor);
    QCOMPARE(listed, reachable);

    QStringList keys;
    for (const ReportTensor &t : fr.tensors)
        if (t.inStateDict)
            keys << QString::fromStdString(t.key);
    QCOMPARE(keys, stateDictKeys(cp));

    std::uint64_t moduleNumel = 0, stateNumel = 0;
    for (const ReportModule &m : fr.modules)
        moduleNumel += m.numel;
    for (const StateDictEntry &e : cp.stateDict.entries)
        if (e.tensor >= 0)
            stateNumel += cp.tensors[std::size_t(e.tensor)].numel;
    QCOMPARE(moduleNumel, stateNumel);

    for (const ReportTensor &t : fr.tensors) {
        auto direct = computeStats(cp, {t.tensor}, StatsRequest{});
        QCOMPARE(t.stats.has_value(), direct.ok());
        if (!direct)
            continue;
        QCOMPARE(t.stats->numel, direct->numel);
        QCOMPARE(t.stats->nan, direct->nan);
        QCOMPARE(t.stats->histogram.counts, direct->histogram.counts);
        if (direct->finiteCount) {
            QCOMPARE(t.stats->min, direct->min);
            QCOMPARE(t.stats->max, direct->max);
        }
    }
    // The document: the sections in their order, one tensor table row per tensor.
    QStringList headings;
    std::size_t tensorRows = 0;
    for (const DocBlock &b : reportDocument(*report).blocks) {
        if (b.kind == DocBlock::Kind::Heading && b.level == 2)
            headings << QString::fromStdString(b.text);
        if (b.kind == DocBlock::Kind::Table && b.table.columns.size() == 13)
            tensorRows += b.table.rows.size();
    }
    QCOMPARE(headings.value(0), QStringLiteral("The file"));
    QCOMPARE(tensorRows, fr.tensors.size());
    for (const char *section : {"Security", "Tensors"})
        QVERIFY2(headings.contains(QLatin1String(section)), section);
    QCOMPARE(headings.contains(QStringLiteral("Modules")), !fr.modules.empty());
    QCOMPARE(headings.contains(QStringLiteral("Histograms")), fr.wholeModel.has_value() || !fr.largest.empty());

    for (std::size_t i = 1; i < fr.largest.size(); ++i) {
        const std::string &prev = fr.largest[i - 1].caption;
        const std::string &cur = fr.largest[i].caption;
        // Captions end in "N values": sizes never grow down the list.
        const auto values = [](const std::string &c) {
            const auto comma = c.rfind(", ");
            return std::stoull(c.substr(comma + 2));
        };
        QVERIFY2(values(prev) >= values(cur), (prev + " before " + cur).c_str());
    }
}

void TestReport::htmlIsWellFormedAndComplete()
{
    QFETCH(QString, file);
    auto report = buildReport({file.toStdString()});
    QVERIFY(report.ok());
    const ParsedHtml html = parseHtml(renderHtml(reportDocument(*report)));
    QVERIFY2(html.error.isEmpty(), qPrintable(html.error));

    // The tensor table: the header the brief asks for, one row per tensor, every state_dict key.
    QList<QStringList> tensorTable;
    for (const auto &rows : html.tables)
        if (!rows.isEmpty() && rows[0].value(0) == QLatin1String("key") && rows[0].contains(QLatin1String("zeros")))
            tensorTable = rows;
    QVERIFY(!tensorTable.isEmpty());
    QCOMPARE(tensorTable[0], (QStringList{QStringLiteral("key"), QStringLiteral("dtype"), QStringLiteral("shape"),
                                          QStringLiteral("numel"), QStringLiteral("size"), QStringLiteral("device"),
                                          QStringLiteral("min"), QStringLiteral("max"), QStringLiteral("mean"),
                                          QStringLiteral("std"), QStringLiteral("nan"), QStringLiteral("inf"),
                                          QStringLiteral("zeros")}));
    QCOMPARE(std::size_t(tensorTable.size() - 1), report->files[0].tensors.size());
    QStringList firstColumn;
    for (qsizetype i = 1; i < tensorTable.size(); ++i)
        firstColumn << tensorTable[i][0];
    for (const QString &key : stateDictKeys(*report->files[0].checkpoint))
        QVERIFY2(firstColumn.contains(key), qPrintable(key));

    // Histograms are inline SVG: the whole model plus the largest layers.
    const FileReport &fr = report->files[0];
    QCOMPARE(html.svgs, int(fr.largest.size()) + (fr.wholeModel ? 1 : 0));
    // Self-contained: nothing is fetched from anywhere.
    const std::string raw = renderHtml(reportDocument(*report));
    QVERIFY(raw.find("src=\"http") == std::string::npos);
    QVERIFY(raw.find("<link") == std::string::npos);
    QVERIFY(html.script.contains(QLatin1String("sort")));
    // The security section: the globals, and the place for the scan verdict.
    QVERIFY(html.text.contains(QLatin1String("Security scan")));
    for (const ReportGlobal &g : fr.globals)
        QVERIFY(html.text.contains(QString::fromStdString(g.module)));
}

void TestReport::jsonCarriesInfoAndStats()
{
    auto report = buildReport({fixture("training_checkpoint.pt").toStdString()});
    QVERIFY(report.ok());
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(renderJson(*report)), &error);
    QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
    const QJsonObject root = doc.object();
    QCOMPARE(root[QStringLiteral("report")][QStringLiteral("kind")].toString(), QStringLiteral("file"));
    QVERIFY(root[QStringLiteral("diff")].isNull());
    const QJsonObject file = root[QStringLiteral("files")].toArray()[0].toObject();
    // info: the contract's document, keys in state_dict order.
    const QJsonObject info = file[QStringLiteral("info")].toObject();
    QCOMPARE(info[QStringLiteral("format")].toString(), QStringLiteral("torch-zip"));
    QStringList keys;
    for (const QJsonValue &k : info[QStringLiteral("state_dict")][QStringLiteral("keys")].toArray())
        keys << k[QStringLiteral("key")].toString();
    const Checkpoint &cp = *report->files[0].checkpoint;
    QCOMPARE(keys, stateDictKeys(cp));
    QCOMPARE(info[QStringLiteral("tensors")].toArray().size(), qsizetype(cp.tensorRefs.size()));
    // stats: one entry per tensor with the contract's fields and values.
    const QJsonArray stats = file[QStringLiteral("stats")][QStringLiteral("tensors")].toArray();
    QCOMPARE(std::size_t(stats.size()), report->files[0].tensors.size());
    for (qsizetype i = 0; i < stats.size(); ++i) {
        const QJsonObject s = stats[i].toObject();
        const ReportTensor &t = report->files[0].tensors[std::size_t(i)];
        QCOMPARE(s[QStringLiteral("key")].toString(), QString::fromStdString(t.key));
        if (!t.stats)
            continue;
        for (const char *field : {"numel", "min", "max", "mean", "std", "nan", "inf", "zeros", "histogram"})
            QVERIFY2(s.contains(QLatin1String(field)), field);
        if (t.stats->finiteCount)
            QCOMPARE(s[QStringLiteral("max")].toDouble(), t.stats->max);
        QCOMPARE(std::size_t(s[QStringLiteral("histogram")][QStringLiteral("counts")].toArray().size()),
                 t.stats->histogram.counts.size());
    }
    QVERIFY(file.contains(QStringLiteral("security")));
}

void TestReport::csvHasOneRowPerTensor()
{
    QFETCH(QString, file);
    auto report = buildReport({file.toStdString()});
    QVERIFY(report.ok());
    const QList<QStringList> rows = parseCsv(QString::fromStdString(renderCsv(*report)));
    QCOMPARE(rows.value(0), QStringLiteral("key,dtype,shape,numel,bytes,device,min,max,mean,std,nan,inf,zeros")
                                .split(QLatin1Char(',')));
    const FileReport &fr = report->files[0];
    QCOMPARE(std::size_t(rows.size() - 1), fr.tensors.size());
    for (std::size_t i = 0; i < fr.tensors.size(); ++i) {
        const QStringList &row = rows[qsizetype(i + 1)];
        const ReportTensor &t = fr.tensors[i];
        const TensorInfo &ti = fr.checkpoint->tensors[t.tensor];
        QCOMPARE(row.size(), 13);
        QCOMPARE(row[0], QString::fromStdString(t.key));
        QCOMPARE(row[2], QString::fromStdString(formatShape(ti.shape)));
        QCOMPARE(row[3].toULongLong(), ti.numel);
        QCOMPARE(row[4].toULongLong(), ti.nbytes);
        if (t.stats && t.stats->finiteCount) {
            // Exact: the text reads back as the very double computed.
            QCOMPARE(row[6].toDouble(), t.stats->min);
            QCOMPARE(row[9].toDouble(), t.stats->std);
            QCOMPARE(row[10].toULongLong(), t.stats->nan);
            QCOMPARE(row[12].toULongLong(), t.stats->zeros);
        }
    }
}

void TestReport::markdownListsEveryKey()
{
    auto report = buildReport({fixture("training_checkpoint.pt").toStdString()});
    QVERIFY(report.ok());
    const QString md = QString::fromStdString(renderMarkdown(reportDocument(*report)));
    for (const QString &key : stateDictKeys(*report->files[0].checkpoint))
        QVERIFY2(md.contains(QLatin1Char('`') + key + QLatin1Char('`')), qPrintable(key));
    for (const MetadataItem &m : report->files[0].checkpoint->metadata)
        QVERIFY(md.contains(QString::fromStdString(m.label)));
    // Tables: every row of a table has as many cells as its header.
    const QStringList lines = md.split(QLatin1Char('\n'));
    qsizetype columns = -1;
    for (const QString &line : lines) {
        if (!line.startsWith(QLatin1Char('|'))) {
            columns = -1;
            continue;
        }
        const qsizetype cells = QString(line).remove(QStringLiteral("\\|")).count(QLatin1Char('|'));
        if (columns < 0)
            columns = cells;
        QCOMPARE(cells, columns);
    }
}

void TestReport::histogramSvg()
{
    ReportHistogram h;
    h.title = "w<1>";
    h.series.push_back({"a", Histogram{-1.0, 1.0, {3, 0, 5, 1}}});
    QXmlStreamReader one(QByteArray::fromStdString(ptscope::core::histogramSvg(h)));
    int rects = 0;
    while (!one.atEnd())
        if (one.readNext() == QXmlStreamReader::StartElement && one.name() == QLatin1String("rect"))
            ++rects;
    QVERIFY2(!one.hasError(), qPrintable(one.errorString()));
    QCOMPARE(rects, 1 + 3); // the frame and one bar per non-empty bin
    h.series.push_back({"b", Histogram{-1.0, 1.0, {1, 1, 1, 1}}});
    QXmlStreamReader two(QByteArray::fromStdString(ptscope::core::histogramSvg(h)));
    rects = 0;
    int groups = 0;
    while (!two.atEnd())
        if (two.readNext() == QXmlStreamReader::StartElement) {
            rects += two.name() == QLatin1String("rect");
            groups += two.name() == QLatin1String("g") && two.attributes().hasAttribute(QLatin1String("fill-opacity"));
        }
    QVERIFY(!two.hasError());
    QCOMPARE(groups, 2);
    QCOMPARE(rects, 1 + 3 + 4 + 2); // frame, bars of both series, the legend's two swatches
}

void TestReport::comparison_data()
{
    QTest::addColumn<QString>("pair");
    QTest::addRow("exact") << QStringLiteral("exact");
    QTest::addRow("ddp prefix") << QStringLiteral("ddp_source");
    QTest::addRow("changed head") << QStringLiteral("changed_head");
    QTest::addRow("prefix and head") << QStringLiteral("prefix_and_head");
}

// Two files: torch's verdict and message lines (as torch printed them for the pair), every key of
// both sides with its status, the value comparison, overlaid histograms.
void TestReport::comparison()
{
    QFETCH(QString, pair);
    const QJsonObject expected = expectedPair(pair);
    QVERIFY(!expected.isEmpty());
    const QString source = diffData(expected[QStringLiteral("source")].toString());
    const QString target
        = diffData(expected[QStringLiteral("targets")][QStringLiteral("state_dict")].toString());
    auto report = buildReport({source.toStdString(), target.toStdString()});
    QVERIFY2(report.ok(), report.ok() ? "" : report.error().toString().c_str());
    QVERIFY(report->comparison.has_value());
    const ComparisonReport &c = *report->comparison;
    const QJsonObject strict = expected[QStringLiteral("strict")].toObject();
    QCOMPARE(c.diff.outcome.strictOk(), strict[QStringLiteral("ok")].toBool());

    const std::string html = renderHtml(reportDocument(*report));
    const ParsedHtml parsed = parseHtml(html);
    QVERIFY2(parsed.error.isEmpty(), qPrintable(parsed.error));
    const QString md = QString::fromStdString(renderMarkdown(reportDocument(*report)));
    const QJsonObject json = QJsonDocument::fromJson(QByteArray::fromStdString(renderJson(*report))).object();
    QStringList jsonLines;
    for (const QJsonValue &l : json[QStringLiteral("diff")][QStringLiteral("torch_message")].toArray())
        jsonLines << l.toString();
    QStringList lines;
    for (const QJsonValue &l : strict[QStringLiteral("lines")].toArray())
        lines << l.toString();
    QCOMPARE(jsonLines, lines);
    for (const QString &line : lines) {
        QVERIFY2(parsed.text.contains(line.trimmed()), qPrintable(line));
        QVERIFY2(md.contains(line.trimmed()), qPrintable(line));
    }
    if (!strict[QStringLiteral("ok")].toBool())
        // torch names the model's class; a state_dict target does not know it ("<model class>").
        QVERIFY(parsed.text.contains(QStringLiteral("RuntimeError: Error(s) in loading state_dict for ")));

    // The key table: the model's keys and the source's, each once, with torch's classification.
    QSet<QString> missing, unexpected;
    for (const QJsonValue &k : expected[QStringLiteral("non_strict")][QStringLiteral("missing")].toArray())
        missing << k.toString();
    for (const QJsonValue &k : expected[QStringLiteral("non_strict")][QStringLiteral("unexpected")].toArray())
        unexpected << k.toString();
    QSet<QString> seen;
    for (const ReportKeyRow &k : c.keys) {
        const QString key = QString::fromStdString(k.key);
        QVERIFY2(!seen.contains(key), qPrintable(key));
        seen << key;
        if (missing.contains(key))
            QCOMPARE(QString::fromStdString(k.status), QStringLiteral("missing"));
        if (unexpected.contains(key))
            QCOMPARE(QString::fromStdString(k.status), QStringLiteral("unexpected"));
        QVERIFY(k.ok == (k.status != "missing" && k.status != "unexpected" && k.status != "size mismatch"));
    }
    for (const QString &key : stateDictKeys(*report->files[0].checkpoint) + stateDictKeys(*report->files[1].checkpoint))
        QVERIFY2(seen.contains(key), qPrintable(key));
    const QJsonArray jsonKeys = json[QStringLiteral("report")][QStringLiteral("keys")].toArray();
    QCOMPARE(std::size_t(jsonKeys.size()), c.keys.size());

    // Values: exactly what the diff command compares (expected.json holds torch's numbers).
    const QJsonObject values = expected[QStringLiteral("values")].toObject();
    QCOMPARE(std::size_t(values.size()), c.values.size());
    for (const KeyValueComparison &v : c.values) {
        const QJsonObject e = values[QString::fromStdString(v.key)].toObject();
        QVERIFY2(!e.isEmpty(), v.key.c_str());
        QVERIFY(v.cmp.has_value());
        QCOMPARE(v.cmp->identical, e[QStringLiteral("identical")].toBool());
        QCOMPARE(v.cmp->differing, std::uint64_t(e[QStringLiteral("differing")].toInteger()));
    }
    // Overlaid histograms for the largest matched tensors, both series on the same bins.
    QCOMPARE(c.overlaid.size(), std::min<std::size_t>(6, c.values.size()));
    for (const ReportHistogram &h : c.overlaid) {
        QCOMPARE(h.series.size(), std::size_t(2));
        QCOMPARE(h.series[0].histogram.min, h.series[1].histogram.min);
        QCOMPARE(h.series[0].histogram.max, h.series[1].histogram.max);
    }
    // CSV: both files' tensors, with a file column.
    const QList<QStringList> csv = parseCsv(QString::fromStdString(renderCsv(*report)));
    QCOMPARE(csv.value(0).value(0), QStringLiteral("file"));
    QCOMPARE(std::size_t(csv.size() - 1), report->files[0].tensors.size() + report->files[1].tensors.size());
}

void TestReport::comparisonWithManifest()
{
    auto report = buildReport({diffData(QStringLiteral("src_ddp_source.pt")).toStdString(),
                               diffData(QStringLiteral("tgt_net.json")).toStdString()});
    QVERIFY2(report.ok(), report.ok() ? "" : report.error().toString().c_str());
    QCOMPARE(report->files.size(), std::size_t(1));
    QVERIFY(report->comparison.has_value());
    QVERIFY(!report->comparison->diff.outcome.strictOk());
    QVERIFY(report->comparison->values.empty());
    const ParsedHtml html = parseHtml(renderHtml(reportDocument(*report)));
    QVERIFY(html.error.isEmpty());
    QVERIFY(html.text.contains(QLatin1String("manifest")));
}

void TestReport::securityVerdict_data()
{
    // Categories from tests/data/security/expected.json (what each file was built to be).
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("verdict");
    QTest::addColumn<bool>("fullyRead");
    QFile f(QStringLiteral(PTSCOPE_TEST_DATA_DIR "/security/expected.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject files = QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("files")].toObject();
    QVERIFY(files.size() >= 10);
    for (auto it = files.begin(); it != files.end(); ++it) {
        const QString category = it.value()[QStringLiteral("category")].toString();
        if (category == QLatin1String("safe") || category == QLatin1String("suspicious")
            || category == QLatin1String("dangerous"))
            QTest::newRow(qPrintable(it.key()))
                << it.key() << category << it.value()[QStringLiteral("fully_read")].toBool(true);
    }
}

void TestReport::securityVerdict()
{
    // Every format carries the scan's verdict and what torch.load(weights_only=True) would do.
    QFETCH(QString, file);
    QFETCH(QString, verdict);
    QFETCH(bool, fullyRead);
    auto report = buildReport({(QStringLiteral(PTSCOPE_TEST_DATA_DIR "/security/") + file).toStdString()});
    if (!report.ok()) {
        // Only a file that cannot be read to the end may have no report (ptscope-cli scan reports it).
        QVERIFY2(!fullyRead, report.error().message.c_str());
        return;
    }
    QVERIFY(report->files[0].security.has_value());
    QCOMPARE(QString::fromStdString(report->files[0].security->verdict), verdict);
    const QJsonObject json = QJsonDocument::fromJson(QByteArray::fromStdString(renderJson(*report))).object();
    const QJsonObject security = json[QStringLiteral("files")].toArray()[0][QStringLiteral("security")].toObject();
    QCOMPARE(security[QStringLiteral("verdict")].toString(), verdict);
    const QString html = QString::fromStdString(renderHtml(reportDocument(*report)));
    QVERIFY(html.contains(QStringLiteral("Security scan verdict: ") + verdict));
    QVERIFY(html.contains(QStringLiteral("torch.load(weights_only=True), torch &gt;= 2.6: "))
            || html.contains(QStringLiteral("torch.load(weights_only=True), torch >= 2.6: ")));
    const QString md = QString::fromStdString(renderMarkdown(reportDocument(*report)));
    QVERIFY(md.contains(verdict));
    if (verdict != QLatin1String("safe"))
        QVERIFY(security[QStringLiteral("findings")].toArray().size() > 2); // findings + the two weights_only lines
}

void TestReport::cancelled()
{
    ReportOptions options;
    int calls = 0;
    options.progress = [&calls](std::uint64_t, std::uint64_t) { return ++calls < 2; };
    auto report = buildReport({fixture("training_checkpoint.pt").toStdString()}, options);
    QVERIFY(!report.ok());
    QCOMPARE(report.error().code, ErrorCode::Cancelled);
}

void TestReport::unreadable()
{
    auto report = buildReport({fixture("error_truncated_zip.pt").toStdString()});
    QVERIFY(!report.ok());
    QVERIFY(report.error().code != ErrorCode::Cancelled);
    auto none = buildReport(std::vector<std::string>{});
    QVERIFY(!none.ok());
}

QTEST_GUILESS_MAIN(TestReport)
#include "tst_report.moc"
