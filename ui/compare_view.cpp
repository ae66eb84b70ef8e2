// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compare_view.h"

#include "compute_backend.h"
#include "explanation_panel.h"
#include "models/compare_filter_proxy.h"
#include "models/compare_model.h"
#include "plots/compare_plot.h"

#include "checkpoint.h"
#include "mapped_file.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QLoggingCategory>
#include <QPainter>
#include <QPixmap>
#include <QProgressBar>
#include <QPromise>
#include <QPushButton>
#include <QScrollBar>
#include <QSplitter>
#include <QTimer>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <functional>

Q_LOGGING_CATEGORY(lcCompareView, "ptscope.ui.compare_view", QtWarningMsg)

namespace ptscope::ui {

namespace {

struct Request
{
    QString source;
    QString target;
    core::TorchRules rules = core::TorchRules::Torch2;
    std::optional<core::ObjectPath> sourceKey;
    std::optional<core::ObjectPath> targetKey;
    std::shared_ptr<const core::Checkpoint> sourceCp; // reused when the file did not change
    std::shared_ptr<const core::Checkpoint> targetCp;
};

core::Result<std::shared_ptr<const core::Checkpoint>> openAny(const QString &path)
{
    if (path.startsWith(QLatin1Char(':'))) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            return core::makeError(core::ErrorCode::FileNotFound, "the bundled sample is missing from this build");
        const QByteArray bytes = f.readAll();
        return core::openCheckpoint(core::MappedFile::fromBuffer(
            std::vector<std::uint8_t>(bytes.begin(), bytes.end()), path.toStdString()));
    }
    return core::openCheckpoint(path.toStdString());
}

QString failure(const QString &path, const core::Error &e)
{
    return QObject::tr("%1: %2").arg(QFileInfo(path).fileName(), QString::fromStdString(e.toString()));
}

CompareView::Outcome analyse(const Request &r)
{
    QElapsedTimer timer;
    timer.start();
    CompareView::Outcome out;
    out.source = r.sourceCp;
    if (!out.source) {
        auto cp = openAny(r.source);
        if (!cp) {
            out.error = failure(r.source, cp.error());
            return out;
        }
        out.source = *cp;
    }
    std::optional<core::ModelStructure> model;
    if (!r.target.startsWith(QLatin1Char(':')) && core::looksLikeManifest(r.target.toStdString())) {
        auto m = core::modelFromManifest(r.target.toStdString());
        if (!m) {
            out.error = failure(r.target, m.error());
            return out;
        }
        model = std::move(*m);
    } else {
        out.target = r.targetCp;
        if (!out.target) {
            auto cp = openAny(r.target);
            if (!cp) {
                out.error = failure(r.target, cp.error());
                return out;
            }
            out.target = *cp;
        }
        auto m = core::modelFromCheckpoint(*out.target, r.targetKey ? &*r.targetKey : nullptr);
        if (!m) {
            out.error = failure(r.target, m.error());
            return out;
        }
        model = std::move(*m);
        out.targetCandidates = core::stateDictCandidates(*out.target);
    }
    auto sd = core::sourceFromCheckpoint(*out.source, r.sourceKey ? &*r.sourceKey : nullptr);
    if (!sd) {
        out.error = failure(r.source, sd.error());
        return out;
    }
    out.sourceCandidates = core::stateDictCandidates(*out.source);
    // The Python the fixes print names the file as the user would type it.
    const QString file = r.source.startsWith(QLatin1Char(':')) ? QFileInfo(r.source).fileName() : r.source;
    const core::SourceContext ctx = core::sourceContext(*out.source, *sd, *model, r.rules, file.toStdString());
    auto report = std::make_shared<core::DiffReport>(core::explainDiff(*model, *sd, ctx, r.rules));
    auto data = std::make_shared<CompareData>();
    data->keys = core::alignKeys(*model, *sd, report->outcome);
    data->outcome = report->outcome;
    data->model = std::move(*model);
    data->source = std::move(*sd);
    out.data = std::move(data);
    out.report = std::move(report);
    out.milliseconds = double(timer.nsecsElapsed()) / 1e6;
    return out;
}

QString pathText(const core::ObjectPath &path)
{
    return path.empty() ? QObject::tr("(the file itself)") : QString::fromStdString(core::joinPath(path));
}

QString number(double v)
{
    return QLocale().toString(v, 'g', 4);
}

// A swatch of a status colour over the palette's base, as the rows show it.
QLabel *legendItem(core::KeyStatus status, const QPalette &palette, QWidget *parent)
{
    QPixmap pix(14, 14);
    pix.fill(palette.color(QPalette::Base));
    {
        QPainter p(&pix);
        p.fillRect(pix.rect(), CompareModel::statusColor(status));
        p.setPen(palette.color(QPalette::Mid));
        p.drawRect(pix.rect().adjusted(0, 0, -1, -1));
    }
    auto *label = new QLabel(parent);
    label->setPixmap(pix);
    label->setToolTip(CompareModel::statusText(status));
    return label;
}

// One side of the aligned trees: a group that side does not have gets no expander either, so
// its rows are as blank as its keys.
class SideTreeView final : public QTreeView
{
public:
    SideTreeView(int presenceRole, QWidget *parent)
        : QTreeView(parent)
        , m_role(presenceRole)
    {
    }

protected:
    void drawBranches(QPainter *painter, const QRect &rect, const QModelIndex &index) const override
    {
        if (index.data(m_role).toBool())
            QTreeView::drawBranches(painter, rect, index);
    }

private:
    int m_role;
};

} // namespace

