// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QSortFilterProxyModel>
#include <QString>

namespace ptscope::ui {

// Filters a CompareModel: keys containing every word of the filter text, and with "only
// problems" on, only keys that do not simply load; groups stay while something below them does.
// It never sorts: both sides keep the model's order, so they stay aligned.
class CompareFilterProxy final : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CompareFilterProxy)

public:
    explicit CompareFilterProxy(QObject *parent = nullptr);
    ~CompareFilterProxy() override;

    void setFilterText(const QString &text);
    QString filterText() const { return m_text; }
    void setProblemsOnly(bool on);
    bool problemsOnly() const { return m_problemsOnly; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_text;
    QStringList m_words;
    bool m_problemsOnly = false;
};

} // namespace ptscope::ui
