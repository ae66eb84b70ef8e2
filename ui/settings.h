// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "recent_files.h"

#include <QByteArray>
#include <QObject>

namespace ptscope::ui {

// Typed access to what the app remembers (QSettings, organisation and application names set in
// main()). load() reads, save() writes, migrate() upgrades older layouts.
class Settings final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Settings)

public:
    explicit Settings(QObject *parent = nullptr);
    ~Settings() override;

    void load();
    void save() const;
    static void migrate();

    QByteArray geometry() const { return m_geometry; }
    void setGeometry(const QByteArray &g) { m_geometry = g; }
    QByteArray windowState() const { return m_windowState; }
    void setWindowState(const QByteArray &s) { m_windowState = s; }
    QByteArray splitterState() const { return m_splitterState; }
    void setSplitterState(const QByteArray &s) { m_splitterState = s; }
    QByteArray rightSplitterState() const { return m_rightSplitterState; }
    void setRightSplitterState(const QByteArray &s) { m_rightSplitterState = s; }
    int histogramBins() const { return m_histogramBins; }
    void setHistogramBins(int bins) { m_histogramBins = bins; }
    bool logCounts() const { return m_logCounts; }
    void setLogCounts(bool on) { m_logCounts = on; }
    bool logMagnitude() const { return m_logMagnitude; }
    void setLogMagnitude(bool on) { m_logMagnitude = on; }
    bool perTensor() const { return m_perTensor; }
    void setPerTensor(bool on) { m_perTensor = on; }

    QStringList recentFiles() const { return m_recent.files(); }
    void addRecentFile(const QString &path);
    void clearRecentFiles();

signals:
    void recentFilesChanged();

private:
    QByteArray m_geometry;
    QByteArray m_windowState;
    QByteArray m_splitterState;
    QByteArray m_rightSplitterState;
    int m_histogramBins = 64;
    bool m_logCounts = false;
    bool m_logMagnitude = false;
    bool m_perTensor = false;
    RecentFiles m_recent;
};

} // namespace ptscope::ui
