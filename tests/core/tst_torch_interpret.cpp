// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The torch layer over the unpickler: rebuild functions, storages, validation of what a file
// declares. Pickles are assembled opcode by opcode so each hostile variant is exact.
#include "checkpoint.h"
#include "torch_interpret.h"
#include "unpickler.h"

#include <QTest>

#include <cstring>

using namespace ptscope::core;

namespace {

// A protocol-2 pickle assembler: just enough to write what torch.save writes, and to break it.
class P
{
public:
    P() { bytes = {0x80, 0x02}; }
    P &op(std::uint8_t c)
    {
        bytes.push_back(c);
        return *this;
    }
    P &mark() { return op('('); }
    P &global(const char *module, const char *name)
    {
        op('c');
        text(module);
        op('\n');
        text(name);
        return op('\n');
    }
    P &str(const std::string &s)
    {
        op('X');
        const auto n = static_cast<std::uint32_t>(s.size());
        for (int i = 0; i < 4; ++i)
            bytes.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
        text(s);
        return *this;
    }
    P &integer(std::int64_t v)
    {
        if (v >= 0 && v < 0x7FFFFFFF) {
            op('J');
            for (int i = 0; i < 4; ++i)
                bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
            return *this;
        }
        op(0x8A).op(8); // LONG1 with 8 bytes
        for (int i = 0; i < 8; ++i)
            bytes.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
        return *this;
    }
    P &real(double d)
    {
        op('G');
        std::uint64_t u;
        std::memcpy(&u, &d, 8);
        for (int i = 7; i >= 0; --i)
            bytes.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
        return *this;
    }
    P &boolean(bool b) { return op(b ? 0x88 : 0x89); }
    P &none() { return op('N'); }
    P &tuple() { return op('t'); }
    P &ints(std::initializer_list<std::int64_t> values)
    {
        mark();
        for (auto v : values)
            integer(v);
        return tuple();
    }
    P &reduce() { return op('R'); }
    P &emptyDict() { return op('}'); }
    P &setitems() { return op('u'); }
    P &build() { return op('b'); }
    P &stop() { return op('.'); }
    // ("storage", <module>.<cls>, key, location, numel) + BINPERSID
    P &storage(const char *cls, const std::string &key, const char *location, std::int64_t numel,
               const char *module = "torch")
    {
        mark().str("storage").global(module, cls).str(key).str(location).integer(numel).tuple();
        return op('Q');
    }
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())
    P &tensorV2(const char *cls, const std::string &key, std::int64_t numel, std::int64_t offset,
                std::initializer_list<std::int64_t> size, std::initializer_list<std::int64_t> stride,
                bool requiresGrad = false, const char *location = "cpu")
    {
        global("torch._utils", "_rebuild_tensor_v2");
        mark().storage(cls, key, location, numel).integer(offset).ints(size).ints(stride).boolean(requiresGrad);
        global("collections", "OrderedDict").op(')').reduce();
        return tuple().reduce();
    }

    std::vector<std::uint8_t> bytes;

private:
    void text(const std::string &s) { bytes.insert(bytes.end(), s.begin(), s.end()); }
};

struct Loaded
{
    Checkpoint cp;
    ValueId root = kNoValue;
    bool ok = false;
    std::string error;
};

std::unique_ptr<Loaded> load(const P &p)
{
    auto l = std::make_unique<Loaded>();
    auto r = unpickle(p.bytes, l->cp.arena, "data.pkl");
    if (!r) {
        l->error = r.error().toString();
        return l;
    }
    TorchInterpreter interp(l->cp, "data");
    interp.interpret(0, static_cast<ValueId>(l->cp.arena.size()));
    l->root = r->root;
    l->ok = true;
    return l;
}

const TensorInfo *rootTensor(const Loaded &l)
{
    if (!l.ok || l.cp.arena[l.root].kind != ValueKind::Tensor)
        return nullptr;
    return &l.cp.tensors[l.cp.arena[l.root].aux];
}

} // namespace

class TestTorchInterpret : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainTensor();
    void storageClassFromAnyModule();
    void parameter();
    void untypedStorageWithDtype();
    void invalidViews_data();
    void invalidViews();
    void hostileStorages_data();
    void hostileStorages();
    void sharedStorage();
    void quantizedPerTensor();
    void metaTensor();
    void torchValues();
    void orderedDictWithMetadata();
    void protocol2Bytes();
    void unknownRebuildStaysAnObject();
    void numpyArraySummary();
    void compiledWholeModel();
};

