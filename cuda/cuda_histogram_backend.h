// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The GPU statistics backend behind core's HistogramBackend interface: plain C++, no CUDA and no
// Qt header is reachable from here. In a build without CUDA it always reports why it is unavailable.
#include "histogram_backend.h"

#include <memory>
#include <string>

namespace ptscope::cuda {

// A backend on the first CUDA device: one context, two streams and reusable pinned and device
// buffers for its lifetime, so nothing is set up per tensor. Null when no usable GPU is there;
// `whyNot` (optional) then receives the reason in a few words ("no CUDA device found", "CUDA
// unavailable: ...", "this build of ptscope has no CUDA backend ..."). PTSCOPE_NO_CUDA=1 in the
// environment makes it decline (a way to compare against the CPU on a GPU machine).
// Results follow core/histogram_backend.h: the same counts as the CPU backend, moments merged in
// a fixed order (deterministic). One call at a time per object (calls are serialised).
std::unique_ptr<core::HistogramBackend> makeCudaHistogramBackend(std::string *whyNot = nullptr);

} // namespace ptscope::cuda
