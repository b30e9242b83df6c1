"""Checks GGUF files written by Lamina with the gguf Python package's reader.

For every FILE.gguf in DIR (GgufExportCheckTest writes them with FILE.ref.safetensors beside,
holding Lamina's own dequantization of each tensor), this script
  - reads the file with gguf.GGUFReader with Python warnings turned into errors and the gguf
    logger's warnings counted (there must be none),
  - checks general.architecture and the tensor count,
  - dequantizes every tensor with gguf.quants.dequantize and compares it bit for bit with Lamina's.
Exit status 0 when every file passes. Usage: python check_gguf_export.py DIR
"""
import glob
import logging
import os
import sys
import warnings

import numpy as np
import gguf
from gguf.quants import dequantize
from safetensors.numpy import load_file


class Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def check(path):
    counter = Count()
    logging.getLogger().addHandler(counter)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader = gguf.GGUFReader(path)
    logging.getLogger().removeHandler(counter)
    assert not counter.messages, f"warnings: {counter.messages}"
    arch = reader.fields["general.architecture"]
    arch = bytes(arch.parts[arch.data[0]]).decode()
    ref = load_file(path[:-len(".gguf")] + ".ref.safetensors")
    assert len(reader.tensors) == len(ref), f"{len(reader.tensors)} tensors, Lamina wrote {len(ref)}"
    for t in reader.tensors:
        ours = ref[t.name]
        theirs = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(ours.shape)
        assert np.array_equal(theirs.view(np.uint32), ours.view(np.uint32)), f"{t.name} ({t.tensor_type.name}) differs"
    types = sorted({t.tensor_type.name for t in reader.tensors})
    return f"{os.path.basename(path)}: {arch}, {len(reader.tensors)} tensors ({', '.join(types)}), no warnings, equal"


def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.gguf")))
    assert files, "no .gguf files in " + sys.argv[1]
    for f in files:
        print(check(f))


if __name__ == "__main__":
    main()
