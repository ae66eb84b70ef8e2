// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "tensor_stats.h"

#include <QFuture>
#include <QMainWindow>

#include <cstdint>
#include <memory>
#include <vector>

class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QSplitter;
class QStackedWidget;
class QTabWidget;
class QTextBrowser;
class QTimer;
class QToolButton;
class QTreeView;

namespace ptscope::core {
struct Checkpoint;
}

namespace ptscope::ui {

class CompareView;
class HistogramPlot;
class ObjectTreeModel;
class Settings;
class TensorTreeModel;
class TreeFilterProxy;

// The single-file inspector: state_dict tree and object tree on the left, details and histogram
// on the right. Opening and all statistics run off the GUI thread (QtConcurrent + a watcher per
// job + a generation counter that drops results of superseded requests).
class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    struct OpenOutcome
    {
        std::shared_ptr<const core::Checkpoint> checkpoint;
        QString error;
        double milliseconds = 0;
    };
    struct StatsItem
    {
        std::uint32_t tensor = 0;
        core::TensorStats stats;
    };
    struct HistogramOutcome
    {
        core::TensorStats stats;
        QString error;
        double milliseconds = 0;
    };

    struct OverlayItem
    {
        std::uint32_t tensor = 0;
        core::Histogram histogram;
    };

    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // The one open path: drop, File > Open, recent files, samples and the command line.
    void openFile(const QString &path);
    static bool canOpen(const QString &path);
    // Loading SOURCE into the model TARGET stands for: drop two files, drop one on an open file,
    // File > Compare with…, or `ptscope SOURCE TARGET`.
    void compareFiles(const QString &source, const QString &target);
    CompareView *compareView() const { return m_compare; }
    // What dropping one file on an open one does (tests answer the question in advance).
    enum class DropChoice { Ask, Open, Compare };
    void setSingleDropChoice(DropChoice choice) { m_dropChoice = choice; }
    static QStringList samplePaths();

    std::shared_ptr<const core::Checkpoint> checkpoint() const { return m_checkpoint; }
    TensorTreeModel *tensorModel() const { return m_tensorModel; }
    ObjectTreeModel *objectModel() const { return m_objectModel; }
    TreeFilterProxy *tensorProxy() const { return m_tensorProxy; }
    bool isBusy() const;
    // Selects a state_dict key in the tree (tests, --select).
    bool selectKey(const QString &key);
    void cancelWork();

signals:
    void fileOpened(const QString &path);
    void openFailed(const QString &path, const QString &message);
    void busyChanged(bool busy);
    void histogramShown();
    void overlaysShown(); // the per-tensor outlines of a group are on the plot

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;
    void closeEvent(QCloseEvent *event) override;

private:
    void createActions();
    void createWidgets();
    void restoreSettings();
    void rebuildRecentMenu();
    void showMessage(const QString &html);
    void onOpened(const QString &path, const OpenOutcome &outcome);
    void startBackgroundStats();
    void onTensorCurrentChanged(const QModelIndex &proxyIndex);
    void onObjectCurrentChanged(const QModelIndex &proxyIndex);
    void requestHistogram();
    void requestOverlays();
    void updateBusy();
    void showAbout();
    void chooseFile();
    void chooseFolder();
    void chooseCompare();
    void onDroppedOne(const QString &path, const QPoint &globalPos);

    // --- Report export (File > Export…) ---
    void exportReport();

    Settings *m_settings = nullptr;
    std::shared_ptr<const core::Checkpoint> m_checkpoint;
    QString m_path;

    TensorTreeModel *m_tensorModel = nullptr;
    ObjectTreeModel *m_objectModel = nullptr;
    TreeFilterProxy *m_tensorProxy = nullptr;
    TreeFilterProxy *m_objectProxy = nullptr;

    QStackedWidget *m_stack = nullptr;
    QLabel *m_message = nullptr;
    QLabel *m_banner = nullptr;
    QTabWidget *m_tabs = nullptr;
    QLineEdit *m_filter = nullptr;
    QTimer *m_filterDebounce = nullptr;
    QTreeView *m_tensorView = nullptr;
    QTreeView *m_objectView = nullptr;
    QSplitter *m_splitter = nullptr;
    QSplitter *m_rightSplitter = nullptr;
    QTextBrowser *m_details = nullptr;
    HistogramPlot *m_plot = nullptr;
    QProgressBar *m_progress = nullptr;
    QToolButton *m_cancel = nullptr;
    QLabel *m_backendLabel = nullptr;
    QMenu *m_recentMenu = nullptr;
    CompareView *m_compare = nullptr;
    DropChoice m_dropChoice = DropChoice::Ask;

    // Current selection the histogram is for.
    std::vector<std::uint32_t> m_histTensors;
    QString m_histTitle;
    QString m_groupKey; // non-empty when the selection is a group (details re-rendered with its stats)
    QString m_groupDtypes;
    std::vector<std::uint32_t> m_histBinned; // what the shown aggregate was computed over
    core::TensorStats m_histStats;           // valid when m_haveHistStats
    bool m_haveHistStats = false;

    QFuture<OpenOutcome> m_openFuture;
    QFuture<StatsItem> m_statsFuture;
    QFuture<HistogramOutcome> m_histFuture;
    QFuture<OverlayItem> m_overlayFuture; // per-tensor histograms on the aggregate's bins
    std::uint64_t m_openGeneration = 0;
    std::uint64_t m_statsGeneration = 0;
    std::uint64_t m_histGeneration = 0;
    bool m_busy = false;
};

} // namespace ptscope::ui
