// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "security_scan.h"

#include "checkpoint_analysis.h"
#include "dtype.h"
#include "format_sniff.h"
#include "json_writer.h"
#include "zip_archive.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

// The verdict is decided from the raw unpickler output of every pickle in the file, before (and
// independently of) the torch interpretation: each pickle gets its own arena, globals are matched
// against two tables (torch's weights-only allowlist and the dangerous-globals table of
// docs/SECURITY.md), and anything that cannot be read becomes a finding, never silence.

namespace ptscope::core {

const char *verdictName(Verdict v)
{
    switch (v) {
    case Verdict::Safe: return "safe";
    case Verdict::Suspicious: return "suspicious";
    case Verdict::Dangerous: return "dangerous";
    }
    return "dangerous";
}

const char *findingKindName(FindingKind k)
{
    switch (k) {
    case FindingKind::DangerousGlobal: return "dangerous-global";
    case FindingKind::DynamicImport: return "dynamic-import";
    case FindingKind::UnlistedGlobal: return "unlisted-global";
    case FindingKind::NestedLoad: return "nested-load";
    case FindingKind::TorchScriptCode: return "torchscript-code";
    case FindingKind::ExtraPickle: return "extra-pickle";
    case FindingKind::NotFullyRead: return "not-fully-read";
    }
    return "unknown";
}

namespace {

// --- The dangerous-globals table --------------------------------------------------------------
// An entry matches a global when its module is the global's module or a parent of it, and its name
// is "*", the global's name, or the first part of a dotted name ("Trace.run" matches "Trace.run.x").

struct DangerEntry
{
    std::string_view module;
    std::string_view name;
    std::string_view what;
};

constexpr std::string_view kRunsCommand = "runs a shell command or another program";
constexpr std::string_view kRunsCode = "executes Python code given as text";
constexpr std::string_view kNestedPickle = "unpickles other bytes with no restriction (a pickle inside the pickle)";
constexpr std::string_view kNetwork = "opens network connections";
constexpr std::string_view kFiles = "reads, writes or deletes files";

constexpr DangerEntry kDangerous[] = {
    {"builtins", "eval", "evaluates a string as Python code"},
    {"builtins", "exec", kRunsCode},
    {"builtins", "compile", "compiles text into a code object that can then be run"},
    {"builtins", "getattr", "fetches any attribute of any object (e.g. os.system) so that the pickle can call it"},
    {"builtins", "__import__", "imports any module"},
    {"builtins", "open", kFiles},
    {"builtins", "breakpoint", "starts a debugger"},
    {"builtins", "apply", "calls any callable with any arguments"},
    {"builtins", "setattr", "changes attributes of any object (modules included)"},
    {"builtins", "delattr", "deletes attributes of any object (modules included)"},
    {"builtins", "globals", "reaches the global namespace of the loading code"},
    {"builtins", "vars", "reaches the namespace of any object"},
    {"os", "*", "runs commands and touches files (os.system, os.popen, os.remove, ...)"},
    {"posix", "*", "runs commands and touches files (posix.system is os.system on Linux and macOS)"},
    {"nt", "*", "runs commands and touches files (nt.system is os.system on Windows)"},
    {"sys", "*", "reaches the interpreter itself (sys.modules, sys.path): a stepping stone to any module"},
    {"subprocess", "*", kRunsCommand},
    {"commands", "*", kRunsCommand},
    {"platform", "popen", kRunsCommand},
    {"pty", "spawn", kRunsCommand},
    {"runpy", "*", "runs a Python module or script"},
    {"pickle", "loads", kNestedPickle},
    {"pickle", "load", kNestedPickle},
    {"pickle", "Unpickler", kNestedPickle},
    {"_pickle", "loads", kNestedPickle},
    {"_pickle", "load", kNestedPickle},
    {"_pickle", "Unpickler", kNestedPickle},
    {"dill", "*", "rebuilds arbitrary functions and code objects"},
    {"marshal", "loads", "builds code objects from bytes"},
    {"types", "CodeType", "constructs a code object"},
    {"types", "FunctionType", "constructs a function from a code object"},
    {"importlib", "*", "imports any module"},
    {"pkgutil", "resolve_name", "imports any module and returns any of its attributes"},
    {"pydoc", "locate", "imports any module and returns any of its attributes"},
    {"pydoc", "pipepager", kRunsCommand},
    {"operator", "attrgetter", "builds a function that fetches any attribute (a way to reach os.system)"},
    {"operator", "itemgetter", "builds a function that fetches any item (used to compute imports)"},
    {"operator", "methodcaller", "builds a function that calls any method"},
    {"_operator", "attrgetter", "builds a function that fetches any attribute (a way to reach os.system)"},
    {"_operator", "itemgetter", "builds a function that fetches any item (used to compute imports)"},
    {"_operator", "methodcaller", "builds a function that calls any method"},
    {"functools", "partial", "wraps any callable with arguments to be called later"},
    {"ctypes", "*", "loads native libraries and calls native code"},
    {"_ctypes", "*", "loads native libraries and calls native code"},
    {"socket", "*", kNetwork},
    {"_socket", "*", kNetwork},
    {"ssl", "get_server_certificate", "connects to a server (a way to leak data through DNS)"},
    {"urllib.request", "*", "fetches URLs"},
    {"requests", "*", kNetwork},
    {"http.client", "*", kNetwork},
    {"aiohttp", "*", kNetwork},
    {"smtplib", "*", kNetwork},
    {"ftplib", "*", kNetwork},
    {"telnetlib", "*", kNetwork},
    {"webbrowser", "*", "opens URLs in a browser"},
    {"shutil", "*", kFiles},
    {"io", "FileIO", kFiles},
    {"io", "open", kFiles},
    {"_io", "FileIO", kFiles},
    {"_io", "open", kFiles},
    {"pathlib", "*", kFiles},
    {"tempfile", "*", kFiles},
    {"logging", "FileHandler", "creates files"},
    {"distutils.file_util", "write_file", kFiles},
    {"pip", "*", "installs packages (and runs their setup code)"},
    {"ensurepip", "*", "installs packages"},
    {"venv", "*", "creates environments and runs commands in them"},
    {"timeit", "*", kRunsCode},
    {"cProfile", "*", kRunsCode},
    {"profile", "*", kRunsCode},
    {"trace", "*", kRunsCode},
    {"bdb", "*", kRunsCode},
    {"pdb", "*", kRunsCode},
    {"code", "*", kRunsCode},
    {"codeop", "*", "compiles text into code objects"},
    {"doctest", "*", kRunsCode},
    {"idlelib", "*", kRunsCode},
    {"lib2to3.pgen2.grammar", "Grammar.loads", kNestedPickle},
    {"lib2to3.pgen2.pgen", "ParserGenerator.make_label", "evaluates text as Python code"},
    {"asyncio", "*", "starts subprocesses and network connections"},
    {"uuid", "_get_command_stdout", kRunsCommand},
    {"_osx_support", "_read_output", kRunsCommand},
    {"_aix_support", "_read_cmd_output", kRunsCommand},
    {"imaplib", "IMAP4_stream", kRunsCommand},
    {"_pyrepl.pager", "pipe_pager", kRunsCommand},
    {"test.support.script_helper", "*", kRunsCommand},
    {"multiprocessing.util", "spawnv_passfds", kRunsCommand},
    {"numpy", "load", "loads a .npy/.npz file, which may hold another pickle"},
    {"numpy.f2py.crackfortran", "getlincoef", "evaluates text as Python code"},
    {"numpy.testing._private.utils", "runstring", kRunsCode},
    {"torch", "load", "runs another torch.load (possibly without weights_only)"},
    {"torch.serialization", "load", "runs another torch.load (possibly without weights_only)"},
    {"torch.storage", "_load_from_bytes", "runs torch.load without weights_only on bytes stored in the pickle"},
    {"torch.jit", "load", "loads a TorchScript archive"},
    {"torch.hub", "*", "downloads and runs code from the internet"},
    {"torch._inductor.codecache", "compile_file", "runs a compiler command"},
    {"torch.utils.collect_env", "run", kRunsCommand},
    {"torch.utils.collect_env", "run_and_read_all", kRunsCommand},
    {"torch.utils.bottleneck.__main__", "run_cprofile", kRunsCode},
    {"torch.utils.bottleneck.__main__", "run_autograd_prof", kRunsCode},
    {"torch._dynamo.guards", "GuardBuilder.get", "evaluates text as Python code"},
    {"torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression", "evaluates text as Python code"},
    {"torch.jit.unsupported_tensor_ops", "execWrapper", kRunsCode},
    {"torch.utils._config_module", "ConfigModule.load_config", kNestedPickle},
    {"torch.utils.data.datapipes.utils.decoder", "basichandlers", kNestedPickle},
    {"cloudpickle", "*", "rebuilds arbitrary functions and code objects"},
    {"fickling", "*", "tampers with pickle scanners"},
    {"picklescan", "*", "tampers with pickle scanners"},
    {"modelscan", "*", "tampers with pickle scanners"},
    {"saferpickle", "*", "tampers with pickle scanners"},
    {"modelaudit", "*", "tampers with pickle scanners"},
    {"transformers.models.auto.auto_factory", "getattribute_from_module", "imports any module and returns any attribute"},
};

bool isParentOrSame(std::string_view parent, std::string_view module)
{
    return module == parent || (module.size() > parent.size() && module.compare(0, parent.size(), parent) == 0
                                && module[parent.size()] == '.');
}

bool isDunder(std::string_view part)
{
    return part.size() > 4 && part.substr(0, 2) == "__" && part.substr(part.size() - 2) == "__";
}

std::vector<std::string_view> splitDots(std::string_view s)
{
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = s.find('.', start);
        parts.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos)
            return parts;
        start = dot + 1;
    }
}

