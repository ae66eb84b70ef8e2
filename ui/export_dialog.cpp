// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// report.h first: core's ModelStructure has a member named `slots`, which Qt's headers define as a macro.
#include "report.h"

#include "export_dialog.h"
#include "report_pdf.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ptscope::ui {

namespace {

struct BuildOutcome
{
    std::shared_ptr<const core::Report> report;
    QString html;
    QString error;
};

QString writeFormat(const core::Report &report, ExportDialog::Format format, const QString &path)
{
    if (format == ExportDialog::Format::Pdf) {
        // Written next to the target and renamed: never a half-written PDF under the chosen name.
        const QString tmp = path + QStringLiteral(".partial");
        const QString error = writeReportPdf(core::reportDocument(report), tmp);
        if (!error.isEmpty()) {
            QFile::remove(tmp);
            return error;
        }
        QFile::remove(path);
        if (!QFile::rename(tmp, path))
            return QObject::tr("cannot write %1").arg(path);
        return {};
    }
    std::string bytes;
    switch (format) {
    case ExportDialog::Format::Html: bytes = core::renderHtml(core::reportDocument(report)); break;
    case ExportDialog::Format::Markdown: bytes = core::renderMarkdown(core::reportDocument(report)); break;
    case ExportDialog::Format::Json: bytes = core::renderJson(report); break;
    case ExportDialog::Format::Csv: bytes = core::renderCsv(report); break;
    case ExportDialog::Format::Pdf: break;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return QObject::tr("cannot write %1: %2").arg(path, file.errorString());
    file.write(bytes.data(), qint64(bytes.size()));
    if (!file.commit())
        return QObject::tr("cannot write %1: %2").arg(path, file.errorString());
    return {};
}

} // namespace

ExportDialog::ExportDialog(std::shared_ptr<const core::Checkpoint> checkpoint, const QString &name, QWidget *parent)
    : ExportDialog(std::vector<std::shared_ptr<const core::Checkpoint>>{std::move(checkpoint)}, QStringList{name},
                   int(core::TorchRules::Torch2), parent)
{ }

ExportDialog::ExportDialog(std::shared_ptr<const core::Checkpoint> source, std::shared_ptr<const core::Checkpoint> target,
                           const QStringList &paths, core::TorchRules rules, QWidget *parent)
    : ExportDialog(std::vector<std::shared_ptr<const core::Checkpoint>>{std::move(source), std::move(target)}, paths,
                   int(rules), parent)
{ }

ExportDialog::ExportDialog(std::vector<std::shared_ptr<const core::Checkpoint>> checkpoints, const QStringList &paths,
                           int rules, QWidget *parent)
    : QDialog(parent)
    , m_checkpoints(std::move(checkpoints))
    , m_paths(paths)
    , m_name(paths.value(0))
    , m_cancel(std::make_shared<std::atomic<bool>>(false))
{
    setObjectName(QStringLiteral("exportDialog"));
    setWindowTitle(paths.size() == 2 ? tr("Export comparison report — %1 into %2")
                                           .arg(QFileInfo(paths[0]).fileName(), QFileInfo(paths[1]).fileName())
                                     : tr("Export report — %1").arg(QFileInfo(m_name).fileName()));
    resize(900, 700);

    auto *layout = new QVBoxLayout(this);
    auto *row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("&Format:"), this));
    m_format = new QComboBox(this);
    m_format->setObjectName(QStringLiteral("formatCombo"));
    m_format->addItem(tr("HTML — one self-contained page"), int(Format::Html));
    m_format->addItem(tr("PDF — paginated, vector plots"), int(Format::Pdf));
    m_format->addItem(tr("Markdown — for pull requests and issues"), int(Format::Markdown));
    m_format->addItem(tr("JSON — info, stats (and diff) for machines"), int(Format::Json));
    m_format->addItem(tr("CSV — one row per tensor"), int(Format::Csv));
    static_cast<QLabel *>(row->itemAt(0)->widget())->setBuddy(m_format);
    row->addWidget(m_format, 1);
    layout->addLayout(row);

    m_preview = new QTextBrowser(this);
    m_preview->setObjectName(QStringLiteral("previewBrowser"));
    m_preview->setOpenLinks(false);
    layout->addWidget(m_preview, 1);

    auto *bottom = new QHBoxLayout;
    m_status = new QLabel(tr("Computing statistics of every tensor…"), this);
    m_status->setObjectName(QStringLiteral("exportStatus"));
    bottom->addWidget(m_status, 1);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(220);
    bottom->addWidget(m_progress);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    m_export = buttons->addButton(tr("&Export…"), QDialogButtonBox::AcceptRole);
    m_export->setObjectName(QStringLiteral("exportButton"));
    m_export->setEnabled(false);
    bottom->addWidget(buttons);
    layout->addLayout(bottom);

    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_export, &QPushButton::clicked, this, &ExportDialog::chooseFileAndExport);
    connect(m_format, &QComboBox::currentIndexChanged, this, &ExportDialog::showPreview);

    // The report: statistics of every tensor, off the GUI thread.
    core::ReportOptions options;
    options.generator = "ptscope " PTSCOPE_VERSION;
    options.rules = core::TorchRules(rules);
    auto cancel = m_cancel;
    QPointer<QProgressBar> bar(m_progress);
    options.progress = [cancel, bar](std::uint64_t done, std::uint64_t total) {
        const int value = total ? int(1000.0 * double(done) / double(total)) : 1000;
        QMetaObject::invokeMethod(bar, [bar, value] { if (bar) bar->setValue(value); }, Qt::QueuedConnection);
        return !cancel->load();
    };
    auto opened = m_checkpoints;
    std::vector<std::string> names;
    bool allOpen = true;
    for (qsizetype i = 0; i < m_paths.size(); ++i) {
        names.push_back(m_paths[i].toStdString());
        allOpen = allOpen && std::size_t(i) < opened.size() && opened[std::size_t(i)];
    }
    auto *watcher = new QFutureWatcher<BuildOutcome>(this);
    connect(watcher, &QFutureWatcher<BuildOutcome>::finished, this, [this, watcher] {
        watcher->deleteLater();
        const BuildOutcome out = watcher->future().result();
        m_progress->hide();
        if (!out.report) {
            m_status->setText(tr("The report could not be made: %1").arg(out.error));
            return;
        }
        m_report = out.report;
        m_preview->setHtml(out.html);
        m_status->setText(tr("Ready: %n tensor(s).", nullptr, int(m_report->files.front().tensors.size())));
        m_export->setEnabled(true);
        emit reportReady();
    });
    QFuture<BuildOutcome> future = QtConcurrent::run([opened, names, allOpen, options] {
        BuildOutcome out;
        // A manifest target is no checkpoint: the report reads both files again from their paths.
        auto report = allOpen ? core::buildReport(opened, names, options) : core::buildReport(names, options);
        if (!report) {
            out.error = QString::fromStdString(report.error().toString());
            return out;
        }
        auto shared = std::make_shared<const core::Report>(std::move(*report));
        out.html = QString::fromStdString(core::renderHtml(core::reportDocument(*shared)));
        out.report = std::move(shared);
        return out;
    });
    m_build = QFuture<void>(future);
    watcher->setFuture(future);
}

