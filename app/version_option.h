// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The desktop app's --version, answered before any Qt application object exists, so it works
// without a display (packaging checks, headless machines).
#include <string>

namespace ptscope::app {

// True when the command line asks for the version (--version or -v, before a "--").
bool wantsVersion(int argc, const char *const *argv);

// "<program> <version> (commit <hash>)" and a "CUDA: ..." line, in the words ptscope-cli --version
// uses, each ending in a newline.
std::string versionText(const std::string &program);

} // namespace ptscope::app
