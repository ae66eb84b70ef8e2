// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "main_window.h"

#include "about_dialog.h"
#include "compare_view.h"
#include "compute_backend.h"
#include "details_formatter.h"
#include "export_dialog.h"
#include "models/model_roles.h"
#include "models/object_tree_model.h"
#include "models/tensor_tree_model.h"
#include "models/tree_filter_proxy.h"
#include "plots/histogram_plot.h"
#include "settings.h"

#include "checkpoint.h"
#include "device_info.h"
#include "mapped_file.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDirIterator>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLoggingCategory>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QPromise>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <algorithm>

Q_LOGGING_CATEGORY(lcMainWindow, "ptscope.ui.main_window", QtWarningMsg)

namespace ptscope::ui {

namespace {

MainWindow::OpenOutcome openInWorker(const QString &path)
{
    QElapsedTimer timer;
    timer.start();
    MainWindow::OpenOutcome out;
    std::shared_ptr<const core::MappedFile> file;
    if (path.startsWith(QLatin1Char(':'))) {
        // A bundled sample: the resource bytes, never copied to disk.
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) {
            out.error = QObject::tr("The bundled sample %1 is missing from this build.").arg(path);
            return out;
        }
        const QByteArray bytes = f.readAll();
        file = core::MappedFile::fromBuffer(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), path.toStdString());
    }
    // A file by its content; a model folder as transformers loads it (the index, else its one checkpoint).
    auto result = file ? core::openCheckpoint(file) : core::openCheckpoint(path.toStdString());
    if (!result)
        out.error = QString::fromStdString(result.error().toString());
    else
        out.checkpoint = std::move(result.value());
    out.milliseconds = double(timer.nsecsElapsed()) / 1e6;
    return out;
}

