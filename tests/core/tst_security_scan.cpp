// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The security verdict: fixtures written by torch 1.13 (tests/fixtures/generate_security_fixtures.py)
// with what torch itself said about them, plus hand-built pickles for what pickle never writes.
#include "checkpoint.h"
#include "mapped_file.h"
#include "security_scan.h"
#include "unpickler.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <algorithm>
#include <set>
#include <string>

using namespace ptscope::core;

namespace {

QString dataDir()
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR);
}

std::string securityFile(const QString &name)
{
    return (dataDir() + QStringLiteral("/security/") + name).toStdString();
}

QJsonObject expected()
{
    QFile f(dataDir() + QStringLiteral("/security/expected.json"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

SecurityReport scanBytes(const std::string &bytes, const ScanOptions &options = {})
{
    return scanFile(MappedFile::fromBuffer(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), "test.pkl"),
                    options);
}

SecurityReport scanPath(const std::string &path)
{
    auto r = scanFile(path);
    if (!r)
        qFatal("cannot scan %s: %s", path.c_str(), r.error().toString().c_str());
    return *r;
}

const SecurityFinding *findGlobal(const SecurityReport &r, const std::string &full)
{
    for (const SecurityFinding &f : r.findings)
        if (f.module + "." + f.name == full)
            return &f;
    return nullptr;
}

bool hasKind(const SecurityReport &r, FindingKind kind)
{
    return std::any_of(r.findings.begin(), r.findings.end(), [&](const SecurityFinding &f) { return f.kind == kind; });
}

Verdict verdictOf(const QString &s)
{
    return s == QLatin1String("safe") ? Verdict::Safe : s == QLatin1String("suspicious") ? Verdict::Suspicious
                                                                                          : Verdict::Dangerous;
}

// A protocol-2 pickle holding one GLOBAL, as the root object.
std::string globalPickle(const std::string &module, const std::string &name)
{
    return std::string("\x80\x02", 2) + "c" + module + "\n" + name + "\n.";
}

// Protocol 4: STACK_GLOBAL of two short strings, called with no arguments.
std::string stackGlobalCall(const std::string &module, const std::string &name)
{
    std::string s("\x80\x04", 2);
    s += '\x8c';
    s += static_cast<char>(module.size());
    s += module;
    s += '\x8c';
    s += static_cast<char>(name.size());
    s += name;
    s += "\x93)R.";
    return s;
}

} // namespace

class TestSecurityScan : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixtures_data();
    void fixtures();
    void allowlist113MatchesTorch();
    void findingsSayWhereAndWhat();
    void weightsOnly26Advice();
    void weightsOnlyAsTorch2Says_data();
    void weightsOnlyAsTorch2Says();
    void hiddenAndNestedPicklesAreScanned();
    void unpicklerKeepsWhatItSaw();
    void sharedNestedBytesScannedOnce();
    void dynamicImportIsDangerous();
    void dottedAndParentModuleNames_data();
    void dottedAndParentModuleNames();
    void discardedCallStillReported();
    void failsClosed_data();
    void failsClosed();
    void budgetsFailClosed();
    void safetensorsAndShards();
    void checkpointCarriesReport();
    void mainPickleParsedOnce();
};

void TestSecurityScan::fixtures_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QJsonObject>("expect");
    const QJsonObject files = expected().value(QStringLiteral("files")).toObject();
    QVERIFY2(files.size() >= 16, "tests/data/security/expected.json is missing: run generate_security_fixtures.py");
    for (auto it = files.begin(); it != files.end(); ++it)
        QTest::newRow(qPrintable(it.key())) << it.key() << it.value().toObject();
}