CompareView::CompareView(QWidget *parent)
    : QWidget(parent)
    , m_model(new CompareModel(this))
    , m_proxy(new CompareFilterProxy(this))
{
    setObjectName(QStringLiteral("compareView"));
    m_proxy->setSourceModel(m_model);
    createWidgets();
    createActions();
}

CompareView::~CompareView()
{
    m_future.cancel();
    m_valuesFuture.cancel();
    m_future.waitForFinished();
    m_valuesFuture.waitForFinished();
}

void CompareView::createWidgets()
{
    // Options: both files and where their state dicts are, swap, torch's rules.
    auto *options = new QGridLayout;
    m_sourceLabel = new QLabel(this);
    m_sourceLabel->setObjectName(QStringLiteral("compareSourceLabel"));
    m_targetLabel = new QLabel(this);
    m_targetLabel->setObjectName(QStringLiteral("compareTargetLabel"));
    for (QLabel *l : {m_sourceLabel, m_targetLabel})
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_sourceKeyCombo = new QComboBox(this);
    m_sourceKeyCombo->setObjectName(QStringLiteral("sourceKeyCombo"));
    m_sourceKeyCombo->setToolTip(tr("Where the checkpoint's state dict is (a training checkpoint may hold several)"));
    m_targetKeyCombo = new QComboBox(this);
    m_targetKeyCombo->setObjectName(QStringLiteral("targetKeyCombo"));
    m_targetKeyCombo->setToolTip(tr("Where the model's state dict is in its file"));
    m_swap = new QToolButton(this);
    m_swap->setObjectName(QStringLiteral("swapButton"));
    m_swap->setText(tr("⇅ S&wap"));
    m_swap->setToolTip(tr("Load the model's file into the checkpoint's instead (Ctrl+Shift+X)"));
    m_rulesCombo = new QComboBox(this);
    m_rulesCombo->setObjectName(QStringLiteral("rulesCombo"));
    for (const core::TorchRules rules : core::kAllTorchRules)
        m_rulesCombo->addItem(tr("%1 rules").arg(QString::fromLatin1(core::torchRulesName(rules))), int(rules));
    for (QComboBox *combo : {m_sourceKeyCombo, m_targetKeyCombo}) {
        combo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
        combo->setMinimumContentsLength(16);
    }
    m_rulesCombo->setToolTip(tr("Whose load_state_dict to emulate: torch 2.4 changed which dotted keys are "
                                "unexpected, 2.10 how a 1-dim tensor loads into a 0-dim parameter (Ctrl+Shift+T "
                                "steps through them)"));
    auto *sourceCaption = new QLabel(tr("<b>Checkpoint</b> (source, loaded):"), this);
    auto *targetCaption = new QLabel(tr("<b>Model</b> (target):"), this);
    options->addWidget(sourceCaption, 0, 0);
    options->addWidget(m_sourceLabel, 0, 1);
    options->addWidget(new QLabel(tr("state dict:"), this), 0, 2);
    options->addWidget(m_sourceKeyCombo, 0, 3);
    options->addWidget(targetCaption, 1, 0);
    options->addWidget(m_targetLabel, 1, 1);
    options->addWidget(new QLabel(tr("state dict:"), this), 1, 2);
    options->addWidget(m_targetKeyCombo, 1, 3);
    options->addWidget(m_swap, 0, 4, 2, 1);
    options->addWidget(m_rulesCombo, 0, 5);
    options->setColumnStretch(1, 1);

    // Filter, problems only, legend.
    auto *filterRow = new QHBoxLayout;
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("compareFilter"));
    m_filter->setPlaceholderText(tr("Filter keys (Ctrl+F)"));
    m_filter->setClearButtonEnabled(true);
    m_problemsOnly = new QCheckBox(tr("Only &problems"), this);
    m_problemsOnly->setObjectName(QStringLiteral("problemsOnly"));
    m_problemsOnly->setToolTip(tr("Hide the keys that simply load (Ctrl+Shift+P); F8 / Shift+F8 go to the next / "
                                  "previous problem"));
    filterRow->addWidget(m_filter, 2);
    filterRow->addWidget(m_problemsOnly);
    filterRow->addSpacing(12);
    auto *legend = new QWidget(this);
    legend->setObjectName(QStringLiteral("compareLegend"));
    auto *legendLayout = new QHBoxLayout(legend);
    legendLayout->setContentsMargins(0, 0, 0, 0);
    legendLayout->setSpacing(4);
    for (core::KeyStatus s : {core::KeyStatus::Matched, core::KeyStatus::Missing, core::KeyStatus::Unexpected,
                              core::KeyStatus::ShapeMismatch, core::KeyStatus::DtypeDiffers, core::KeyStatus::Error,
                              core::KeyStatus::Ignored, core::KeyStatus::FilledIn}) {
        legendLayout->addWidget(legendItem(s, palette(), legend));
        legendLayout->addWidget(new QLabel(CompareModel::statusText(s), legend));
        legendLayout->addSpacing(6);
    }
    filterRow->addWidget(legend);

    // Preview banner.
    m_previewBanner = new QWidget(this);
    m_previewBanner->setObjectName(QStringLiteral("previewBanner"));
    m_previewBanner->setAutoFillBackground(true);
    {
        QPalette pal = m_previewBanner->palette();
        pal.setColor(QPalette::Window, pal.color(QPalette::Highlight));
        pal.setColor(QPalette::WindowText, pal.color(QPalette::HighlightedText));
        m_previewBanner->setPalette(pal);
    }
    auto *bannerLayout = new QHBoxLayout(m_previewBanner);
    bannerLayout->setContentsMargins(8, 4, 8, 4);
    m_previewText = new QLabel(m_previewBanner);
    m_previewText->setWordWrap(true);
    auto *back = new QPushButton(tr("Back to the files (Alt+Left)"), m_previewBanner);
    back->setObjectName(QStringLiteral("previewBack"));
    connect(back, &QPushButton::clicked, this, &CompareView::clearPreview);
    bannerLayout->addWidget(m_previewText, 1);
    bannerLayout->addWidget(back);
    m_previewBanner->hide();

    // The two aligned trees.
    auto makeView = [this](const QString &name, int presenceRole) {
        auto *view = new SideTreeView(presenceRole, this);
        view->setObjectName(name);
        view->setModel(m_proxy);
        view->setUniformRowHeights(true);
        view->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        view->setSelectionBehavior(QAbstractItemView::SelectRows);
        view->setAllColumnsShowFocus(true);
        view->header()->setStretchLastSection(true);
        return view;
    };
    m_sourceView = makeView(QStringLiteral("compareSourceView"), CompareModel::HasSourceRole);
    m_targetView = makeView(QStringLiteral("compareTargetView"), CompareModel::HasTargetRole);
    for (int c = CompareModel::TargetKey; c < CompareModel::ColumnCount; ++c)
        m_sourceView->setColumnHidden(c, true);
    for (int c = CompareModel::SourceKey; c <= CompareModel::SourceDtype; ++c)
        m_targetView->setColumnHidden(c, true);
    m_targetView->setTreePosition(CompareModel::TargetKey);
    m_sourceView->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff); // the right one scrolls both
    m_targetView->setSelectionModel(m_sourceView->selectionModel());
    m_sourceView->setColumnWidth(CompareModel::SourceKey, 250);
    m_sourceView->setColumnWidth(CompareModel::SourceShape, 110);
    m_targetView->setColumnWidth(CompareModel::TargetKey, 200);
    m_targetView->setColumnWidth(CompareModel::TargetShape, 100);
    m_targetView->setColumnWidth(CompareModel::TargetDtype, 70);
    connect(m_sourceView->verticalScrollBar(), &QScrollBar::valueChanged, m_targetView->verticalScrollBar(),
            &QScrollBar::setValue);
    connect(m_targetView->verticalScrollBar(), &QScrollBar::valueChanged, m_sourceView->verticalScrollBar(),
            &QScrollBar::setValue);
    connect(m_sourceView, &QTreeView::expanded, m_targetView, &QTreeView::expand);
    connect(m_targetView, &QTreeView::expanded, m_sourceView, &QTreeView::expand);
    connect(m_sourceView, &QTreeView::collapsed, m_targetView, &QTreeView::collapse);
    connect(m_targetView, &QTreeView::collapsed, m_sourceView, &QTreeView::collapse);
    connect(m_sourceView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex &current) { onCurrentChanged(current); });

    auto wrap = [this](QLabel *header, QTreeView *view) {
        auto *w = new QWidget(this);
        auto *l = new QVBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        l->setSpacing(2);
        header->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->addWidget(header);
        l->addWidget(view, 1);
        return w;
    };
    m_sourceHeader = new QLabel(this);
    m_targetHeader = new QLabel(this);
    auto *trees = new QSplitter(Qt::Horizontal, this);
    trees->setObjectName(QStringLiteral("compareTrees"));
    trees->setChildrenCollapsible(false);
    trees->addWidget(wrap(m_sourceHeader, m_sourceView));
    trees->addWidget(wrap(m_targetHeader, m_targetView));
    trees->setSizes({440, 560});

    auto *left = new QWidget(this);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(m_previewBanner);
    leftLayout->addWidget(trees, 1);

    // Explanation above, values below.
    m_explanation = new ExplanationPanel(this);
    m_explanation->setObjectName(QStringLiteral("explanationPanel"));
    connect(m_explanation, &ExplanationPanel::previewRequested, this, [this](int i) { previewSuggestion(i); });
    auto *values = new QWidget(this);
    auto *valuesLayout = new QVBoxLayout(values);
    valuesLayout->setContentsMargins(0, 0, 0, 0);
    m_values = new QLabel(values);
    m_values->setObjectName(QStringLiteral("valuesLabel"));
    m_values->setWordWrap(true);
    m_values->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_plot = new ComparePlot(values);
    m_plot->setObjectName(QStringLiteral("comparePlot"));
    valuesLayout->addWidget(m_values);
    valuesLayout->addWidget(m_plot, 1);
    auto *right = new QSplitter(Qt::Vertical, this);
    right->setObjectName(QStringLiteral("compareRightSplitter"));
    right->addWidget(m_explanation);
    right->addWidget(values);
    right->setSizes({470, 430});

    m_splitter = new QSplitter(Qt::Horizontal, this);
    m_splitter->setObjectName(QStringLiteral("compareSplitter"));
    m_splitter->addWidget(left);
    m_splitter->addWidget(right);
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 2);
    m_splitter->setSizes({960, 600});

    // Progress and Cancel for this page's own work.
    auto *statusRow = new QHBoxLayout;
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("compareStatus"));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("compareProgress"));
    m_progress->setMaximumWidth(220);
    m_progress->hide();
    m_cancel = new QToolButton(this);
    m_cancel->setObjectName(QStringLiteral("compareCancel"));
    m_cancel->setText(tr("Cancel"));
    m_cancel->setToolTip(tr("Stop the work in progress (Esc)"));
    m_cancel->hide();
    connect(m_cancel, &QToolButton::clicked, this, &CompareView::cancel);
    statusRow->addWidget(m_status, 1);
    statusRow->addWidget(m_progress);
    statusRow->addWidget(m_cancel);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 0);
    layout->addLayout(options);
    layout->addLayout(filterRow);
    layout->addWidget(m_splitter, 1);
    layout->addLayout(statusRow);

    m_filterDebounce = new QTimer(this);
    m_filterDebounce->setSingleShot(true);
    m_filterDebounce->setInterval(150);
    connect(m_filter, &QLineEdit::textChanged, m_filterDebounce, qOverload<>(&QTimer::start));
    connect(m_filterDebounce, &QTimer::timeout, this, [this] {
        m_proxy->setFilterText(m_filter->text());
        m_sourceView->expandAll();
        m_targetView->expandAll();
    });
    connect(m_problemsOnly, &QCheckBox::toggled, this, [this](bool on) {
        m_proxy->setProblemsOnly(on);
        m_sourceView->expandAll();
        m_targetView->expandAll();
    });
    connect(m_swap, &QToolButton::clicked, this, &CompareView::swapSides);
    connect(m_rulesCombo, &QComboBox::activated, this,
            [this](int i) { setTorchRules(core::TorchRules(m_rulesCombo->itemData(i).toInt())); });
    connect(m_sourceKeyCombo, &QComboBox::activated, this, [this](int i) {
        const QStringList steps = m_sourceKeyCombo->itemData(i).toStringList();
        core::ObjectPath p;
        for (const QString &s : steps)
            p.push_back(s.toStdString());
        setStateDictKeys(p, m_targetKey);
    });
    connect(m_targetKeyCombo, &QComboBox::activated, this, [this](int i) {
        const QStringList steps = m_targetKeyCombo->itemData(i).toStringList();
        core::ObjectPath p;
        for (const QString &s : steps)
            p.push_back(s.toStdString());
        setStateDictKeys(m_sourceKey, p);
    });
    m_explanation->clear(tr("Choose two files to compare."));
}

