#!/usr/bin/python3
"""Independent safetensors peer for tst_safetensors: parses and writes the format with only
json + numpy, following the spec, so the C++ reader and writer are checked against a second
implementation rather than against themselves.

  safetensors_peer.py check FILE EXPECTED_JSON   verify FILE holds what EXPECTED_JSON lists
  safetensors_peer.py write FILE                 write the fixed file the C++ test expects
Prints "OK" and exits 0, or prints what is wrong and exits 1."""
import json
import struct
import sys

import numpy as np

NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
                "I32": "<i4", "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4",
                "U16": "<u2", "U8": "u1", "BOOL": "?"}


def fail(message):
    print(message)
    sys.exit(1)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def check_bf16_rounding(name, bits, originals):
    """Each stored value must be the bf16 nearest to the original, ties to the even pattern."""
    decoded = bf16_to_f32(bits).astype(np.float64)
    for b, value, x in zip(bits, decoded, originals.astype(np.float64)):
        if np.isnan(x):
            if not np.isnan(value):
                fail(f"{name}: NaN stored as {value}")
            continue
        if np.isinf(x) or np.isinf(value):
            if not (value == x or (np.isinf(value) and abs(x) >= 3.3961775292304e38)):
                fail(f"{name}: {x!r} stored as {value!r}")
            continue
        for step in (-1, 1):
            pattern = (int(b) + step) & 0xFFFF  # wraps only into NaN patterns, skipped below
            neighbour = bf16_to_f32(np.array([pattern], dtype=np.uint16))[0]
            neighbour = float(neighbour)
            if np.isnan(neighbour) or np.isinf(neighbour):
                continue
            if abs(x - neighbour) < abs(x - value):
                fail(f"{name}: {x!r} stored as {value!r} but {neighbour!r} is nearer")
            if abs(x - neighbour) == abs(x - value) and int(b) % 2 == 1:
                fail(f"{name}: {x!r} is a tie and was stored with odd pattern {int(b):#06x}")


def check(path, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    raw = data[8:8 + n].decode("utf-8")
    if raw.rstrip(" ") != raw.rstrip():
        fail("header padded with something other than spaces")
    header = json.loads(raw)
    buffer = data[8 + n:]
    if header.get("__metadata__", {}) != expected["metadata"]:
        fail(f"metadata {header.get('__metadata__')} != {expected['metadata']}")
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    if set(entries) != set(expected["tensors"]):
        fail(f"names {sorted(entries)} != {sorted(expected['tensors'])}")
    spans = sorted((tuple(v["data_offsets"]), k) for k, v in entries.items())
    position = 0
    for (begin, end), name in spans:
        if begin != position:
            fail(f"{name} begins at {begin}, previous tensor ended at {position}")
        position = end
    if position != len(buffer):
        fail(f"tensors cover {position} of {len(buffer)} buffer bytes")
    for name, entry in entries.items():
        if name == expected.get("f16_decoded"):
            continue  # checked against all of numpy's binary16 below
        want = expected["tensors"][name]
        if entry["dtype"] != want["dtype"] or entry["shape"] != want["shape"]:
            fail(f"{name}: {entry['dtype']} {entry['shape']} != {want['dtype']} {want['shape']}")
        dtype = np.dtype(NUMPY_DTYPES[entry["dtype"]])
        begin, end = entry["data_offsets"]
        if (8 + n + begin) % dtype.itemsize != 0:
            fail(f"{name}: starts at file byte {8 + n + begin}, not aligned to {dtype.itemsize}")
        values = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(entry["shape"]).ravel()
        if entry["dtype"] in ("F64", "F32", "F16", "BF16"):
            originals = np.array([float(v) for v in want["values"]], dtype=np.float64)
        else:
            originals = np.array(want["values"], dtype=dtype)
        if entry["dtype"] == "BF16":
            check_bf16_rounding(name, values, originals.astype(np.float32))
        elif entry["dtype"] == "F16":
            with np.errstate(over="ignore"):  # overflow to inf is the expected rounding
                rounded = originals.astype(np.float32).astype(np.float16)  # nearest-even
            if not np.array_equal(values.view(np.uint16)[~np.isnan(rounded)],
                                  rounded.view(np.uint16)[~np.isnan(rounded)]) \
                    or not np.array_equal(np.isnan(values), np.isnan(rounded)):
                fail(f"{name}: F16 values differ from numpy's rounding")
        elif entry["dtype"] in ("F64", "F32"):
            if not np.array_equal(values, originals.astype(dtype), equal_nan=True):
                fail(f"{name}: values differ")
        elif not np.array_equal(values, originals):
            fail(f"{name}: values differ: {values[:8]} vs {originals[:8]}")
    if "f16_decoded" in expected:
        # The C++ decoding of every binary16 pattern, against numpy's.
        decoded = np.frombuffer(buffer[slice(*entries[expected["f16_decoded"]]["data_offsets"])], "<f4")
        truth = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
        if not np.array_equal(decoded, truth, equal_nan=True):
            fail("f16 decoding differs from numpy for some patterns")
    print("OK")


def write(path):
    arange = np.arange(6, dtype=np.float64) * 0.37 - 5.0
    tensors = [  # insertion order on purpose: not grouped by element size, so I64 is unaligned
        ("w.f16", "F16", [5], arange[:5].astype(np.float16).tobytes()),
        ("w.i64", "I64", [3], np.array([-2**62, 0, 2**53 + 1], "<i8").tobytes()),
        ("w.f32", "F32", [2, 3], arange.astype("<f4").tobytes()),
        ("w.bf16", "BF16", [4],
         (np.array([1.0, -2.5, 0.15625, 65536.0], "<f4").view("<u4") >> 16).astype("<u2").tobytes()),
        ("w.u8", "U8", [4], np.array([0, 1, 254, 255], "u1").tobytes()),
        ("w.bool", "BOOL", [3], np.array([True, False, True]).tobytes()),
        ("w.scalar", "F64", [], np.array(3.25, "<f8").tobytes()),
        ("w.empty", "F32", [0, 4], b""),
    ]
    header = {"__metadata__": {"format": "pt", "source": "numpy peer"}}
    buffer = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buffer), len(buffer) + len(raw)]}
        buffer += raw
    text = json.dumps(header).encode("utf-8")  # unpadded: padding is optional for readers
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + buffer)
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        fail(__doc__)
