// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// Shared by the libFuzzer harnesses and by their replay driver (replay_main.cpp), which runs the
// same entry points over tests/data/fuzz-regressions/ in the normal build and under ASan.
#pragma once

#include "checkpoint.h"
#include "result.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace ptscope::fuzz {

// Budgets small enough that a fuzzer iteration stays fast, so that "allocation sized by the file"
// and "quadratic work" show up as out-of-memory or timeout reports instead of hiding behind the
// production defaults.
inline core::PickleLimits fuzzPickleLimits()
{
    core::PickleLimits l;
    l.maxPickleBytes = 4u << 20;
    l.maxValues = 200'000;
    l.maxMemoEntries = 100'000;
    l.maxStack = 200'000;
    l.maxMarkDepth = 1'000;
    l.maxLineBytes = 64u << 10;
    return l;
}

inline core::OpenOptions fuzzOpenOptions()
{
    core::OpenOptions o;
    o.pickleLimits = fuzzPickleLimits();
    o.maxTensorRefs = 200'000;
    return o;
}

// Every refusal must say what went wrong: an error without a message is a bug (it would reach
// the user as an empty line). Aborting makes the fuzzer keep the input.
inline void checkError(const core::Error &e, const char *harness)
{
    if (e.message.empty()) {
        std::fprintf(stderr, "%s: error %s without a message\n", harness, core::errorCodeName(e.code));
        std::abort();
    }
}

// A name with a directory that does not exist: a shard index read from memory must not find
// shard files next to the fuzzer's working directory.
inline constexpr const char *kInputName = "/nonexistent-ptscope-fuzz/input.pt";

} // namespace ptscope::fuzz
