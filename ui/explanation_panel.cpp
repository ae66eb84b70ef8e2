// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "explanation_panel.h"

#include <QApplication>
#include <QClipboard>
#include <QFontDatabase>
#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>

namespace ptscope::ui {

namespace {

QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

QPlainTextEdit *codeView(const QString &text, int maxLines, QWidget *parent)
{
    auto *edit = new QPlainTextEdit(text, parent);
    edit->setReadOnly(true);
    edit->setLineWrapMode(QPlainTextEdit::NoWrap);
    edit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    const int lines = std::clamp(int(text.count(QLatin1Char('\n'))) + 1, 2, maxLines);
    edit->setFixedHeight(edit->fontMetrics().lineSpacing() * lines + 14);
    return edit;
}

} // namespace

ExplanationPanel::ExplanationPanel(QWidget *parent)
    : QScrollArea(parent)
    , m_content(new QWidget(this))
    , m_layout(new QVBoxLayout(m_content))
    , m_verdict(new QLabel(m_content))
    , m_torch(nullptr)
    , m_causes(new QLabel(m_content))
{
    setWidgetResizable(true);
    setFrameShape(QFrame::NoFrame);
    m_verdict->setObjectName(QStringLiteral("verdictLabel"));
    m_verdict->setWordWrap(true);
    m_verdict->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_torch = codeView(QString(), 8, m_content);
    m_torch->setObjectName(QStringLiteral("torchMessage"));
    m_torch->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_causes->setObjectName(QStringLiteral("causesLabel"));
    m_causes->setWordWrap(true);
    m_causes->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_layout->addWidget(m_verdict);
    m_layout->addWidget(m_torch);
    m_layout->addWidget(m_causes);
    m_layout->addStretch();
    setWidget(m_content);
}

ExplanationPanel::~ExplanationPanel() = default;

QString ExplanationPanel::verdictText() const
{
    return m_verdict->text();
}

QString ExplanationPanel::torchMessage() const
{
    return m_torch->toPlainText();
}

void ExplanationPanel::clear(const QString &message)
{
    m_verdict->setText(message);
    m_torch->hide();
    m_causes->clear();
    delete m_suggestions;
    m_suggestions = nullptr;
}

void ExplanationPanel::setReport(const core::DiffReport &report, const QString &rulesName, int previewing,
                                 const std::vector<std::string> &notes)
{
    const core::LoadOutcome &o = report.outcome;
    const bool ok = o.strictOk();
    QString verdict = QStringLiteral("<h3 style='margin:0'>%1 %2</h3>")
                          .arg(ok ? QStringLiteral("✔") : QStringLiteral("✘"),
                               ok ? tr("strict=True would succeed") : tr("strict=True would raise"));
    QString nonStrict;
    if (o.typeError)
        nonStrict = tr("strict=False raises the same TypeError.");
    else if (o.nonStrictOk())
        nonStrict = tr("strict=False returns: %1 of %2 tensors loaded, %3 missing, %4 unexpected.")
                        .arg(o.loadedFromSource())
                        .arg(report.targetKeys)
                        .arg(o.missingKeys.size())
                        .arg(o.unexpectedKeys.size());
    else
        nonStrict = tr("strict=False raises too (%n error(s) besides missing and unexpected keys).", nullptr,
                       int(o.nonStrictMessages().size()));
    verdict += QStringLiteral("<p style='margin:4px 0'>%1 <i>(%2)</i></p>").arg(nonStrict.toHtmlEscaped(), rulesName);
    m_verdict->setText(verdict);

    QString message;
    if (o.typeError)
        message = QStringLiteral("TypeError: ") + q(*o.typeError);
    else if (o.exception)
        message = q(*o.exception);
    else if (!ok) {
        message = QStringLiteral("RuntimeError: ") + q(o.header);
        for (const std::string &line : o.strictMessages())
            message += QStringLiteral("\n\t") + q(line);
    }
    m_torch->setPlainText(message);
    m_torch->setVisible(!message.isEmpty());
    m_torch->setFixedHeight(m_torch->fontMetrics().lineSpacing()
                                * std::clamp(int(message.count(QLatin1Char('\n'))) + 2, 2, 8)
                            + 14);

    QString causes;
    if (!report.causes.empty()) {
        causes = QStringLiteral("<p style='margin:6px 0 2px 0'><b>%1</b></p><ol style='margin:0'>").arg(tr("Why"));
        for (const core::DiffCause &c : report.causes)
            causes += QStringLiteral("<li><b>%1</b><br>%2</li>").arg(q(c.title).toHtmlEscaped(), q(c.explanation).toHtmlEscaped());
        causes += QStringLiteral("</ol>");
    }
    if (!notes.empty()) {
        causes += QStringLiteral("<p style='margin:6px 0 2px 0'><b>%1</b></p><ul style='margin:0'>").arg(tr("Notes"));
        for (const std::string &n : notes)
            causes += QStringLiteral("<li>%1</li>").arg(q(n).toHtmlEscaped());
        causes += QStringLiteral("</ul>");
    }
    m_causes->setText(causes);

    delete m_suggestions;
    m_suggestions = new QWidget(m_content);
    m_suggestions->setObjectName(QStringLiteral("suggestions"));
    auto *layout = new QVBoxLayout(m_suggestions);
    layout->setContentsMargins(0, 0, 0, 0);
    if (!report.suggestions.empty()) {
        auto *title = new QLabel(QStringLiteral("<b>%1</b>").arg(tr("How to fix it")), m_suggestions);
        layout->addWidget(title);
    }
    for (std::size_t i = 0; i < report.suggestions.size(); ++i)
        layout->addWidget(suggestionWidget(report.suggestions[i], int(i), report.targetKeys, int(i) == previewing));
    m_layout->insertWidget(3, m_suggestions);
}

QWidget *ExplanationPanel::suggestionWidget(const core::DiffSuggestion &s, int index, std::size_t targetKeys,
                                            bool previewing)
{
    auto *frame = new QFrame(m_suggestions);
    frame->setObjectName(QStringLiteral("suggestion%1").arg(index));
    frame->setFrameShape(QFrame::StyledPanel);
    auto *layout = new QVBoxLayout(frame);
    QString after;
    if (s.verified) {
        after = s.strictOkAfter      ? tr("then strict=True succeeds")
                : s.nonStrictOkAfter ? tr("then strict=False returns, %1 of %2 loaded").arg(s.loadedAfter).arg(targetKeys)
                                     : tr("torch still raises");
    }
    auto *title = new QLabel(QStringLiteral("<b>%1. %2</b>%3")
                                 .arg(index + 1)
                                 .arg(q(s.title).toHtmlEscaped(),
                                      after.isEmpty() ? QString() : QStringLiteral(" — <i>%1</i>").arg(after)),
                             frame);
    title->setWordWrap(true);
    // The buttons sit beside the title, visible without scrolling through the code.
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(title, 1);
    auto *copy = new QPushButton(QIcon::fromTheme(QStringLiteral("edit-copy")), tr("Copy code"), frame);
    copy->setObjectName(QStringLiteral("copyButton%1").arg(index));
    copy->setToolTip(tr("Copy this Python to the clipboard"));
    const QString code = q(s.code);
    connect(copy, &QPushButton::clicked, this, [code] { QGuiApplication::clipboard()->setText(code); });
    buttons->addWidget(copy);
    auto *preview = new QPushButton(previewing ? tr("Previewing") : tr("Preview the result"), frame);
    preview->setObjectName(QStringLiteral("previewButton%1").arg(index));
    preview->setToolTip(tr("Show the comparison as it would be with this fix applied (nothing on disk changes)"));
    preview->setEnabled(s.sourceAfter != nullptr && !previewing);
    connect(preview, &QPushButton::clicked, this, [this, index] { emit previewRequested(index); });
    buttons->addWidget(preview);
    layout->addLayout(buttons);
    auto *why = new QLabel(q(s.explanation), frame);
    why->setWordWrap(true);
    layout->addWidget(why);
    QPlainTextEdit *codeEdit = codeView(code, 12, frame);
    // The helper functions come first; the lines particular to this fix are at the end.
    QTimer::singleShot(0, codeEdit, [codeEdit] {
        codeEdit->verticalScrollBar()->setValue(codeEdit->verticalScrollBar()->maximum());
    });
    layout->addWidget(codeEdit);
    return frame;
}

} // namespace ptscope::ui