void CompareView::createActions()
{
    auto add = [this](const QString &text, const QKeySequence &key, auto slot) {
        auto *a = new QAction(text, this);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        connect(a, &QAction::triggered, this, slot);
        addAction(a);
        return a;
    };
    add(tr("Next problem"), QKeySequence(Qt::Key_F8), [this] { selectProblem(+1); });
    add(tr("Previous problem"), QKeySequence(Qt::SHIFT | Qt::Key_F8), [this] { selectProblem(-1); });
    add(tr("Only problems"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P), [this] { m_problemsOnly->toggle(); });
    add(tr("Swap sides"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_X), [this] { swapSides(); });
    add(tr("Next torch version's rules"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T), [this] {
        const int next = (m_rulesCombo->currentIndex() + 1) % m_rulesCombo->count();
        setTorchRules(core::TorchRules(m_rulesCombo->itemData(next).toInt()));
    });
    add(tr("Back to the files"), QKeySequence(Qt::ALT | Qt::Key_Left), [this] { clearPreview(); });
}

void CompareView::compare(const QString &source, const QString &target)
{
    const auto absolute = [](const QString &p) {
        return p.startsWith(QLatin1Char(':')) ? p : QFileInfo(p).absoluteFilePath();
    };
    const QString s = absolute(source);
    const QString t = absolute(target);
    if (s != m_sourcePath)
        m_source.reset();
    if (t != m_targetPath)
        m_target.reset();
    if (s != m_sourcePath || t != m_targetPath) {
        m_sourceKey.reset();
        m_targetKey.reset();
    }
    m_sourcePath = s;
    m_targetPath = t;
    run();
}

