// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli report: every format from the command line, PDFs read back with poppler.
#include "cli_run.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <cstring>

namespace {

using ptscope::test::Run;

Run run(const QStringList &args, const QString &workingDirectory = {}, const QString &program = QStringLiteral(PTSCOPE_CLI_PATH))
{
    return ptscope::test::runProgram(program, args, workingDirectory);
}

QString data(const QString &relative)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/") + relative;
}

QString readText(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

QString squeeze(QString s)
{
    s.remove(QRegularExpression(QStringLiteral("\\s+")));
    return s;
}

bool havePoppler()
{
    return !QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty()
        && !QStandardPaths::findExecutable(QStringLiteral("pdfinfo")).isEmpty();
}

int pageCount(const QString &pdf)
{
    const Run r = run({pdf}, {}, QStandardPaths::findExecutable(QStringLiteral("pdfinfo")));
    const auto match = QRegularExpression(QStringLiteral("Pages:\\s+(\\d+)")).match(QString::fromUtf8(r.out));
    return match.hasMatch() ? match.captured(1).toInt() : -1;
}

QString pageText(const QString &pdf, int page, bool layout)
{
    QStringList args{QStringLiteral("-f"), QString::number(page), QStringLiteral("-l"), QString::number(page)};
    if (layout)
        args << QStringLiteral("-layout");
    args << pdf << QStringLiteral("-");
    return QString::fromUtf8(run(args, {}, QStandardPaths::findExecutable(QStringLiteral("pdftotext"))).out);
}

// A safetensors file with `count` small float32 tensors "blocks.N.weight": enough rows for a table
// over several pages.
bool writeManyTensors(const QString &path, int count, const QStringList &names = {})
{
    QByteArray header = "{";
    QByteArray payload;
    for (int i = 0; i < count; ++i) {
        const int n = 3 + i % 5;
        const qsizetype begin = payload.size();
        for (int k = 0; k < n; ++k) {
            const float v = float(i) * 0.01f - float(k) * 0.5f;
            payload.append(reinterpret_cast<const char *>(&v), sizeof v);
        }
        if (i)
            header += ',';
        const QString name = i < names.size() ? names[i] : QStringLiteral("blocks.%1.weight").arg(i);
        header += QJsonDocument(QJsonArray{name}).toJson(QJsonDocument::Compact).mid(1).chopped(1)
            + QStringLiteral(":{\"dtype\":\"F32\",\"shape\":[%1],\"data_offsets\":[%2,%3]}")
                  .arg(n).arg(begin).arg(payload.size()).toUtf8();
    }
    header += '}';
    while (header.size() % 8)
        header += ' ';
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    const quint64 length = quint64(header.size());
    char le[8];
    for (int b = 0; b < 8; ++b)
        le[b] = char((length >> (8 * b)) & 0xff);
    f.write(le, 8);
    f.write(header);
    f.write(payload);
    return f.error() == QFile::NoError;
}

} // namespace

class TestCliReport : public QObject
{
    Q_OBJECT

private slots:
    void everyFormatHoldsEveryKey_data();
    void everyFormatHoldsEveryKey();
    void pdfPagination();
    void comparisonHoldsTorchsMessage_data();
    void comparisonHoldsTorchsMessage();
    void exitCodes();
    void hostileKeysStayText();
};

void TestCliReport::everyFormatHoldsEveryKey_data()
{
    QTest::addColumn<QString>("format");
    for (const char *f : {"html", "md", "json", "csv", "pdf"})
        QTest::addRow("%s", f) << QString::fromLatin1(f);
}

