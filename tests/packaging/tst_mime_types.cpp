// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
// The installed MIME rules as a desktop sees them: Qt's shared-mime-info reader over a database
// built from the system's freedesktop.org.xml plus packaging/ptscope-mime.xml. Checkpoints are
// recognised by name and, for .bin and extension-less files, by content; other .bin files keep
// their type.
#include <QDir>
#include <QFile>
#include <QMimeDatabase>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

namespace {

const QString kPyTorch = QStringLiteral("application/x-pytorch");
const QString kSafetensors = QStringLiteral("application/x-safetensors");
const QString kPickle = QStringLiteral("application/x-python-pickle");

QString fixture(const QString &name)
{
    return QStringLiteral(PTSCOPE_TEST_DATA_DIR "/fixtures/") + name;
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readAll();
}

} // namespace

class TestMimeTypes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void ownTypesAreDeclared();
    void desktopEntryListsOnlyDeclaredTypes();
    void detection_data();
    void detection();

private:
    QTemporaryDir m_root;
};

void TestMimeTypes::initTestCase()
{
    QVERIFY(m_root.isValid());
    const QString share = m_root.filePath(QStringLiteral("share"));
    const QString packages = share + QStringLiteral("/mime/packages");
    QVERIFY(QDir().mkpath(packages));
    QVERIFY(QDir().mkpath(m_root.filePath(QStringLiteral("home"))));
    QVERIFY(QFile::copy(QStringLiteral(PTSCOPE_PACKAGING_DIR "/ptscope-mime.xml"),
                        packages + QStringLiteral("/ptscope.xml")));
    // The system's database when there is one (what users get); otherwise Qt's built-in copy
    // supplies the standard types (zip, png, octet-stream).
    const QString fdo = QStringLiteral("/usr/share/mime/packages/freedesktop.org.xml");
    if (QFile::exists(fdo))
        QVERIFY(QFile::copy(fdo, packages + QStringLiteral("/freedesktop.org.xml")));

    // Before the first QMimeDatabase: only this database, none of the user's.
    qputenv("XDG_DATA_DIRS", QFile::encodeName(share));
    qputenv("XDG_DATA_HOME", QFile::encodeName(m_root.filePath(QStringLiteral("home"))));

    // What Debian's trigger runs. Without the tool Qt reads the XML itself.
    const QString updater = QStandardPaths::findExecutable(QStringLiteral("update-mime-database"));
    if (!updater.isEmpty()) {
        QProcess p;
        p.start(updater, {share + QStringLiteral("/mime")});
        QVERIFY(p.waitForFinished(120000));
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
        QVERIFY2(err.isEmpty(), err.constData()); // it only writes to stderr about invalid rules
        QVERIFY(QFile::exists(share + QStringLiteral("/mime/mime.cache")));
    }
}

void TestMimeTypes::ownTypesAreDeclared()
{
    QMimeDatabase db;
    for (const QString &name : {kPyTorch, kSafetensors, kPickle}) {
        const QMimeType type = db.mimeTypeForName(name);
        QVERIFY2(type.isValid(), qPrintable(name));
        QVERIFY2(!type.comment().isEmpty(), qPrintable(name));
    }
    QCOMPARE(db.mimeTypeForName(kPyTorch).comment(), QStringLiteral("PyTorch checkpoint"));
    // .bin is never claimed by name: only content decides.
    QVERIFY(!db.mimeTypeForName(kPyTorch).globPatterns().contains(QStringLiteral("*.bin")));
    QCOMPARE(db.mimeTypesForFileName(QStringLiteral("firmware.bin")).size(), 0);
}

void TestMimeTypes::desktopEntryListsOnlyDeclaredTypes()
{
    const QByteArray desktop = readAll(QStringLiteral(PTSCOPE_PACKAGING_DIR "/ptscope.desktop"));
    QVERIFY(!desktop.isEmpty());
    QStringList listed;
    for (const QByteArray &line : desktop.split('\n')) {
        if (line.startsWith("MimeType="))
            listed = QString::fromUtf8(line.mid(9)).split(QLatin1Char(';'), Qt::SkipEmptyParts);
    }
    QCOMPARE(listed, QStringList({kPyTorch, kSafetensors, kPickle}));
    QMimeDatabase db;
    for (const QString &name : std::as_const(listed))
        QVERIFY2(db.mimeTypeForName(name).isValid(), qPrintable(name));
}