void CompareView::swapSides()
{
    if (m_sourcePath.isEmpty() || m_targetPath.isEmpty())
        return;
    std::swap(m_sourcePath, m_targetPath);
    std::swap(m_source, m_target);
    std::swap(m_sourceKey, m_targetKey);
    run();
}

void CompareView::setTorchRules(core::TorchRules rules)
{
    m_rules = rules;
    m_rulesCombo->setCurrentIndex(m_rulesCombo->findData(int(rules)));
    if (!m_sourcePath.isEmpty())
        run();
}

void CompareView::setStateDictKeys(const std::optional<core::ObjectPath> &source,
                                   const std::optional<core::ObjectPath> &target)
{
    m_sourceKey = source;
    m_targetKey = target;
    if (!m_sourcePath.isEmpty())
        run();
}

void CompareView::run()
{
    const std::uint64_t generation = ++m_generation;
    m_valuesFuture.cancel();
    Request r;
    r.source = m_sourcePath;
    r.target = m_targetPath;
    r.rules = m_rules;
    r.sourceKey = m_sourceKey;
    r.targetKey = m_targetKey;
    r.sourceCp = m_source;
    r.targetCp = m_target;
    updateHeaders();
    m_status->setText(tr("Comparing %1 with %2…").arg(QFileInfo(m_sourcePath).fileName(),
                                                      QFileInfo(m_targetPath).fileName()));
    auto *watcher = new QFutureWatcher<Outcome>(this);
    connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation == m_generation && !watcher->future().isCanceled() && watcher->future().resultCount() > 0)
            onAnalysed(watcher->future().result());
        updateBusy();
    });
    m_future = QtConcurrent::run(analyse, r);
    watcher->setFuture(m_future);
    updateBusy();
}