// What a dangerous global does, or empty when the global is not dangerous.
std::string dangerWhat(std::string_view module, std::string_view name)
{
    if (module == "__builtin__")
        module = "builtins";
    for (const DangerEntry &e : kDangerous) {
        if (!isParentOrSame(e.module, module))
            continue;
        if (e.name == "*" || name == e.name
            || (name.size() > e.name.size() && name.compare(0, e.name.size(), e.name) == 0
                && name[e.name.size()] == '.'))
            return std::string(e.what);
    }
    // Dotted names are resolved attribute by attribute; a dunder step (__class__, __globals__,
    // __subclasses__, __builtins__, ...) walks from a harmless object to any other one.
    if (name.find('.') != std::string_view::npos) {
        for (std::string_view part : splitDots(name))
            if (isDunder(part))
                return "walks attributes (" + std::string(name)
                    + ") from a harmless object to any other one: a known way to reach eval or os.system past name checks";
    }
    const auto parts = splitDots(name);
    if (parts.back() == "from_pretrained")
        return "downloads and loads more model code";
    return {};
}

// --- torch's weights-only allowlists ----------------------------------------------------------

// torch 1.13's _get_allowed_globals(), as that version lists it (checked against torch itself by
// tests/fixtures/generate_security_fixtures.py).
constexpr std::string_view kAllowed113[] = {
    "collections.OrderedDict", "torch.BFloat16Storage", "torch.BFloat16Tensor", "torch.BoolStorage",
    "torch.BoolTensor", "torch.ByteStorage", "torch.ByteTensor", "torch.CharStorage", "torch.CharTensor",
    "torch.ComplexDoubleStorage", "torch.ComplexFloatStorage", "torch.DoubleStorage", "torch.DoubleTensor",
    "torch.FloatStorage", "torch.FloatTensor", "torch.HalfStorage", "torch.HalfTensor", "torch.IntStorage",
    "torch.IntTensor", "torch.LongStorage", "torch.LongTensor", "torch.QInt32Storage", "torch.QInt8Storage",
    "torch.QUInt2x4Storage", "torch.QUInt4x2Storage", "torch.QUInt8Storage", "torch.ShortStorage",
    "torch.ShortTensor", "torch.Size", "torch.Tensor", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch.complex128", "torch.complex32",
    "torch.complex64", "torch.cuda.BFloat16Storage", "torch.cuda.BFloat16Tensor", "torch.cuda.BoolStorage",
    "torch.cuda.BoolTensor", "torch.cuda.ByteStorage", "torch.cuda.ByteTensor", "torch.cuda.CharStorage",
    "torch.cuda.CharTensor", "torch.cuda.ComplexDoubleStorage", "torch.cuda.ComplexFloatStorage",
    "torch.cuda.DoubleStorage", "torch.cuda.DoubleTensor", "torch.cuda.FloatStorage", "torch.cuda.FloatTensor",
    "torch.cuda.HalfStorage", "torch.cuda.HalfTensor", "torch.cuda.IntStorage", "torch.cuda.IntTensor",
    "torch.cuda.LongStorage", "torch.cuda.LongTensor", "torch.cuda.ShortStorage", "torch.cuda.ShortTensor",
    "torch.cuda.sparse.BFloat16Tensor", "torch.cuda.sparse.ByteTensor", "torch.cuda.sparse.CharTensor",
    "torch.cuda.sparse.DoubleTensor", "torch.cuda.sparse.FloatTensor", "torch.cuda.sparse.HalfTensor",
    "torch.cuda.sparse.IntTensor", "torch.cuda.sparse.LongTensor", "torch.cuda.sparse.ShortTensor", "torch.float16",
    "torch.float32", "torch.float64", "torch.int16", "torch.int32", "torch.int64", "torch.int8",
    "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.sparse.BFloat16Tensor",
    "torch.sparse.ByteTensor", "torch.sparse.CharTensor", "torch.sparse.DoubleTensor", "torch.sparse.FloatTensor",
    "torch.sparse.HalfTensor", "torch.sparse.IntTensor", "torch.sparse.LongTensor", "torch.sparse.ShortTensor",
    "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
};

// torch >= 2.6 (_get_allowed_globals and _tensor_rebuild_functions): 1.13's tensor and storage
// classes, every dtype, qschemes, and these.
constexpr std::string_view kAllowed26Extra[] = {
    "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device", "_codecs.encode",
    "builtins.bytearray", "builtins.set", "builtins.complex", "torch._tensor._rebuild_from_type_v2",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor", "torch.per_tensor_affine", "torch.per_tensor_symmetric",
    "torch.per_channel_affine", "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
};

// Modules torch >= 2.6 refuses even when the user allowlists one of their globals.
constexpr std::string_view kBlocked26[] = {"sys", "os", "posix", "nt"};

bool allowed113(std::string_view full)
{
    return std::find(std::begin(kAllowed113), std::end(kAllowed113), full) != std::end(kAllowed113);
}

bool allowed26(std::string_view module, std::string_view name)
{
    const std::string full = std::string(module) + "." + std::string(name);
    if (std::find(std::begin(kAllowed26Extra), std::end(kAllowed26Extra), full) != std::end(kAllowed26Extra))
        return true;
    if (module == "torch") {
        const DtypeInfo *d = dtypeByName(name);
        if (d && d->name == name)
            return true;
    }
    // Tensor and storage classes (1.13's list minus its dtypes and functions; 2.x keeps them all).
    if (full.rfind("torch._utils.", 0) == 0)
        return false;
    if (name.size() > 6 && (name.substr(name.size() - 6) == "Tensor" || name.substr(name.size() - 7) == "Storage"))
        return allowed113(full);
    return false;
}

bool blocked26(std::string_view module)
{
    return std::find(std::begin(kBlocked26), std::end(kBlocked26), module) != std::end(kBlocked26);
}