QString backendText()
{
    return computeBackendDescription();
}

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_settings(new Settings(this))
    , m_tensorModel(new TensorTreeModel(this))
    , m_objectModel(new ObjectTreeModel(this))
    , m_tensorProxy(new TreeFilterProxy(this))
    , m_objectProxy(new TreeFilterProxy(this))
{
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("ptscope"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/ptscope.svg")));
    setAcceptDrops(true);
    m_tensorProxy->setSourceModel(m_tensorModel);
    m_objectProxy->setSourceModel(m_objectModel);
    createWidgets();
    createActions();
    m_settings->load();
    restoreSettings();
    rebuildRecentMenu();
    connect(m_settings, &Settings::recentFilesChanged, this, &MainWindow::rebuildRecentMenu);
}

MainWindow::~MainWindow()
{
    // Owners cancel and wait: no worker outlives the checkpoint it reads.
    m_openFuture.cancel();
    m_statsFuture.cancel();
    m_histFuture.cancel();
    m_overlayFuture.cancel();
    m_openFuture.waitForFinished();
    m_statsFuture.waitForFinished();
    m_histFuture.waitForFinished();
    m_overlayFuture.waitForFinished();
}

void MainWindow::createWidgets()
{
    m_stack = new QStackedWidget(this);
    m_message = new QLabel(m_stack);
    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_message->setMargin(40);
    m_stack->addWidget(m_message);

    auto *content = new QWidget(m_stack);
    auto *contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(6, 6, 6, 0);
    m_banner = new QLabel(content);
    m_banner->setObjectName(QStringLiteral("securityBanner"));
    m_banner->setWordWrap(true);
    m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_banner->setStyleSheet(QStringLiteral(
        "QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a; border-radius: 4px; padding: 6px; }"));
    m_banner->hide();
    contentLayout->addWidget(m_banner);

    m_splitter = new QSplitter(Qt::Horizontal, content);
    m_splitter->setObjectName(QStringLiteral("mainSplitter"));
    auto *left = new QWidget(m_splitter);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    m_filter = new QLineEdit(left);
    m_filter->setObjectName(QStringLiteral("filterEdit"));
    m_filter->setPlaceholderText(tr("Filter by key, dtype, shape or value (Ctrl+F)"));
    m_filter->setClearButtonEnabled(true);
    leftLayout->addWidget(m_filter);
    m_tabs = new QTabWidget(left);
    m_tabs->setObjectName(QStringLiteral("tabs"));
    m_tabs->setDocumentMode(true);
    leftLayout->addWidget(m_tabs, 1);

    m_tensorView = new QTreeView(m_tabs);
    m_tensorView->setObjectName(QStringLiteral("tensorView"));
    m_tensorView->setModel(m_tensorProxy);
    m_tensorView->setSortingEnabled(true);
    m_tensorView->sortByColumn(-1, Qt::AscendingOrder); // state_dict order until the user sorts
    m_tensorView->setAlternatingRowColors(true);
    m_tensorView->setUniformRowHeights(true);
    m_tensorView->header()->setStretchLastSection(false);
    m_tabs->addTab(m_tensorView, tr("State &dict"));

    m_objectView = new QTreeView(m_tabs);
    m_objectView->setObjectName(QStringLiteral("objectView"));
    m_objectView->setModel(m_objectProxy);
    m_objectView->setUniformRowHeights(true);
    m_objectView->setAlternatingRowColors(true);
    m_tabs->addTab(m_objectView, tr("&Objects"));

    m_rightSplitter = new QSplitter(Qt::Vertical, m_splitter);
    m_rightSplitter->setObjectName(QStringLiteral("rightSplitter"));
    m_details = new QTextBrowser(m_rightSplitter);
    m_details->setObjectName(QStringLiteral("detailsView"));
    m_details->setOpenLinks(false);
    m_plot = new HistogramPlot(m_rightSplitter);
    m_plot->setObjectName(QStringLiteral("histogramPlot"));
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 2);
    m_rightSplitter->setStretchFactor(0, 1);
    m_rightSplitter->setStretchFactor(1, 1);
    contentLayout->addWidget(m_splitter, 1);
    m_stack->addWidget(content);
    m_compare = new CompareView(m_stack);
    m_stack->addWidget(m_compare);
    connect(m_compare, &CompareView::compared, this, [this] {
        setWindowTitle(tr("%1 into %2 — ptscope")
                           .arg(QFileInfo(m_compare->sourcePath()).fileName(),
                                QFileInfo(m_compare->targetPath()).fileName()));
    });
    connect(m_compare, &CompareView::busyChanged, this, &MainWindow::updateBusy);
    setCentralWidget(m_stack);

    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("progressBar"));
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(true);
    m_progress->hide();
    m_cancel = new QToolButton(this);
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    m_cancel->setText(tr("Cancel"));
    m_cancel->setToolTip(tr("Stop the work in progress (Esc)"));
    m_cancel->hide();
    m_backendLabel = new QLabel(this);
    m_backendLabel->setObjectName(QStringLiteral("backendLabel"));
    statusBar()->addPermanentWidget(m_backendLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    connect(m_cancel, &QToolButton::clicked, this, &MainWindow::cancelWork);

    m_filterDebounce = new QTimer(this);
    m_filterDebounce->setSingleShot(true);
    m_filterDebounce->setInterval(150);
    connect(m_filter, &QLineEdit::textChanged, m_filterDebounce, qOverload<>(&QTimer::start));
    connect(m_filterDebounce, &QTimer::timeout, this, [this] {
        m_tensorProxy->setFilterText(m_filter->text());
        m_objectProxy->setFilterText(m_filter->text());
        if (!m_filter->text().isEmpty()) {
            m_tensorView->expandAll();
            m_objectView->expandToDepth(3); // the object tree can be huge: expand a few levels only
        }
    });
    connect(m_tensorView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex &current) { onTensorCurrentChanged(current); });
    connect(m_objectView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex &current) { onObjectCurrentChanged(current); });
    connect(m_plot, &HistogramPlot::requestChanged, this, &MainWindow::requestHistogram);
    connect(m_plot, &HistogramPlot::overlayModeChanged, this, &MainWindow::requestOverlays);

    showMessage(tr("<h2>Drop a PyTorch checkpoint here</h2>"
                   "<p>or use <b>File › Open</b> (Ctrl+O), or <b>Help › Open sample</b>.</p>"
                   "<p>.pt .pth .bin .ckpt .tar .safetensors, or a model folder — the pickle is never executed.</p>"));
}

