# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
"""Writes the zip fixtures of tst_zip_archive (run from this directory with a Python that has torch).

torch113_state_dict.pt  torch.save of a small state_dict, saved as "my_weights.pth" so its records
                        live under the top folder "my_weights/" (not the file name): stored records,
                        64-byte aligned payloads, a zero-length record, zip64 end records.
python_deflate.zip      Python's zipfile: one deflated and one stored member.
The test recomputes every payload byte independently, so keep the values below in sync with it.
"""
import collections
import os
import shutil
import tempfile
import zipfile

import torch

here = os.path.dirname(os.path.abspath(__file__))

sd = collections.OrderedDict()
sd["fc.weight"] = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4  # storage key "0"
sd["fc.bias"] = torch.tensor([-1.5, 0.25, 3.0], dtype=torch.float32)       # "1"
sd["steps"] = torch.arange(1, 6, dtype=torch.int64)                        # "2"
sd["half"] = torch.tensor([1.0, -2.0], dtype=torch.float16)                # "3"
sd["empty"] = torch.zeros(0, dtype=torch.float32)                          # "4": zero-length record
with tempfile.TemporaryDirectory() as tmp:
    saved = os.path.join(tmp, "my_weights.pth")
    torch.save(sd, saved)
    shutil.copyfile(saved, os.path.join(here, "torch113_state_dict.pt"))

text = "".join("line %d of a text that compresses well\n" % i for i in range(500)).encode()
with zipfile.ZipFile(os.path.join(here, "python_deflate.zip"), "w") as z:
    z.writestr(zipfile.ZipInfo("top/text.txt", (2020, 1, 1, 0, 0, 0)), text, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr(zipfile.ZipInfo("top/raw.bin", (2020, 1, 1, 0, 0, 0)), bytes(range(256)),
               compress_type=zipfile.ZIP_STORED)