// Opcodes torch's weights-only unpickler implements (1.13; torch >= 2.6 adds BINFLOAT).
bool weightsOnlyOpcode(std::uint8_t op, bool torch26)
{
    static constexpr std::string_view k113 = "ae" "h" "J" "K" "M" "Q" "q" "X" "b" "}" "]" "\x8f" ")" "c" "\x8a" "j"
                                             "r" "(" "\x89" "\x81" "\x88" "N" "\x80" "R" "s" "u" "U" "." "t" "\x85"
                                             "\x86" "\x87";
    if (torch26 && op == 'G')
        return true;
    return k113.find(static_cast<char>(op)) != std::string_view::npos;
}

// --- Scanning -------------------------------------------------------------------------------

enum class PickleRole {
    Loaded,      // torch.load unpickles it (with the weights-only unpickler when asked)
    JitLoaded,   // torch.jit.load unpickles it (TorchScript constants.pkl, debug info)
    NotLoaded,   // nothing in torch reads it
};

struct LoadedPickle
{
    std::string label;
    int protocol = 0;
    std::vector<std::pair<std::uint8_t, std::uint64_t>> opcodes;
    std::vector<GlobalUse> globals;
    std::vector<std::pair<std::string, std::uint64_t>> badPersistentIds; // first element, offset
    bool complete = true;
    std::string error;
};

class Scanner
{
public:
    Scanner(std::span<const std::uint8_t> file, std::string path, const ScanOptions &options)
        : m_file(file)
        , m_path(std::move(path))
        , m_options(options)
    {
    }

    SecurityReport run();

private:
    void scanZip();
    void scanZipByLocalHeaders(const std::string &why);
    void scanLegacy(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label, int depth,
                    bool inMember);
    // Scans one pickle at the start of `bytes`; returns the number of bytes it took (0 when unreadable).
    std::uint64_t scanPickle(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label,
                             PickleRole role, bool inMember, int depth, std::set<std::string> *storageKeys = nullptr,
                             std::vector<std::pair<std::string, std::uint64_t>> *storageSizes = nullptr);
    void scanTrailing(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label, bool inMember);
    void add(SecurityFinding f);
    void notFullyRead(const std::string &pickle, std::optional<std::uint64_t> offset, bool inMember,
                      const std::string &what);
    void decideWeightsOnly();

    std::span<const std::uint8_t> m_file;
    std::string m_path;
    const ScanOptions &m_options;
    SecurityReport m_report;
    std::map<std::tuple<std::string, int, std::string, std::string>, std::size_t> m_index;
    std::uint32_t m_pickleCount = 0;
    Container m_container = Container::Refused;
    bool m_torchScript = false;
    std::string m_notTorchZip; // why torch.load would refuse this zip, when it would
    std::string m_refusal;
    std::vector<LoadedPickle> m_loaded; // in the order torch.load reads them
};

void Scanner::add(SecurityFinding f)
{
    if (f.severity > m_report.verdict)
        m_report.verdict = f.severity;
    if (f.kind == FindingKind::NotFullyRead)
        m_report.fullyRead = false;
    const auto key = std::make_tuple(f.pickle, static_cast<int>(f.kind), f.module, f.name);
    if (!f.module.empty() || !f.name.empty()) {
        auto it = m_index.find(key);
        if (it != m_index.end()) {
            SecurityFinding &old = m_report.findings[it->second];
            old.count += f.count;
            if (!old.reachable && f.reachable) {
                old.reachable = true;
                old.path = std::move(f.path);
                old.use = f.use;
            }
            return;
        }
    }
    if (m_report.findings.size() >= m_options.maxFindings) {
        ++m_report.omittedFindings;
        return;
    }
    if (!f.module.empty() || !f.name.empty())
        m_index.emplace(key, m_report.findings.size());
    m_report.findings.push_back(std::move(f));
}

void Scanner::notFullyRead(const std::string &pickle, std::optional<std::uint64_t> offset, bool inMember,
                           const std::string &what)
{
    SecurityFinding f;
    f.severity = Verdict::Suspicious;
    f.kind = FindingKind::NotFullyRead;
    f.pickle = pickle;
    f.offset = offset;
    f.offsetInMember = inMember;
    f.what = what;
    add(std::move(f));
}

// Where each global sits in the object tree and how it is used, from a walk over the raw values.
struct GlobalPlace
{
    bool reachable = false;
    ObjectPath path;
    std::string use = "referenced";
};

class TreeWalk
{
public:
    TreeWalk(const ValueArena &a, ValueId first, ValueId end)
        : m_a(a)
        , m_first(first)
        , m_end(end)
    {
    }

    // Uses (called / instantiated) come from every object of the pickle, reachable or not.
    void collectUses(std::unordered_map<ValueId, GlobalPlace> &places) const
    {
        for (ValueId id = m_first; id < m_end; ++id) {
            const Value &v = m_a[id];
            if (v.kind != ValueKind::Object || !m_a.valid(v.callable) || m_a[v.callable].kind != ValueKind::Global)
                continue;
            places[v.callable].use = v.origin == ObjectOrigin::Reduce ? "called" : "instantiated";
        }
    }

    void walk(ValueId root, std::unordered_map<ValueId, GlobalPlace> &places) const
    {
        if (!m_a.valid(root))
            return;
        struct Node
        {
            ValueId id;
            std::int64_t parent;
            std::string label;
        };
        std::vector<Node> nodes;
        std::vector<bool> seen(m_end - m_first, false);
        auto interesting = [&](ValueId id) {
            if (!m_a.valid(id) || id < m_first || id >= m_end || seen[id - m_first])
                return false;
            switch (m_a[id].kind) {
            case ValueKind::Dict:
            case ValueKind::List:
            case ValueKind::Tuple:
            case ValueKind::Set:
            case ValueKind::FrozenSet:
            case ValueKind::Object:
            case ValueKind::PersistentId:
            case ValueKind::Global: return true;
            default: return false;
            }
        };
        auto pathOf = [&](std::int64_t n) {
            ObjectPath p;
            for (; n > 0; n = nodes[static_cast<std::size_t>(n)].parent)
                p.push_back(nodes[static_cast<std::size_t>(n)].label);
            std::reverse(p.begin(), p.end());
            return p;
        };
        auto push = [&](ValueId id, std::int64_t parent, std::string label) {
            if (!interesting(id))
                return;
            seen[id - m_first] = true;
            nodes.push_back({id, parent, std::move(label)});
        };
        push(root, -1, {});
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const ValueId id = nodes[i].id;
            const std::int64_t self = static_cast<std::int64_t>(i);
            const Value &v = m_a[id];
            auto mark = [&](ValueId g) {
                if (m_a.valid(g) && m_a[g].kind == ValueKind::Global) {
                    GlobalPlace &p = places[g];
                    if (!p.reachable) {
                        p.reachable = true;
                        p.path = pathOf(self);
                    }
                }
            };
            switch (v.kind) {
            case ValueKind::Global: mark(id); break;
            case ValueKind::Dict:
                for (const auto &[k, val] : v.entries) {
                    push(k, self, "(key)");
                    push(val, self, keyText(m_a, k));
                }
                if (m_a.valid(v.state))
                    push(v.state, self, "(state)");
                break;
            case ValueKind::List:
            case ValueKind::Tuple:
            case ValueKind::Set:
            case ValueKind::FrozenSet:
                for (std::size_t k = 0; k < v.items.size(); ++k)
                    push(v.items[k], self, std::to_string(k));
                break;
            case ValueKind::Object: {
                mark(v.callable);
                if (m_a.valid(v.callable) && m_a[v.callable].kind != ValueKind::Global)
                    push(v.callable, self, "(callable)");
                for (const auto &[name, val] : objectAttributes(m_a, id))
                    push(val, self, name);
                if (m_a.valid(v.state))
                    push(v.state, self, "(state)");
                for (std::size_t k = 0; k < v.items.size(); ++k)
                    push(v.items[k], self, std::to_string(k));
                for (const auto &[k, val] : v.entries)
                    push(val, self, keyText(m_a, k));
                if (m_a.valid(v.args)) {
                    if (m_a[v.args].kind == ValueKind::Tuple) {
                        for (std::size_t k = 0; k < m_a[v.args].items.size(); ++k)
                            push(m_a[v.args].items[k], self, "(args)/" + std::to_string(k));
                    } else {
                        push(v.args, self, "(args)");
                    }
                }
                if (m_a.valid(v.kwargs))
                    push(v.kwargs, self, "(kwargs)");
                break;
            }
            case ValueKind::PersistentId: push(v.args, self, "(persistent id)"); break;
            default: break;
            }
        }
    }