void TestSecurityScan::fixtures()
{
    QFETCH(QString, name);
    QFETCH(QJsonObject, expect);
    const SecurityReport r = scanPath(securityFile(name));

    QCOMPARE(verdictName(r.verdict), qPrintable(expect.value(QStringLiteral("category")).toString()));
    QCOMPARE(r.verdict, verdictOf(expect.value(QStringLiteral("category")).toString()));
    QCOMPARE(r.fullyRead, expect.value(QStringLiteral("fully_read")).toBool());
    if (!r.fullyRead)
        QVERIFY(hasKind(r, FindingKind::NotFullyRead));

    // torch 1.13's own answer to torch.load(weights_only=True).
    const QJsonObject wo = expect.value(QStringLiteral("weights_only_113")).toObject();
    QCOMPARE(r.torch113.accepted, wo.value(QStringLiteral("accepted")).toBool());
    const QString error = wo.value(QStringLiteral("error")).toString();
    const QString marker = QStringLiteral("WeightsUnpickler error: ");
    if (error.contains(marker)) {
        const QString says = error.mid(error.indexOf(marker) + marker.size());
        QVERIFY2(QString::fromStdString(r.torch113.reason).startsWith(says),
                 qPrintable(QStringLiteral("torch says '%1', ptscope says '%2'")
                                .arg(says, QString::fromStdString(r.torch113.reason))));
    }
    if (r.verdict == Verdict::Safe) {
        // Safe globals; torch may still refuse the opcodes of a newer protocol (no allowlist helps there).
        QVERIFY(r.torch26.accepted || r.torch26.reason.rfind("Unsupported operand", 0) == 0);
        QVERIFY(r.torch26.addSafeGlobals.empty());
        QVERIFY(r.findings.empty() || std::all_of(r.findings.begin(), r.findings.end(), [](const SecurityFinding &f) {
                    return f.severity == Verdict::Safe;
                }));
    }

    // Every pickle CPython's pickletools found was scanned, with the same globals as written.
    const QJsonObject globals = expect.value(QStringLiteral("globals")).toObject();
    for (auto it = globals.begin(); it != globals.end(); ++it) {
        const auto p = std::find_if(r.pickles.begin(), r.pickles.end(),
                                    [&](const ScannedPickle &s) { return s.name == it.key().toStdString(); });
        QVERIFY2(p != r.pickles.end(), qPrintable(QStringLiteral("pickle not scanned: ") + it.key()));
        std::set<std::string> want, got(p->globals.begin(), p->globals.end());
        for (const QJsonValue &g : it.value().toArray())
            want.insert(g.toString().toStdString());
        QCOMPARE(got, want);
    }
}

void TestSecurityScan::allowlist113MatchesTorch()
{
    const QJsonArray list = expected().value(QStringLiteral("allowlist_113")).toArray();
    QVERIFY(list.size() > 50);
    for (const QJsonValue &v : list) {
        const std::string full = v.toString().toStdString();
        const std::size_t dot = full.rfind('.');
        const SecurityReport r = scanBytes(globalPickle(full.substr(0, dot), full.substr(dot + 1)));
        QVERIFY2(r.torch113.reason.rfind("Unsupported class", 0) != 0, full.c_str());
        // torch >= 2.6 keeps all of them but the 1.13-only CSR rebuild function, which is therefore
        // not "safe" any more: the current loader refuses it.
        const bool kept = full != "torch._utils._rebuild_sparse_csr_tensor";
        QCOMPARE(r.verdict, kept ? Verdict::Safe : Verdict::Suspicious);
        QCOMPARE(r.torch26.reason.find("Unsupported global") == std::string::npos, kept);
    }
    // And names it does not list are refused, by name, as torch 1.13 words it.
    // (Protocol 2 writes builtins as __builtin__: 1.13 looks that name up as written, 2.x maps it.)
    for (const char *name : {"torch.uint8", "torch.bool", "__builtin__.set", "torch.device", "torch._utils._rebuild_qtensor"}) {
        const std::string full = name;
        const std::size_t dot = full.rfind('.');
        const SecurityReport r = scanBytes(globalPickle(full.substr(0, dot), full.substr(dot + 1)));
        QVERIFY2(r.torch113.reason.rfind("Unsupported class " + full, 0) == 0, r.torch113.reason.c_str());
        QVERIFY2(r.torch26.reason.find("Unsupported global") == std::string::npos, full.c_str()); // 2.x allows them
    }
}

