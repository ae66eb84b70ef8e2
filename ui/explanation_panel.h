// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "models/core_compare.h"

#include <QScrollArea>

class QLabel;
class QPlainTextEdit;
class QVBoxLayout;

namespace ptscope::ui {

// The verdict of a comparison in words: whether strict=True succeeds, the lines torch raises
// with, the causes, and the suggested fixes with their Python, a Copy button each and a Preview
// button that asks the compare view to re-run the emulation with the fix applied.
class ExplanationPanel final : public QScrollArea
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExplanationPanel)

public:
    explicit ExplanationPanel(QWidget *parent = nullptr);
    ~ExplanationPanel() override;

    // `previewing`: the index of the suggestion being previewed, or -1.
    // `notes`: what the comparison could not know (core::loadNotes), listed after the causes.
    void setReport(const core::DiffReport &report, const QString &rulesName, int previewing,
                   const std::vector<std::string> &notes = {});
    void clear(const QString &message);
    QString verdictText() const;
    QString torchMessage() const;

signals:
    void previewRequested(int suggestion);

private:
    QWidget *suggestionWidget(const core::DiffSuggestion &s, int index, std::size_t targetKeys, bool previewing);

    QWidget *m_content = nullptr;
    QVBoxLayout *m_layout = nullptr;
    QLabel *m_verdict = nullptr;
    QPlainTextEdit *m_torch = nullptr;
    QLabel *m_causes = nullptr;
    QWidget *m_suggestions = nullptr;
};

} // namespace ptscope::ui