void CompareView::updateHeaders()
{
    auto name = [](const QString &p) { return QFileInfo(p).fileName(); };
    m_sourceLabel->setText(QStringLiteral("<code>%1</code>").arg(m_sourcePath.toHtmlEscaped()));
    m_targetLabel->setText(QStringLiteral("<code>%1</code>").arg(m_targetPath.toHtmlEscaped()));
    m_sourceHeader->setText(tr("<b>Checkpoint</b> — %1").arg(name(m_sourcePath).toHtmlEscaped()));
    m_targetHeader->setText(tr("<b>Model</b> — %1").arg(name(m_targetPath).toHtmlEscaped()));
}

void CompareView::fillKeyCombo(QComboBox *combo, const std::vector<core::ObjectPath> &candidates,
                               const core::ObjectPath &used)
{
    const QSignalBlocker blocker(combo);
    combo->clear();
    bool found = false;
    auto add = [combo](const core::ObjectPath &p) {
        QStringList steps;
        for (const std::string &s : p)
            steps << QString::fromStdString(s);
        combo->addItem(pathText(p), steps);
    };
    for (const core::ObjectPath &p : candidates) {
        add(p);
        found = found || p == used;
    }
    if (!found)
        add(used);
    for (int i = 0; i < combo->count(); ++i) {
        QStringList steps;
        for (const std::string &s : used)
            steps << QString::fromStdString(s);
        if (combo->itemData(i).toStringList() == steps)
            combo->setCurrentIndex(i);
    }
    combo->setEnabled(combo->count() > 1);
}