void TestTorchInterpret::plainTensor()
{
    P p;
    p.tensorV2("FloatStorage", "0", 50, 0, {5, 10}, {10, 1}, true).stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    const TensorInfo *t = rootTensor(*l);
    QVERIFY(t);
    QCOMPARE(QString::fromStdString(t->dtype), QStringLiteral("float32"));
    QVERIFY((t->shape == std::vector<std::int64_t>{5, 10}));
    QVERIFY((t->stride == std::vector<std::int64_t>{10, 1}));
    QCOMPARE(t->numel, 50u);
    QCOMPARE(t->nbytes, 200u);
    QVERIFY(t->requiresGrad);
    QVERIFY(!t->isParameter);
    QCOMPARE(QString::fromStdString(t->device), QStringLiteral("cpu"));
    QVERIFY(t->problem.empty());
    QCOMPARE(l->cp.storages.size(), std::size_t(1));
    QCOMPARE(l->cp.storages[0].nbytes, 200u);
}

void TestTorchInterpret::storageClassFromAnyModule()
{
    // torch.cuda.HalfStorage: the module does not matter, the location string is the device.
    P p;
    p.global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .storage("HalfStorage", "7", "cuda:1", 8, "torch.cuda")
        .integer(2)
        .ints({3})
        .ints({2})
        .boolean(false)
        .global("collections", "OrderedDict")
        .op(')')
        .reduce()
        .tuple()
        .reduce()
        .stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY(t);
    QCOMPARE(QString::fromStdString(t->dtype), QStringLiteral("float16"));
    QCOMPARE(QString::fromStdString(t->device), QStringLiteral("cuda:1"));
    QCOMPARE(t->storageOffset, 2);
    QVERIFY2(t->problem.empty(), t->problem.c_str()); // 2 + (3-1)*2 + 1 = 7 <= 8 elements
}

void TestTorchInterpret::parameter()
{
    P p;
    p.global("torch._utils", "_rebuild_parameter").mark();
    p.tensorV2("FloatStorage", "0", 4, 0, {4}, {1});
    p.boolean(false).global("collections", "OrderedDict").op(')').reduce().tuple().reduce().stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY(t);
    QVERIFY(t->isParameter);
    QVERIFY(!t->requiresGrad);
    // The parameter is the same tensor record as its data: one storage user, not two.
    QCOMPARE(l->cp.storages[0].tensors.size(), std::size_t(1));
}

void TestTorchInterpret::untypedStorageWithDtype()
{
    // torch 2.x float8: _rebuild_tensor_v3(UntypedStorage (numel = bytes), ..., dtype)
    P p;
    p.global("torch._utils", "_rebuild_tensor_v3").mark();
    p.storage("UntypedStorage", "0", "cpu", 6, "torch.storage").integer(0).ints({2, 3}).ints({3, 1}).boolean(false);
    p.global("collections", "OrderedDict").op(')').reduce().global("torch", "float8_e4m3fn").tuple().reduce().stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY2(t, l->error.c_str());
    QCOMPARE(QString::fromStdString(t->dtype), QStringLiteral("float8_e4m3fn"));
    QCOMPARE(t->nbytes, 6u);
    QVERIFY2(t->problem.empty(), t->problem.c_str());
}

void TestTorchInterpret::invalidViews_data()
{
    QTest::addColumn<std::int64_t>("offset");
    QTest::addColumn<QList<qint64>>("size");
    QTest::addColumn<QList<qint64>>("stride");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("past the end") << std::int64_t(1) << QList<qint64>{5, 10} << QList<qint64>{10, 1}
                                  << QStringLiteral("past the end");
    QTest::newRow("negative stride") << std::int64_t(0) << QList<qint64>{2} << QList<qint64>{-1}
                                     << QStringLiteral("negative stride");
    QTest::newRow("negative size") << std::int64_t(0) << QList<qint64>{-2} << QList<qint64>{1}
                                   << QStringLiteral("negative size");
    QTest::newRow("negative offset") << std::int64_t(-1) << QList<qint64>{2} << QList<qint64>{1}
                                     << QStringLiteral("negative storage offset");
    QTest::newRow("rank mismatch") << std::int64_t(0) << QList<qint64>{5, 10} << QList<qint64>{1}
                                   << QStringLiteral("different ranks");
    QTest::newRow("extent overflows") << std::int64_t(0) << QList<qint64>{3} << QList<qint64>{0x4000000000000001}
                                      << QStringLiteral("past the end");
    QTest::newRow("numel overflows") << std::int64_t(0) << QList<qint64>{0x100000000, 0x100000000}
                                     << QList<qint64>{1, 1} << QStringLiteral("overflows");
}

void TestTorchInterpret::invalidViews()
{
    QFETCH(std::int64_t, offset);
    QFETCH(QList<qint64>, size);
    QFETCH(QList<qint64>, stride);
    QFETCH(QString, fragment);
    P p;
    p.global("torch._utils", "_rebuild_tensor_v2").mark().storage("FloatStorage", "0", "cpu", 50).integer(offset);
    p.mark();
    for (auto s : size)
        p.integer(s);
    p.tuple().mark();
    for (auto s : stride)
        p.integer(s);
    p.tuple().boolean(false).global("collections", "OrderedDict").op(')').reduce().tuple().reduce().stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY2(t, l->error.c_str());
    QVERIFY2(QString::fromStdString(t->problem).contains(fragment), t->problem.c_str());
}