void MainWindow::createActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *open = file->addAction(QIcon::fromTheme(QStringLiteral("document-open")), tr("&Open…"), this,
                                    &MainWindow::chooseFile);
    open->setShortcut(QKeySequence::Open);
    QAction *openFolder = file->addAction(QIcon::fromTheme(QStringLiteral("folder-open")), tr("Open &Folder…"), this,
                                          &MainWindow::chooseFolder);
    openFolder->setObjectName(QStringLiteral("openFolderAction"));
    openFolder->setToolTip(tr("A model folder (save_pretrained): its shard index or its one checkpoint"));
    QAction *compare = file->addAction(tr("&Compare with…"), this, &MainWindow::chooseCompare);
    compare->setObjectName(QStringLiteral("compareAction"));
    compare->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
    compare->setToolTip(tr("What load_state_dict does when a checkpoint is loaded into the open file's model"));
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    m_recentMenu->setObjectName(QStringLiteral("recentMenu"));
    QAction *reload = file->addAction(tr("Re&load"), this, [this] {
        if (!m_path.isEmpty())
            openFile(m_path);
    });
    reload->setShortcut(QKeySequence::Refresh);
    // --- Report export ---
    QAction *exportAction = file->addAction(tr("&Export…"), this, &MainWindow::exportReport);
    exportAction->setObjectName(QStringLiteral("exportAction"));
    exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_S));
    // --- end of report export ---
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    QAction *find = view->addAction(tr("&Filter"), this, [this] {
        if (m_stack->currentWidget() == m_compare) {
            m_compare->focusFilter();
            return;
        }
        m_filter->setFocus();
        m_filter->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    QAction *stateDict = view->addAction(tr("&State dict"), this, [this] { m_tabs->setCurrentIndex(0); });
    stateDict->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    QAction *objects = view->addAction(tr("&Objects"), this, [this] { m_tabs->setCurrentIndex(1); });
    objects->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
    view->addSeparator();
    QAction *expand = view->addAction(tr("&Expand all"), this, [this] {
        (m_tabs->currentIndex() == 0 ? m_tensorView : m_objectView)->expandAll();
    });
    expand->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    QAction *collapse = view->addAction(tr("&Collapse all"), this, [this] {
        (m_tabs->currentIndex() == 0 ? m_tensorView : m_objectView)->collapseAll();
    });
    collapse->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    QAction *cancel = view->addAction(tr("&Cancel work"), this, &MainWindow::cancelWork);
    cancel->setShortcut(QKeySequence(Qt::Key_Escape));

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QMenu *samples = help->addMenu(tr("Open &sample"));
    samples->setObjectName(QStringLiteral("samplesMenu"));
    for (const QString &sample : samplePaths())
        samples->addAction(QFileInfo(sample).fileName(), this, [this, sample] { openFile(sample); });
    help->addSeparator();
    help->addAction(tr("&About ptscope"), this, &MainWindow::showAbout)->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::restoreSettings()
{
    if (!m_settings->geometry().isEmpty())
        restoreGeometry(m_settings->geometry());
    else if (const QScreen *screen = this->screen())
        resize(QSize(1560, 940).boundedTo(screen->availableGeometry().size() * 9 / 10));
    else
        resize(1560, 940);
    if (!m_settings->windowState().isEmpty())
        restoreState(m_settings->windowState());
    if (!m_settings->splitterState().isEmpty())
        m_splitter->restoreState(m_settings->splitterState());
    else
        m_splitter->setSizes({1030, 530});
    if (!m_settings->rightSplitterState().isEmpty())
        m_rightSplitter->restoreState(m_settings->rightSplitterState());
    const QSignalBlocker blocker(m_plot);
    m_plot->setBins(m_settings->histogramBins());
    m_plot->setLogCounts(m_settings->logCounts());
    m_plot->setLogMagnitude(m_settings->logMagnitude());
    m_plot->setPerTensor(m_settings->perTensor());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    m_settings->setGeometry(saveGeometry());
    m_settings->setWindowState(saveState());
    m_settings->setSplitterState(m_splitter->saveState());
    m_settings->setRightSplitterState(m_rightSplitter->saveState());
    m_settings->setHistogramBins(m_plot->bins());
    m_settings->setLogCounts(m_plot->logCounts());
    m_settings->setLogMagnitude(m_plot->logMagnitude());
    m_settings->setPerTensor(m_plot->perTensor());
    m_settings->save();
    cancelWork();
    QMainWindow::closeEvent(event);
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList files = m_settings->recentFiles();
    for (int i = 0; i < files.size(); ++i) {
        const QString &path = files[i];
        QAction *a = m_recentMenu->addAction(QStringLiteral("&%1  %2").arg(i + 1 < 10 ? i + 1 : 0).arg(path), this,
                                             [this, path] { openFile(path); });
        a->setData(path);
    }
    if (!files.isEmpty())
        m_recentMenu->addSeparator();
    QAction *clear = m_recentMenu->addAction(tr("&Clear list"), m_settings, &Settings::clearRecentFiles);
    clear->setEnabled(!files.isEmpty());
}

QStringList MainWindow::samplePaths()
{
    QStringList out;
    QDirIterator it(QStringLiteral(":/samples"), {QStringLiteral("*.pt")}, QDir::Files);
    while (it.hasNext())
        out << it.next();
    out.sort();
    return out;
}

bool MainWindow::canOpen(const QString &path)
{
    static const QStringList suffixes = {QStringLiteral("pt"),   QStringLiteral("pth"),  QStringLiteral("bin"),
                                         QStringLiteral("ckpt"), QStringLiteral("tar"),  QStringLiteral("safetensors"),
                                         QStringLiteral("pkl"),  QStringLiteral("pickle"), QStringLiteral("json")};
    const QFileInfo info(path);
    return info.isDir() || suffixes.contains(info.suffix(), Qt::CaseInsensitive);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    const QMimeData *mime = event->mimeData();
    if (mime && mime->hasUrls()) {
        for (const QUrl &url : mime->urls()) {
            if (url.isLocalFile() && canOpen(url.toLocalFile())) {
                event->acceptProposedAction();
                return;
            }
        }
    }
    event->ignore();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    const QMimeData *mime = event->mimeData();
    if (!mime)
        return;
    QStringList files;
    for (const QUrl &url : mime->urls()) {
        if (url.isLocalFile() && canOpen(url.toLocalFile()))
            files << url.toLocalFile();
    }
    if (files.isEmpty()) {
        event->ignore();
        return;
    }
    event->acceptProposedAction();
    if (files.size() >= 2)
        compareFiles(files[0], files[1]); // the swap button is there when the order is wrong
    else
        onDroppedOne(files[0], mapToGlobal(event->position().toPoint()));
}

void MainWindow::onDroppedOne(const QString &path, const QPoint &globalPos)
{
    const bool comparing = m_stack->currentWidget() == m_compare && !m_compare->targetPath().isEmpty();
    const QString model = comparing ? m_compare->targetPath() : m_path;
    if (model.isEmpty() || (!comparing && !m_checkpoint)) {
        openFile(path);
        return;
    }
    if (m_dropChoice != DropChoice::Ask) {
        m_dropChoice == DropChoice::Compare ? compareFiles(path, model) : openFile(path);
        return;
    }
    // Asked once the drop is over (no nested event loop inside the drop handler).
    QTimer::singleShot(0, this, [this, path, model, globalPos] {
        QMenu menu(this);
        menu.setObjectName(QStringLiteral("dropMenu"));
        QAction *compare = menu.addAction(tr("&Compare: load %1 into the model of %2")
                                              .arg(QFileInfo(path).fileName(), QFileInfo(model).fileName()));
        QAction *open = menu.addAction(tr("&Open %1").arg(QFileInfo(path).fileName()));
        menu.addSeparator();
        menu.addAction(tr("Cancel"));
        menu.setActiveAction(compare);
        QAction *chosen = menu.exec(globalPos);
        if (chosen == compare)
            compareFiles(path, model);
        else if (chosen == open)
            openFile(path);
    });
}

void MainWindow::compareFiles(const QString &source, const QString &target)
{
    m_compare->compare(source, target);
    m_stack->setCurrentWidget(m_compare);
    setWindowFilePath(QString());
}

void MainWindow::chooseCompare()
{
    const bool comparing = m_stack->currentWidget() == m_compare && !m_compare->targetPath().isEmpty();
    QString target = comparing ? m_compare->targetPath() : (m_checkpoint ? m_path : QString());
    const QString filter
        = tr("PyTorch checkpoints (*.pt *.pth *.bin *.ckpt *.tar *.safetensors *.pkl *.json);;All files (*)");
    const QString dir = target.isEmpty() || target.startsWith(QLatin1Char(':')) ? QString() : QFileInfo(target).path();
    if (target.isEmpty()) {
        target = QFileDialog::getOpenFileName(this, tr("The model: a fresh state_dict, a checkpoint or a manifest"),
                                              dir, filter);
        if (target.isEmpty())
            return;
    }
    const QString source = QFileDialog::getOpenFileName(
        this, tr("The checkpoint to load into %1").arg(QFileInfo(target).fileName()), dir, filter);
    if (!source.isEmpty())
        compareFiles(source, target);
}

void MainWindow::chooseFile()
{
    const QString dir = m_path.isEmpty() || m_path.startsWith(QLatin1Char(':')) ? QString() : QFileInfo(m_path).path();
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open checkpoint"), dir,
        tr("PyTorch checkpoints (*.pt *.pth *.bin *.ckpt *.tar *.safetensors *.pkl *.json);;All files (*)"));
    if (!path.isEmpty())
        openFile(path);
}

void MainWindow::chooseFolder()
{
    const QString dir = m_path.isEmpty() || m_path.startsWith(QLatin1Char(':')) ? QString() : QFileInfo(m_path).path();
    const QString path = QFileDialog::getExistingDirectory(this, tr("Open a model folder"), dir);
    if (!path.isEmpty())
        openFile(path);
}

// --- Report export (File > Export…) ---
void MainWindow::exportReport()
{
    // On the compare page the report is the comparison: verdict, fixes, key table, value differences.
    if (m_stack->currentWidget() == m_compare && m_compare->sourceCheckpoint()) {
        auto *dialog = new ExportDialog(m_compare->sourceCheckpoint(), m_compare->targetCheckpoint(),
                                        {m_compare->sourcePath(), m_compare->targetPath()}, m_compare->torchRules(), this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->open();
        return;
    }
    if (!m_checkpoint) {
        statusBar()->showMessage(tr("Open a checkpoint first: the report is about it."), 5000);
        return;
    }
    auto *dialog = new ExportDialog(m_checkpoint, m_path, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->open();
}
// --- end of report export ---

void MainWindow::showMessage(const QString &html)
{
    m_message->setText(html);
    m_stack->setCurrentWidget(m_message);
}

void MainWindow::openFile(const QString &path)
{
    const QString absolute = path.startsWith(QLatin1Char(':')) ? path : QDir::cleanPath(QFileInfo(path).absoluteFilePath());
    const std::uint64_t generation = ++m_openGeneration;
    m_statsFuture.cancel();
    m_histFuture.cancel();
    statusBar()->showMessage(tr("Opening %1…").arg(absolute));
    auto *watcher = new QFutureWatcher<OpenOutcome>(this);
    connect(watcher, &QFutureWatcher<OpenOutcome>::finished, this, [this, watcher, generation, absolute] {
        watcher->deleteLater();
        if (generation == m_openGeneration && !watcher->future().isCanceled())
            onOpened(absolute, watcher->future().result());
        updateBusy();
    });
    m_openFuture = QtConcurrent::run(openInWorker, absolute);
    watcher->setFuture(m_openFuture);
    updateBusy();
}

void MainWindow::onOpened(const QString &path, const OpenOutcome &outcome)
{
    if (!outcome.checkpoint) {
        qCWarning(lcMainWindow) << "cannot open" << path << outcome.error;
        showMessage(tr("<h2>ptscope could not read this file</h2><p><code>%1</code></p><p>%2</p>")
                        .arg(path.toHtmlEscaped(), outcome.error.toHtmlEscaped()));
        setWindowTitle(QStringLiteral("ptscope"));
        statusBar()->showMessage(tr("Could not open %1").arg(QFileInfo(path).fileName()));
        emit openFailed(path, outcome.error);
        return;
    }
    m_checkpoint = outcome.checkpoint;
    m_path = path;
    m_histTensors.clear();
    m_groupKey.clear();
    m_tensorModel->setCheckpoint(m_checkpoint);
    m_objectModel->setCheckpoint(m_checkpoint);
    m_stack->setCurrentIndex(1);
    setWindowTitle(QStringLiteral("%1 — ptscope").arg(QFileInfo(path).fileName()));
    setWindowFilePath(path.startsWith(QLatin1Char(':')) ? QString() : path);
    m_settings->addRecentFile(path);

    const details::SecurityBanner banner = details::securityBanner(*m_checkpoint);
    if (banner.level.isEmpty()) {
        m_banner->hide();
    } else {
        const bool dangerous = banner.level == QLatin1String("dangerous");
        // Both colours set, so the banner reads the same on light and dark palettes.
        m_banner->setStyleSheet(dangerous
                ? QStringLiteral("QLabel { background: #f8d7da; color: #58151c; border: 1px solid #e4a5ab; "
                                 "border-radius: 4px; padding: 6px; }")
                : QStringLiteral("QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a; "
                                 "border-radius: 4px; padding: 6px; }"));
        m_banner->setProperty("verdict", banner.level);
        QString text = QStringLiteral("<b>⚠ %1</b>").arg(banner.headline.toHtmlEscaped());
        text += QStringLiteral("<ul style='margin:0'>");
        const qsizetype shown = 6;
        for (qsizetype i = 0; i < banner.lines.size() && i < shown; ++i)
            text += QStringLiteral("<li>") + banner.lines[i].toHtmlEscaped() + QStringLiteral("</li>");
        if (banner.lines.size() > shown)
            text += QStringLiteral("<li>") + tr("and %1 more (ptscope-cli scan lists them all)").arg(banner.lines.size() - shown)
                + QStringLiteral("</li>");
        text += QStringLiteral("</ul>") + banner.weightsOnly.toHtmlEscaped();
        m_banner->setText(text);
        m_banner->show();
    }

    m_tensorProxy->setFilterText(m_filter->text());
    m_objectProxy->setFilterText(m_filter->text());
    m_tensorView->expandToDepth(0);
    m_objectView->expandToDepth(0);
    m_tensorView->header()->resizeSections(QHeaderView::ResizeToContents);
    // ResizeToContents sees only expanded rows: size Key and Shape for the deepest and widest entries too.
    const QFontMetrics fm = m_tensorView->fontMetrics();
    int keyWidth = 0;
    int shapeWidth = 0;
    for (const auto &e : m_checkpoint->stateDict.entries) {
        const QString key = QString::fromStdString(e.key);
        const int depth = int(key.count(QLatin1Char('.'))) + 1;
        keyWidth = std::max(keyWidth, depth * m_tensorView->indentation()
                                          + fm.horizontalAdvance(key.section(QLatin1Char('.'), -1)));
        if (e.tensor >= 0) {
            const auto &shape = m_checkpoint->tensors[std::size_t(e.tensor)].shape;
            shapeWidth = std::max(shapeWidth, fm.horizontalAdvance(QString::fromStdString(core::formatShape(shape))));
        }
    }
    m_tensorView->setColumnWidth(TensorTreeModel::Name, std::clamp(keyWidth + 8, 140, 420));
    m_tensorView->setColumnWidth(TensorTreeModel::Shape,
                                 std::clamp(std::max(shapeWidth + 16, m_tensorView->columnWidth(TensorTreeModel::Shape)),
                                            60, 260));
    // Statistics arrive later: reserve room for "-1.234e-05".
    const int statWidth = m_tensorView->fontMetrics().horizontalAdvance(QStringLiteral("-1.234e-05")) + 16;
    for (int c = TensorTreeModel::Mean; c <= TensorTreeModel::Max; ++c)
        m_tensorView->setColumnWidth(c, statWidth);
    m_objectView->setColumnWidth(ObjectTreeModel::Name, 260);

    std::uint64_t params = 0;
    std::uint64_t bytes = 0;
    for (const auto &e : m_checkpoint->stateDict.entries) {
        if (e.tensor >= 0) {
            params += m_checkpoint->tensors[std::size_t(e.tensor)].numel;
            bytes += m_checkpoint->tensors[std::size_t(e.tensor)].nbytes;
        }
    }
    statusBar()->showMessage(tr("Opened %1 in %2 ms: %3 keys, %4 parameters, %5")
                                 .arg(QFileInfo(path).fileName())
                                 .arg(outcome.milliseconds, 0, 'f', 1)
                                 .arg(m_checkpoint->stateDict.entries.size())
                                 .arg(QLocale().toString(qulonglong(params)))
                                 .arg(QString::fromStdString(core::formatBytes(bytes))));
    m_details->setHtml(details::fileHtml(*m_checkpoint));
    if (m_checkpoint->stateDict.entries.empty())
        m_tabs->setCurrentIndex(1);
    startBackgroundStats();

    // Show something real at once: the first tensor's details and histogram.
    const QModelIndex first = m_tensorProxy->index(0, 0);
    if (first.isValid()) {
        QModelIndex leaf = first;
        while (m_tensorProxy->rowCount(leaf) > 0)
            leaf = m_tensorProxy->index(0, 0, leaf);
        m_tensorView->setCurrentIndex(leaf);
    }
    emit fileOpened(path);
}

void MainWindow::startBackgroundStats()
{
    const std::uint64_t generation = ++m_statsGeneration;
    m_statsFuture.cancel();
    std::vector<std::uint32_t> tensors;
    for (const auto &e : m_checkpoint->stateDict.entries) {
        if (e.tensor >= 0)
            tensors.push_back(std::uint32_t(e.tensor));
    }
    auto *watcher = new QFutureWatcher<StatsItem>(this);
    connect(watcher, &QFutureWatcher<StatsItem>::resultsReadyAt, this, [this, watcher, generation](int begin, int end) {
        if (generation != m_statsGeneration)
            return;
        for (int i = begin; i < end; ++i) {
            const StatsItem item = watcher->resultAt(i);
            m_tensorModel->setStats(item.tensor, item.stats);
        }
    });
    connect(watcher, &QFutureWatcher<StatsItem>::progressValueChanged, this, [this, generation](int value) {
        if (generation == m_statsGeneration)
            m_progress->setValue(value);
    });
    connect(watcher, &QFutureWatcher<StatsItem>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation == m_statsGeneration) {
            // The selected tensor's details show statistics now.
            if (m_tabs->currentIndex() == 0)
                onTensorCurrentChanged(m_tensorView->currentIndex());
        }
        updateBusy();
    });
    m_statsFuture = QtConcurrent::run(
        [](QPromise<StatsItem> &promise, std::shared_ptr<const core::Checkpoint> cp,
           std::vector<std::uint32_t> list) {
            promise.setProgressRange(0, int(list.size()));
            core::StatsRequest request;
            request.bins = 0;
            int done = 0;
            const auto backend = makeJobBackend();
            for (std::uint32_t t : list) {
                if (promise.isCanceled())
                    return;
                auto result = core::computeStats(*cp, {t}, request, [&promise](std::uint64_t, std::uint64_t) {
                    return !promise.isCanceled();
                }, backend.get());
                if (result)
                    promise.addResult(StatsItem{t, std::move(result.value())});
                promise.setProgressValue(++done);
            }
        },
        m_checkpoint, std::move(tensors));
    m_progress->setRange(0, int(m_checkpoint->stateDict.entries.size()));
    m_progress->setFormat(tr("Statistics %v/%m"));
    watcher->setFuture(m_statsFuture);
    updateBusy();
}

void MainWindow::onTensorCurrentChanged(const QModelIndex &proxyIndex)
{
    if (!m_checkpoint)
        return;
    const QModelIndex index = m_tensorProxy->mapToSource(proxyIndex);
    const TensorTreeModel::Node *node = m_tensorModel->node(index);
    m_groupKey.clear();
    if (!node) {
        m_details->setHtml(details::fileHtml(*m_checkpoint));
        return;
    }
    if (node->tensor >= 0) {
        const auto t = std::uint32_t(node->tensor);
        m_details->setHtml(details::tensorHtml(*m_checkpoint, t, m_tensorModel->stats(t)));
        m_histTensors = {t};
        m_histTitle = node->key;
    } else if (node->isGroup) {
        m_groupKey = node->key;
        m_groupDtypes = m_tensorModel->dtypeMixText(*node);
        m_histTensors = m_tensorModel->tensorsBelow(index);
        m_details->setHtml(details::groupHtml(*m_checkpoint, node->key, m_histTensors, m_groupDtypes, nullptr));
        m_histTitle = tr("%1 (%n tensor(s))", nullptr, int(m_histTensors.size())).arg(node->key);
    } else {
        m_details->setHtml(QStringLiteral("<h3>%1</h3><p>%2</p>").arg(node->key.toHtmlEscaped(),
                                                                      node->summary.toHtmlEscaped()));
        m_histTensors.clear();
    }
    requestHistogram();
}

void MainWindow::onObjectCurrentChanged(const QModelIndex &proxyIndex)
{
    if (!m_checkpoint)
        return;
    const ObjectTreeModel::Node *node = m_objectModel->node(m_objectProxy->mapToSource(proxyIndex));
    m_groupKey.clear();
    if (!node)
        return;
    const auto &v = m_checkpoint->arena[node->value];
    if (v.kind == core::ValueKind::Tensor && v.aux < m_checkpoint->tensors.size()) {
        m_details->setHtml(details::tensorHtml(*m_checkpoint, v.aux, m_tensorModel->stats(v.aux)));
        m_histTensors = {v.aux};
        m_histTitle = node->path;
    } else {
        m_details->setHtml(details::valueHtml(*m_checkpoint, node->value, node->path));
        m_histTensors.clear();
    }
    requestHistogram();
}

void MainWindow::requestHistogram()
{
    const std::uint64_t generation = ++m_histGeneration;
    m_histFuture.cancel();
    m_overlayFuture.cancel();
    m_haveHistStats = false;
    std::vector<std::uint32_t> tensors;
    if (m_checkpoint) {
        for (std::uint32_t t : m_histTensors) {
            const auto &info = m_checkpoint->tensors[t];
            // Groups skip what cannot be read (meta, sparse, damaged) instead of failing whole.
            if (m_histTensors.size() == 1 || (info.problem.empty() && info.storage >= 0 && info.layout == "strided"))
                tensors.push_back(t);
        }
    }
    if (tensors.empty()) {
        m_plot->setMessage(m_histTensors.empty() ? tr("Select a tensor or a group to see its histogram.")
                                                 : tr("Nothing in this group can be binned."));
        updateBusy();
        return;
    }
    m_histBinned = tensors;
    core::StatsRequest request;
    request.bins = std::uint32_t(m_plot->bins());
    request.logHistogram = true;
    auto *watcher = new QFutureWatcher<HistogramOutcome>(this);
    connect(watcher, &QFutureWatcher<HistogramOutcome>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation == m_histGeneration && !watcher->future().isCanceled() && watcher->future().resultCount() > 0) {
            const HistogramOutcome out = watcher->future().result();
            if (!out.error.isEmpty()) {
                m_plot->setMessage(out.error);
            } else {
                m_plot->setStats(out.stats, m_histTitle);
                statusBar()->showMessage(tr("Histogram of %1: %2 elements, %3, %4 ms")
                                             .arg(m_histTitle)
                                             .arg(QLocale().toString(qulonglong(out.stats.numel)))
                                             .arg(backendText())
                                             .arg(out.milliseconds, 0, 'f', 2));
                if (!m_groupKey.isEmpty() && m_checkpoint) {
                    m_details->setHtml(details::groupHtml(*m_checkpoint, m_groupKey, m_histTensors, m_groupDtypes,
                                                          &out.stats));
                }
                m_histStats = out.stats;
                m_haveHistStats = true;
                emit histogramShown();
                requestOverlays();
            }
        }
        updateBusy();
    });
    m_histFuture = QtConcurrent::run(
        [](QPromise<HistogramOutcome> &promise, std::shared_ptr<const core::Checkpoint> cp,
           std::vector<std::uint32_t> list, core::StatsRequest req) {
            QElapsedTimer timer;
            timer.start();
            const auto backend = makeJobBackend();
            auto result = core::computeStats(*cp, list, req, [&promise](std::uint64_t done, std::uint64_t total) {
                if (total > 0)
                    promise.setProgressValue(int(done * 1000 / total));
                return !promise.isCanceled();
            }, backend.get());
            HistogramOutcome out;
            out.milliseconds = double(timer.nsecsElapsed()) / 1e6;
            if (result)
                out.stats = std::move(result.value());
            else if (result.error().code != core::ErrorCode::Cancelled)
                out.error = QString::fromStdString(result.error().message);
            else
                return;
            promise.addResult(std::move(out));
        },
        m_checkpoint, std::move(tensors), request);
    watcher->setFuture(m_histFuture);
    updateBusy();
}