void CompareView::onAnalysed(const Outcome &outcome)
{
    if (!outcome.data) {
        qCWarning(lcCompareView) << "cannot compare" << outcome.error;
        m_model->setData(nullptr);
        m_data.reset();
        m_report.reset();
        m_explanation->clear(tr("<h3>ptscope could not compare these files</h3><p>%1</p>")
                                 .arg(outcome.error.toHtmlEscaped()));
        m_plot->setMessage(tr("Nothing to compare."));
        m_values->clear();
        m_status->setText(outcome.error);
        emit compareFailed(outcome.error);
        return;
    }
    m_source = outcome.source;
    m_target = outcome.target;
    m_data = outcome.data;
    m_report = outcome.report;
    m_previewing = -1;
    m_previewData.reset();
    m_previewBanner->hide();
    fillKeyCombo(m_sourceKeyCombo, outcome.sourceCandidates, m_data->source.path);
    if (m_target) {
        fillKeyCombo(m_targetKeyCombo, outcome.targetCandidates,
                     m_targetKey ? *m_targetKey : m_target->stateDict.path);
    } else {
        const QSignalBlocker blocker(m_targetKeyCombo);
        m_targetKeyCombo->clear();
        m_targetKeyCombo->addItem(tr("(manifest)"));
        m_targetKeyCombo->setEnabled(false);
    }
    m_swap->setEnabled(m_target != nullptr);
    m_explanation->setReport(*m_report, m_rulesCombo->currentText(), -1, core::loadNotes(m_data->model, m_report->outcome));
    showData(m_data);
    std::size_t problems = 0;
    for (const core::AlignedKey &k : m_data->keys)
        problems += core::isProblem(k.status);
    m_status->setText(tr("%1 keys, %2 to look at; compared in %3 ms (%4)")
                          .arg(m_data->keys.size())
                          .arg(problems)
                          .arg(outcome.milliseconds, 0, 'f', 1)
                          .arg(QString::fromStdString(m_data->model.origin)));
    emit compared();
}

void CompareView::showData(std::shared_ptr<const CompareData> data)
{
    m_model->setData(std::move(data));
    if (m_model->compareData() && m_model->compareData()->keys.size() <= 5000) {
        m_sourceView->expandAll();
        m_targetView->expandAll();
    } else {
        m_sourceView->expandToDepth(0);
        m_targetView->expandToDepth(0);
    }
    // Start where there is something to see: the first problem, else the first key.
    selectProblem(+1);
    if (!m_sourceView->currentIndex().isValid()) {
        QModelIndex leaf = m_proxy->index(0, 0);
        while (leaf.isValid() && m_proxy->rowCount(leaf) > 0)
            leaf = m_proxy->index(0, 0, leaf);
        if (leaf.isValid())
            m_sourceView->setCurrentIndex(leaf);
        else
            onCurrentChanged({});
    }
}

const core::LoadOutcome *CompareView::shownOutcome() const
{
    const auto &d = m_previewData ? m_previewData : m_data;
    return d ? &d->outcome : nullptr;
}