void TestSecurityScan::findingsSayWhereAndWhat()
{
    const SecurityReport r = scanPath(securityFile(QStringLiteral("reduce_os_system.pt")));
    const SecurityFinding *f = findGlobal(r, "posix.system");
    QVERIFY(f);
    QCOMPARE(f->severity, Verdict::Dangerous);
    QCOMPARE(f->kind, FindingKind::DangerousGlobal);
    QCOMPARE(f->use, std::string("called"));
    QCOMPARE(f->pickle, std::string("reduce_os_system/data.pkl"));
    QVERIFY(f->reachable);
    QCOMPARE(f->path, ObjectPath({"payload"}));
    QVERIFY(f->offset && !f->offsetInMember);
    // The offset is the GLOBAL opcode's, in the file.
    QFile file(QString::fromStdString(securityFile(QStringLiteral("reduce_os_system.pt"))));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    QCOMPARE(bytes.mid(static_cast<qsizetype>(*f->offset), 13), QByteArray("cposix\nsystem"));
    QVERIFY(f->what.find("command") != std::string::npos);

    const SecurityReport chain = scanPath(securityFile(QStringLiteral("getattr_chain.pt")));
    const SecurityFinding *ga = findGlobal(chain, "builtins.getattr");
    const SecurityFinding *imp = findGlobal(chain, "builtins.__import__");
    QVERIFY(ga && imp);
    QCOMPARE(ga->path, ObjectPath({"payload", "(callable)"}));
    QCOMPARE(imp->path, ObjectPath({"payload", "(callable)", "(args)/0"}));
    QCOMPARE(imp->severity, Verdict::Dangerous);

    const SecurityReport model = scanPath(securityFile(QStringLiteral("whole_model.pt")));
    const SecurityFinding *net = findGlobal(model, "__main__.Net");
    QVERIFY(net);
    QCOMPARE(net->severity, Verdict::Suspicious);
    QCOMPARE(net->kind, FindingKind::UnlistedGlobal);
    QCOMPARE(net->use, std::string("instantiated"));
    QVERIFY(net->reachable && net->path.empty()); // the root object itself
    QVERIFY(net->what.find("script") != std::string::npos);
    // Allowlisted globals are not findings.
    QVERIFY(!findGlobal(model, "collections.OrderedDict"));
    QVERIFY(!findGlobal(model, "torch._utils._rebuild_parameter"));
}

void TestSecurityScan::weightsOnlyAsTorch2Says_data()
{
    // tests/data/torch-2.N/security_weights_only.json: what torch 2.6 and the newest torch did with
    // each fixture under their default torch.load, and what their own static check
    // (torch.serialization.get_unsafe_globals_in_checkpoint) listed.
    QTest::addColumn<QString>("file");
    QTest::addColumn<QJsonObject>("answer");
    int sets = 0;
    for (const QString &d : QDir(dataDir()).entryList({QStringLiteral("torch-*")}, QDir::Dirs, QDir::Name)) {
        QFile f(dataDir() + QLatin1Char('/') + d + QStringLiteral("/security_weights_only.json"));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        ++sets;
        const QJsonObject files = QJsonDocument::fromJson(f.readAll()).object()[QStringLiteral("files")].toObject();
        for (auto it = files.begin(); it != files.end(); ++it)
            QTest::addRow("%s/%s", qPrintable(d), qPrintable(it.key())) << it.key() << it.value().toObject();
    }
    QVERIFY2(sets >= 2, "run tests/fixtures/torch2_env.sh generate");
}