void TestTorchInterpret::hostileStorages_data()
{
    QTest::addColumn<QString>("cls");
    QTest::addColumn<qint64>("numel");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("unknown storage class") << QStringLiteral("EvilStorage") << qint64(4)
                                           << QStringLiteral("unknown storage type");
    QTest::newRow("byte size overflows") << QStringLiteral("DoubleStorage") << qint64(0x4000000000000001)
                                         << QStringLiteral("overflows");
    QTest::newRow("negative numel") << QStringLiteral("FloatStorage") << qint64(-5) << QStringLiteral("negative");
}

void TestTorchInterpret::hostileStorages()
{
    QFETCH(QString, cls);
    QFETCH(qint64, numel);
    QFETCH(QString, fragment);
    P p;
    p.storage(cls.toStdString().c_str(), "0", "cpu", numel).stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    QCOMPARE(l->cp.storages.size(), std::size_t(1));
    QVERIFY2(QString::fromStdString(l->cp.storages[0].problem).contains(fragment),
             l->cp.storages[0].problem.c_str());
    QVERIFY(!l->cp.warnings.empty());
    QVERIFY(l->cp.warnings[0].offset.has_value());
}

void TestTorchInterpret::sharedStorage()
{
    // [t, t[1:]] written as two rebuilds over the same key: one storage, two views.
    P p;
    p.mark();
    p.tensorV2("FloatStorage", "0", 4, 0, {4}, {1});
    p.tensorV2("FloatStorage", "0", 4, 1, {3}, {1});
    p.op('l').stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    QCOMPARE(l->cp.storages.size(), std::size_t(1));
    QCOMPARE(l->cp.storages[0].tensors.size(), std::size_t(2));
    QCOMPARE(l->cp.tensors[1].storageOffset, 1);
    QCOMPARE(l->cp.tensors[1].nbytes, 12u);
}

void TestTorchInterpret::quantizedPerTensor()
{
    P p;
    p.global("torch._utils", "_rebuild_qtensor").mark();
    p.storage("QUInt8Storage", "0", "cpu", 6).integer(0).ints({2, 3}).ints({3, 1});
    p.mark().global("torch", "per_tensor_affine").real(0.5).integer(3).tuple();
    p.boolean(false).global("collections", "OrderedDict").op(')').reduce().tuple().reduce().stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY2(t, l->error.c_str());
    QCOMPARE(QString::fromStdString(t->dtype), QStringLiteral("quint8"));
    QVERIFY(t->quant.has_value());
    QCOMPARE(QString::fromStdString(t->quant->qscheme), QStringLiteral("per_tensor_affine"));
    QCOMPARE(t->quant->scale, 0.5);
    QCOMPARE(t->quant->zeroPoint, 3);
}

void TestTorchInterpret::metaTensor()
{
    P p;
    p.global("torch._utils", "_rebuild_meta_tensor_no_storage").mark().global("torch", "bfloat16");
    p.ints({4, 4}).ints({4, 1}).boolean(false).tuple().reduce().stop();
    auto l = load(p);
    const TensorInfo *t = rootTensor(*l);
    QVERIFY2(t, l->error.c_str());
    QCOMPARE(QString::fromStdString(t->device), QStringLiteral("meta"));
    QCOMPARE(QString::fromStdString(t->dtype), QStringLiteral("bfloat16"));
    QCOMPARE(t->storage, -1);
    QCOMPARE(t->nbytes, 32u);
}

void TestTorchInterpret::torchValues()
{
    P p;
    p.mark();
    p.global("torch", "Size").mark().ints({2, 3}).tuple().reduce();
    p.global("torch", "device").mark().str("cuda").integer(1).tuple().reduce();
    p.global("torch", "int64");
    p.global("__builtin__", "complex").mark().real(1.0).real(-2.0).tuple().reduce();
    p.global("__builtin__", "set").mark().op(']').mark().integer(1).integer(2).op('e').tuple().reduce();
    p.op('l').stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    const auto &items = l->cp.arena[l->root].items;
    QCOMPARE(items.size(), std::size_t(5));
    QCOMPARE(l->cp.arena[items[0]].kind, ValueKind::TorchSize);
    QCOMPARE(l->cp.arena[items[1]].kind, ValueKind::Device);
    QCOMPARE(QString::fromStdString(l->cp.arena[items[1]].text), QStringLiteral("cuda:1"));
    QCOMPARE(l->cp.arena[items[2]].kind, ValueKind::Dtype);
    QCOMPARE(QString::fromStdString(l->cp.arena[items[2]].text), QStringLiteral("int64"));
    QCOMPARE(l->cp.arena[items[3]].kind, ValueKind::Complex);
    QCOMPARE(l->cp.arena[items[3]].imag, -2.0);
    QCOMPARE(l->cp.arena[items[4]].kind, ValueKind::Set);
    QCOMPARE(l->cp.arena[items[4]].items.size(), std::size_t(2));
}

