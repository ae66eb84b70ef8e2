// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "models/core_compare.h"

#include <QFuture>
#include <QWidget>

#include <memory>
#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSplitter;
class QTimer;
class QToolButton;
class QTreeView;

namespace ptscope::core {
struct Checkpoint;
}

namespace ptscope::ui {

class CompareFilterProxy;
class CompareModel;
class ComparePlot;
class ExplanationPanel;
struct CompareData;

// "What happens if I load SOURCE into the model TARGET stands for?" in the window: the keys of
// both sides in two aligned trees coloured by what load_state_dict does with each, the verdict,
// causes and fixes (each fix can be previewed: the emulation runs again on the fixed keys, files
// are never touched), and for a key both sides hold, both histograms and that of the difference.
// Opening and the value comparison run off the GUI thread, with progress and Cancel.
class CompareView final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CompareView)

public:
    struct Outcome
    {
        QString error;
        std::shared_ptr<const core::Checkpoint> source;
        std::shared_ptr<const core::Checkpoint> target; // null when TARGET is a manifest
        std::shared_ptr<const CompareData> data;
        std::shared_ptr<const core::DiffReport> report;
        std::vector<core::ObjectPath> sourceCandidates;
        std::vector<core::ObjectPath> targetCandidates;
        double milliseconds = 0;
    };
    struct ValuesOutcome
    {
        core::ValueHistograms histograms;
        QString error;
    };

    explicit CompareView(QWidget *parent = nullptr);
    ~CompareView() override;

    // SOURCE is loaded into the model TARGET stands for (a checkpoint or a manifest).
    void compare(const QString &source, const QString &target);
    void swapSides();
    void setTorchRules(core::TorchRules rules);
    core::TorchRules torchRules() const { return m_rules; }
    // Where each side's state dict is (nullopt: where the reader finds it).
    void setStateDictKeys(const std::optional<core::ObjectPath> &source, const std::optional<core::ObjectPath> &target);

    bool previewSuggestion(int index);
    void clearPreview();
    int previewing() const { return m_previewing; }

    bool selectKey(const QString &key);
    void focusFilter();
    void cancel();
    bool isBusy() const;

    QString sourcePath() const { return m_sourcePath; }
    QString targetPath() const { return m_targetPath; }
    // The files as compared now (null before a comparison ran; target null for a manifest).
    std::shared_ptr<const core::Checkpoint> sourceCheckpoint() const { return m_source; }
    std::shared_ptr<const core::Checkpoint> targetCheckpoint() const { return m_target; }
    CompareModel *model() const { return m_model; }
    CompareFilterProxy *proxy() const { return m_proxy; }
    ExplanationPanel *explanation() const { return m_explanation; }
    ComparePlot *plot() const { return m_plot; }
    const core::DiffReport *report() const { return m_report.get(); }
    // The verdict shown: the files' own, or a previewed fix's.
    const core::LoadOutcome *shownOutcome() const;

signals:
    void compared();
    void compareFailed(const QString &message);
    void valuesShown();
    void busyChanged(bool busy);

private:
    void createWidgets();
    void createActions();
    void run();
    void onAnalysed(const Outcome &outcome);
    void showData(std::shared_ptr<const CompareData> data);
    void fillKeyCombo(QComboBox *combo, const std::vector<core::ObjectPath> &candidates, const core::ObjectPath &used);
    void onCurrentChanged(const QModelIndex &proxyIndex);
    void requestValues(std::uint32_t sourceTensor, std::uint32_t targetTensor, const QString &key);
    void selectProblem(int direction);
    void updateBusy();
    void updateHeaders();

    core::TorchRules m_rules = core::TorchRules::Torch2;
    QString m_sourcePath;
    QString m_targetPath;
    std::optional<core::ObjectPath> m_sourceKey;
    std::optional<core::ObjectPath> m_targetKey;
    std::shared_ptr<const core::Checkpoint> m_source;
    std::shared_ptr<const core::Checkpoint> m_target;
    std::shared_ptr<const CompareData> m_data; // the files' own comparison
    std::shared_ptr<const core::DiffReport> m_report;
    std::shared_ptr<const CompareData> m_previewData;
    int m_previewing = -1;

    CompareModel *m_model = nullptr;
    CompareFilterProxy *m_proxy = nullptr;
    QLabel *m_sourceLabel = nullptr;
    QLabel *m_targetLabel = nullptr;
    QComboBox *m_sourceKeyCombo = nullptr;
    QComboBox *m_targetKeyCombo = nullptr;
    QToolButton *m_swap = nullptr;
    QComboBox *m_rulesCombo = nullptr;
    QLineEdit *m_filter = nullptr;
    QTimer *m_filterDebounce = nullptr;
    QCheckBox *m_problemsOnly = nullptr;
    QWidget *m_previewBanner = nullptr;
    QLabel *m_previewText = nullptr;
    QLabel *m_sourceHeader = nullptr;
    QLabel *m_targetHeader = nullptr;
    QTreeView *m_sourceView = nullptr;
    QTreeView *m_targetView = nullptr;
    QSplitter *m_splitter = nullptr;
    ExplanationPanel *m_explanation = nullptr;
    QLabel *m_values = nullptr;
    ComparePlot *m_plot = nullptr;
    QProgressBar *m_progress = nullptr;
    QToolButton *m_cancel = nullptr;
    QLabel *m_status = nullptr;

    QFuture<Outcome> m_future;
    QFuture<ValuesOutcome> m_valuesFuture;
    std::uint64_t m_generation = 0;
    std::uint64_t m_valuesGeneration = 0;
    bool m_busy = false;
};

} // namespace ptscope::ui
