// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QStringList>

namespace ptscope::ui {

// Most recently opened files: newest first, no duplicates, at most kMax, missing files pruned.
class RecentFiles final
{
public:
    static constexpr int kMax = 10;

    explicit RecentFiles(QStringList files = {});

    void add(const QString &path);
    void remove(const QString &path);
    void clear() { m_files.clear(); }
    void pruneMissing(); // bundled samples (":/...") are kept
    const QStringList &files() const { return m_files; }

private:
    QStringList m_files;
};

} // namespace ptscope::ui
