#!/usr/bin/python3
"""Independent safetensors reader, the reference of test_safetensors.

Uses only struct and json (no liblftf code).  Prints, for the file given:

    header_len N
    metadata {json, keys sorted} | -
    n_tensors K
    tensor NAME DTYPE D0,D1,..|- ABS_BEGIN ABS_END FIRST LAST

one `tensor` line per tensor sorted by name, offsets absolute in the file,
FIRST/LAST the first and last element of F32 tensors ('%.9g', which reads
back to the same float) or '-'.
"""
import json
import struct
import sys


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    print("header_len", n)
    print("metadata", json.dumps(meta, separators=(",", ":"), sort_keys=True) if meta else "-")
    print("n_tensors", len(header))
    base = 8 + n
    for name in sorted(header):
        info = header[name]
        begin, end = info["data_offsets"]
        shape = ",".join(str(d) for d in info["shape"]) or "-"
        first = last = "-"
        if info["dtype"] == "F32" and end > begin:
            first = "%.9g" % struct.unpack("<f", blob[base + begin : base + begin + 4])[0]
            last = "%.9g" % struct.unpack("<f", blob[base + end - 4 : base + end])[0]
        print("tensor", name, info["dtype"], shape, base + begin, base + end, first, last)


if __name__ == "__main__":
    main(sys.argv[1])