void TestCliReport::everyFormatHoldsEveryKey()
{
    QFETCH(QString, format);
    if (format == QLatin1String("pdf") && !havePoppler())
        QSKIP("pdftotext/pdfinfo (poppler-utils) are not installed");
    QTemporaryDir dir;
    const QString fixture = data(QStringLiteral("fixtures/cnn_state_dict.pt"));
    // The keys torch listed for the fixture when it was written.
    const QJsonObject expected
        = QJsonDocument::fromJson(readText(data(QStringLiteral("expected/cnn_state_dict.pt.json"))).toUtf8()).object();
    QStringList keys;
    for (const QJsonValue &k : expected[QStringLiteral("state_dict")][QStringLiteral("keys")].toArray())
        keys << k[QStringLiteral("key")].toString();
    QVERIFY(keys.size() >= 7);
    const QString out = dir.filePath(QStringLiteral("report.") + format);
    const Run r = run({QStringLiteral("report"), QStringLiteral("--format"), format, QStringLiteral("-o"), out, fixture});
    QCOMPARE(r.status, QProcess::NormalExit);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY(r.out.isEmpty());
    QVERIFY(!QFileInfo::exists(out + QStringLiteral(".partial")));
    QString text;
    if (format == QLatin1String("pdf")) {
        const int pages = pageCount(out);
        QVERIFY(pages >= 1);
        for (int p = 1; p <= pages; ++p)
            text += pageText(out, p, false);
        text = squeeze(text);
    } else {
        text = readText(out);
    }
    for (const QString &key : keys)
        QVERIFY2(text.contains(format == QLatin1String("pdf") ? squeeze(key) : key), qPrintable(key));
    if (format == QLatin1String("json")) {
        QJsonParseError error;
        QJsonDocument::fromJson(text.toUtf8(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
    }
}

// A table over several pages: every page has the header with the file name and "Page i of N",
// the table's header row repeats, and each row lies whole on one page (one text line holding its
// key, dtype, shape and device).
void TestCliReport::pdfPagination()
{
    if (!havePoppler())
        QSKIP("pdftotext/pdfinfo (poppler-utils) are not installed");
    QTemporaryDir dir;
    constexpr int kTensors = 240;
    QVERIFY(writeManyTensors(dir.filePath(QStringLiteral("many.safetensors")), kTensors));
    const Run r = run({QStringLiteral("report"), QStringLiteral("--format"), QStringLiteral("pdf"), QStringLiteral("-o"),
                       QStringLiteral("many.pdf"), QStringLiteral("many.safetensors")},
                      dir.path());
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QString pdf = dir.filePath(QStringLiteral("many.pdf"));
    const int pages = pageCount(pdf);
    QVERIFY2(pages >= 4, qPrintable(QString::number(pages)));

    QMap<QString, int> rowsPerKey;
    int headerRows = 0;
    const QRegularExpression rowLine(QStringLiteral("^\\s*(blocks\\.\\d+\\.weight)\\s+float32\\s+\\[(\\d+)\\]\\s+(\\d+)\\s.*\\scpu\\s"));
    for (int p = 1; p <= pages; ++p) {
        const QString text = pageText(pdf, p, true);
        const QStringList lines = text.split(QLatin1Char('\n'));
        QVERIFY2(lines.value(0).contains(QLatin1String("many.safetensors")), qPrintable(QStringLiteral("page %1").arg(p)));
        QVERIFY2(text.contains(QStringLiteral("Page %1 of %2").arg(p).arg(pages)), qPrintable(QString::number(p)));
        for (const QString &line : lines) {
            const auto m = rowLine.match(line);
            if (m.hasMatch()) {
                QCOMPARE(m.captured(2), m.captured(3)); // shape [n] and numel n on the same line
                ++rowsPerKey[m.captured(1)];
            }
            if (QRegularExpression(QStringLiteral("^\\s*key\\s+dtype\\s+shape\\s+numel")).match(line).hasMatch())
                ++headerRows;
        }
    }
    QCOMPARE(rowsPerKey.size(), kTensors);
    for (auto it = rowsPerKey.cbegin(); it != rowsPerKey.cend(); ++it)
        QVERIFY2(it.value() == 1, qPrintable(it.key()));
    QVERIFY2(headerRows >= 3, qPrintable(QString::number(headerRows))); // the tensor table spans pages

    // Histograms are vector paths, not pictures: the PDF holds no raster image at all.
    const QString pdfimages = QStandardPaths::findExecutable(QStringLiteral("pdfimages"));
    if (!pdfimages.isEmpty()) {
        const Run images = run({QStringLiteral("-list"), pdf}, {}, pdfimages);
        QCOMPARE(images.exitCode, 0);
        QCOMPARE(images.out.trimmed().count('\n'), 1); // the two header lines of the listing only
    }
}

void TestCliReport::comparisonHoldsTorchsMessage_data()
{
    QTest::addColumn<QString>("pair");
    QTest::addColumn<QString>("format");
    for (const char *f : {"html", "md", "json", "pdf"}) {
        QTest::addRow("ddp %s", f) << QStringLiteral("ddp_source") << QString::fromLatin1(f);
        QTest::addRow("changed head %s", f) << QStringLiteral("changed_head") << QString::fromLatin1(f);
    }
}

void TestCliReport::comparisonHoldsTorchsMessage()
{
    QFETCH(QString, pair);
    QFETCH(QString, format);
    if (format == QLatin1String("pdf") && !havePoppler())
        QSKIP("pdftotext/pdfinfo (poppler-utils) are not installed");
    const QJsonObject expected = QJsonDocument::fromJson(readText(data(QStringLiteral("diff/expected.json"))).toUtf8())
                                     .object()[QStringLiteral("pairs")][pair]
                                     .toObject();
    const QString source = data(QStringLiteral("diff/") + expected[QStringLiteral("source")].toString());
    const QString target
        = data(QStringLiteral("diff/") + expected[QStringLiteral("targets")][QStringLiteral("state_dict")].toString());
    QTemporaryDir dir;
    const QString out = dir.filePath(QStringLiteral("cmp.") + format);
    const Run r = run({QStringLiteral("report"), QStringLiteral("-f"), format, QStringLiteral("-o"), out, source, target});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QStringList lines;
    for (const QJsonValue &l : expected[QStringLiteral("strict")][QStringLiteral("lines")].toArray())
        lines << l.toString();
    QVERIFY(!lines.isEmpty());
    QString text;
    if (format == QLatin1String("pdf")) {
        for (int p = 1, n = pageCount(out); p <= n; ++p)
            text += pageText(out, p, false);
        text = squeeze(text);
        for (const QString &line : lines)
            QVERIFY2(text.contains(squeeze(line)), qPrintable(line));
        return;
    }
    text = readText(out);
    if (format == QLatin1String("json")) {
        const QJsonObject doc = QJsonDocument::fromJson(text.toUtf8()).object();
        QStringList got;
        for (const QJsonValue &l : doc[QStringLiteral("diff")][QStringLiteral("torch_message")].toArray())
            got << l.toString();
        QCOMPARE(got, lines);
        QCOMPARE(doc[QStringLiteral("files")].toArray().size(), 2);
        return;
    }
    if (format == QLatin1String("html")) {
        text.replace(QStringLiteral("&quot;"), QStringLiteral("\""));
        text.replace(QStringLiteral("&#39;"), QStringLiteral("'"));
    }
    for (const QString &line : lines)
        QVERIFY2(text.contains(line.trimmed()), qPrintable(line));
}

void TestCliReport::exitCodes()
{
    QTemporaryDir dir;
    const QString fixture = data(QStringLiteral("fixtures/cnn_state_dict.pt"));
    const QString out = dir.filePath(QStringLiteral("x.html"));
    QCOMPARE(run({QStringLiteral("report"), fixture}).exitCode, 2); // no -o
    QCOMPARE(run({QStringLiteral("report"), QStringLiteral("--format"), QStringLiteral("docx"), QStringLiteral("-o"), out,
                  fixture})
                 .exitCode,
             2);
    QCOMPARE(run({QStringLiteral("report"), QStringLiteral("-o"), dir.filePath(QStringLiteral("x.bin")), fixture}).exitCode,
             2); // no format, none from the extension
    QCOMPARE(run({QStringLiteral("report"), QStringLiteral("-o"), out, fixture, fixture, fixture}).exitCode, 2);
    QVERIFY(!QFileInfo::exists(out));

    // Unreadable input: exit 1, one line on stderr, nothing written.
    const Run bad = run({QStringLiteral("report"), QStringLiteral("-o"), out,
                         data(QStringLiteral("fixtures/error_truncated_zip.pt"))});
    QCOMPARE(bad.exitCode, 1);
    QVERIFY(bad.err.contains("error_truncated_zip.pt"));
    QCOMPARE(bad.err.count('\n'), 1);
    QVERIFY(!QFileInfo::exists(out));
    QVERIFY(!QFileInfo::exists(out + QStringLiteral(".partial")));

    // The format follows the extension; "-" writes a text format to stdout.
    QCOMPARE(run({QStringLiteral("report"), QStringLiteral("-o"), out, fixture}).exitCode, 0);
    QVERIFY(readText(out).startsWith(QLatin1String("<!DOCTYPE html>")));
    const Run csv = run({QStringLiteral("report"), QStringLiteral("-f"), QStringLiteral("csv"), QStringLiteral("-o"),
                         QStringLiteral("-"), fixture});
    QCOMPARE(csv.exitCode, 0);
    QVERIFY(csv.out.startsWith("key,dtype,shape,numel,bytes,device,min,max,mean,std,nan,inf,zeros"));
}

// Keys are data: markup, quotes, separators and line breaks in them never change a document's
// structure in any format.
void TestCliReport::hostileKeysStayText()
{
    const QStringList names = {QStringLiteral("x<script>alert(1)</script>"), QStringLiteral("a&b]]>c"),
                               QStringLiteral("q\"u,o'te"), QStringLiteral("line\nbreak"), QStringLiteral("pipe|key")};
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("hostile.safetensors"));
    QVERIFY(writeManyTensors(file, int(names.size()), names));
    auto report = [&](const QString &format) {
        const QString out = dir.filePath(QStringLiteral("r.") + format);
        const Run r = run({QStringLiteral("report"), QStringLiteral("-f"), format, QStringLiteral("-o"), out, file});
        return r.exitCode == 0 ? readText(out) : QString();
    };

    // HTML: well-formed, one script element (ours), every key back as the text of a table cell.
    QXmlStreamReader xml(report(QStringLiteral("html")));
    int scripts = 0;
    QStringList cells;
    QString cell;
    bool inCell = false;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement() && xml.name() == QLatin1String("script"))
            ++scripts;
        if (xml.isStartElement() && xml.name() == QLatin1String("td")) {
            inCell = true;
            cell.clear();
        } else if (xml.isEndElement() && xml.name() == QLatin1String("td")) {
            inCell = false;
            cells << cell;
        } else if (xml.isCharacters() && inCell) {
            cell += xml.text();
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(scripts, 1);
    for (const QString &name : names)
        QVERIFY2(cells.contains(name), qPrintable(name));

    // CSV: the same keys, read back exactly by an RFC 4180 reader.
    const QString csv = report(QStringLiteral("csv"));
    QStringList keys;
    QString field;
    bool quoted = false, first = true;
    int line = 0;
    for (qsizetype i = 0; i < csv.size(); ++i) {
        const QChar c = csv[i];
        if (quoted) {
            if (c == QLatin1Char('"') && i + 1 < csv.size() && csv[i + 1] == QLatin1Char('"'))
                field += csv[++i];
            else if (c == QLatin1Char('"'))
                quoted = false;
            else
                field += c;
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',') || c == QLatin1Char('\n')) {
            if (first && line > 0)
                keys << field;
            first = c == QLatin1Char('\n');
            line += c == QLatin1Char('\n');
            field.clear();
        } else if (c != QLatin1Char('\r')) {
            field += c;
        }
    }
    QCOMPARE(keys, names);

    // Markdown: every table row has as many cells as its header.
    const QStringList md = report(QStringLiteral("md")).split(QLatin1Char('\n'));
    qsizetype columns = -1;
    for (const QString &l : md) {
        if (!l.startsWith(QLatin1Char('|'))) {
            columns = -1;
            continue;
        }
        const qsizetype n = QString(l).remove(QStringLiteral("\\|")).count(QLatin1Char('|'));
        if (columns < 0)
            columns = n;
        QVERIFY2(n == columns, qPrintable(l));
    }

    // JSON: parses, and the keys come back as they are.
    const QJsonObject doc = QJsonDocument::fromJson(report(QStringLiteral("json")).toUtf8()).object();
    QStringList jsonKeys;
    for (const QJsonValue &t : doc[QStringLiteral("files")][0][QStringLiteral("stats")][QStringLiteral("tensors")].toArray())
        jsonKeys << t[QStringLiteral("key")].toString();
    QCOMPARE(jsonKeys, names);
}

QTEST_GUILESS_MAIN(TestCliReport)
#include "tst_cli_report.moc"