void TestSecurityScan::weightsOnlyAsTorch2Says()
{
    QFETCH(QString, file);
    QFETCH(QJsonObject, answer);
    const SecurityReport r = scanPath(securityFile(file));
    const bool loads = answer[QStringLiteral("loads")].toBool();
    QVERIFY2(r.torch26.applicable, qPrintable(QString::fromStdString(r.torch26.reason)));
    QVERIFY2(r.torch26.accepted == loads,
             qPrintable(QStringLiteral("torch: %1; ptscope: %2")
                            .arg(loads ? QStringLiteral("loads") : answer[QStringLiteral("error")].toString(),
                                 QString::fromStdString(weightsOnlySummary(r.torch26)))));
    const QJsonValue unsafe = answer[QStringLiteral("unsafe_globals")];
    if (!unsafe.isArray())
        return; // torch's static check does not read legacy, TorchScript or truncated files
    // Every global torch's check lists is one ptscope names, either to allowlist or never to allow.
    // The file writes Python 2 module names that pickle maps on load (fix_imports): ptscope names
    // what would run (subprocess), torch the name written (commands).
    std::set<std::string> torchSays;
    for (const QJsonValue &g : unsafe.toArray()) {
        std::string name = g.toString().toStdString();
        if (name.rfind("commands.", 0) == 0)
            name = "subprocess." + name.substr(9);
        torchSays.insert(name);
    }
    std::set<std::string> ours(r.torch26.addSafeGlobals.begin(), r.torch26.addSafeGlobals.end());
    ours.insert(r.torch26.neverAcceptable.begin(), r.torch26.neverAcceptable.end());
    QCOMPARE(ours, torchSays);
}

void TestSecurityScan::weightsOnly26Advice()
{
    const SecurityReport train = scanPath(securityFile(QStringLiteral("training_checkpoint.pt")));
    QVERIFY(!train.torch26.accepted);
    QVERIFY(train.torch26.fixableByAllowlisting);
    QCOMPARE(train.torch26.addSafeGlobals, std::vector<std::string>({"argparse.Namespace"}));
    QVERIFY(train.torch26.neverAcceptable.empty());
    QVERIFY(train.torch113.reason.find("BINFLOAT") != std::string::npos); // 1.13 cannot read a float at all

    const SecurityReport model = scanPath(securityFile(QStringLiteral("whole_model.pt")));
    QVERIFY(model.torch26.fixableByAllowlisting);
    const std::vector<std::string> &add = model.torch26.addSafeGlobals;
    QVERIFY(std::find(add.begin(), add.end(), "__main__.Net") != add.end());
    QVERIFY(std::find(add.begin(), add.end(), "torch.nn.modules.linear.Linear") != add.end());

    const SecurityReport np = scanPath(securityFile(QStringLiteral("numpy_arrays.pt")));
    for (const char *g : {"numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"})
        QVERIFY2(std::find(np.torch26.addSafeGlobals.begin(), np.torch26.addSafeGlobals.end(), g)
                     != np.torch26.addSafeGlobals.end(),
                 g);
    QVERIFY(!np.torch26.note.empty());

    const SecurityReport sys = scanPath(securityFile(QStringLiteral("reduce_os_system.pt")));
    QVERIFY(!sys.torch26.accepted);
    QVERIFY(!sys.torch26.fixableByAllowlisting);
    QVERIFY(sys.torch26.reason.find("blocked") != std::string::npos);
    QCOMPARE(sys.torch26.neverAcceptable, std::vector<std::string>({"posix.system"}));
    QVERIFY(sys.torch26.addSafeGlobals.empty());

    const SecurityReport eval = scanPath(securityFile(QStringLiteral("reduce_eval.pt")));
    QCOMPARE(eval.torch26.neverAcceptable, std::vector<std::string>({"builtins.eval"}));
    QVERIFY(!eval.torch26.fixableByAllowlisting);

    const SecurityReport ts = scanPath(securityFile(QStringLiteral("torchscript.pt")));
    QVERIFY(!ts.torch26.accepted);
    QVERIFY(ts.torch26.reason.find("TorchScript") != std::string::npos);
    QVERIFY(ts.torch113.accepted);
    QVERIFY(ts.torch113.note.find("torch.jit.load") != std::string::npos);
    QVERIFY(hasKind(ts, FindingKind::TorchScriptCode));

    QVERIFY(scanPath(securityFile(QStringLiteral("legacy_state_dict.pt"))).torch26.accepted);
    QVERIFY(scanPath(securityFile(QStringLiteral("state_dict.pt"))).torch26.accepted);

    const SecurityReport plain = scanPath(securityFile(QStringLiteral("plain_pickle_tensor.pkl")));
    QVERIFY(!plain.torch26.accepted);
}