void TestMimeTypes::detection_data()
{
    QTest::addColumn<QString>("fileName");
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("expected");

    const QByteArray zip = readAll(fixture(QStringLiteral("cnn_state_dict.pt")));
    const QByteArray legacy = readAll(fixture(QStringLiteral("cnn_state_dict_legacy.pt")));
    const QByteArray safetensors = readAll(fixture(QStringLiteral("safetensors_model.safetensors")));
    QVERIFY(zip.startsWith("PK\3\4") && legacy.startsWith("\x80\x02") && safetensors.size() > 8);

    // By name.
    QTest::addRow("zip checkpoint.pt") << QStringLiteral("model.pt") << zip << kPyTorch;
    QTest::addRow("legacy checkpoint.pth") << QStringLiteral("model.pth") << legacy << kPyTorch;
    QTest::addRow("lightning .ckpt") << QStringLiteral("last.ckpt")
                                     << readAll(fixture(QStringLiteral("lightning_like.ckpt"))) << kPyTorch;
    QTest::addRow(".pth.tar beats *.tar") << QStringLiteral("weights.v2.pth.tar")
                                          << readAll(fixture(QStringLiteral("weights.v2.pth.tar"))) << kPyTorch;
    QTest::addRow(".safetensors") << QStringLiteral("model.safetensors") << safetensors << kSafetensors;

    // By content, where the name says nothing.
    QTest::addRow("HF pytorch_model.bin (zip)") << QStringLiteral("pytorch_model.bin") << zip << kPyTorch;
    QTest::addRow("HF shard .bin") << QStringLiteral("pytorch_model-00001-of-00003.bin")
                                   << readAll(fixture(QStringLiteral("sharded_model-00001-of-00003.bin"))) << kPyTorch;
    QTest::addRow("legacy .bin") << QStringLiteral("pytorch_model.bin") << legacy << kPyTorch;
    QTest::addRow("legacy, no extension") << QStringLiteral("checkpoint") << legacy << kPyTorch;
    for (int protocol : {1, 4, 5})
        QTest::addRow("legacy, pickle protocol %d, .bin", protocol)
            << QStringLiteral("pytorch_model.bin")
            << readAll(fixture(QStringLiteral("training_checkpoint_legacy_proto%1.pt").arg(protocol))) << kPyTorch;
    QTest::addRow("zip checkpoint, no extension") << QStringLiteral("checkpoint") << zip << kPyTorch;
    QTest::addRow("safetensors .bin") << QStringLiteral("adapter_model.bin") << safetensors << kSafetensors;
    QTest::addRow("plain pickle .bin") << QStringLiteral("tensors.bin")
                                       << readAll(fixture(QStringLiteral("plain_pickle.pt"))) << kPickle;

    // Generic .bin files keep their own type.
    QTest::addRow("other zip .bin") << QStringLiteral("bundle.bin")
                                    << readAll(fixture(QStringLiteral("error_plain_zip.pt")))
                                    << QStringLiteral("application/zip");
    QTest::addRow("png .bin") << QStringLiteral("image.bin") << readAll(fixture(QStringLiteral("error_png_renamed.pt")))
                              << QStringLiteral("image/png");
    QTest::addRow("random .bin") << QStringLiteral("firmware.bin")
                                 << readAll(fixture(QStringLiteral("error_random_bytes.pt")))
                                 << QStringLiteral("application/octet-stream");
    QByteArray pickleHeaderOnly("\x80\x02\x00\x17\xfe\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", 16);
    QTest::addRow("bytes 80 02 alone are not a pickle") << QStringLiteral("firmware.bin") << pickleHeaderOnly
                                                        << QStringLiteral("application/octet-stream");
    // A 64-bit length too large for a safetensors header, then JSON: not safetensors.
    QByteArray bigLength("\x10\x00\x00\x00\x01\x00\x00\x00{\"a\":[1,2]}", 19);
    bigLength.append(QByteArray(64, '\xff'));
    QTest::addRow("length >= 4 GiB then {\"") << QStringLiteral("dump.bin") << bigLength
                                               << QStringLiteral("application/octet-stream");
}

void TestMimeTypes::detection()
{
    QFETCH(QString, fileName);
    QFETCH(QByteArray, content);
    QFETCH(QString, expected);
    QVERIFY(!content.isEmpty());

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(fileName);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QCOMPARE(f.write(content), content.size());
    f.close();

    QMimeDatabase db;
    QCOMPARE(db.mimeTypeForFile(path).name(), expected);
}

QTEST_GUILESS_MAIN(TestMimeTypes)
#include "tst_mime_types.moc"
