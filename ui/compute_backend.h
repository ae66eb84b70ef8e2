// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "histogram_backend.h"

#include <QString>

#include <memory>

namespace ptscope::ui {

// The statistics backend of one background job: the GPU when one is usable (its context and
// buffers live as long as the job, not per tensor), else every CPU core. Both give the same numbers.
std::unique_ptr<core::HistogramBackend> makeJobBackend();

// Which backend the jobs use, for the status bar and About: "CUDA backend: <device>" or "CPU
// backend, N thread(s)". Decided once per process.
QString computeBackendDescription();
// Why the GPU is not used ("no GPU: <reason>"); empty when it is.
QString computeBackendNote();

} // namespace ptscope::ui