private:
    const ValueArena &m_a;
    ValueId m_first;
    ValueId m_end;
};

// Bytes as a pickle holds them: BINBYTES and friends, or protocol 2's _codecs.encode(text, "latin1").
bool bytesOf(const ValueArena &a, ValueId id, std::string &out)
{
    if (!a.valid(id))
        return false;
    const Value &v = a[id];
    if (v.kind == ValueKind::Bytes || v.kind == ValueKind::ByteArray) {
        out = v.text;
        return true;
    }
    if (v.kind != ValueKind::Object || !a.isGlobal(v.callable, "_codecs", "encode") || !a.valid(v.args)
        || a[v.args].kind != ValueKind::Tuple || a[v.args].items.empty() || !a.isString(a[v.args].items[0]))
        return false;
    // UTF-8 text whose code points are all below 256, back to those bytes.
    const std::string &t = a[a[v.args].items[0]].text;
    out.clear();
    out.reserve(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
        const auto c = static_cast<unsigned char>(t[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < t.size()) {
            out += static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(t[i + 1]) & 0x3F));
            ++i;
        } else {
            return false;
        }
    }
    return true;
}

std::string fullName(const GlobalUse &g)
{
    return g.module + "." + g.name;
}

std::string describeUnlisted(const std::string &module, const std::string &name, const std::string &use)
{
    const std::string full = module + "." + name;
    std::string top = module.substr(0, module.find('.'));
    std::string s;
    if (use == "instantiated")
        s = "instantiates " + full + ": torch.load imports " + module
            + " and runs that class's code (__new__, __setstate__)";
    else if (use == "called")
        s = "calls " + full + "(...): torch.load imports " + module + " and runs that function";
    else
        s = "imports " + module + " to look up " + name;
    if (top == "__main__")
        s += "; __main__ is the script that saved the file, so loading needs that script's code";
    else if (top != "torch" && top != "collections" && top != "builtins" && top != "numpy")
        s += "; the module's own code runs on import";
    if (name.find('.') != std::string::npos)
        s += " (a dotted name: resolved attribute by attribute)";
    return s;
}

std::uint64_t Scanner::scanPickle(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label,
                                  PickleRole role, bool inMember, int depth, std::set<std::string> *storageKeys,
                                  std::vector<std::pair<std::string, std::uint64_t>> *storageSizes)
{
    if (++m_pickleCount > m_options.maxPickles) {
        if (m_pickleCount == m_options.maxPickles + 1)
            notFullyRead(label, base, inMember,
                         "more than " + std::to_string(m_options.maxPickles) + " pickles in one file: the rest were not scanned");
        return 0;
    }
    ValueArena arena;
    PickleResult partial;
    auto result = unpickle(bytes, arena, label, base, m_options.pickleLimits, &partial);
    const bool complete = result.ok();
    PickleResult &r = complete ? *result : partial;

    LoadedPickle lp;
    lp.label = label;
    lp.protocol = r.protocol;
    lp.opcodes = r.firstOpcodes;
    lp.globals = r.globals;
    lp.complete = complete;

    ScannedPickle scanned{label, r.protocol, complete, {}};
    for (const GlobalUse &g : r.globals)
        scanned.globals.push_back(g.dynamic ? std::string("(computed while loading)")
                                  : g.written.empty() ? fullName(g) : g.written);
    m_report.pickles.push_back(std::move(scanned));

    // Places of the globals in the object tree.
    std::unordered_map<ValueId, GlobalPlace> places;
    std::unordered_map<std::uint64_t, ValueId> globalAt; // opcode offset -> its Global value
    const ValueId end = static_cast<ValueId>(arena.size());
    for (ValueId id = 0; id < end; ++id)
        if (arena[id].kind == ValueKind::Global)
            globalAt.emplace(arena[id].offset, id);
    TreeWalk walk(arena, 0, end);
    walk.collectUses(places);
    if (complete)
        walk.walk(r.root, places);

    const std::string where = role == PickleRole::NotLoaded && depth == 0
        ? " (a pickle torch.load does not read itself; any tool that opens it would run this)"
        : "";
    for (const GlobalUse &g : r.globals) {
        SecurityFinding f;
        f.pickle = label;
        f.offset = g.offset;
        f.offsetInMember = inMember;
        if (g.dynamic) {
            f.severity = Verdict::Dangerous;
            f.kind = FindingKind::DynamicImport;
            f.use = "called";
            f.what = "imports a module and name computed while loading (STACK_GLOBAL on values that are not plain "
                     "strings): any module, any function"
                + where;
            add(std::move(f));
            continue;
        }
        f.module = g.module;
        f.name = g.name;
        if (auto it = globalAt.find(g.offset); it != globalAt.end()) {
            const GlobalPlace &p = places[it->second];
            f.use = p.use;
            f.reachable = p.reachable;
            f.path = p.path;
        } else {
            f.use = "referenced";
        }
        const std::string danger = dangerWhat(g.module, g.name);
        if (!danger.empty()) {
            f.severity = Verdict::Dangerous;
            f.kind = g.module == "torch.storage" && g.name == "_load_from_bytes" ? FindingKind::NestedLoad
                                                                                 : FindingKind::DangerousGlobal;
            f.what = (f.use == "called" ? "calls " : f.use == "instantiated" ? "creates " : "imports ") + fullName(g)
                + ", which " + danger + where;
        } else if (!allowed26(g.module, g.name)) {
            f.severity = Verdict::Suspicious;
            f.kind = FindingKind::UnlistedGlobal;
            if (m_torchScript && isParentOrSame("__torch__", g.module))
                f.what = "a TorchScript class defined by this archive's code/ files: torch.jit.load compiles that code "
                         "(it is not imported from Python)";
            else if (m_torchScript && g.module == "torch.jit._pickle")
                f.what = "a TorchScript pickle helper that torch.jit.load's own unpickler handles (no Python import)";
            else
                f.what = describeUnlisted(g.module, g.name, f.use);
            f.what += where;
        } else {
            continue; // allowlisted: nothing to report, wherever it is
        }
        if (!f.reachable && complete)
            f.what += "; its result is not kept in the loaded object, but it runs while loading all the same";
        add(std::move(f));
    }

    // Persistent ids: storages referenced (zip records, legacy raw data), anything else refused by weights_only.
    for (ValueId id = 0; id < end; ++id) {
        const Value &v = arena[id];
        if (v.kind != ValueKind::PersistentId || !arena.valid(v.args))
            continue;
        const Value &pid = arena[v.args];
        if (pid.kind != ValueKind::Tuple || pid.items.empty())
            continue;
        const Value &tag = arena[pid.items[0]];
        const std::string tagText = tag.kind == ValueKind::String || tag.kind == ValueKind::Bytes ? tag.text : "?";
        if (tagText != "storage") {
            lp.badPersistentIds.emplace_back(tagText, v.offset);
            continue;
        }
        if (pid.items.size() >= 5) {
            const Value &key = arena[pid.items[2]];
            const std::string keyStr = key.kind == ValueKind::String ? key.text
                : key.kind == ValueKind::Int                         ? std::to_string(key.integer)
                                                                     : std::string();
            if (storageKeys && !keyStr.empty())
                storageKeys->insert(keyStr);
            const Value &cls = arena[pid.items[1]];
            const Value &numel = arena[pid.items[4]];
            if (storageSizes && !keyStr.empty() && cls.kind == ValueKind::Global && numel.kind == ValueKind::Int
                && numel.integer >= 0) {
                const DtypeInfo *d = dtypeByStorageClass(cls.name);
                storageSizes->emplace_back(keyStr, d ? d->itemSize : 0);
            }
        }
    }

    // Bytes handed to another torch.load (torch.storage._load_from_bytes) or pickle.loads: scanned as well.
    if (depth < 3) {
        std::set<ValueId> scannedBytes; // one bytes value may be passed to many calls: scan it once
        for (ValueId id = 0; id < end; ++id) {
            const Value &v = arena[id];
            if (v.kind != ValueKind::Object || !arena.valid(v.callable) || arena[v.callable].kind != ValueKind::Global
                || !arena.valid(v.args) || arena[v.args].kind != ValueKind::Tuple || arena[v.args].items.empty())
                continue;
            const Value &fn = arena[v.callable];
            const bool torchLoad = fn.text == "torch.storage" && fn.name == "_load_from_bytes";
            const bool pickleLoad = (fn.text == "pickle" || fn.text == "_pickle") && fn.name == "loads";
            if (!torchLoad && !pickleLoad)
                continue;
            const ValueId arg = arena[v.args].items[0];
            if (!scannedBytes.insert(arg).second)
                continue;
            std::string bytesText;
            if (!bytesOf(arena, arg, bytesText))
                continue;
            const std::span<const std::uint8_t> nested(reinterpret_cast<const std::uint8_t *>(bytesText.data()),
                                                       bytesText.size());
            const std::uint64_t at = arena[arg].offset;
            if (torchLoad)
                scanLegacy(nested, 0, label + " > torch.save stream embedded at byte " + std::to_string(at),
                           depth + 1, true);
            else
                scanPickle(nested, 0, label + " > pickle passed to " + fn.text + ".loads at byte " + std::to_string(at),
                           PickleRole::NotLoaded, true, depth + 1);
        }
    }

    std::uint64_t used = 0;
    if (!complete) {
        const Error &e = result.error();
        lp.error = e.message;
        notFullyRead(label, e.offset, inMember,
                     "reading stopped: " + e.message + " (" + std::to_string(r.globals.size())
                         + " globals seen before that point are reported; what follows could not be checked)");
    } else {
        used = r.endOffset - base;
    }
    if (role == PickleRole::Loaded && depth == 0)
        m_loaded.push_back(std::move(lp));
    if (ParsedPickle *keep = m_options.keepMainPickle;
        keep && complete && role == PickleRole::Loaded && depth == 0 && bytes.size() > keep->size) {
        keep->label = label;
        keep->base = base;
        keep->size = bytes.size();
        keep->arena = std::move(arena);
        keep->result = std::move(*result);
    }
    return used;
}