void TestSecurityScan::hiddenAndNestedPicklesAreScanned()
{
    // torch.load reads data.pkl only, and it is clean: weights_only accepts the file...
    const SecurityReport hidden = scanPath(securityFile(QStringLiteral("hidden_member.pt")));
    QVERIFY(hidden.torch26.accepted);
    QVERIFY(hidden.torch113.accepted);
    // ...but a protocol-0 pickle sits in a member named like tensor data, and it calls os.system.
    const SecurityFinding *f = findGlobal(hidden, "posix.system");
    QVERIFY(f);
    QCOMPARE(f->pickle, std::string("hidden_member/data/99"));
    QCOMPARE(hidden.verdict, Verdict::Dangerous);
    QVERIFY(f->what.find("does not read") != std::string::npos);

    // A deflated member: offsets count from the start of the inflated pickle.
    const SecurityReport deflated = scanPath(securityFile(QStringLiteral("deflated_member.pt")));
    const SecurityFinding *ev = findGlobal(deflated, "builtins.eval");
    QVERIFY(ev);
    QCOMPARE(ev->pickle, std::string("deflated_member/extra/notes.pkl"));
    QVERIFY(ev->offsetInMember);
    QCOMPARE(*ev->offset, std::uint64_t(6)); // PROTO, EMPTY_LIST, BINPUT, MARK, then the GLOBAL
    QCOMPARE(ev->path, ObjectPath({"0"}));
    QVERIFY(deflated.torch26.accepted);

    // pickle.loads(bytes): the bytes are a pickle too, and scanned.
    const SecurityReport nested = scanPath(securityFile(QStringLiteral("reduce_pickle_loads.pt")));
    QVERIFY(findGlobal(nested, "pickle.loads"));
    const SecurityFinding *inner = findGlobal(nested, "posix.system");
    QVERIFY(inner);
    QVERIFY(inner->pickle.find("> pickle passed to pickle.loads") != std::string::npos);

    // pickle.dump of a tensor: torch.storage._load_from_bytes and the legacy stream inside it.
    const SecurityReport plain = scanPath(securityFile(QStringLiteral("plain_pickle_tensor.pkl")));
    const SecurityFinding *load = findGlobal(plain, "torch.storage._load_from_bytes");
    QVERIFY(load);
    QCOMPARE(load->kind, FindingKind::NestedLoad);
    QVERIFY(std::any_of(plain.pickles.begin(), plain.pickles.end(), [](const ScannedPickle &p) {
        return p.name.find("embedded") != std::string::npos && p.name.find("object") != std::string::npos;
    }));
}

