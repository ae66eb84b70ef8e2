// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// File > Export…: the report is built and written off the GUI thread, in every format.
#include "checkpoint.h"

#include "compare_view.h"
#include "export_dialog.h"
#include "main_window.h"

#include <QAction>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

using ptscope::ui::ExportDialog;

class TestExportDialog : public QObject
{
    Q_OBJECT

private slots:
    void exportsEveryFormat_data();
    void exportsEveryFormat();
    void mainWindowHasTheAction();
    void comparisonFromTheComparePage();
};

void TestExportDialog::exportsEveryFormat_data()
{
    QTest::addColumn<int>("format");
    QTest::addColumn<QByteArray>("start");
    QTest::addRow("html") << int(ExportDialog::Format::Html) << QByteArray("<!DOCTYPE html>");
    QTest::addRow("pdf") << int(ExportDialog::Format::Pdf) << QByteArray("%PDF");
    QTest::addRow("markdown") << int(ExportDialog::Format::Markdown) << QByteArray("# ptscope report");
    QTest::addRow("json") << int(ExportDialog::Format::Json) << QByteArray("{");
    QTest::addRow("csv") << int(ExportDialog::Format::Csv) << QByteArray("key,dtype,shape");
}

void TestExportDialog::exportsEveryFormat()
{
    QFETCH(int, format);
    QFETCH(QByteArray, start);
    const QString sample = QStringLiteral(PTSCOPE_SAMPLES_DIR "/sample_training_checkpoint.pt");
    auto cp = ptscope::core::openCheckpoint(sample.toStdString());
    QVERIFY(cp.ok());
    ExportDialog dialog(*cp, sample);
    QSignalSpy ready(&dialog, &ExportDialog::reportReady);
    QVERIFY(ready.wait(60000));
    QVERIFY(dialog.isReady());
    auto *preview = dialog.findChild<QTextBrowser *>(QStringLiteral("previewBrowser"));
    QVERIFY(preview);
    dialog.setFormat(ExportDialog::Format(format));
    // The preview shows the chosen format's content: the first state_dict key is in all of them.
    const QString firstKey = QString::fromStdString((*cp)->stateDict.entries.front().key);
    QVERIFY2(preview->toPlainText().contains(firstKey), qPrintable(firstKey));

    QTemporaryDir dir;
    const QString out = dir.filePath(QStringLiteral("report.") + ExportDialog::suffix(ExportDialog::Format(format)));
    QSignalSpy exported(&dialog, &ExportDialog::exported);
    dialog.exportTo(out);
    QVERIFY(exported.wait(60000));
    QCOMPARE(exported.at(0).at(0).toString(), out);
    QCOMPARE(exported.at(0).at(1).toString(), QString());
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray bytes = f.readAll();
    QVERIFY2(bytes.startsWith(start), bytes.left(40).constData());
    if (format != int(ExportDialog::Format::Pdf))
        QVERIFY(bytes.contains(firstKey.toUtf8()));
    QVERIFY(!QFile::exists(out + QStringLiteral(".partial")));
}

void TestExportDialog::mainWindowHasTheAction()
{
    ptscope::ui::MainWindow window;
    auto *action = window.findChild<QAction *>(QStringLiteral("exportAction"));
    QVERIFY(action);
    // Without a checkpoint there is nothing to report: no dialog opens.
    action->trigger();
    QVERIFY(!window.findChild<ExportDialog *>());
    QSignalSpy opened(&window, &ptscope::ui::MainWindow::fileOpened);
    window.openFile(QStringLiteral(PTSCOPE_SAMPLES_DIR "/sample_ddp_state_dict.pt"));
    QVERIFY(opened.wait(30000));
    action->trigger();
    auto *dialog = window.findChild<ExportDialog *>();
    QVERIFY(dialog);
    QSignalSpy ready(dialog, &ExportDialog::reportReady);
    QVERIFY(ready.wait(60000));
    dialog->close();
}

void TestExportDialog::comparisonFromTheComparePage()
{
    // File > Export… on the compare page exports the comparison: torch's verdict and every key's status.
    const QString dir = QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/");
    const QString source = dir + QStringLiteral("src_ddp_source.pt");
    QVERIFY(QFile::exists(source));
    ptscope::ui::MainWindow window;
    QSignalSpy compared(window.findChild<ptscope::ui::CompareView *>(), &ptscope::ui::CompareView::compared);
    window.compareFiles(source, QStringLiteral(PTSCOPE_SAMPLES_DIR "/sample_training_checkpoint.pt"));
    QVERIFY(compared.wait(60000));
    auto *action = window.findChild<QAction *>(QStringLiteral("exportAction"));
    QVERIFY(action);
    action->trigger();
    auto *dialog = window.findChild<ExportDialog *>();
    QVERIFY(dialog);
    QVERIFY(dialog->windowTitle().contains(QStringLiteral("src_ddp_source.pt")));
    QSignalSpy ready(dialog, &ExportDialog::reportReady);
    QVERIFY(dialog->isReady() || ready.wait(60000));
    dialog->setFormat(ExportDialog::Format::Json);
    QTemporaryDir tmp;
    const QString out = tmp.filePath(QStringLiteral("comparison.json"));
    QSignalSpy exported(dialog, &ExportDialog::exported);
    dialog->exportTo(out);
    QVERIFY(exported.wait(60000));
    QCOMPARE(exported.at(0).at(1).toString(), QString());
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject root = QJsonDocument::fromJson(f.readAll()).object();
    QCOMPARE(root[QStringLiteral("report")][QStringLiteral("kind")].toString(), QStringLiteral("comparison"));
    QVERIFY(root[QStringLiteral("diff")].isObject());
    // The DDP source's keys all carry "module.": strict loading fails.
    QCOMPARE(root[QStringLiteral("diff")][QStringLiteral("strict_ok")].toBool(true), false);
}

QTEST_MAIN(TestExportDialog)
#include "tst_export_dialog.moc"