bool looksLikePickle(std::span<const std::uint8_t> b)
{
    if (b.size() < 2)
        return false;
    if (b[0] == 0x80)
        return b[1] <= 5;
    // Protocol 0/1 pickles start with one of these and end with STOP.
    static constexpr std::string_view starts = "(c]}lditSVNIFLKJMXUTG";
    return starts.find(static_cast<char>(b[0])) != std::string_view::npos && b.back() == '.';
}

void Scanner::scanTrailing(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label,
                           bool inMember)
{
    std::uint64_t pos = 0;
    for (int i = 1; pos < bytes.size() && i <= 64; ++i) {
        const auto rest = bytes.subspan(pos);
        if (rest.size() < 2 || !(rest[0] == 0x80 && rest[1] <= 5))
            return;
        const std::uint64_t used = scanPickle(rest, base + pos, label + " (pickle " + std::to_string(i + 1)
                                                  + " after the first STOP)",
                                              PickleRole::NotLoaded, inMember, 1);
        if (used == 0)
            return;
        pos += used;
    }
}

void Scanner::scanLegacy(std::span<const std::uint8_t> bytes, std::uint64_t base, const std::string &label, int depth,
                         bool inMember)
{
    static constexpr const char *kNames[] = {"magic number", "protocol version", "sys_info", "object", "storage keys"};
    std::uint64_t pos = 0;
    std::vector<std::pair<std::string, std::uint64_t>> sizes;
    std::vector<std::string> keys;
    const std::string prefix = label.empty() ? "legacy: " : label + ": ";
    for (int i = 0; i < 5; ++i) {
        if (pos >= bytes.size()) {
            notFullyRead(prefix + kNames[i], base + pos, inMember,
                         std::string("the file ends before the ") + kNames[i] + " pickle of the legacy torch.save layout");
            return;
        }
        const std::uint64_t used = scanPickle(bytes.subspan(pos), base + pos, prefix + kNames[i],
                                              depth == 0 ? PickleRole::Loaded : PickleRole::NotLoaded, inMember, depth,
                                              nullptr, i == 3 ? &sizes : nullptr);
        if (used == 0)
            return;
        if (i == 4) {
            // The key list, to walk over the raw storages to whatever follows them.
            ValueArena a;
            auto r = unpickle(bytes.subspan(pos), a, "storage keys", base + pos, m_options.pickleLimits);
            if (r && a.valid(r->root))
                for (ValueId k : a[r->root].items)
                    keys.push_back(a[k].kind == ValueKind::String ? a[k].text
                                   : a[k].kind == ValueKind::Int  ? std::to_string(a[k].integer)
                                                                  : std::string());
        }
        pos += used;
    }
    // The raw storages follow, each an int64 element count and its bytes; past them may hide more.
    std::map<std::string, std::uint64_t> itemSize(sizes.begin(), sizes.end());
    for (const std::string &k : keys) {
        auto it = itemSize.find(k);
        const std::string what = prefix + "raw storage " + k;
        if (it == itemSize.end() || it->second == 0) {
            notFullyRead(what, base + pos, inMember,
                         "the element size of this storage is unknown, so the data after it could not be reached and "
                         "was not checked");
            return;
        }
        std::int64_t count = -1;
        if (bytes.size() - pos >= 8)
            std::memcpy(&count, bytes.data() + pos, 8);
        if (count < 0 || static_cast<std::uint64_t>(count) > (bytes.size() - pos - 8) / it->second) {
            notFullyRead(what, base + pos, inMember,
                         "the file ends inside this raw storage (torch.load would fail here too): whatever the rest "
                         "of the file held was not checked");
            return;
        }
        pos += 8 + static_cast<std::uint64_t>(count) * it->second;
    }
    if (pos < bytes.size())
        scanTrailing(bytes.subspan(pos), base + pos, prefix + "data after the last storage", inMember);
}

// Member names a torch.save / torch.jit.save archive holds that are not pickles.
bool isKnownRecord(std::string_view rel)
{
    return rel == "version" || rel == "byteorder" || rel == ".format_version" || rel == ".storage_alignment"
        || rel == ".data/serialization_id" || rel == ".data/version";
}