ExportDialog::~ExportDialog()
{
    // Owners cancel and wait: no worker outlives the checkpoint and the report it reads.
    m_cancel->store(true);
    m_build.waitForFinished();
    m_write.waitForFinished();
}

ExportDialog::Format ExportDialog::format() const
{
    return Format(m_format->currentData().toInt());
}

void ExportDialog::setFormat(Format format)
{
    m_format->setCurrentIndex(m_format->findData(int(format)));
}

QString ExportDialog::suffix(Format format)
{
    switch (format) {
    case Format::Html: return QStringLiteral("html");
    case Format::Pdf: return QStringLiteral("pdf");
    case Format::Markdown: return QStringLiteral("md");
    case Format::Json: return QStringLiteral("json");
    case Format::Csv: return QStringLiteral("csv");
    }
    return {};
}

void ExportDialog::showPreview()
{
    if (!m_report)
        return;
    const Format f = format();
    if (f == Format::Html || f == Format::Pdf) {
        m_preview->setHtml(QString::fromStdString(core::renderHtml(core::reportDocument(*m_report))));
        return;
    }
    const std::string text = f == Format::Markdown ? core::renderMarkdown(core::reportDocument(*m_report))
        : f == Format::Json                        ? core::renderJson(*m_report)
                                                   : core::renderCsv(*m_report);
    constexpr std::size_t kPreviewLimit = 200000;
    QString shown = QString::fromStdString(text.substr(0, kPreviewLimit));
    if (text.size() > kPreviewLimit)
        shown += tr("\n… (the preview stops here; the file holds everything)");
    m_preview->setPlainText(shown);
}

void ExportDialog::chooseFileAndExport()
{
    const Format f = format();
    const QString base = QFileInfo(m_name).completeBaseName();
    const QString dir = m_name.startsWith(QLatin1Char(':')) ? QString() : QFileInfo(m_name).path();
    const QString proposed = (dir.isEmpty() ? QString() : dir + QLatin1Char('/')) + base + QStringLiteral("-report.")
        + suffix(f);
    const QString path = QFileDialog::getSaveFileName(this, tr("Export report"), proposed,
                                                      tr("%1 files (*.%2)").arg(suffix(f).toUpper(), suffix(f)));
    if (!path.isEmpty())
        exportTo(path);
}

void ExportDialog::exportTo(const QString &path)
{
    if (!m_report || m_write.isRunning()) {
        emit exported(path, tr("the report is not ready yet"));
        return;
    }
    m_export->setEnabled(false);
    m_status->setText(tr("Writing %1…").arg(QFileInfo(path).fileName()));
    auto report = m_report;
    const Format f = format();
    auto *watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
        watcher->deleteLater();
        const QString error = watcher->future().result();
        m_export->setEnabled(true);
        m_status->setText(error.isEmpty() ? tr("Wrote %1").arg(QDir::toNativeSeparators(path)) : error);
        emit exported(path, error);
    });
    m_write = QtConcurrent::run([report, f, path] { return writeFormat(*report, f, path); });
    watcher->setFuture(m_write);
}

} // namespace ptscope::ui