void TestSecurityScan::unpicklerKeepsWhatItSaw()
{
    // Cut after the GLOBAL: the error, and the global seen before it, with its name as written.
    const std::string cut = std::string("\x80\x02", 2) + "c__builtin__\neval\nX\x10"; // BINUNICODE cut inside its length
    ValueArena arena;
    PickleResult partial;
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t *>(cut.data()), cut.size());
    auto r = unpickle(bytes, arena, "cut", 100, {}, &partial);
    QVERIFY(!r);
    QCOMPARE(r.error().code, ErrorCode::Truncated);
    QCOMPARE(partial.globals.size(), std::size_t(1));
    QCOMPARE(partial.globals[0].module, std::string("builtins"));
    QCOMPARE(partial.globals[0].written, std::string("__builtin__.eval"));
    QCOMPARE(partial.globals[0].offset, std::uint64_t(102));
    QCOMPARE(partial.root, kNoValue);
    // Each opcode once, at its first file offset, in order.
    using Op = std::pair<std::uint8_t, std::uint64_t>;
    QCOMPARE(partial.firstOpcodes, std::vector<Op>({{0x80, 100}, {'c', 102}, {'X', 120}}));

    // Without `partial` nothing changes for existing callers; a whole pickle fills the same fields.
    ValueArena a2;
    const std::string whole = globalPickle("collections", "OrderedDict");
    auto ok = unpickle({reinterpret_cast<const std::uint8_t *>(whole.data()), whole.size()}, a2, "whole");
    QVERIFY(ok);
    QVERIFY(ok->globals[0].written.empty());
    QCOMPARE(ok->firstOpcodes.size(), std::size_t(3));
}

void TestSecurityScan::sharedNestedBytesScannedOnce()
{
    // A thousand torch.storage._load_from_bytes calls on one memoized bytes value: one nested scan.
    using namespace std::string_literals;
    std::string p = "\x80\x02("s + "ctorch.storage\n_load_from_bytes\nq\x00"s + "C\x05\x80\x02K\x01.q\x01\x85R"s;
    for (int i = 0; i < 1000; ++i)
        p += "h\x00h\x01\x85R"s;
    p += "l.";
    const SecurityReport r = scanBytes(p);
    QCOMPARE(r.verdict, Verdict::Dangerous);
    QCOMPARE(r.pickles.size(), std::size_t(2)); // the outer pickle, and the nested stream's first pickle
    QCOMPARE(findGlobal(r, "torch.storage._load_from_bytes")->count, std::uint64_t(1));
    QVERIFY(!r.fullyRead); // the nested stream ends after its first pickle
}

void TestSecurityScan::dynamicImportIsDangerous()
{
    // STACK_GLOBAL on two ints: the module and name would be computed, never literal.
    const SecurityReport r = scanBytes(std::string("\x80\x04K\x01K\x02\x93.", 8));
    QCOMPARE(r.verdict, Verdict::Dangerous);
    QVERIFY(hasKind(r, FindingKind::DynamicImport));
    QVERIFY(!r.fullyRead);
    QVERIFY(!r.torch26.accepted);
}

void TestSecurityScan::dottedAndParentModuleNames_data()
{
    QTest::addColumn<QString>("module");
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("verdict");
    QTest::newRow("dunder walk from print") << "builtins" << "print.__class__.__subclasses__" << int(Verdict::Dangerous);
    QTest::newRow("dotted, harmless") << "collections" << "OrderedDict.fromkeys" << int(Verdict::Suspicious);
    QTest::newRow("child of os") << "os.path" << "join" << int(Verdict::Dangerous);
    QTest::newRow("child of ctypes") << "ctypes.util" << "find_library" << int(Verdict::Dangerous);
    QTest::newRow("method of a listed class") << "trace" << "Trace.run" << int(Verdict::Dangerous);
    QTest::newRow("getattr via name") << "builtins" << "getattr.__call__" << int(Verdict::Dangerous);
    QTest::newRow("nested pickle") << "_pickle" << "loads" << int(Verdict::Dangerous);
    QTest::newRow("torch.hub") << "torch.hub" << "load" << int(Verdict::Dangerous);
    QTest::newRow("a torch module class") << "torch.nn.modules.linear" << "Linear" << int(Verdict::Suspicious);
    QTest::newRow("osmosis is not os") << "osmosis" << "system" << int(Verdict::Suspicious);
    QTest::newRow("allowlisted dtype") << "torch" << "bfloat16" << int(Verdict::Safe);
    QTest::newRow("dtype alias is not listed") << "torch" << "float" << int(Verdict::Suspicious);
}