bool CompareView::previewSuggestion(int index)
{
    if (!m_report || !m_data || index < 0 || index >= int(m_report->suggestions.size()))
        return false;
    const core::DiffSuggestion &s = m_report->suggestions[std::size_t(index)];
    if (!s.sourceAfter)
        return false;
    // Only the keys are emulated again (no file is read): quick even for large models.
    auto data = std::make_shared<CompareData>();
    data->model = m_data->model;
    data->source = *s.sourceAfter;
    data->outcome = core::emulateLoadStateDict(data->model, data->source, m_rules);
    data->keys = core::alignKeys(data->model, data->source, data->outcome);
    m_previewData = data;
    m_previewing = index;
    core::DiffReport shown = *m_report;
    shown.outcome = data->outcome;
    m_explanation->setReport(shown, m_rulesCombo->currentText(), index, core::loadNotes(data->model, data->outcome));
    m_previewText->setText(tr("<b>Previewing fix %1:</b> %2 — %3. Nothing on disk changes.")
                               .arg(index + 1)
                               .arg(QString::fromStdString(s.title).toHtmlEscaped(),
                                    data->outcome.strictOk() ? tr("strict=True would succeed")
                                                             : tr("strict=True would still raise")));
    m_previewBanner->show();
    showData(data);
    std::size_t problems = 0;
    for (const core::AlignedKey &k : data->keys)
        problems += core::isProblem(k.status);
    m_status->setText(tr("Preview of fix %1: %2 keys, %3 to look at").arg(index + 1).arg(data->keys.size()).arg(problems));
    emit compared();
    return true;
}

void CompareView::clearPreview()
{
    if (m_previewing < 0 || !m_data)
        return;
    m_previewing = -1;
    m_previewData.reset();
    m_previewBanner->hide();
    m_explanation->setReport(*m_report, m_rulesCombo->currentText(), -1, core::loadNotes(m_data->model, m_report->outcome));
    showData(m_data);
    m_status->setText(tr("Back to the files: %1 keys").arg(m_data->keys.size()));
    emit compared();
}

bool CompareView::selectKey(const QString &key)
{
    const QModelIndex proxy = m_proxy->mapFromSource(m_model->indexForKey(key));
    if (!proxy.isValid())
        return false;
    m_sourceView->setCurrentIndex(proxy);
    m_sourceView->scrollTo(proxy);
    return true;
}

void CompareView::selectProblem(int direction)
{
    // Keys in display order, then the next problem after the current one (wrapping around).
    std::vector<QModelIndex> keys;
    std::function<void(const QModelIndex &)> walk = [&](const QModelIndex &parent) {
        for (int r = 0; r < m_proxy->rowCount(parent); ++r) {
            const QModelIndex i = m_proxy->index(r, 0, parent);
            if (i.data(CompareModel::AlignedRole).toInt() >= 0)
                keys.push_back(i);
            walk(i);
        }
    };
    walk({});
    if (keys.empty())
        return;
    const QModelIndex current = m_sourceView->currentIndex().siblingAtColumn(0);
    int at = -1;
    for (int i = 0; i < int(keys.size()); ++i)
        if (keys[std::size_t(i)] == current)
            at = i;
    const int n = int(keys.size());
    for (int step = 1; step <= n; ++step) {
        const int i = ((at < 0 && direction < 0 ? n : at) + direction * step % n + n * 2) % n;
        const QModelIndex candidate = keys[std::size_t(i)];
        const QVariant status = candidate.data(CompareModel::StatusRole);
        if (status.isValid() && core::isProblem(core::KeyStatus(status.toInt()))) {
            m_sourceView->setCurrentIndex(candidate);
            m_sourceView->scrollTo(candidate);
            return;
        }
    }
}

void CompareView::onCurrentChanged(const QModelIndex &proxyIndex)
{
    ++m_valuesGeneration;
    m_valuesFuture.cancel();
    const auto &data = m_model->compareData();
    const core::AlignedKey *a = m_model->alignedKey(m_proxy->mapToSource(proxyIndex));
    if (!a || !data) {
        m_values->setText(tr("Select a key to compare its values."));
        m_plot->setMessage(tr("Select a key both sides hold to compare its values."));
        updateBusy();
        return;
    }
    const QString key = QString::fromStdString(a->key);
    const core::SourceEntry *e = a->sourceEntry >= 0 ? &data->source.entries[std::size_t(a->sourceEntry)] : nullptr;
    const core::ModuleSlot *slot = core::targetSlot(data->model, *a);
    m_values->setText(QStringLiteral("<b>%1</b> — %2: %3")
                          .arg(key.toHtmlEscaped(), CompareModel::statusText(a->status),
                               QString::fromStdString(a->note).toHtmlEscaped()));
    QString why;
    if (!e || !e->isTensor || e->tensor < 0)
        why = tr("The checkpoint holds no tensor for this key.");
    else if (!slot || slot->tensor < 0)
        why = m_target ? tr("The model holds no tensor for this key.")
                       : tr("The model is described by a manifest: it holds no values.");
    else if (a->status == core::KeyStatus::ShapeMismatch)
        why = tr("The shapes differ: there are no element-wise differences to show.");
    if (!why.isEmpty()) {
        m_plot->setMessage(why);
        updateBusy();
        return;
    }
    requestValues(std::uint32_t(e->tensor), std::uint32_t(slot->tensor), key);
}

