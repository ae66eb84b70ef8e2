// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "result.h"
#include "value.h"

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ptscope::core {

// Budgets for one pickle. Every length, count and index the file declares is checked against
// these and against the bytes that remain before anything is allocated.
struct PickleLimits
{
    std::uint64_t maxPickleBytes = 256ull << 20; // larger input is refused up front
    std::uint64_t maxValues = 10'000'000;        // values created by one pickle
    std::uint64_t maxMemoEntries = 1'000'000;    // distinct memo keys (the memo is a sparse map)
    std::uint64_t maxStack = 10'000'000;         // stack depth
    std::uint32_t maxMarkDepth = 10'000;         // open MARKs
    std::uint64_t maxLineBytes = 1 << 20;        // text-line arguments (protocol 0 opcodes, GLOBAL)
};

struct GlobalUse
{
    std::string module; // after Python 2 -> 3 name mapping (__builtin__ -> builtins, copy_reg -> copyreg)
    std::string name;
    std::uint64_t offset = 0; // file offset of the GLOBAL / STACK_GLOBAL / INST opcode
    bool dynamic = false;     // STACK_GLOBAL whose operands were not literal strings (never resolved)
    std::string written;      // "module.name" as written in the file, when the name mapping changed it
};

struct PickleResult
{
    ValueId root = kNoValue;
    int protocol = 0;                // from PROTO, 0 when absent
    std::uint64_t endOffset = 0;     // file offset just past STOP
    std::vector<GlobalUse> globals;  // every global referenced, in order of appearance
    std::vector<Warning> warnings;
    // Each distinct opcode the pickle used, with the file offset of its first use, in order of first use
    // (what a restricted loader such as torch's weights-only unpickler would stumble on).
    std::vector<std::pair<std::uint8_t, std::uint64_t>> firstOpcodes;
};

// Runs the pickle virtual machine over `data` (protocols 0 to 5, every opcode) and builds an
// inert value tree in `arena`. Nothing is imported, called or evaluated: GLOBAL yields a symbol,
// REDUCE/NEWOBJ/INST/OBJ yield Object values, BUILD records state, PERSID/BINPERSID yield
// PersistentId values. Stops at the first STOP; bytes after it are the caller's business.
//
// `where` names the pickle in errors (e.g. "archive/data.pkl"); `baseOffset` is added to every
// offset reported, so offsets are file offsets.
//
// When `partial` is given and reading fails, it receives what was seen before the failure (globals,
// opcodes, warnings; root stays kNoValue), so that a security scan can fail closed with the facts.
// A STACK_GLOBAL whose operands are not literal strings is recorded there as a dynamic GlobalUse.
Result<PickleResult> unpickle(std::span<const std::uint8_t> data, ValueArena &arena, std::string_view where,
                              std::uint64_t baseOffset = 0, const PickleLimits &limits = {},
                              PickleResult *partial = nullptr);

// The opcode's name as in CPython's pickle module ("SHORT_BINUNICODE"), or nullptr for an unknown byte.
const char *pickleOpcodeName(std::uint8_t op);

} // namespace ptscope::core
