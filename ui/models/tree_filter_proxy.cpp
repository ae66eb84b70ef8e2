// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "tree_filter_proxy.h"

#include "model_roles.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcTreeFilterProxy, "ptscope.ui.tree_filter_proxy", QtWarningMsg)

namespace ptscope::ui {

TreeFilterProxy::TreeFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setRecursiveFilteringEnabled(true);
    setSortRole(SortRole);
    setSortLocaleAware(false);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

TreeFilterProxy::~TreeFilterProxy() = default;

void TreeFilterProxy::setFilterText(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    m_words = text.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    invalidateFilter();
}

bool TreeFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_words.isEmpty())
        return true;
    const QString text = sourceModel()->index(sourceRow, 0, sourceParent).data(FilterRole).toString();
    for (const QString &word : m_words) {
        if (!text.contains(word, Qt::CaseInsensitive))
            return false;
    }
    return true;
}

bool TreeFilterProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const QVariant l = left.data(SortRole);
    const QVariant r = right.data(SortRole);
    // Rows without a value (groups without statistics) sort after every number.
    if (!l.isValid() || !r.isValid())
        return l.isValid() && !r.isValid();
    return QVariant::compare(l, r) == QPartialOrdering::Less;
}

} // namespace ptscope::ui