void TestSecurityScan::dottedAndParentModuleNames()
{
    QFETCH(QString, module);
    QFETCH(QString, name);
    QFETCH(int, verdict);
    const SecurityReport r = scanBytes(stackGlobalCall(module.toStdString(), name.toStdString()));
    QCOMPARE(int(r.verdict), verdict);
    QVERIFY(r.fullyRead);
    // Protocol 4 uses opcodes (SHORT_BINUNICODE, STACK_GLOBAL) the weights-only unpickler lacks.
    QVERIFY(r.torch26.reason.find("Unsupported operand") == 0);
    QVERIFY(!r.torch26.fixableByAllowlisting);
}

void TestSecurityScan::discardedCallStillReported()
{
    // os.system("ls") is called and its result popped: the loaded object is an empty dict.
    const std::string p = std::string("\x80\x02", 2) + "cposix\nsystem\nX" + std::string("\x02\x00\x00\x00", 4)
        + "ls\x85R0}.";
    const SecurityReport r = scanBytes(p);
    QCOMPARE(r.verdict, Verdict::Dangerous);
    const SecurityFinding *f = findGlobal(r, "posix.system");
    QVERIFY(f);
    QVERIFY(!f->reachable);
    QCOMPARE(f->use, std::string("called"));
    QVERIFY(f->what.find("runs while loading") != std::string::npos);
}

void TestSecurityScan::failsClosed_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("truncated zip") << dataDir() + QStringLiteral("/fixtures/error_truncated_zip.pt");
    QTest::newRow("truncated legacy") << dataDir() + QStringLiteral("/fixtures/error_truncated_legacy.pt");
    QTest::newRow("truncated before the payload") << dataDir() + QStringLiteral("/security/truncated_early.pt");
}

void TestSecurityScan::failsClosed()
{
    QFETCH(QString, file);
    const SecurityReport r = scanPath(file.toStdString());
    QVERIFY(r.verdict != Verdict::Safe);
    QVERIFY(!r.fullyRead);
    QVERIFY(!r.torch26.accepted);
    const auto f = std::find_if(r.findings.begin(), r.findings.end(),
                                [](const SecurityFinding &x) { return x.kind == FindingKind::NotFullyRead; });
    QVERIFY(f != r.findings.end());
    QVERIFY(!f->what.empty());

    // Bytes that are no checkpoint at all: an error from the path API, never a verdict of safe.
    QVERIFY(!scanFile(dataDir().toStdString() + "/fixtures/error_png_renamed.pt"));
    QVERIFY(!scanFile(dataDir().toStdString() + "/security/no_such_file.pt"));
    QCOMPARE(scanBytes(std::string("\x89PNG\r\n\x1a\n0000000000000000", 24)).verdict, Verdict::Suspicious);
    const SecurityReport emptyZip = scanBytes(std::string("PK\x05\x06", 4) + std::string(18, '\0'));
    QCOMPARE(emptyZip.verdict, Verdict::Suspicious);
    QVERIFY(!emptyZip.fullyRead);
    QVERIFY(!emptyZip.torch26.accepted);
}

void TestSecurityScan::budgetsFailClosed()
{
    // Five stacked pickles, a budget of two: the rest is reported as not scanned, never as safe.
    ScanOptions options;
    options.maxPickles = 2;
    auto file = MappedFile::open(securityFile(QStringLiteral("legacy_state_dict.pt")));
    QVERIFY(file);
    const SecurityReport r = scanFile(*file, options);
    QCOMPARE(r.verdict, Verdict::Suspicious);
    QVERIFY(!r.fullyRead);
    QCOMPARE(r.pickles.size(), std::size_t(2));

    // A pickle larger than the byte budget is refused before it is read.
    ScanOptions tiny;
    tiny.pickleLimits.maxPickleBytes = 16;
    const SecurityReport big = scanBytes(globalPickle("collections", "OrderedDict") + std::string(40, 'N'), tiny);
    QVERIFY(!big.fullyRead);
    QVERIFY(big.verdict != Verdict::Safe);
}

