// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// ptscope-cli: the headless front end on the same core as the desktop app.
#include "cli_common.h"
#include "device_info.h"
#include "mapped_file.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace ptscope::cli;

namespace {

void printUsage(FILE *out)
{
    std::fprintf(out,
                 "Usage: ptscope-cli <command> [options] FILE\n"
                 "\n"
                 "Inspect PyTorch checkpoints without Python and without executing their pickle.\n"
                 "\n"
                 "Commands:\n"
                 "  info [--json] [--no-objects] FILE   what is in a file: tensors, the state_dict, metadata\n"
                 "  stats [--json] [--bins N] [--backend B] [--match GLOB] FILE   min/max/mean/std, NaN/Inf, histograms\n"
                 "  diff [--json] [--source-key P] [--target-key P] [--torch V] SOURCE TARGET   load_state_dict, explained\n"
                 "  report --format html|pdf|md|json|csv -o OUT FILE [FILE2]   a shareable report (two files: compared)\n"
                 "  scan [--json] FILE                  is it safe to torch.load? (globals, code, weights_only)\n"
                 "\n"
                 "Options:\n"
                 "  -h, --help      show this help\n"
                 "  --version       show the version, the commit and the compute backends\n"
                 "\n"
                 "Exit codes: 0 success, 1 the file could not be read, 2 usage error.\n"
                 "            3 scan found something dangerous.\n");
}

void printVersion()
{
    std::string reason;
    const int devices = ptscope::cuda::cudaDeviceCount(&reason);
    std::printf("ptscope-cli %s (commit %s)\n", PTSCOPE_VERSION, PTSCOPE_GIT_COMMIT);
    if (!ptscope::cuda::compiledWithCuda())
        std::printf("CUDA: not compiled in (CPU backend only)\n");
    else if (devices == 0)
        std::printf("CUDA: compiled in; no usable device (%s)\n", reason.c_str());
    else
        std::printf("CUDA: compiled in; %d device(s), first: %s\n", devices,
                    ptscope::cuda::cudaDeviceName(0).c_str());
}

} // namespace

int main(int argc, char **argv)
{
    ptscope::core::raiseOpenFileLimit(); // a descriptor per mapped shard
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        printUsage(stderr);
        return kExitUsage;
    }
    const std::string command = args.front();
    args.erase(args.begin());
    if (command == "-h" || command == "--help" || command == "help") {
        printUsage(stdout);
        return kExitOk;
    }
    if (command == "--version" || command == "version") {
        printVersion();
        return kExitOk;
    }
    if (command == "info")
        return runInfo(args);
    if (command == "stats")
        return runStats(args);
    if (command == "diff")
        return runDiff(args);
    if (command == "report")
        return runReport(args);
    if (command == "scan")
        return runScan(args);
    std::fprintf(stderr, "ptscope-cli: unknown command '%s' (try --help)\n", command.c_str());
    return kExitUsage;
}
