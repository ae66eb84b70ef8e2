// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compute_backend.h"
#include "main_window.h"
#include "models/model_roles.h"
#include "models/object_tree_model.h"
#include "models/tensor_tree_model.h"
#include "models/tree_filter_proxy.h"
#include "plots/histogram_plot.h"

#include "tensor_stats.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMimeData>
#include <QProgressBar>
#include <QToolButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QTreeView>
#include <QUrl>

using namespace ptscope;

namespace {
const QString kSample = QStringLiteral(PTSCOPE_SAMPLES_DIR "/sample_training_checkpoint.pt");
}

class TestMainWindow : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("ptscope-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_main_window"));
    }

    void init() { QSettings().clear(); }

    void loadingFillsTheModels()
    {
        ui::MainWindow window;
        QAbstractItemModelTester tensorTester(window.tensorProxy(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester objectTester(window.objectModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        QVERIFY(window.checkpoint());
        QCOMPARE(window.tensorModel()->rowCount(), 5);
        QVERIFY(window.objectModel()->rowCount() >= 1);
        QVERIFY(window.windowTitle().contains(QStringLiteral("sample_training_checkpoint.pt")));
        // Statistics fill in afterwards, in the background.
        const QModelIndex fcWeight = window.tensorModel()->indexForKey(QStringLiteral("fc.weight"));
        const QModelIndex mean = fcWeight.sibling(fcWeight.row(), ui::TensorTreeModel::Mean);
        QTRY_VERIFY_WITH_TIMEOUT(!mean.data().toString().isEmpty(), 10000);
        QTRY_VERIFY(!window.isBusy());
        // The file went into the recent list.
        QCOMPARE(QSettings().value(QStringLiteral("recentFiles")).toStringList().value(0), kSample);
        // The sample references argparse.Namespace: the banner says so.
        auto *banner = window.findChild<QLabel *>(QStringLiteral("securityBanner"));
        QVERIFY(banner);
        QVERIFY(!banner->isHidden());
        QVERIFY(banner->text().contains(QStringLiteral("argparse.Namespace")));
        QCOMPARE(banner->property("verdict").toString(), QStringLiteral("suspicious"));
    }

    void statusBarNamesTheBackend()
    {
        // The status bar says which backend the statistics jobs use, and why not the GPU when not.
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        auto *label = window.findChild<QLabel *>(QStringLiteral("backendLabel"));
        QVERIFY(label);
        const QString text = label->text();
        QCOMPARE(text, ui::computeBackendDescription());
        if (text.startsWith(QStringLiteral("CPU backend")))
            QVERIFY2(label->toolTip().startsWith(QStringLiteral("no GPU: ")), qPrintable(label->toolTip()));
        else
            QVERIFY2(text.startsWith(QStringLiteral("CUDA backend: ")) && label->toolTip().isEmpty(), qPrintable(text));
        QTRY_VERIFY(!window.isBusy());
    }

    void securityBannerFollowsTheScan_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("verdict");
        QTest::addColumn<QString>("mentions");
        const QString dir = QStringLiteral(PTSCOPE_TEST_DATA_DIR "/security/");
        QTest::newRow("state_dict") << dir + QStringLiteral("state_dict.pt") << QString() << QString();
        QTest::newRow("os.system") << dir + QStringLiteral("reduce_os_system.pt") << QStringLiteral("dangerous")
                                   << QStringLiteral("posix.system");
        QTest::newRow("eval") << dir + QStringLiteral("reduce_eval.pt") << QStringLiteral("dangerous")
                              << QStringLiteral(".eval");
        QTest::newRow("whole model") << dir + QStringLiteral("whole_model.pt") << QStringLiteral("suspicious")
                                     << QStringLiteral("add_safe_globals");
    }

    void securityBannerFollowsTheScan()
    {
        // The banner shows the scan's verdict: nothing for plain tensors, red for code execution.
        QFETCH(QString, file);
        QFETCH(QString, verdict);
        QFETCH(QString, mentions);
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(file);
        QTRY_COMPARE(opened.count(), 1);
        auto *banner = window.findChild<QLabel *>(QStringLiteral("securityBanner"));
        QVERIFY(banner);
        QCOMPARE(banner->isHidden(), verdict.isEmpty());
        if (verdict.isEmpty())
            return;
        QCOMPARE(banner->property("verdict").toString(), verdict);
        QVERIFY2(banner->text().contains(mentions), qPrintable(banner->text()));
        QTRY_VERIFY(!window.isBusy());
    }

    void filterBoxFilters()
    {
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        auto *filter = window.findChild<QLineEdit *>(QStringLiteral("filterEdit"));
        QVERIFY(filter);
        QTest::keyClicks(filter, QStringLiteral("fc."));
        QTRY_COMPARE(window.tensorProxy()->rowCount(), 1);
        QCOMPARE(window.tensorProxy()->index(0, 0).data().toString(), QStringLiteral("fc"));
        filter->clear();
        QTRY_COMPARE(window.tensorProxy()->rowCount(), 5);
        QTest::keyClicks(filter, QStringLiteral("int64"));
        QTRY_COMPARE(window.tensorProxy()->rowCount(), 3); // bn1, layer1, layer2
    }

    void selectionDrivesDetailsAndPlot()
    {
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        QTRY_VERIFY(!window.isBusy());
        auto *details = window.findChild<QTextBrowser *>(QStringLiteral("detailsView"));
        auto *plot = window.findChild<ui::HistogramPlot *>(QStringLiteral("histogramPlot"));
        QVERIFY(details && plot);

        QSignalSpy shown(&window, &ui::MainWindow::histogramShown);
        QVERIFY(window.selectKey(QStringLiteral("fc.weight")));
        QTRY_COMPARE(shown.count(), 1);
        QVERIFY(details->toPlainText().contains(QStringLiteral("fc.weight")));
        QVERIFY(details->toPlainText().contains(QStringLiteral("[10, 32]")));
        QVERIFY(details->toPlainText().contains(QStringLiteral("Statistics")));
        QCOMPARE(plot->barCount(), plot->bins());

        // Changing the bin count asks the core for new bins.
        plot->setBins(16);
        QTRY_COMPARE(shown.count(), 2);
        QCOMPARE(plot->barCount(), 16);
        // Log counts and the log-magnitude axis only redraw what the core already sent.
        plot->setLogMagnitude(true);
        plot->setLogCounts(true);
        QCOMPARE(plot->barCount(), 16);
        QCOMPARE(shown.count(), 2);
        plot->setLogMagnitude(false);
        plot->setLogCounts(false);

        // A group: totals in the details, the histogram over all its tensors.
        QVERIFY(window.selectKey(QStringLiteral("layer2")));
        QTRY_COMPARE(shown.count(), 3);
        QVERIFY(details->toPlainText().contains(QStringLiteral("14,723")));

        // The object tree: non-tensor values show their content.
        auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs"));
        auto *objects = window.findChild<QTreeView *>(QStringLiteral("objectView"));
        tabs->setCurrentIndex(1);
        const QModelIndex root = objects->model()->index(0, 0);
        QModelIndex args;
        for (int r = 0; r < objects->model()->rowCount(root); ++r) {
            if (objects->model()->index(r, 0, root).data().toString() == QStringLiteral("args"))
                args = objects->model()->index(r, 0, root);
        }
        QVERIFY(args.isValid());
        objects->setCurrentIndex(args);
        QVERIFY2(details->toPlainText().contains(QStringLiteral("tiny_resnet")), qPrintable(details->toPlainText()));
    }

    void perTensorOverlaysShareTheGroupsBins()
    {
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        QTRY_VERIFY(!window.isBusy());
        auto *plot = window.findChild<ui::HistogramPlot *>(QStringLiteral("histogramPlot"));
        auto *perTensor = window.findChild<QCheckBox *>(QStringLiteral("perTensorCheck"));
        QVERIFY(plot && perTensor);
        QVERIFY(!perTensor->isChecked());

        QSignalSpy shown(&window, &ui::MainWindow::histogramShown);
        QSignalSpy overlaid(&window, &ui::MainWindow::overlaysShown);
        QVERIFY(window.selectKey(QStringLiteral("bn1")));
        QTRY_COMPARE(shown.count(), 1);
        QCOMPARE(plot->overlayGraphCount(), 0); // off: the aggregate bars only

        perTensor->setChecked(true);
        QTRY_COMPARE(overlaid.count(), 1);
        QTRY_VERIFY(!window.isBusy());

        // What the core says, asked directly: bn1's tensors, the aggregate, then each on its range.
        const auto &cp = *window.checkpoint();
        std::vector<std::uint32_t> tensors;
        QStringList names;
        for (const auto &e : cp.stateDict.entries) {
            const QString key = QString::fromStdString(e.key);
            if (e.tensor >= 0 && key.startsWith(QStringLiteral("bn1."))) {
                tensors.push_back(std::uint32_t(e.tensor));
                names << key.mid(4);
            }
        }
        QVERIFY(tensors.size() > 2);
        QVERIFY(int(tensors.size()) <= ui::HistogramPlot::kMaxOverlays);
        core::StatsRequest request;
        request.bins = std::uint32_t(plot->bins());
        const auto aggregate = core::computeStats(cp, tensors, request);
        QVERIFY(aggregate);
        request.range = core::histcRange(aggregate.value().min, aggregate.value().max);

        QCOMPARE(plot->overlayGraphCount(), int(tensors.size()));
        QCOMPARE(plot->legendNames(), names);
        QVERIFY(plot->overlayNote().isEmpty()); // not capped
        const auto &overlays = plot->overlays();
        QCOMPARE(overlays.size(), tensors.size());
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const auto expected = core::computeStats(cp, {tensors[i]}, request);
            QVERIFY(expected);
            const core::Histogram &h = overlays[i].histogram;
            QCOMPARE(overlays[i].name, names[qsizetype(i)]);
            // Shared bin edges: those of the aggregate.
            QCOMPARE(h.counts.size(), std::size_t(plot->bins()));
            QCOMPARE(h.min, aggregate.value().histogram.min);
            QCOMPARE(h.max, aggregate.value().histogram.max);
            std::uint64_t sum = 0;
            for (std::uint64_t c : h.counts)
                sum += c;
            QCOMPARE(sum, expected.value().finiteCount);
            QCOMPARE(h.counts, expected.value().histogram.counts);
        }

        // Log counts redraw the same overlays; the log-magnitude axis is aggregate-only.
        plot->setLogCounts(true);
        QCOMPARE(plot->overlayGraphCount(), int(tensors.size()));
        plot->setLogMagnitude(true);
        QVERIFY(!perTensor->isEnabled());
        QVERIFY(!perTensor->toolTip().isEmpty());
        QCOMPARE(plot->overlayGraphCount(), 0);
        plot->setLogMagnitude(false);
        QVERIFY(perTensor->isEnabled());
        QCOMPARE(plot->overlayGraphCount(), int(tensors.size()));
        plot->setLogCounts(false);

        // A single tensor ignores the checkbox.
        QVERIFY(window.selectKey(QStringLiteral("fc.weight")));
        QTRY_COMPARE(shown.count(), 2);
        QTRY_VERIFY(!window.isBusy());
        QCOMPARE(plot->overlayGraphCount(), 0);
        QCOMPARE(overlaid.count(), 1);

        // A bigger group is capped at the largest tensors and says so; the setting is remembered.
        QVERIFY(window.selectKey(QStringLiteral("layer1")));
        QTRY_COMPARE(overlaid.count(), 2);
        const int inLayer1 = int(window.tensorModel()->tensorsBelow(
                                         window.tensorModel()->indexForKey(QStringLiteral("layer1")))
                                     .size());
        QCOMPARE(plot->overlayGraphCount(), std::min(inLayer1, ui::HistogramPlot::kMaxOverlays));
        if (inLayer1 > ui::HistogramPlot::kMaxOverlays)
            QVERIFY2(plot->overlayNote().contains(QStringLiteral("8 of %1 largest shown").arg(inLayer1)),
                     qPrintable(plot->overlayNote()));
        window.close();
        QCOMPARE(QSettings().value(QStringLiteral("histogram/perTensor")).toBool(), true);
    }

    void dropOpensFiles()
    {
        QTemporaryDir dir;
        const QString text = dir.filePath(QStringLiteral("notes.txt"));
        const QString copy = dir.filePath(QStringLiteral("dropped.pt"));
        QFile(text).open(QIODevice::WriteOnly);
        QVERIFY(QFile::copy(kSample, copy));

        ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);

        QMimeData rejected;
        rejected.setUrls({QUrl::fromLocalFile(text)});
        QDragEnterEvent enterRejected(QPoint(50, 50), Qt::CopyAction, &rejected, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enterRejected);
        QVERIFY(!enterRejected.isAccepted());

        QMimeData accepted;
        accepted.setUrls({QUrl::fromLocalFile(copy)});
        QDragEnterEvent enterAccepted(QPoint(50, 50), Qt::CopyAction, &accepted, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enterAccepted);
        QVERIFY(enterAccepted.isAccepted());
        QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &accepted, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        QVERIFY(drop.isAccepted());
        QTRY_COMPARE(opened.count(), 1);
        QCOMPARE(opened.at(0).at(0).toString(), copy);
        QCOMPARE(window.tensorModel()->rowCount(), 5);
    }

    void droppedFolderOpensItsCheckpoint()
    {
        // transformers' save_pretrained folder: three safetensors shards and their index.
        const QString folder = QStringLiteral(PTSCOPE_TEST_DATA_DIR "/torch-2.14/fixtures/hf_gpt2");
        ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(folder + QLatin1Char('/'))});
        QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        QVERIFY(drop.isAccepted());
        QTRY_COMPARE(opened.count(), 1);
        QCOMPARE(opened.at(0).at(0).toString(), folder);
        QVERIFY(window.windowTitle().startsWith(QStringLiteral("hf_gpt2")));
        // Keys from all three shards, e.g. the first layer's attention and the final LayerNorm.
        QVERIFY(window.tensorModel()->indexForKey(QStringLiteral("transformer.h.0.attn.c_attn.weight")).isValid());
        QVERIFY(window.tensorModel()->indexForKey(QStringLiteral("transformer.ln_f.weight")).isValid());
        QVERIFY(window.checkpoint());
        QCOMPARE(window.checkpoint()->stateDict.entries.size(), std::size_t(28));
    }

    void ambiguousFolderSaysWhatIsThere()
    {
        QTemporaryDir dir;
        QVERIFY(QFile::copy(kSample, dir.filePath(QStringLiteral("first.pt"))));
        QVERIFY(QFile::copy(kSample, dir.filePath(QStringLiteral("second.pt"))));
        ui::MainWindow window;
        QSignalSpy failed(&window, &ui::MainWindow::openFailed);
        window.openFile(dir.path());
        QTRY_COMPARE(failed.count(), 1);
        const QString error = failed.at(0).at(1).toString();
        QVERIFY2(error.contains(QStringLiteral("first.pt")) && error.contains(QStringLiteral("second.pt")),
                 qPrintable(error));
        QVERIFY(!window.checkpoint());
    }

    void unreadableFileShowsAMessage()
    {
        QTemporaryDir dir;
        const QString bad = dir.filePath(QStringLiteral("broken.pt"));
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n");
        f.close();

        ui::MainWindow window;
        QSignalSpy failed(&window, &ui::MainWindow::openFailed);
        window.openFile(bad);
        QTRY_COMPARE(failed.count(), 1);
        auto *message = window.findChild<QLabel *>(QStringLiteral("messageLabel"));
        QVERIFY(message->isVisibleTo(&window));
        QVERIFY(message->text().contains(QStringLiteral("broken.pt")));
        QVERIFY(!window.checkpoint());

        window.openFile(dir.filePath(QStringLiteral("missing.pt")));
        QTRY_COMPARE(failed.count(), 2);
        QVERIFY(message->text().contains(QStringLiteral("missing.pt")));
    }

    void recentFilesAndCancel()
    {
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(kSample);
        QTRY_COMPARE(opened.count(), 1);
        auto *recent = window.findChild<QMenu *>(QStringLiteral("recentMenu"));
        QVERIFY(recent);
        QCOMPARE(recent->actions().first()->data().toString(), kSample);

        // Cancel stops the background statistics and hides the progress bar and the button.
        window.cancelWork();
        QTRY_VERIFY(!window.isBusy());
        QTRY_VERIFY(window.findChild<QProgressBar *>(QStringLiteral("progressBar"))->isHidden());
        QVERIFY(window.findChild<QToolButton *>(QStringLiteral("cancelButton"))->isHidden());

        // Re-opening from the recent menu goes through the same path.
        recent->actions().first()->trigger();
        QTRY_COMPARE(opened.count(), 2);
    }

    void bundledSamplesOpen()
    {
        const QStringList samples = ui::MainWindow::samplePaths();
        QCOMPARE(samples.size(), 2);
        ui::MainWindow window;
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        for (const QString &sample : samples)
            window.openFile(sample);
        QTRY_COMPARE(opened.count(), 1); // the first request was superseded by the second
        QCOMPARE(opened.at(0).at(0).toString(), samples.last());
        QTRY_VERIFY(!window.isBusy());
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
