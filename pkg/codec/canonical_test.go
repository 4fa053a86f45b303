package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/schemas"
	"github.com/linkedin/goavro/v2"
)

// vectorSets are the test vectors: for every schema file in dir, its
// Parsing Canonical Form and CRC-64-AVRO fingerprint (16 hex digits of the
// 64-bit value) as Apache Avro Java computes them
// (SchemaNormalization.toParsingForm, parsingFingerprint64). Beckon's own
// schemas, and edge cases of the specification's rules (namespaces,
// references, logical types on every kind, escapes in names). The Java
// differential test (TestFingerprintsMatchJava) checks the files against
// Java and rewrites them with -update-vectors.
var vectorSets = []struct{ dir, file string }{
	{"../../schemas", "testdata/fingerprints.json"},
	{"testdata/pcf", "testdata/pcf/fingerprints.json"},
}

// vector is one schema file's entry in a vector file.
type vector struct {
	Canonical   string `json:"canonical"`
	Fingerprint string `json:"fingerprint"`
}

func readVectors(t *testing.T, file string) map[string]vector {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// schemaFiles returns the .avsc files in dir by base name, sorted.
func schemaFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", dir, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	return names
}

// TestFingerprintVectors: Beckon's canonical form and fingerprint of every
// schema in schemas/ (and of the edge cases) are Apache Avro Java's, as
// checked in, and the codec's schema parser reads that form. Needs no Java.
func TestFingerprintVectors(t *testing.T) {
	for _, set := range vectorSets {
		vectors := readVectors(t, set.file)
		names := schemaFiles(t, set.dir)
		if got := slices.Sorted(maps.Keys(vectors)); !slices.Equal(got, names) {
			t.Fatalf("%s covers %v, %s has %v: regenerate it (see docs/testing.md)", set.file, got, set.dir, names)
		}
		for _, name := range names {
			want := vectors[name]
			text, err := os.ReadFile(filepath.Join(set.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			canonical, err := parsingCanonicalForm(string(text))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if canonical != want.Canonical {
				t.Errorf("%s canonical form\n got %s\nwant %s", name, canonical, want.Canonical)
			}
			if got := hex16(crc64Avro([]byte(canonical))); got != want.Fingerprint {
				t.Errorf("%s fingerprint %s, want %s", name, got, want.Fingerprint)
			}
			if _, err := parseCanonical(canonical); err != nil {
				t.Errorf("%s: the schema parser cannot read the canonical form: %v", name, err)
			}
		}
	}
}

// TestCodecWritesSpecFingerprint: every record type Beckon encodes in
// single-object framing carries its schema's vector fingerprint, in the
// header's little-endian byte order (the goavro-based codec wrote goavro's
// own fingerprint here).
func TestCodecWritesSpecFingerprint(t *testing.T) {
	byName := map[string]string{} // record full name -> vector fingerprint
	for file, v := range readVectors(t, vectorSets[0].file) {
		var top struct{ Name string }
		if err := json.Unmarshal([]byte(v.Canonical), &top); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		byName[top.Name] = v.Fingerprint
	}
	c := mustNew(t)
	for _, r := range sampleRecords() {
		want := byName[r.AvroName()]
		data := mustEncode(t, c, r)
		if want == "" || !bytes.Equal(data[:2], []byte{0xC3, 0x01}) || hex16(binary.LittleEndian.Uint64(data[2:10])) != want {
			t.Errorf("%s: header % x, want C3 01 and fingerprint %s little-endian", r.AvroName(), data[:10], want)
		}
	}
}

// TestLegacyFingerprintsDecode: records that earlier Beckon versions wrote
// with goavro's fingerprint (which differs from the specification's for
// every schema with a logical type) still decode, to the same writer schema.
func TestLegacyFingerprintsDecode(t *testing.T) {
	c := mustNew(t)
	for _, r := range sampleRecords() {
		name := r.AvroName()
		text, err := schemas.Schema(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := goavro.NewCodec(text)
		if err != nil {
			t.Fatal(err)
		}
		data := mustEncode(t, c, r)
		legacy := append(appendSingleObjectHeader(nil, g.Rabin), data[singleObjectHeaderLen:]...)
		back, err := c.DecodeAny(t.Context(), legacy)
		if err != nil {
			t.Fatalf("%s with goavro's fingerprint %016x: %v", name, g.Rabin, err)
		}
		if !reflect.DeepEqual(deref(back), deref(r)) {
			t.Fatalf("%s with goavro's fingerprint decodes to\n%+v\nwant\n%+v", name, back, r)
		}
		if fp, _ := c.Fingerprint(name); fp == g.Rabin && strings.Contains(text, "logicalType") {
			t.Errorf("%s: goavro's fingerprint equals the specification's although the schema has a logical type", name)
		}
	}
}

func hex16(fp uint64) string { return fmt.Sprintf("%016x", fp) }

// TestCanonicalFormParsesLikeGoavros: the codec's schema parser (the guard,
// union branches, fields by name) sees the same types in the
// specification's canonical form as in goavro's, which it was fed before,
// for every schema goavro compiles.
func TestCanonicalFormParsesLikeGoavros(t *testing.T) {
	for _, set := range vectorSets {
		for _, name := range schemaFiles(t, set.dir) {
			text, err := os.ReadFile(filepath.Join(set.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			g, err := goavro.NewCodec(string(text))
			if err != nil {
				t.Logf("%s: goavro does not compile it (%v); nothing to compare", name, err)
				continue
			}
			ours, err := parsingCanonicalForm(string(text))
			if err != nil {
				t.Fatal(err)
			}
			a, errA := parseCanonical(ours)
			b, errB := parseCanonical(g.CanonicalSchema())
			if errA != nil || errB != nil {
				t.Fatalf("%s: %v / %v", name, errA, errB)
			}
			if da, db := dumpNode(a, map[*node]bool{}), dumpNode(b, map[*node]bool{}); da != db {
				t.Errorf("%s parses as\n%s\nfrom goavro's form as\n%s", name, da, db)
			}
		}
	}
}

// dumpNode writes a parsed schema as text, named types once.
func dumpNode(n *node, seen map[*node]bool) string {
	var b strings.Builder
	b.WriteString(n.kind.String())
	if n.name != "" {
		b.WriteString(" " + n.name)
		if seen[n] {
			return b.String()
		}
		seen[n] = true
	}
	fmt.Fprintf(&b, " min=%d symbols=%d size=%d", n.minSize, n.symbols, n.size)
	for _, f := range n.fields {
		b.WriteString(" {" + f.name + ": " + dumpNode(f.typ, seen) + "}")
	}
	for _, br := range n.branches {
		b.WriteString(" [" + dumpNode(br, seen) + "]")
	}
	if n.items != nil {
		b.WriteString(" <" + dumpNode(n.items, seen) + ">")
	}
	return b.String()
}
