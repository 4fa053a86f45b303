package codec

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// writerSchema is one schema records can be written with: Beckon's own
// (embedded) schemas, extra versions registered with AddWriterSchema, and
// schemas fetched from the registry by ID.
type writerSchema struct {
	name        string        // full name of the top-level record
	text        string        // the schema as given
	canonical   string        // Parsing Canonical Form, per the specification
	fingerprint uint64        // CRC-64-AVRO of canonical: what single-object headers carry
	legacy      uint64        // goavro's Rabin, which older Beckon versions wrote; read only
	avro        *goavro.Codec // decodes bodies to native maps
	root        *node         // for the guard and for reading fields by name
}

// parseWriterSchema compiles schema text into a writerSchema. The top-level
// type must be a record.
func parseWriterSchema(text string) (*writerSchema, error) {
	avro, err := goavro.NewCodec(text)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	canonical, err := parsingCanonicalForm(text)
	if err != nil {
		return nil, err
	}
	root, err := parseCanonical(canonical)
	if err != nil {
		return nil, err
	}
	if root.kind != kindRecord {
		return nil, fmt.Errorf("schema is a %v, want a record", root.kind)
	}
	return &writerSchema{
		name:        root.name,
		text:        text,
		canonical:   canonical,
		fingerprint: crc64Avro([]byte(canonical)),
		legacy:      avro.Rabin,
		avro:        avro,
		root:        root,
	}, nil
}

// decode checks body and decodes it with the writer's schema. inputLen and
// base place body in the whole input for error messages. goavro is called
// under recover: the guard should leave it nothing to panic on, but a panic
// in a decoder must cost one record, not the process.
func (w *writerSchema) decode(body []byte, inputLen, base int) (native map[string]any, err error) {
	if err := checkBody(w.root, w.name, body, inputLen, base); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			native, err = nil, &MalformedError{Schema: w.name, Offset: -1, Err: fmt.Errorf("goavro panicked: %v", r)}
		}
	}()
	v, rest, err := w.avro.NativeFromBinary(body)
	if err != nil {
		return nil, &MalformedError{Schema: w.name, Offset: -1, Err: err}
	}
	if len(rest) != 0 {
		return nil, &MalformedError{Schema: w.name, Offset: inputLen - len(rest), Err: fmt.Errorf("%d trailing bytes after the record", len(rest))}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &MalformedError{Schema: w.name, Offset: -1, Err: fmt.Errorf("decoded %T, want a record", v)}
	}
	return m, nil
}