void TestSecurityScan::safetensorsAndShards()
{
    const SecurityReport st = scanPath(dataDir().toStdString() + "/fixtures/safetensors_model.safetensors");
    QCOMPARE(st.verdict, Verdict::Safe);
    QVERIFY(st.pickles.empty());
    QVERIFY(!st.torch26.applicable);
    const SecurityReport index = scanPath(dataDir().toStdString() + "/fixtures/sharded_st.safetensors.index.json");
    QCOMPARE(index.verdict, Verdict::Safe);
    QVERIFY(index.fullyRead);
    QVERIFY(!index.torch26.applicable);
    QCOMPARE(index.pickles.size(), std::size_t(0));
}

void TestSecurityScan::checkpointCarriesReport()
{
    auto cp = openCheckpoint(securityFile(QStringLiteral("training_checkpoint.pt")));
    QVERIFY(cp);
    QVERIFY((*cp)->security);
    const SecurityReport &r = securityReport(**cp);
    QCOMPARE(r.verdict, Verdict::Suspicious);
    QVERIFY(findGlobal(r, "argparse.Namespace"));
    // The same answer as scanning the file on its own.
    QCOMPARE(scanPath(securityFile(QStringLiteral("training_checkpoint.pt"))).findings.size(), r.findings.size());

    auto evil = openCheckpoint(securityFile(QStringLiteral("reduce_os_system.pt")));
    QVERIFY(evil); // opening never runs anything, so a hostile file opens and says so
    QCOMPARE(securityReport(**evil).verdict, Verdict::Dangerous);
}

// openCheckpoint scans first and hands the main pickle to its reader: the scan keeps data.pkl (or a
// plain pickle file) exactly as unpickle() leaves it, and nothing it could not read to the end.
void TestSecurityScan::mainPickleParsedOnce()
{
    auto file = MappedFile::open(securityFile(QStringLiteral("training_checkpoint.pt")));
    QVERIFY(file);
    ParsedPickle kept;
    ScanOptions options;
    options.keepMainPickle = &kept;
    scanFile(*file, options);
    QVERIFY(QString::fromStdString(kept.label).endsWith(QStringLiteral("/data.pkl")));
    QVERIFY(kept.size > 0 && kept.arena.size() > 0);
    ValueArena fresh;
    std::span<const std::uint8_t> bytes = (*file)->bytes().subspan(kept.base, kept.size);
    auto again = unpickle(bytes, fresh, kept.label, kept.base, options.pickleLimits);
    QVERIFY(again);
    QCOMPARE(kept.arena.size(), fresh.size());
    QCOMPARE(kept.result.root, again->root);
    QCOMPARE(kept.result.globals.size(), again->globals.size());
    for (ValueId id = 0; id < fresh.size(); ++id) {
        QCOMPARE(int(kept.arena[id].kind), int(fresh[id].kind));
        QCOMPARE(kept.arena[id].offset, fresh[id].offset);
        QCOMPARE(kept.arena[id].text, fresh[id].text);
    }
    // The checkpoint opened through that parse reads as it always did.
    auto cp = openCheckpoint(*file);
    QVERIFY(cp);
    QVERIFY(!(*cp)->stateDict.entries.empty());

    // A pickle the scan could not read to its end is not kept: the reader parses it and reports.
    ParsedPickle none;
    options.keepMainPickle = &none;
    static const char kCut[] = "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01"; // a dict cut short
    const QByteArray truncated(kCut, sizeof kCut - 1);
    auto cut = MappedFile::fromBuffer(std::vector<std::uint8_t>(truncated.begin(), truncated.end()), "cut.pkl");
    scanFile(cut, options);
    QCOMPARE(none.arena.size(), std::size_t(0));
}

QTEST_GUILESS_MAIN(TestSecurityScan)
#include "tst_security_scan.moc"