void TestTorchInterpret::orderedDictWithMetadata()
{
    // What state_dict() pickles as: OrderedDict() + SETITEMS + BUILD {"_metadata": ...}.
    P p;
    p.global("collections", "OrderedDict").op(')').reduce();
    p.mark().str("w").tensorV2("FloatStorage", "0", 2, 0, {2}, {1}).setitems();
    p.emptyDict().mark().str("_metadata").global("collections", "OrderedDict").op(')').reduce();
    p.mark().str("").emptyDict().mark().str("version").integer(1).setitems().setitems();
    p.setitems().build().stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    const Value &root = l->cp.arena[l->root];
    QCOMPARE(root.kind, ValueKind::Dict);
    QCOMPARE(QString::fromStdString(root.text), QStringLiteral("collections.OrderedDict"));
    QCOMPARE(root.entries.size(), std::size_t(1));
    QCOMPARE(l->cp.arena[root.entries[0].second].kind, ValueKind::Tensor);
    QVERIFY(l->cp.arena.valid(root.state));
}

void TestTorchInterpret::protocol2Bytes()
{
    // bytes in protocol 2: _codecs.encode("\xe9\x00A", "latin1") with the text in UTF-8.
    P p;
    p.global("_codecs", "encode").mark().str(std::string("\xC3\xA9\x00" "A", 4)).str("latin1").tuple().reduce().stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    const Value &v = l->cp.arena[l->root];
    QCOMPARE(v.kind, ValueKind::Bytes);
    QCOMPARE(v.text, std::string("\xE9\x00" "A", 3));
}

void TestTorchInterpret::unknownRebuildStaysAnObject()
{
    P p;
    p.global("torch._utils", "_rebuild_something_new").mark().integer(1).tuple().reduce().stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    QCOMPARE(l->cp.arena[l->root].kind, ValueKind::Object);
    QVERIFY(!l->cp.warnings.empty());
    QVERIFY(QString::fromStdString(l->cp.warnings[0].message).contains(QStringLiteral("_rebuild_something_new")));
}

void TestTorchInterpret::numpyArraySummary()
{
    // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD (1, (2, 3), dtype('<f8'), False, data)
    P p;
    p.global("numpy.core.multiarray", "_reconstruct").mark().global("numpy", "ndarray").ints({0}).str("b").tuple();
    p.reduce().mark().integer(1).ints({2, 3});
    p.global("numpy", "dtype").mark().str("f8").boolean(false).boolean(true).tuple().reduce();
    p.mark().integer(3).str("<").none().none().none().integer(-1).integer(-1).integer(0).tuple().build();
    p.boolean(false).str(std::string(48, '\0')).tuple().build().stop();
    auto l = load(p);
    QVERIFY2(l->ok, l->error.c_str());
    const Value &v = l->cp.arena[l->root];
    QCOMPARE(v.kind, ValueKind::Object);
    QCOMPARE(QString::fromStdString(v.name), QStringLiteral("numpy.ndarray f8 [2, 3]"));
    QVERIFY(l->cp.tensors.empty()); // a NumPy array is not a torch tensor
}

void TestTorchInterpret::compiledWholeModel()
{
    // torch.save(torch.compile(model)): OptimizedModule(orig_module, ctx); keys get "_orig_mod.".
    P p;
    p.global("torch._dynamo.eval_frame", "OptimizedModule").mark();
    p.global("torch.nn.modules.linear", "Linear").op(')').op(0x81);
    p.emptyDict().mark().str("_parameters").global("collections", "OrderedDict").op(')').reduce();
    p.mark().str("weight").tensorV2("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).setitems();
    p.str("_buffers").emptyDict().str("_modules").emptyDict().setitems().build();
    p.none().tuple().reduce().stop();
    auto cp = openCheckpoint(MappedFile::fromBuffer(p.bytes, "compiled.pt"));
    QVERIFY2(cp, cp ? "" : cp.error().toString().c_str());
    const StateDictView &sd = (*cp)->stateDict;
    QVERIFY(sd.found);
    QCOMPARE(sd.entries.size(), std::size_t(1));
    QCOMPARE(QString::fromStdString(sd.entries[0].key), QStringLiteral("_orig_mod.weight"));
}

QTEST_GUILESS_MAIN(TestTorchInterpret)
#include "tst_torch_interpret.moc"