void CompareView::requestValues(std::uint32_t sourceTensor, std::uint32_t targetTensor, const QString &key)
{
    const std::uint64_t generation = m_valuesGeneration;
    auto *watcher = new QFutureWatcher<ValuesOutcome>(this);
    connect(watcher, &QFutureWatcher<ValuesOutcome>::progressValueChanged, this, [this, generation](int v) {
        if (generation == m_valuesGeneration)
            m_progress->setValue(v);
    });
    connect(watcher, &QFutureWatcher<ValuesOutcome>::finished, this, [this, watcher, generation, key] {
        watcher->deleteLater();
        if (generation == m_valuesGeneration && !watcher->future().isCanceled()
            && watcher->future().resultCount() > 0) {
            const ValuesOutcome out = watcher->future().result();
            if (!out.error.isEmpty()) {
                m_plot->setMessage(tr("The values cannot be compared: %1").arg(out.error));
            } else {
                const core::ValueComparison &c = out.histograms.comparison;
                m_values->setText(
                    m_values->text()
                    + tr("<br>max |diff| <b>%1</b> · mean |diff| %2 · relative L2 <b>%3</b> · cosine %8 · %4 of %5 "
                         "elements differ · allclose (rtol 1e-5, atol 1e-8): <b>%6</b>%7")
                          .arg(number(c.maxAbsDiff), number(c.meanAbsDiff), number(c.relativeL2),
                               QLocale().toString(qulonglong(c.differing)), QLocale().toString(qulonglong(c.numel)),
                               c.allclose ? tr("yes") : tr("no"),
                               c.identical ? tr(" · identical") : QString(), number(c.cosine)));
                m_plot->setHistograms(out.histograms, key);
                emit valuesShown();
            }
        }
        updateBusy();
    });
    m_valuesFuture = QtConcurrent::run(
        [](QPromise<ValuesOutcome> &promise, std::shared_ptr<const core::Checkpoint> source,
           std::shared_ptr<const core::Checkpoint> target, std::uint32_t a, std::uint32_t b) {
            promise.setProgressRange(0, 1000);
            // The job's backend: the GPU when one is usable, else every CPU core (the same numbers).
            const auto backend = makeJobBackend();
            auto r = core::compareTensorHistograms(
                *source, a, *target, b, 64,
                [&promise](std::uint64_t done, std::uint64_t total) {
                    if (total > 0)
                        promise.setProgressValue(int(done * 1000 / total));
                    return !promise.isCanceled();
                },
                backend.get());
            ValuesOutcome out;
            if (r)
                out.histograms = std::move(*r);
            else if (r.error().code == core::ErrorCode::Cancelled)
                return;
            else
                out.error = QString::fromStdString(r.error().message);
            promise.addResult(std::move(out));
        },
        m_source, m_target, sourceTensor, targetTensor);
    watcher->setFuture(m_valuesFuture);
    m_progress->setRange(0, 1000);
    m_progress->setFormat(tr("Values %p%"));
    updateBusy();
}

void CompareView::focusFilter()
{
    m_filter->setFocus();
    m_filter->selectAll();
}

void CompareView::cancel()
{
    if (m_future.isRunning()) {
        ++m_generation; // the files keep loading in the worker; the result is dropped
        m_status->setText(tr("Comparison cancelled"));
    }
    if (m_valuesFuture.isRunning()) {
        m_valuesFuture.cancel();
        m_plot->setMessage(tr("Cancelled."));
    }
    QTimer::singleShot(0, this, &CompareView::updateBusy);
}

bool CompareView::isBusy() const
{
    return m_future.isRunning() || m_valuesFuture.isRunning();
}

void CompareView::updateBusy()
{
    const bool busy = isBusy();
    if (m_future.isRunning()) {
        m_progress->setRange(0, 0);
        m_progress->setFormat(tr("Comparing…"));
    }
    m_progress->setVisible(busy);
    m_cancel->setVisible(busy);
    if (busy != m_busy) {
        m_busy = busy;
        emit busyChanged(busy);
    }
}

} // namespace ptscope::ui
