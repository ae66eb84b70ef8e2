// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The compare page: its model shows, row for row, what the core's load_state_dict emulation says
// (and what torch 1.13 said for the diff fixtures), the problems filter, previewing a fix, opening
// two files through the window, and the value comparison coming back from its worker.
#include "about_dialog.h"
#include "compare_view.h"
#include "explanation_panel.h"
#include "main_window.h"
#include "models/compare_filter_proxy.h"
#include "models/compare_model.h"
#include "models/core_compare.h"
#include "plots/compare_plot.h"

#include "checkpoint.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QGuiApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QTimer>
#include <QMimeData>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeView>
#include <QUrl>

using namespace ptscope;

namespace {

QString diff(const QString &file)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/diff/") + file;
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &x : v.toArray())
        out << x.toString();
    return out;
}

// Keys (full dotted keys) of the rows shown with `status`, in display order.
QStringList keysWith(const QAbstractItemModel &model, core::KeyStatus status, const QModelIndex &parent = {})
{
    QStringList out;
    for (int r = 0; r < model.rowCount(parent); ++r) {
        const QModelIndex i = model.index(r, 0, parent);
        const QVariant s = i.data(ui::CompareModel::StatusRole);
        if (s.isValid() && s.toInt() == int(status))
            out << i.data(ui::CompareModel::FullKeyRole).toString();
        out << keysWith(model, status, i);
    }
    return out;
}

int keyRows(const QAbstractItemModel &model, const QModelIndex &parent = {})
{
    int n = 0;
    for (int r = 0; r < model.rowCount(parent); ++r) {
        const QModelIndex i = model.index(r, 0, parent);
        n += i.data(ui::CompareModel::AlignedRole).toInt() >= 0 ? 1 : 0;
        n += keyRows(model, i);
    }
    return n;
}

std::shared_ptr<const ui::CompareData> compareData(const QString &source, const QString &target,
                                                   core::TorchRules rules)
{
    auto src = core::openCheckpoint(source.toStdString());
    if (!src)
        return nullptr;
    auto sd = core::sourceFromCheckpoint(**src);
    core::Result<core::ModelStructure> model = target.endsWith(QLatin1String(".json"))
        ? core::modelFromManifest(target.toStdString())
        : core::Result<core::ModelStructure>(core::makeError(core::ErrorCode::FileNotFound, "unused"));
    std::shared_ptr<const core::Checkpoint> tgt;
    if (!target.endsWith(QLatin1String(".json"))) {
        auto t = core::openCheckpoint(target.toStdString());
        if (!t)
            return nullptr;
        tgt = *t;
        model = core::modelFromCheckpoint(*tgt);
    }
    if (!sd || !model)
        return nullptr;
    auto data = std::make_shared<ui::CompareData>();
    data->model = *model;
    data->source = *sd;
    data->outcome = core::emulateLoadStateDict(data->model, data->source, rules);
    data->keys = core::alignKeys(data->model, data->source, data->outcome);
    return data;
}

int suggestionIndex(const core::DiffReport &report, const char *kind)
{
    for (std::size_t i = 0; i < report.suggestions.size(); ++i)
        if (report.suggestions[i].kind == kind)
            return int(i);
    return -1;
}

} // namespace

