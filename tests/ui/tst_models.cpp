// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "models/model_roles.h"
#include "models/object_tree_model.h"
#include "models/tensor_tree_model.h"
#include "models/tree_filter_proxy.h"
#include "recent_files.h"

#include "checkpoint.h"

#include <QAbstractItemModelTester>
#include <QTemporaryDir>
#include <QTest>

using namespace ptscope;

class TestModels : public QObject
{
    Q_OBJECT

private:
    std::shared_ptr<const core::Checkpoint> m_cp;

    static int countLeaves(const QAbstractItemModel &model, const QModelIndex &parent = {})
    {
        int n = 0;
        for (int r = 0; r < model.rowCount(parent); ++r) {
            const QModelIndex i = model.index(r, 0, parent);
            n += model.rowCount(i) == 0 ? 1 : countLeaves(model, i);
        }
        return n;
    }

private slots:
    void initTestCase()
    {
        auto result = core::openCheckpoint(PTSCOPE_SAMPLES_DIR "/sample_training_checkpoint.pt");
        QVERIFY2(result.ok(), result.ok() ? "" : result.error().toString().c_str());
        m_cp = result.value();
    }

    void tensorTreeGroupsByModulePath()
    {
        ui::TensorTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCheckpoint(m_cp);
        QCOMPARE(model.rowCount(), 5); // conv1, bn1, layer1, layer2, fc
        QCOMPARE(countLeaves(model), int(m_cp->stateDict.entries.size()));
        const QModelIndex leaf = model.indexForKey(QStringLiteral("layer1.0.conv1.weight"));
        QVERIFY(leaf.isValid());
        QCOMPARE(leaf.data().toString(), QStringLiteral("weight"));
        QCOMPARE(leaf.parent().data().toString(), QStringLiteral("conv1"));
        QCOMPARE(leaf.parent().parent().data().toString(), QStringLiteral("0"));
        QCOMPARE(leaf.parent().parent().parent().data().toString(), QStringLiteral("layer1"));
        QCOMPARE(model.index(leaf.row(), ui::TensorTreeModel::Shape, leaf.parent()).data().toString(),
                 QStringLiteral("[16, 16, 3, 3]"));
        QCOMPARE(model.index(leaf.row(), ui::TensorTreeModel::Dtype, leaf.parent()).data().toString(),
                 QStringLiteral("float32"));

        // Group totals: parameters and bytes add up, the dtype mix lists both types.
        const QModelIndex layer1 = model.indexForKey(QStringLiteral("layer1"));
        std::uint64_t params = 0;
        for (std::uint32_t t : model.tensorsBelow(layer1))
            params += m_cp->tensors[t].numel;
        QCOMPARE(model.index(layer1.row(), ui::TensorTreeModel::Parameters).data(ui::SortRole).toULongLong(),
                 qulonglong(params));
        QCOMPARE(model.index(layer1.row(), ui::TensorTreeModel::Dtype).data().toString(),
                 QStringLiteral("float32, int64"));

        // Statistics arrive later and only touch their row.
        core::TensorStats stats;
        stats.mean = 0.25;
        model.setStats(std::uint32_t(leaf.data(ui::TensorRole).toInt()), stats);
        QCOMPARE(model.index(leaf.row(), ui::TensorTreeModel::Mean, leaf.parent()).data().toString(),
                 QStringLiteral("0.25"));
    }

    void proxyFilters_data()
    {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<int>("leaves");
        QTest::newRow("key") << QStringLiteral("running_var") << 6;
        QTest::newRow("dtype") << QStringLiteral("int64") << 6;
        QTest::newRow("shape") << QStringLiteral("[10, 32]") << 1;
        QTest::newRow("two words") << QStringLiteral("layer1 weight") << 4;
        QTest::newRow("nothing") << QStringLiteral("no-such-key") << 0;
    }

    void proxyFilters()
    {
        QFETCH(QString, pattern);
        QFETCH(int, leaves);
        ui::TensorTreeModel model;
        ui::TreeFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCheckpoint(m_cp);
        proxy.setFilterText(pattern);
        int found = 0;
        std::function<void(const QModelIndex &)> walk = [&](const QModelIndex &parent) {
            for (int r = 0; r < proxy.rowCount(parent); ++r) {
                const QModelIndex i = proxy.index(r, 0, parent);
                if (i.data(ui::TensorRole).toInt() >= 0)
                    ++found;
                walk(i);
            }
        };
        walk({});
        QCOMPARE(found, leaves);
        proxy.sort(ui::TensorTreeModel::Parameters, Qt::DescendingOrder);
        proxy.setFilterText(QString());
        QCOMPARE(proxy.rowCount(), 5);
        QCOMPARE(proxy.index(0, 0).data().toString(), QStringLiteral("layer2"));
    }

    void objectTreeShowsTheWholeObject()
    {
        ui::ObjectTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCheckpoint(m_cp);
        QCOMPARE(model.rowCount(), 1);
        const QModelIndex root = model.index(0, 0);
        QStringList names;
        for (int r = 0; r < model.rowCount(root); ++r)
            names << model.index(r, 0, root).data().toString();
        QVERIFY2(names.contains(QStringLiteral("epoch")), qPrintable(names.join(QLatin1Char(','))));
        QVERIFY(names.contains(QStringLiteral("model_state_dict")));
        const QModelIndex epoch = model.index(int(names.indexOf(QStringLiteral("epoch"))), 1, root);
        QVERIFY2(epoch.data().toString().contains(QStringLiteral("17")), qPrintable(epoch.data().toString()));
        QCOMPARE(epoch.sibling(epoch.row(), 0).data(ui::KeyRole).toString(), QStringLiteral("(root)/epoch"));

        ui::TreeFilterProxy proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setFilterText(QStringLiteral("weight_decay"));
        QVERIFY(proxy.rowCount() == 1);
        model.setCheckpoint(nullptr);
        QCOMPARE(model.rowCount(), 0);
    }

    void recentFiles()
    {
        QTemporaryDir dir;
        ui::RecentFiles recent;
        for (int i = 0; i < 14; ++i)
            recent.add(dir.filePath(QStringLiteral("f%1.pt").arg(i)));
        QCOMPARE(recent.files().size(), ui::RecentFiles::kMax);
        QCOMPARE(recent.files().first(), dir.filePath(QStringLiteral("f13.pt")));
        recent.add(dir.filePath(QStringLiteral("f10.pt")));
        QCOMPARE(recent.files().first(), dir.filePath(QStringLiteral("f10.pt")));
        QCOMPARE(recent.files().count(dir.filePath(QStringLiteral("f10.pt"))), 1);
        recent.add(QStringLiteral(":/samples/sample_ddp_state_dict.pt"));
        recent.pruneMissing(); // none of the f*.pt exist; the bundled sample stays
        QCOMPARE(recent.files(), QStringList{QStringLiteral(":/samples/sample_ddp_state_dict.pt")});
    }
};

QTEST_GUILESS_MAIN(TestModels)
#include "tst_models.moc"