// A group's per-tensor outlines: the largest tensors binned one by one on the aggregate's range,
// so every outline shares the aggregate's bin edges. Runs after the aggregate, in the same
// generation: a new selection or bin count drops it.
void MainWindow::requestOverlays()
{
    m_overlayFuture.cancel();
    if (m_groupKey.isEmpty() || !m_checkpoint || !m_haveHistStats || !m_plot->overlaysWanted()
        || m_plot->hasOverlays() || m_histStats.finiteCount == 0 || m_histStats.histogram.counts.empty()) {
        updateBusy();
        return;
    }
    const std::uint64_t generation = m_histGeneration;
    std::vector<std::uint32_t> largest = m_histBinned;
    std::stable_sort(largest.begin(), largest.end(), [this](std::uint32_t a, std::uint32_t b) {
        return m_checkpoint->tensors[a].numel > m_checkpoint->tensors[b].numel;
    });
    const int total = int(largest.size());
    if (largest.size() > std::size_t(HistogramPlot::kMaxOverlays))
        largest.resize(std::size_t(HistogramPlot::kMaxOverlays));
    // The legend follows the state_dict order.
    std::vector<std::uint32_t> shown;
    for (std::uint32_t t : m_histBinned) {
        if (std::find(largest.begin(), largest.end(), t) != largest.end())
            shown.push_back(t);
    }
    core::StatsRequest request;
    request.bins = std::uint32_t(m_histStats.histogram.counts.size());
    request.range = core::histcRange(m_histStats.min, m_histStats.max); // what the aggregate binned on

    auto *watcher = new QFutureWatcher<OverlayItem>(this);
    connect(watcher, &QFutureWatcher<OverlayItem>::finished, this, [this, watcher, generation, total] {
        watcher->deleteLater();
        if (generation == m_histGeneration && !watcher->future().isCanceled() && m_checkpoint) {
            // Names are the keys below the group ("weight" for "bn1.weight").
            const QString prefix = m_groupKey + QLatin1Char('.');
            std::vector<HistogramPlot::Overlay> overlays;
            for (const OverlayItem &item : watcher->future().results()) {
                QString name;
                for (const auto &e : m_checkpoint->stateDict.entries) {
                    const QString key = QString::fromStdString(e.key);
                    if (e.tensor == std::int32_t(item.tensor) && key.startsWith(prefix)) {
                        name = key.mid(prefix.size());
                        break;
                    }
                }
                overlays.push_back({name, item.histogram});
            }
            m_plot->setOverlays(std::move(overlays), total);
            emit overlaysShown();
        }
        updateBusy();
    });
    m_overlayFuture = QtConcurrent::run(
        [](QPromise<OverlayItem> &promise, std::shared_ptr<const core::Checkpoint> cp, std::vector<std::uint32_t> list,
           core::StatsRequest req) {
            const auto backend = makeJobBackend();
            for (std::uint32_t t : list) {
                if (promise.isCanceled())
                    return;
                auto result = core::computeStats(*cp, {t}, req, [&promise](std::uint64_t, std::uint64_t) {
                    return !promise.isCanceled();
                }, backend.get());
                if (result)
                    promise.addResult(OverlayItem{t, std::move(result.value().histogram)});
                else if (result.error().code == core::ErrorCode::Cancelled)
                    return;
                else
                    qCWarning(lcMainWindow) << "per-tensor histogram failed:" << result.error().message.c_str();
            }
        },
        m_checkpoint, std::move(shown), request);
    watcher->setFuture(m_overlayFuture);
    updateBusy();
}