class TestCompare : public QObject
{
    Q_OBJECT

private:
    QJsonObject m_pairs;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("ptscope-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_compare"));
        QFile f(diff(QStringLiteral("expected.json")));
        QVERIFY(f.open(QIODevice::ReadOnly));
        m_pairs = QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("pairs")].toObject();
        QVERIFY(m_pairs.size() >= 30);
    }

    void init() { QSettings().clear(); }

    void modelRowsAreTorchsVerdict_data()
    {
        QTest::addColumn<QString>("pair");
        for (auto it = m_pairs.begin(); it != m_pairs.end(); ++it)
            if (it.value().toObject()[QStringLiteral("non_strict")].toObject()[QStringLiteral("ok")].toBool())
                QTest::newRow(qPrintable(it.key())) << it.key();
    }

    // Every key of both sides is one row; the rows marked missing and unexpected are what torch's
    // strict=False returned; a row one side lacks is blank on that side.
    void modelRowsAreTorchsVerdict()
    {
        QFETCH(QString, pair);
        const QJsonObject rec = m_pairs[pair].toObject();
        auto data = compareData(diff(rec[QStringLiteral("source")].toString()),
                                diff(rec[QStringLiteral("targets")].toObject()[QStringLiteral("manifest")].toString()),
                                core::TorchRules::Torch1_13);
        QVERIFY(data);
        ui::CompareModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setData(data);
        QCOMPARE(keyRows(model), int(data->keys.size()));
        const QJsonObject nonStrict = rec[QStringLiteral("non_strict")].toObject();
        // One row per key; torch lists a key twice where spectral_norm's load hook reports it too.
        QStringList missing = strings(nonStrict[QStringLiteral("missing")]);
        missing.removeDuplicates();
        QCOMPARE(keysWith(model, core::KeyStatus::Missing), missing);
        QCOMPARE(keysWith(model, core::KeyStatus::Unexpected), strings(nonStrict[QStringLiteral("unexpected")]));
        for (const core::AlignedKey &k : data->keys) {
            const QString key = QString::fromStdString(k.key);
            const QModelIndex row = model.indexForKey(key);
            QVERIFY(row.isValid());
            QCOMPARE(row.data(ui::CompareModel::StatusRole).toInt(), int(k.status));
            const QString leaf = key.section(QLatin1Char('.'), -1);
            const QString sourceCell = row.siblingAtColumn(ui::CompareModel::SourceKey).data().toString();
            const QString targetCell = row.siblingAtColumn(ui::CompareModel::TargetKey).data().toString();
            QCOMPARE(sourceCell, k.sourceEntry >= 0 ? leaf : QString());
            QCOMPARE(targetCell, k.inTarget ? leaf : QString());
            QCOMPARE(row.siblingAtColumn(ui::CompareModel::Status).data().toString(),
                     ui::CompareModel::statusText(k.status));
        }
    }

    void shapeMismatchRowsShowBothShapes()
    {
        auto data = compareData(diff(QStringLiteral("src_changed_head.pt")), diff(QStringLiteral("tgt_net5.pt")),
                                core::TorchRules::Torch2);
        QVERIFY(data);
        ui::CompareModel model;
        model.setData(data);
        QCOMPARE(keysWith(model, core::KeyStatus::ShapeMismatch),
                 (QStringList{QStringLiteral("fc.weight"), QStringLiteral("fc.bias")}));
        const QModelIndex fc = model.indexForKey(QStringLiteral("fc.weight"));
        QCOMPARE(fc.siblingAtColumn(ui::CompareModel::SourceShape).data().toString(), QStringLiteral("[10, 4]"));
        QCOMPARE(fc.siblingAtColumn(ui::CompareModel::TargetShape).data().toString(), QStringLiteral("[5, 4]"));
        // Problems are coloured differently from loads.
        const QModelIndex conv = model.indexForKey(QStringLiteral("conv1.weight"));
        QVERIFY(fc.data(Qt::BackgroundRole) != conv.data(Qt::BackgroundRole));
        // The group says what is below it.
        QVERIFY(fc.parent().siblingAtColumn(ui::CompareModel::Status).data().toString().contains(
            ui::CompareModel::statusText(core::KeyStatus::ShapeMismatch)));
    }

    void problemsFilter()
    {
        auto data = compareData(diff(QStringLiteral("src_ema.pt")), diff(QStringLiteral("tgt_net.pt")),
                                core::TorchRules::Torch2);
        QVERIFY(data);
        ui::CompareModel model;
        model.setData(data);
        ui::CompareFilterProxy proxy;
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        QCOMPARE(keyRows(proxy), int(data->keys.size()));
        proxy.setProblemsOnly(true);
        // Only the EMA copies are left: every one is unexpected, and nothing that loads is shown.
        QStringList unexpected;
        for (const std::string &k : data->outcome.unexpectedKeys)
            unexpected << QString::fromStdString(k);
        QVERIFY(!unexpected.isEmpty());
        QCOMPARE(keysWith(proxy, core::KeyStatus::Unexpected), unexpected);
        QCOMPARE(keysWith(proxy, core::KeyStatus::Matched), QStringList{});
        QCOMPARE(keyRows(proxy), int(unexpected.size()));
        // The key filter narrows further, on the full key.
        proxy.setFilterText(QStringLiteral("ema bn1 running"));
        QCOMPARE(keysWith(proxy, core::KeyStatus::Unexpected),
                 (QStringList{QStringLiteral("model_ema.bn1.running_mean"), QStringLiteral("model_ema.bn1.running_var")}));
        proxy.setProblemsOnly(false);
        proxy.setFilterText(QStringLiteral("conv1."));
        QCOMPARE(keyRows(proxy), 4); // conv1.weight/bias and their EMA copies
    }

    // Applying the suggested prefix fix re-runs the emulation on the fixed keys: the verdict and
    // the rows change, the files do not; Back returns to the files' own verdict.
    void previewingAPrefixFixChangesTheVerdict()
    {
        ui::CompareView view;
        QSignalSpy compared(&view, &ui::CompareView::compared);
        view.compare(diff(QStringLiteral("src_ddp_source.pt")), diff(QStringLiteral("tgt_net.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QVERIFY(!view.shownOutcome()->strictOk());
        QVERIFY(view.explanation()->verdictText().contains(QStringLiteral("would raise")));
        QVERIFY(view.explanation()->torchMessage().contains(QStringLiteral("Missing key(s) in state_dict")));
        QVERIFY(!keysWith(*view.model(), core::KeyStatus::Missing).isEmpty());
        const int strip = suggestionIndex(*view.report(), "strip_prefix");
        QVERIFY(strip >= 0);
        auto *button = view.explanation()->findChild<QPushButton *>(QStringLiteral("previewButton%1").arg(strip));
        QVERIFY(button && button->isEnabled());
        QTest::mouseClick(button, Qt::LeftButton);
        QCOMPARE(compared.count(), 2);
        QCOMPARE(view.previewing(), strip);
        QVERIFY(view.shownOutcome()->strictOk());
        QVERIFY(view.explanation()->verdictText().contains(QStringLiteral("would succeed")));
        QCOMPARE(keysWith(*view.model(), core::KeyStatus::Missing), QStringList{});
        QCOMPARE(keysWith(*view.model(), core::KeyStatus::Unexpected), QStringList{});
        QVERIFY(keysWith(*view.model(), core::KeyStatus::Matched).contains(QStringLiteral("conv1.weight")));
        QVERIFY(!view.findChild<QWidget *>(QStringLiteral("previewBanner"))->isHidden());
        // The files themselves still say what they said.
        QVERIFY(!view.report()->outcome.strictOk());
        view.clearPreview();
        QCOMPARE(view.previewing(), -1);
        QVERIFY(!view.shownOutcome()->strictOk());
        QVERIFY(keysWith(*view.model(), core::KeyStatus::Matched).isEmpty());
    }

    // Copy puts the fix's Python on the clipboard; F8 walks the problems; Ctrl+Shift+P hides the rest.
    void copyAndKeyboard()
    {
        ui::CompareView view;
        view.resize(1400, 900);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy compared(&view, &ui::CompareView::compared);
        view.compare(diff(QStringLiteral("src_changed_head.pt")), diff(QStringLiteral("tgt_net5.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QVERIFY(!view.report()->suggestions.empty());
        auto *copy = view.explanation()->findChild<QPushButton *>(QStringLiteral("copyButton0"));
        QVERIFY(copy);
        QTest::mouseClick(copy, Qt::LeftButton);
        QCOMPARE(QGuiApplication::clipboard()->text(), QString::fromStdString(view.report()->suggestions[0].code));

        auto *tree = view.findChild<QTreeView *>(QStringLiteral("compareSourceView"));
        QVERIFY(tree);
        tree->setFocus();
        // The page opens on the first problem; F8 goes to the next one, Shift+F8 back.
        QCOMPARE(tree->currentIndex().data(ui::CompareModel::FullKeyRole).toString(), QStringLiteral("fc.weight"));
        QTest::keyClick(tree, Qt::Key_F8);
        QCOMPARE(tree->currentIndex().data(ui::CompareModel::FullKeyRole).toString(), QStringLiteral("fc.bias"));
        QTest::keyClick(tree, Qt::Key_F8, Qt::ShiftModifier);
        QCOMPARE(tree->currentIndex().data(ui::CompareModel::FullKeyRole).toString(), QStringLiteral("fc.weight"));
        auto *problems = view.findChild<QCheckBox *>(QStringLiteral("problemsOnly"));
        QVERIFY(problems && !problems->isChecked());
        QTest::keyClick(tree, Qt::Key_P, Qt::ControlModifier | Qt::ShiftModifier);
        QVERIFY(problems->isChecked());
        QCOMPARE(keyRows(*view.proxy()), 2);
        QTRY_VERIFY(!view.isBusy());
    }

    void rulesAndSwap()
    {
        ui::CompareView view;
        QSignalSpy compared(&view, &ui::CompareView::compared);
        view.setTorchRules(core::TorchRules::Torch1_13);
        view.compare(diff(QStringLiteral("src_dotted_leaf_keys.pt")), diff(QStringLiteral("tgt_net.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QVERIFY(view.shownOutcome()->strictOk()); // what torch 1.13 did
        view.setTorchRules(core::TorchRules::Torch2);
        QTRY_COMPARE(compared.count(), 2);
        QVERIFY(!view.shownOutcome()->strictOk()); // 2.x reports the dotted keys
        QVERIFY(!keysWith(*view.model(), core::KeyStatus::Unexpected).isEmpty());

        const QString source = view.sourcePath();
        const QString target = view.targetPath();
        view.swapSides();
        QTRY_COMPARE(compared.count(), 3);
        QCOMPARE(view.sourcePath(), target);
        QCOMPARE(view.targetPath(), source);
    }

    // What the comparison could not judge is said beside the causes, as the CLI and reports say it:
    // a whole pickled model with quantized layers, whose keys ptscope does not model.
    void notesBesideTheCauses()
    {
        ui::CompareView view;
        QSignalSpy compared(&view, &ui::CompareView::compared);
        view.compare(diff(QStringLiteral("src_quantized_dynamic.pt")), diff(QStringLiteral("tgt_qmlp_dynamic_whole.pt")));
        QTRY_COMPARE(compared.count(), 1);
        const QString causes = view.findChild<QLabel *>(QStringLiteral("causesLabel"))->text();
        QVERIFY2(causes.contains(QStringLiteral("Notes")) && causes.contains(QStringLiteral("'fc1' is a quantized module")),
                 qPrintable(causes));
        QVERIFY(causes.contains(QStringLiteral("Not judged")));
        QVERIFY(keysWith(*view.model(), core::KeyStatus::Unexpected).isEmpty());
    }

    void trainingCheckpointKeys()
    {
        ui::CompareView view;
        QSignalSpy compared(&view, &ui::CompareView::compared);
        view.compare(diff(QStringLiteral("src_training_checkpoint.pt")), diff(QStringLiteral("tgt_net.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QVERIFY(view.shownOutcome()->strictOk()); // the state dict is found under model_state_dict
        // Naming the whole file instead gives what load_state_dict(torch.load(...)) does.
        view.setStateDictKeys(core::ObjectPath{}, std::nullopt);
        QTRY_COMPARE(compared.count(), 2);
        QVERIFY(!view.shownOutcome()->strictOk());
    }

    void valuesComeFromTheWorker()
    {
        ui::CompareView view;
        QSignalSpy compared(&view, &ui::CompareView::compared);
        QSignalSpy values(&view, &ui::CompareView::valuesShown);
        view.compare(diff(QStringLiteral("src_changed_head.pt")), diff(QStringLiteral("tgt_net5.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QTRY_VERIFY(!view.isBusy());
        const int before = values.count();
        QVERIFY(view.selectKey(QStringLiteral("conv1.weight")));
        QTRY_COMPARE(values.count(), before + 1);
        QCOMPARE(view.plot()->overlayBarCount(), 64);
        QCOMPARE(view.plot()->differenceBarCount(), 64);
        const QJsonObject want
            = m_pairs[QStringLiteral("changed_head")].toObject()[QStringLiteral("values")].toObject()[QStringLiteral(
                  "conv1.weight")].toObject();
        const QString label = view.findChild<QLabel *>(QStringLiteral("valuesLabel"))->text();
        QVERIFY2(label.contains(QLocale().toString(want[QStringLiteral("max_abs_diff")].toDouble(), 'g', 4)),
                 qPrintable(label));
        QVERIFY(label.contains(want[QStringLiteral("allclose")].toBool() ? QStringLiteral("<b>yes</b>")
                                                                         : QStringLiteral("<b>no</b>")));
        // A shape mismatch has no element-wise difference: the plot says so, no worker runs.
        QVERIFY(view.selectKey(QStringLiteral("fc.weight")));
        QCOMPARE(view.plot()->overlayBarCount(), 0);
        QVERIFY(!view.isBusy());
    }

    void unreadableFileIsReported()
    {
        QTemporaryDir dir;
        const QString bad = dir.filePath(QStringLiteral("broken.pt"));
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("<html><body>404</body></html>");
        f.close();
        ui::CompareView view;
        QSignalSpy failed(&view, &ui::CompareView::compareFailed);
        view.compare(bad, diff(QStringLiteral("tgt_net.pt")));
        QTRY_COMPARE(failed.count(), 1);
        QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("broken.pt")));
        QVERIFY(view.explanation()->verdictText().contains(QStringLiteral("broken.pt")));
    }

    void windowOpensTwoFiles()
    {
        ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto *stack = window.findChild<QStackedWidget *>();
        QVERIFY(stack);
        QSignalSpy compared(window.compareView(), &ui::CompareView::compared);

        // The API the command line uses.
        window.compareFiles(diff(QStringLiteral("src_changed_head.pt")), diff(QStringLiteral("tgt_net5.pt")));
        QTRY_COMPARE(compared.count(), 1);
        QCOMPARE(stack->currentWidget(), window.compareView());
        QVERIFY(window.windowTitle().contains(QStringLiteral("src_changed_head.pt")));

        // Two files dropped at once.
        QMimeData two;
        two.setUrls({QUrl::fromLocalFile(diff(QStringLiteral("src_ddp_source.pt"))),
                     QUrl::fromLocalFile(diff(QStringLiteral("tgt_net.pt")))});
        QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &two, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &two, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        QTRY_COMPARE(compared.count(), 2);
        QCOMPARE(window.compareView()->sourcePath(), diff(QStringLiteral("src_ddp_source.pt")));
        QCOMPARE(window.compareView()->targetPath(), diff(QStringLiteral("tgt_net.pt")));

        // One file dropped on an open one: it is loaded into the open file's model.
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        window.openFile(diff(QStringLiteral("tgt_net5.pt")));
        QTRY_COMPARE(opened.count(), 1);
        QVERIFY(stack->currentWidget() != window.compareView());
        window.setSingleDropChoice(ui::MainWindow::DropChoice::Compare);
        QMimeData one;
        one.setUrls({QUrl::fromLocalFile(diff(QStringLiteral("src_changed_head.pt")))});
        QDragEnterEvent enterOne(QPoint(50, 50), Qt::CopyAction, &one, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enterOne);
        QVERIFY(enterOne.isAccepted());
        QDropEvent dropOne(QPointF(50, 50), Qt::CopyAction, &one, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &dropOne);
        QTRY_COMPARE(compared.count(), 3);
        QCOMPARE(stack->currentWidget(), window.compareView());
        QCOMPARE(window.compareView()->targetPath(), diff(QStringLiteral("tgt_net5.pt")));
        QCOMPARE(window.compareView()->sourcePath(), diff(QStringLiteral("src_changed_head.pt")));
        QTRY_VERIFY(!window.isBusy());
    }

    // Without an answer given in advance, dropping one file on an open one asks; Return takes the
    // default, which is to compare.
    void singleDropAsks()
    {
        ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QSignalSpy opened(&window, &ui::MainWindow::fileOpened);
        QSignalSpy compared(window.compareView(), &ui::CompareView::compared);
        window.openFile(diff(QStringLiteral("tgt_net.pt")));
        QTRY_COMPARE(opened.count(), 1);
        QString asked;
        QTimer answer;
        answer.setInterval(50);
        connect(&answer, &QTimer::timeout, this, [&] {
            auto *menu = qobject_cast<QMenu *>(QApplication::activePopupWidget());
            if (!menu)
                return;
            answer.stop();
            asked = menu->activeAction() ? menu->activeAction()->text() : QString();
            QTest::keyClick(menu, Qt::Key_Return);
        });
        answer.start();
        QMimeData one;
        one.setUrls({QUrl::fromLocalFile(diff(QStringLiteral("src_orig_mod.pt")))});
        QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &one, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &enter);
        QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &one, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        QTRY_COMPARE(compared.count(), 1);
        QVERIFY2(asked.contains(QStringLiteral("src_orig_mod.pt")) && asked.contains(QStringLiteral("tgt_net.pt")),
                 qPrintable(asked));
        QCOMPARE(window.compareView()->targetPath(), diff(QStringLiteral("tgt_net.pt")));
        QCOMPARE(opened.count(), 1); // nothing else was opened
        QTRY_VERIFY(!window.isBusy());
    }

    void aboutNamesVersionCommitQtAndBackend()
    {
        const QString text = ui::aboutText();
        QVERIFY(text.contains(QStringLiteral(PTSCOPE_VERSION)));
        QVERIFY(text.contains(QString::fromLatin1(qVersion())));
        QVERIFY(text.contains(QStringLiteral("Commit")));
        QVERIFY(text.contains(QStringLiteral("Compute backend: CPU")));
    }
};

QTEST_MAIN(TestCompare)
#include "tst_compare.moc"
