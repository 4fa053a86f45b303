"""fastavro as a command-line peer of Beckon's codec tests.

Everything it prints is computed by fastavro itself (its parsing canonical
form and CRC-64-AVRO fingerprint, schemaless_writer and schemaless_reader,
its Avro JSON reader and writer); only the two-byte single-object marker is
written here, since fastavro has no single-object encoder. The Go tests
(package interop) drive it with the pinned fastavro of
pkg/kafkatest/peers.Python.

    fingerprints DIR   for every DIR/*.avsc (sorted): a JSON object
                       {"file.avsc": {"canonical": PCF, "fingerprint": HEX}},
                       HEX being the 64-bit fingerprint as 16 hex digits.
    encode SCHEMA      stdin: one record in Avro JSON encoding;
                       stdout: its single-object encoding, as hex.
    decode SCHEMA      stdin: a single-object encoded record, as hex;
                       stdout: the record in Avro JSON encoding.
"""

import io
import json
import os
import sys

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MARKER = b"\xc3\x01"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def header(schema):
    """The single-object header: the marker, then fastavro's CRC-64-AVRO
    fingerprint of fastavro's canonical form. fastavro returns the
    fingerprint as the hex of its little-endian bytes, the header's order."""
    return MARKER + bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def fingerprints(directory):
    out = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".avsc"):
            continue
        schema = load(os.path.join(directory, name))
        value = int.from_bytes(header(schema)[2:], "little")
        out[name] = {"canonical": to_parsing_canonical_form(schema), "fingerprint": f"{value:016x}"}
    if not out:
        sys.exit(f"no .avsc files in {directory}")
    print(json.dumps(out, indent=2, ensure_ascii=False))


def encode(path):
    schema = fastavro.parse_schema(load(path))
    record = next(iter(fastavro.json_reader(io.StringIO(sys.stdin.read()), schema)))
    buf = io.BytesIO()
    buf.write(header(load(path)))
    fastavro.schemaless_writer(buf, schema, record)
    print(buf.getvalue().hex())


def decode(path):
    data = bytes.fromhex(sys.stdin.read().strip())
    want = header(load(path))
    if data[:2] != MARKER:
        sys.exit(f"not single-object encoded: starts {data[:2].hex()}")
    if data[:10] != want:
        sys.exit(f"unknown schema fingerprint {data[2:10].hex()} (little-endian), want {want[2:].hex()}")
    schema = fastavro.parse_schema(load(path))
    body = io.BytesIO(data[10:])
    record = fastavro.schemaless_reader(body, schema, None)
    if body.tell() != len(data) - 10:
        sys.exit(f"{len(data) - 10 - body.tell()} trailing bytes after the record")
    out = io.StringIO()
    fastavro.json_writer(out, schema, [record])
    print(out.getvalue().strip())


def main(argv):
    if len(argv) != 3 or argv[1] not in ("fingerprints", "encode", "decode"):
        sys.exit("usage: avro_peer.py fingerprints DIR | encode SCHEMA.avsc | decode SCHEMA.avsc")
    {"fingerprints": fingerprints, "encode": encode, "decode": decode}[argv[1]](argv[2])


if __name__ == "__main__":
    main(sys.argv)