bool endsWith(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void Scanner::scanZip()
{
    auto zipResult = ZipArchive::open(m_file, m_path);
    if (!zipResult) {
        scanZipByLocalHeaders(zipResult.error().message);
        return;
    }
    const ZipArchive &zip = *zipResult;
    const auto &entries = zip.entries();
    if (entries.empty()) {
        m_notTorchZip = "an empty zip archive";
        notFullyRead("zip directory", std::nullopt, false, "an empty zip archive: not a checkpoint, nothing to scan");
        return;
    }
    const std::string &firstName = entries.front().name;
    const std::string prefix = firstName.find('/') == std::string::npos ? std::string()
                                                                         : firstName.substr(0, firstName.find('/') + 1);
    if (prefix.empty() || prefix == "/")
        m_notTorchZip = "its first entry is not inside a folder, which torch.load refuses (\"file in archive is not in "
                        "a subdirectory\")";
    auto rel = [&](const ZipEntry &e) -> std::string_view {
        std::string_view n = e.name;
        if (!prefix.empty() && n.compare(0, prefix.size(), prefix) == 0)
            n.remove_prefix(prefix.size());
        return n;
    };
    for (const ZipEntry &e : entries)
        if (rel(e) == "constants.pkl")
            m_torchScript = true;

    auto readMember = [&](const ZipEntry &e, std::vector<std::uint8_t> &owned,
                          std::span<const std::uint8_t> &span) -> std::string {
        if (!e.problem.empty())
            return e.problem;
        if (e.method == 0) {
            auto s = zip.storedData(e);
            if (!s)
                return s.error().message;
            span = *s;
            return {};
        }
        auto r = zip.read(e, m_options.pickleLimits.maxPickleBytes);
        if (!r)
            return r.error().message;
        owned = std::move(*r);
        span = owned;
        return {};
    };

    std::set<std::string> dataKeys, constantKeys;
    std::vector<bool> done(entries.size(), false);
    std::size_t codeFiles = 0;
    const ZipEntry *firstData = zip.find(prefix + "data.pkl");
    auto scanMember = [&](std::size_t i, PickleRole role, std::set<std::string> *keys) {
        const ZipEntry &e = entries[i];
        done[i] = true;
        std::vector<std::uint8_t> owned;
        std::span<const std::uint8_t> span;
        const std::string problem = readMember(e, owned, span);
        if (!problem.empty()) {
            notFullyRead(e.name, e.dataOffset ? std::optional<std::uint64_t>(e.dataOffset) : std::nullopt, false,
                         "this pickle could not be read: " + problem);
            return;
        }
        const bool inMember = e.method != 0;
        const std::uint64_t base = inMember ? 0 : e.dataOffset;
        const std::uint64_t used = scanPickle(span, base, e.name, role, inMember, 0, keys);
        if (used > 0 && used < span.size())
            scanTrailing(span.subspan(used), base + used, e.name, inMember);
    };

    // What torch reads first: TorchScript's constants.pkl, then data.pkl (the first one miniz finds
    // is the one torch.load reads; any duplicate is scanned too).
    for (std::size_t i = 0; i < entries.size(); ++i)
        if (rel(entries[i]) == "constants.pkl")
            scanMember(i, PickleRole::JitLoaded, &constantKeys);
    for (std::size_t i = 0; i < entries.size(); ++i)
        if (rel(entries[i]) == "data.pkl")
            scanMember(i, &entries[i] == firstData && !m_torchScript ? PickleRole::Loaded
                              : m_torchScript                        ? PickleRole::JitLoaded
                                                                     : PickleRole::NotLoaded,
                       &dataKeys);
    if (!firstData)
        notFullyRead("zip directory", std::nullopt, false,
                     "this zip archive has no " + prefix + "data.pkl: it is not a torch.save file, so torch.load "
                     "would refuse it; its members were scanned for pickles all the same");

    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (done[i])
            continue;
        const ZipEntry &e = entries[i];
        const std::string_view r = rel(e);
        if (isKnownRecord(r))
            continue;
        if (r.rfind("data/", 0) == 0 && dataKeys.count(std::string(r.substr(5))))
            continue; // tensor bytes
        if (r.rfind("constants/", 0) == 0 && constantKeys.count(std::string(r.substr(10))))
            continue;
        if (m_torchScript && r.rfind("code/", 0) == 0 && endsWith(r, ".py")) {
            ++codeFiles;
            continue;
        }
        const bool named = endsWith(r, ".pkl") || endsWith(r, ".debug_pkl");
        std::vector<std::uint8_t> owned;
        std::span<const std::uint8_t> span;
        if (!named && e.size > m_options.pickleLimits.maxPickleBytes) {
            // Bytes no pickle references, larger than the pickle budget: a stored one that does not look
            // like a pickle is data; anything else cannot be checked, and says so.
            if (e.method == 0 && e.problem.empty()) {
                auto stored = zip.storedData(e);
                if (stored && !looksLikePickle(*stored))
                    continue;
            }
            notFullyRead(e.name, e.dataOffset ? std::optional<std::uint64_t>(e.dataOffset) : std::nullopt, false,
                         "a member no pickle references, of " + std::to_string(e.size)
                             + " bytes, more than the pickle budget: it was not checked");
            continue;
        }
        const std::string problem = readMember(e, owned, span);
        if (!problem.empty()) {
            if (named)
                notFullyRead(e.name, e.dataOffset ? std::optional<std::uint64_t>(e.dataOffset) : std::nullopt, false,
                             "this pickle could not be read: " + problem);
            else
                notFullyRead(e.name, e.dataOffset ? std::optional<std::uint64_t>(e.dataOffset) : std::nullopt, false,
                             "this member could not be read, so it was not checked for pickles: " + problem);
            continue;
        }
        if (!named && !looksLikePickle(span))
            continue;
        const bool inMember = e.method != 0;
        const std::uint64_t base = inMember ? 0 : e.dataOffset;
        const bool debugInfo = m_torchScript && endsWith(r, ".debug_pkl");
        const std::size_t before = m_report.findings.size();
        scanPickle(span, base, e.name, debugInfo ? PickleRole::JitLoaded : PickleRole::NotLoaded, inMember, 0);
        if (!debugInfo && m_report.findings.size() == before) {
            SecurityFinding f;
            f.severity = Verdict::Safe;
            f.kind = FindingKind::ExtraPickle;
            f.pickle = e.name;
            f.offset = e.dataOffset;
            f.what = "a pickle beside the checkpoint's own, which torch.load does not read; it holds nothing beyond "
                     "the weights-only allowlist";
            add(std::move(f));
        }
    }

    if (m_torchScript) {
        SecurityFinding f;
        f.severity = Verdict::Suspicious;
        f.kind = FindingKind::TorchScriptCode;
        f.pickle = prefix + "code/";
        f.what = "a TorchScript archive: torch.jit.load compiles and runs its code (" + std::to_string(codeFiles)
            + " source file" + (codeFiles == 1 ? "" : "s") + " under " + prefix
            + "code/). TorchScript cannot import Python modules, but its code decides what the model does and may "
              "call any registered operator; ptscope reads it as text and never runs it";
        add(std::move(f));
    }
}

// A zip whose directory is missing or unreadable (a truncated download, for one): the members
// are found through their local headers, as far as they go, and their pickles scanned.
void Scanner::scanZipByLocalHeaders(const std::string &why)
{
    notFullyRead("zip directory", std::nullopt, false,
                 "the zip directory could not be read (" + why
                     + "); members were looked for through their local headers instead, and more may be hidden");
    std::uint64_t pos = 0;
    for (int members = 0; members < 100000 && pos + 30 <= m_file.size(); ++members) {
        const std::uint8_t *h = m_file.data() + pos;
        if (std::memcmp(h, "PK\x03\x04", 4) != 0)
            return;
        auto u16 = [&](int o) { return static_cast<std::uint32_t>(h[o] | (h[o + 1] << 8)); };
        auto u32 = [&](int o) { return u16(o) | (u16(o + 2) << 16); };
        const std::uint32_t method = u16(8);
        const std::uint32_t flags = u16(6);
        const std::uint64_t compressed = u32(18);
        const std::uint32_t nameLen = u16(26);
        const std::uint32_t extraLen = u16(28);
        if (pos + 30 + nameLen + extraLen > m_file.size())
            return;
        const std::string name(reinterpret_cast<const char *>(h + 30), nameLen);
        const std::uint64_t data = pos + 30 + nameLen + extraLen;
        // The payload ends where its size says, else at the next local header (or the end of the file), so
        // that every byte is read once whatever the headers claim.
        const std::string_view sig("PK\x03\x04", 4);
        auto findSig = [&](std::uint64_t from) {
            const std::string_view text(reinterpret_cast<const char *>(m_file.data() + from), m_file.size() - from);
            const std::size_t at = text.find(sig);
            return at == std::string_view::npos ? m_file.size() : from + at;
        };
        const bool sized = (flags & 0x8) == 0 && compressed != 0xFFFFFFFFu;
        const std::uint64_t end = sized ? std::min<std::uint64_t>(data + compressed, m_file.size()) : findSig(data);
        const auto payload = m_file.subspan(data, end - data);
        const bool proto2 = payload.size() >= 2 && payload[0] == 0x80 && payload[1] <= 5;
        if (method == 0 && (endsWith(name, ".pkl") || proto2 || looksLikePickle(payload)))
            scanPickle(payload, data, name + " (from its local header)",
                       endsWith(name, "/data.pkl") ? PickleRole::Loaded : PickleRole::NotLoaded, false, 0);
        if (end >= m_file.size())
            return;
        pos = findSig(end);
    }
}

