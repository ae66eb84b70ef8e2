// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compute_backend.h"

#include "cuda_histogram_backend.h"
#include "device_info.h"

#include <QObject>
#include <QThread>

#include <string>

namespace ptscope::ui {

namespace {

struct Choice
{
    bool gpu = false;
    QString description;
    QString note;
};

const Choice &choice()
{
    static const Choice c = [] {
        Choice out;
        std::string why;
        if (cuda::makeCudaHistogramBackend(&why)) {
            out.gpu = true;
            out.description = QObject::tr("CUDA backend: %1").arg(QString::fromStdString(cuda::cudaDeviceName(0)));
        } else {
            out.description = QObject::tr("CPU backend, %n thread(s)", nullptr, QThread::idealThreadCount());
            out.note = QObject::tr("no GPU: %1").arg(QString::fromStdString(why));
        }
        return out;
    }();
    return c;
}

} // namespace

std::unique_ptr<core::HistogramBackend> makeJobBackend()
{
    if (choice().gpu)
        if (auto gpu = cuda::makeCudaHistogramBackend())
            return gpu;
    return core::makeCpuHistogramBackend();
}

QString computeBackendDescription()
{
    return choice().description;
}

QString computeBackendNote()
{
    return choice().note;
}

} // namespace ptscope::ui
