// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "tensor_stats.h"

#include <QStringList>
#include <QWidget>

#include <vector>

class QCheckBox;
class QCustomPlot;
class QLabel;
class QSpinBox;

namespace ptscope::ui {

// Draws a histogram the core computed (it never bins anything itself): bin count, linear or
// log count axis, value or log10-magnitude axis, zoom and pan, NaN/Inf/zero markers.
class HistogramPlot final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HistogramPlot)

public:
    static constexpr int kMaxOverlays = 8; // the largest tensors of a group get an outline

    explicit HistogramPlot(QWidget *parent = nullptr);
    ~HistogramPlot() override;

    int bins() const;
    void setBins(int bins);
    bool logCounts() const;
    void setLogCounts(bool on);
    bool logMagnitude() const;
    void setLogMagnitude(bool on);

    // Per-tensor overlays of a group: wanted when "Per tensor" is on and the axis is the value axis
    // (they share the aggregate's value bins; the log-magnitude axis stays aggregate-only).
    bool perTensor() const;
    void setPerTensor(bool on);
    bool overlaysWanted() const;

    struct Overlay
    {
        QString name;            // the key below the group
        core::Histogram histogram; // on the aggregate's bin edges
    };
    // Replaces the aggregate bars by one step outline per tensor; `total` is how many tensors the
    // group has (more than overlays.size() when capped). Cleared by setStats and setMessage.
    void setOverlays(std::vector<Overlay> overlays, int total);
    const std::vector<Overlay> &overlays() const { return m_overlays; }
    bool hasOverlays() const { return !m_overlays.empty(); }
    // What is drawn (tests): overlay graphs on the plot, their legend names, the cap note.
    int overlayGraphCount() const;
    QStringList legendNames() const;
    QString overlayNote() const { return m_overlayNote; }

    void setStats(const core::TensorStats &stats, const QString &title);
    void setMessage(const QString &message); // clears the plot and shows a sentence
    int barCount() const { return m_barCount; }

signals:
    // The user changed the bin count: the core has to bin again.
    void requestChanged();
    // "Per tensor" or the axis changed: overlays may have to be computed (see overlaysWanted()).
    void overlayModeChanged();

protected:
    void changeEvent(QEvent *event) override;

private:
    void applyPalette();
    void redraw();
    void drawOverlays(bool logY);
    void updatePerTensorEnabled();

    QCustomPlot *m_plot = nullptr;
    QSpinBox *m_bins = nullptr;
    QCheckBox *m_logCounts = nullptr;
    QCheckBox *m_logMagnitude = nullptr;
    QCheckBox *m_perTensor = nullptr;
    QLabel *m_markers = nullptr;
    core::TensorStats m_stats;
    QString m_title;
    bool m_hasStats = false;
    std::vector<Overlay> m_overlays;
    int m_overlayTotal = 0;
    QString m_overlayNote;
    int m_barCount = 0;
};

} // namespace ptscope::ui
