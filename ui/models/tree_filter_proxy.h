// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QSortFilterProxyModel>
#include <QString>

namespace ptscope::ui {

// Sorts by SortRole and keeps rows whose FilterRole text (key, dtype, shape) contains every
// whitespace-separated word of the pattern, case-insensitively; parents of matches stay.
class TreeFilterProxy final : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TreeFilterProxy)

public:
    explicit TreeFilterProxy(QObject *parent = nullptr);
    ~TreeFilterProxy() override;

    void setFilterText(const QString &text);
    QString filterText() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    QString m_text;
    QStringList m_words;
};

} // namespace ptscope::ui