// What torch.load(weights_only=True) does, from the pickles it would read, in the order it reads them.
void Scanner::decideWeightsOnly()
{
    WeightsOnlyCheck &w26 = m_report.torch26;
    WeightsOnlyCheck &w13 = m_report.torch113;
    if (m_container == Container::Safetensors) {
        for (WeightsOnlyCheck *w : {&w26, &w13}) {
            w->applicable = false;
            w->reason = "torch.load does not read safetensors files (safetensors.torch.load_file does, without pickle)";
        }
        return;
    }
    if (m_container == Container::Refused) {
        for (WeightsOnlyCheck *w : {&w26, &w13}) {
            w->applicable = false;
            w->reason = "not a checkpoint torch.load reads: " + m_refusal;
        }
        return;
    }
    if (m_torchScript) {
        w26.accepted = false;
        w26.reason = "torch >= 2.6 refuses TorchScript archives under weights_only=True (\"Cannot use weights_only=True "
                     "with TorchScript archives passed to torch.load\")";
        w26.note = "load it with torch.jit.load, which compiles and runs its TorchScript code";
        w13.accepted = m_report.fullyRead;
        w13.reason = m_report.fullyRead ? std::string() : "the archive could not be fully read";
        w13.note = "torch 1.13 hands TorchScript archives to torch.jit.load, whatever weights_only says: the flag "
                   "gives no protection there";
        return;
    }

    struct Event
    {
        std::size_t pickle;
        std::uint64_t offset;
        std::string message;
        bool fixable;
    };
    std::set<std::string> addable, never;
    auto first = [](std::vector<Event> &events) {
        std::stable_sort(events.begin(), events.end(), [](const Event &a, const Event &b) {
            return a.pickle != b.pickle ? a.pickle < b.pickle : a.offset < b.offset;
        });
    };
    std::vector<Event> e26, e13;
    for (std::size_t p = 0; p < m_loaded.size(); ++p) {
        const LoadedPickle &lp = m_loaded[p];
        const std::string at = " (" + lp.label + ", byte ";
        for (const auto &[op, off] : lp.opcodes) {
            const char *name = pickleOpcodeName(op);
            const std::string what = std::string("Unsupported operand ") + std::to_string(op) + ": opcode "
                + (name ? name : "?") + " is not implemented by the weights-only unpickler" + at + std::to_string(off)
                + ")";
            if (!weightsOnlyOpcode(op, true))
                e26.push_back({p, off, what, false});
            if (!weightsOnlyOpcode(op, false))
                e13.push_back({p, off, what, false});
        }
        for (const GlobalUse &g : lp.globals) {
            if (g.dynamic) {
                never.insert("an import computed while loading (STACK_GLOBAL)");
                continue; // STACK_GLOBAL is an unsupported opcode already
            }
            const std::string full = fullName(g);
            const bool danger = !dangerWhat(g.module, g.name).empty();
            if (blocked26(g.module)) {
                e26.push_back({p, g.offset,
                               "Trying to load unsupported GLOBAL " + full + " whose module " + g.module
                                   + " is blocked" + at + std::to_string(g.offset) + ")",
                               false});
                never.insert(full);
            } else if (!allowed26(g.module, g.name)) {
                e26.push_back({p, g.offset,
                               "Unsupported global: GLOBAL " + full + " was not an allowed global by default" + at
                                   + std::to_string(g.offset) + ")",
                               !danger});
                (danger ? never : addable).insert(full);
            }
            // torch 1.13 looks names up as written (protocol 2 spells builtins as __builtin__).
            const std::string full113 = g.written.empty() ? full : g.written;
            if (!allowed113(full113))
                e13.push_back({p, g.offset, "Unsupported class " + full113 + at + std::to_string(g.offset) + ")", false});
        }
        for (const auto &[tag, off] : lp.badPersistentIds) {
            const std::string what = "Only persistent_load of storage is allowed, but got " + tag + at
                + std::to_string(off) + ")";
            e26.push_back({p, off, what, false});
            e13.push_back({p, off, what, false});
        }
        if (!lp.complete) {
            const std::string what = "the pickle could not be read to the end (" + lp.error + ")";
            e26.push_back({p, ~0ull, what, false});
            e13.push_back({p, ~0ull, what, false});
        }
    }
    first(e26);
    first(e13);
    w26.addSafeGlobals.assign(addable.begin(), addable.end());
    w26.neverAcceptable.assign(never.begin(), never.end());
    w13.neverAcceptable = w26.neverAcceptable;

    const bool plainPickle = m_container == Container::Pickle;
    const bool noTorchPickle = m_container == Container::Zip && m_loaded.empty();
    std::string formatProblem;
    if (plainPickle)
        formatProblem = "this is a plain pickle, not a torch.save file: torch.load reads its first pickle as the "
                        "magic number and stops (\"Invalid magic number; corrupt file?\"); pickle.load would read it";
    else if (!m_notTorchZip.empty())
        formatProblem = "torch.load refuses this zip archive: " + m_notTorchZip;
    else if (noTorchPickle)
        formatProblem = "torch.load finds no readable data.pkl in this archive";

    w26.accepted = e26.empty() && formatProblem.empty() && m_report.fullyRead;
    w26.reason = !e26.empty() ? e26.front().message : !formatProblem.empty() ? formatProblem
        : m_report.fullyRead  ? std::string()
                              : "the file could not be fully read";
    w26.fixableByAllowlisting = !w26.accepted && !e26.empty() && formatProblem.empty() && m_report.fullyRead
        && std::all_of(e26.begin(), e26.end(), [](const Event &e) { return e.fixable; });
    w13.accepted = e13.empty() && formatProblem.empty() && m_report.fullyRead;
    w13.reason = !e13.empty() ? e13.front().message : !formatProblem.empty() ? formatProblem
        : m_report.fullyRead  ? std::string()
                              : "the file could not be fully read";
    w13.fixableByAllowlisting = false;
    if (!w13.accepted)
        w13.note = "torch 1.13 has no add_safe_globals: its allowlist is fixed (no numpy, no float opcode BINFLOAT, "
                   "no set, no user classes)";
    if (addable.count("numpy.dtype"))
        w26.note = "with numpy >= 1.25 the array's dtype class must be allowlisted too (e.g. "
                   "numpy.dtypes.Float32DType), as torch's error will then name";
}

