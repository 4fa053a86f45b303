package interop

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/kafkatest/peers"
)

// Vector is one schema's Parsing Canonical Form and CRC-64-AVRO fingerprint
// (16 hex digits of the 64-bit value; the single-object header carries its
// 8 bytes little-endian).
type Vector struct {
	Canonical   string `json:"canonical"`
	Fingerprint string `json:"fingerprint"`
}

// Peer is one independent Avro implementation, run as a command.
type Peer struct {
	name string
	argv []string // the command; a subcommand and its argument follow
}

// Java returns Apache Avro Java 1.12 (SchemaNormalization,
// BinaryMessageEncoder, BinaryMessageDecoder), building its Maven project on
// first use.
func Java(t testing.TB) *Peer {
	t.Helper()
	java, cp := peers.Java(t, filepath.Join(here(), "java"))
	return &Peer{name: "Apache Avro Java", argv: []string{java, "-cp", cp, "dev.beckon.interop.AvroPeer"}}
}

// Fastavro returns fastavro (its canonical form and fingerprint,
// schemaless_writer and schemaless_reader behind the single-object header),
// installing it on first use.
func Fastavro(t testing.TB) *Peer {
	t.Helper()
	py := peers.Python(t)
	return &Peer{name: "fastavro", argv: []string{py, filepath.Join(here(), "python", "avro_peer.py")}}
}

// String names the implementation, for test messages.
func (p *Peer) String() string { return p.name }

// SchemaFile returns the path of a schema file in the repository's schemas
// folder, e.g. SchemaFile("event.avsc").
func SchemaFile(name string) string {
	return filepath.Join(SchemasDir(), name)
}

// SchemasDir returns the path of the repository's schemas folder.
func SchemasDir() string {
	return filepath.Join(here(), "..", "..", "..", "schemas")
}

// Fingerprints returns the peer's canonical form and fingerprint of every
// .avsc file in dir, by file name.
func (p *Peer) Fingerprints(t testing.TB, dir string) map[string]Vector {
	t.Helper()
	out, err := p.run("", "fingerprints", dir)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]Vector
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s fingerprints: %v\n%s", p, err, out)
	}
	return v
}

// FingerprintsJSON returns the peer's fingerprint output as it printed it,
// for writing test vectors.
func (p *Peer) FingerprintsJSON(t testing.TB, dir string) []byte {
	t.Helper()
	out, err := p.run("", "fingerprints", dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Encode has the peer encode record, given in Avro's JSON encoding (unions
// as {"type": value}), with the schema in schemaFile, in single-object
// encoding.
func (p *Peer) Encode(t testing.TB, schemaFile, record string) []byte {
	t.Helper()
	out, err := p.run(record, "encode", schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s encode: %v\n%s", p, err, out)
	}
	return b
}

// Decode has the peer decode single-object encoded data with the schema in
// schemaFile and returns the record in Avro's JSON encoding, decoded with
// numbers kept exact. An error is the peer's refusal (e.g. an unknown
// fingerprint) with what it printed.
func (p *Peer) Decode(schemaFile string, data []byte) (map[string]any, error) {
	out, err := p.run(hex.EncodeToString(data), "decode", schemaFile)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s decode printed no record: %w\n%s", p, err, out)
	}
	return v, nil
}

func (p *Peer) run(stdin string, args ...string) ([]byte, error) {
	argv := append(append([]string(nil), p.argv...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", p, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// here is this package's source folder, where the peers' sources live.
func here() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}
