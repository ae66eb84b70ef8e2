// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QDialog>
#include <QFuture>
#include <QStringList>

#include <atomic>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTextBrowser;

namespace ptscope::core {
struct Checkpoint;
struct Report;
enum class TorchRules;
}

namespace ptscope::ui {

// File > Export…: builds the report of the open checkpoint off the GUI thread (statistics of every
// tensor), previews it, and writes it as HTML, PDF, Markdown, JSON or CSV, also off the GUI thread.
class ExportDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExportDialog)

public:
    enum class Format { Html, Pdf, Markdown, Json, Csv };

    ExportDialog(std::shared_ptr<const core::Checkpoint> checkpoint, const QString &name, QWidget *parent = nullptr);
    // A comparison: SOURCE loaded into the model TARGET stands for. `paths` are the two files; a
    // null target checkpoint means TARGET is a manifest, read again from its path.
    ExportDialog(std::shared_ptr<const core::Checkpoint> source, std::shared_ptr<const core::Checkpoint> target,
                 const QStringList &paths, core::TorchRules rules, QWidget *parent = nullptr);
    ~ExportDialog() override;

    Format format() const;
    void setFormat(Format format);
    bool isReady() const { return m_report != nullptr; }
    // Writes the report in the chosen format (the seam the Export button and tests use); emits exported().
    void exportTo(const QString &path);

    static QString suffix(Format format); // "html", "pdf", "md", "json", "csv"

signals:
    void reportReady();
    void exported(const QString &path, const QString &error); // error empty on success

private:
    void chooseFileAndExport();
    void showPreview();

    ExportDialog(std::vector<std::shared_ptr<const core::Checkpoint>> checkpoints, const QStringList &paths,
                 int rules, QWidget *parent);

    std::vector<std::shared_ptr<const core::Checkpoint>> m_checkpoints; // one, or two for a comparison
    QStringList m_paths;
    QString m_name; // the first file
    std::shared_ptr<const core::Report> m_report;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    QFuture<void> m_build;
    QFuture<QString> m_write;

    QComboBox *m_format = nullptr;
    QTextBrowser *m_preview = nullptr;
    QProgressBar *m_progress = nullptr;
    QLabel *m_status = nullptr;
    QPushButton *m_export = nullptr;
};

} // namespace ptscope::ui
