// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

// The core's comparison headers, for code that also sees Qt: ModuleNode has a member named
// `slots`, which Qt defines as a keyword macro. (Its members are reached through core helpers such
// as targetSlot, never spelled out after a Qt header.)
#pragma push_macro("slots")
#undef slots
#include "diff_explain.h"
#include "key_alignment.h"
#include "load_state_dict.h"
#include "value_histogram.h"
#pragma pop_macro("slots")