bool MainWindow::isBusy() const
{
    return m_openFuture.isRunning() || m_statsFuture.isRunning() || m_histFuture.isRunning()
        || m_overlayFuture.isRunning() || (m_compare && m_compare->isBusy());
}

void MainWindow::updateBusy()
{
    const bool busy = isBusy();
    if (m_openFuture.isRunning()) {
        m_progress->setRange(0, 0);
        m_progress->setFormat(tr("Opening…"));
    }
    // The compare page shows its own progress and Cancel.
    const bool own = m_openFuture.isRunning() || m_statsFuture.isRunning() || m_histFuture.isRunning()
        || m_overlayFuture.isRunning();
    m_progress->setVisible(own);
    m_cancel->setVisible(own);
    m_backendLabel->setText(backendText());
    m_backendLabel->setToolTip(computeBackendNote());
    if (busy != m_busy) {
        m_busy = busy;
        emit busyChanged(busy);
    }
}

void MainWindow::cancelWork()
{
    if (m_openFuture.isRunning()) {
        ++m_openGeneration; // the file keeps loading in the worker; its result is dropped
        statusBar()->showMessage(tr("Opening cancelled"));
    }
    if (m_statsFuture.isRunning() || m_histFuture.isRunning() || m_overlayFuture.isRunning())
        statusBar()->showMessage(tr("Statistics cancelled"));
    m_statsFuture.cancel();
    m_histFuture.cancel();
    m_overlayFuture.cancel();
    m_compare->cancel();
    QTimer::singleShot(0, this, &MainWindow::updateBusy);
}

bool MainWindow::selectKey(const QString &key)
{
    const QModelIndex source = m_tensorModel->indexForKey(key);
    const QModelIndex proxy = m_tensorProxy->mapFromSource(source);
    if (!proxy.isValid())
        return false;
    m_tabs->setCurrentIndex(0);
    m_tensorView->setCurrentIndex(proxy);
    m_tensorView->scrollTo(proxy);
    return true;
}

void MainWindow::showAbout()
{
    showAboutDialog(this);
}

} // namespace ptscope::ui