SecurityReport Scanner::run()
{
    const Sniff sniff = sniffFormat(m_file);
    m_container = sniff.container;
    switch (sniff.container) {
    case Container::Refused:
        m_refusal = sniff.error.message;
        notFullyRead("file", sniff.error.offset, false, "not a checkpoint ptscope can scan: " + sniff.error.message);
        break;
    case Container::Zip: scanZip(); break;
    case Container::Legacy: scanLegacy(m_file, 0, {}, 0, false); break;
    case Container::Pickle: {
        const std::uint64_t used = scanPickle(m_file, 0, "pickle", PickleRole::Loaded, false, 0);
        if (used > 0 && used < m_file.size())
            scanTrailing(m_file.subspan(used), used, "pickle", false);
        break;
    }
    case Container::Safetensors: break; // a JSON header and raw bytes: no pickle, no code
    case Container::ShardIndex: break;  // handled by the caller, shard by shard
    }
    decideWeightsOnly();
    std::stable_sort(m_report.findings.begin(), m_report.findings.end(),
                     [](const SecurityFinding &a, const SecurityFinding &b) { return a.severity > b.severity; });
    return std::move(m_report);
}

void writeWeightsOnly(JsonWriter &w, const WeightsOnlyCheck &c)
{
    w.beginObject();
    w.field("applicable", c.applicable);
    w.field("accepted", c.accepted);
    w.field("reason", c.reason);
    w.field("fixable_by_allowlisting", c.fixableByAllowlisting);
    w.key("add_safe_globals").stringArray(c.addSafeGlobals);
    w.key("never_acceptable").stringArray(c.neverAcceptable);
    if (!c.note.empty())
        w.field("note", c.note);
    w.endObject();
}

} // namespace

SecurityReport scanFile(const std::shared_ptr<const MappedFile> &file, const ScanOptions &options)
{
    Scanner scanner(file->bytes(), file->path(), options);
    return scanner.run();
}

Result<SecurityReport> scanFile(const std::string &path, const ScanOptions &options)
{
    auto file = MappedFile::open(path);
    if (!file)
        return file.error();
    const Sniff sniff = sniffFormat((*file)->bytes());
    if (sniff.container == Container::Refused) {
        Error e = sniff.error;
        e.path = path;
        return e;
    }
    if (sniff.container == Container::ShardIndex) {
        OpenOptions open;
        open.pickleLimits = options.pickleLimits;
        auto cp = openCheckpoint(*file, open);
        if (!cp)
            return cp.error();
        return securityReport(**cp);
    }
    return scanFile(*file, options);
}

const SecurityReport &securityReport(const Checkpoint &cp)
{
    static const SecurityReport notScanned = [] {
        SecurityReport r;
        r.verdict = Verdict::Suspicious;
        r.fullyRead = false;
        SecurityFinding f;
        f.kind = FindingKind::NotFullyRead;
        f.what = "this checkpoint was not scanned";
        r.findings.push_back(f);
        return r;
    }();
    return cp.security ? *cp.security : notScanned;
}

SecurityReport mergeShardReports(const std::vector<std::pair<std::string, SecurityReport>> &shards)
{
    SecurityReport out;
    out.torch26.accepted = out.torch113.accepted = true;
    std::set<std::string> add26, never26;
    bool applicable = false;
    for (const auto &[name, r] : shards) {
        applicable = applicable || r.torch26.applicable;
        out.verdict = std::max(out.verdict, r.verdict);
        out.fullyRead = out.fullyRead && r.fullyRead;
        out.omittedFindings += r.omittedFindings;
        for (SecurityFinding f : r.findings) {
            f.pickle = name + ": " + f.pickle;
            out.findings.push_back(std::move(f));
        }
        for (ScannedPickle p : r.pickles) {
            p.name = name + ": " + p.name;
            out.pickles.push_back(std::move(p));
        }
        for (auto [mine, theirs] : {std::pair{&out.torch26, &r.torch26}, std::pair{&out.torch113, &r.torch113}}) {
            if (mine->accepted && !theirs->accepted && theirs->applicable) {
                mine->accepted = false;
                mine->reason = name + ": " + theirs->reason;
            }
        }
        add26.insert(r.torch26.addSafeGlobals.begin(), r.torch26.addSafeGlobals.end());
        never26.insert(r.torch26.neverAcceptable.begin(), r.torch26.neverAcceptable.end());
    }
    out.torch26.addSafeGlobals.assign(add26.begin(), add26.end());
    out.torch26.neverAcceptable.assign(never26.begin(), never26.end());
    out.torch113.neverAcceptable = out.torch26.neverAcceptable;
    out.torch26.fixableByAllowlisting = !out.torch26.accepted && never26.empty() && !add26.empty() && out.fullyRead;
    if (!applicable && !shards.empty()) {
        for (WeightsOnlyCheck *w : {&out.torch26, &out.torch113}) {
            w->applicable = false;
            w->accepted = false;
            w->reason = shards.front().second.torch26.reason;
        }
    }
    std::stable_sort(out.findings.begin(), out.findings.end(),
                     [](const SecurityFinding &a, const SecurityFinding &b) { return a.severity > b.severity; });
    return out;
}

void writeSecurityJson(JsonWriter &w, const SecurityReport &report, const std::string &file)
{
    w.beginObject();
    if (!file.empty())
        w.field("file", file);
    w.field("verdict", verdictName(report.verdict));
    w.field("fully_read", report.fullyRead);
    w.key("findings").beginArray();
    for (const SecurityFinding &f : report.findings) {
        w.beginObject();
        w.field("severity", verdictName(f.severity));
        w.field("kind", findingKindName(f.kind));
        if (f.module.empty() && f.name.empty())
            w.key("global").null();
        else
            w.field("global", f.module + "." + f.name);
        w.field("module", f.module);
        w.field("name", f.name);
        w.field("use", f.use);
        w.field("pickle", f.pickle);
        if (f.offset)
            w.field("offset", *f.offset);
        else
            w.key("offset").null();
        w.field("offset_in_member", f.offsetInMember);
        if (f.reachable)
            w.key("path").stringArray(f.path);
        else
            w.key("path").null();
        w.field("count", f.count);
        w.field("what", f.what);
        w.endObject();
    }
    w.endArray();
    if (report.omittedFindings)
        w.field("omitted_findings", report.omittedFindings);
    w.key("pickles").beginArray();
    for (const ScannedPickle &p : report.pickles) {
        w.beginObject().field("name", p.name).field("protocol", p.protocol).field("complete", p.complete);
        w.key("globals").stringArray(p.globals);
        w.endObject();
    }
    w.endArray();
    w.key("weights_only").beginObject();
    w.key("torch_2_6");
    writeWeightsOnly(w, report.torch26);
    w.key("torch_1_13");
    writeWeightsOnly(w, report.torch113);
    w.endObject();
    w.endObject();
}

std::string findingTitle(const SecurityFinding &f)
{
    std::string head = f.module.empty() && f.name.empty() ? std::string(findingKindName(f.kind)) : f.module + "." + f.name;
    if (f.count > 1)
        head += " (x" + std::to_string(f.count) + ")";
    return head;
}

std::string findingWhere(const SecurityFinding &f)
{
    std::string where = "in " + f.pickle;
    if (f.offset)
        where += " at byte " + std::to_string(*f.offset) + (f.offsetInMember ? " of that pickle" : "");
    if (f.reachable)
        where += ", object path " + (f.path.empty() ? std::string("(the root object)") : joinPath(f.path));
    return where;
}

std::string weightsOnlySummary(const WeightsOnlyCheck &c)
{
    auto join = [](const std::vector<std::string> &items) {
        std::string s;
        for (std::size_t i = 0; i < items.size(); ++i)
            s += (i ? ", " : "") + items[i];
        return s;
    };
    std::string line;
    if (!c.applicable)
        line = "not applicable: " + c.reason;
    else if (c.accepted)
        line = "accepted";
    else
        line = "refused: " + c.reason;
    if (!c.addSafeGlobals.empty())
        line += std::string("; ") + (c.fixableByAllowlisting ? "loads after" : "would still need more than")
            + " torch.serialization.add_safe_globals([" + join(c.addSafeGlobals) + "])";
    if (!c.neverAcceptable.empty())
        line += "; never allowlist: " + join(c.neverAcceptable);
    if (!c.note.empty())
        line += " (" + c.note + ")";
    return line;
}

} // namespace ptscope::core
