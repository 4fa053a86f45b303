package codec

import (
	"context"
	"fmt"
	"reflect"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
	"github.com/twmb/franz-go/pkg/sr"
)

// Codec encodes Beckon records to Avro and decodes them back. It is safe for
// concurrent use; create one per process and share it.
//
// It always encodes with Beckon's own schemas (package schemas), in
// single-object encoding, or in the Confluent wire format when built
// WithRegistry. It decodes either framing whatever its configuration, with
// the schema the bytes were written with, and reads that record into the Go
// type by field name.
type Codec struct {
	registry *sr.Client
	strategy SubjectStrategy
	own      map[string]*writerSchema // Beckon's schemas by record name; read-only

	byFingerprint cache[uint64, *writerSchema]
	byID          cache[int, *writerSchema]
	ids           cache[subjectKey, int] // encoding: (subject, schema) -> registry ID
}

// subjectKey identifies one schema under one registry subject.
type subjectKey struct {
	subject     string
	fingerprint uint64
}

// New returns a codec that knows Beckon's embedded schemas plus any given
// WithWriterSchemas.
func New(opts ...Option) (*Codec, error) {
	cfg := config{strategy: TopicNameStrategy}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.strategy == nil {
		return nil, fmt.Errorf("codec: nil subject strategy")
	}
	c := &Codec{
		registry: cfg.registry,
		strategy: cfg.strategy,
		own:      make(map[string]*writerSchema, len(bindings)),
	}
	for _, name := range schemas.Names() {
		text, err := schemas.Schema(name)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		w, err := parseWriterSchema(text)
		if err != nil {
			return nil, fmt.Errorf("codec: embedded schema %s: %w", name, err)
		}
		if w.name != name {
			return nil, fmt.Errorf("codec: embedded schema for %s defines %s", name, w.name)
		}
		if bindings[name] == nil {
			return nil, fmt.Errorf("codec: no Go type for embedded schema %s", name)
		}
		c.own[name] = c.remember(w)
	}
	for _, text := range cfg.writerSchemas {
		if _, err := c.AddWriterSchema(text); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// AddWriterSchema makes records written with schema (Avro JSON text, e.g.
// an older or newer version of dev.beckon.Event) decodable when they arrive
// single-object encoded, and returns the schema's fingerprint. Adding a schema
// twice is harmless. Records it describes are read into the Go type of the
// same full name; a schema of another name can only be read with
// DecodeNative.
func (c *Codec) AddWriterSchema(schema string) (fingerprint uint64, err error) {
	w, err := parseWriterSchema(schema)
	if err != nil {
		return 0, fmt.Errorf("codec: add writer schema: %w", err)
	}
	return c.remember(w).fingerprint, nil
}

// remember makes w decodable under both fingerprints a single-object record
// of it may carry: the specification's, which every Avro implementation
// computes and Beckon writes, and goavro's legacy one, which Beckon wrote
// before and records still on topics carry. It returns the schema kept for
// them: the first one stored wins, so equal schemas share one parse.
func (c *Codec) remember(w *writerSchema) *writerSchema {
	w = c.byFingerprint.store(w.fingerprint, w)
	if w.legacy != w.fingerprint {
		c.byFingerprint.store(w.legacy, w)
	}
	return w
}

// Fingerprint returns the CRC-64-AVRO fingerprint of the Parsing Canonical
// Form of Beckon's own schema for the record with the given full name, as
// written in single-object headers: the value Apache Avro Java's
// SchemaNormalization.parsingFingerprint64 and fastavro compute.
func (c *Codec) Fingerprint(recordName string) (uint64, bool) {
	w, ok := c.own[recordName]
	if !ok {
		return 0, false
	}
	return w.fingerprint, true
}

// Encode encodes r (a records.Event, *records.Event, ...) for topic. The topic
// matters only in registry mode, where it names the subject; the first record
// of a type on a subject registers the schema (a registry call), later ones use
// the cached ID.
func (c *Codec) Encode(ctx context.Context, topic string, r records.Record) ([]byte, error) {
	return c.AppendEncode(ctx, nil, topic, r)
}

// AppendEncode is Encode appending to dst, to reuse buffers.
func (c *Codec) AppendEncode(ctx context.Context, dst []byte, topic string, r records.Record) ([]byte, error) {
	if isNil(r) {
		return dst, fmt.Errorf("codec: encode nil record %T", r)
	}
	name := r.AvroName()
	b, w := bindings[name], c.own[name]
	if b == nil || w == nil {
		return dst, fmt.Errorf("codec: encode %T: no schema for %s", r, name)
	}
	if enc := direct[name]; enc != nil {
		if c.registry == nil {
			return enc(appendSingleObjectHeader(dst, w.fingerprint), r)
		}
		id, err := c.schemaID(ctx, c.strategy(topic, name), w)
		if err != nil {
			return dst, err
		}
		return enc(appendConfluentHeader(dst, id), r)
	}
	native, err := b.encode(r)
	if err != nil {
		return dst, err
	}
	if c.registry == nil {
		// Not goavro's SingleFromNative: it writes goavro's own fingerprint.
		out, err := w.avro.BinaryFromNative(appendSingleObjectHeader(dst, w.fingerprint), native)
		if err != nil {
			return dst, fmt.Errorf("codec: encode %s: %w", name, err)
		}
		return out, nil
	}
	id, err := c.schemaID(ctx, c.strategy(topic, name), w)
	if err != nil {
		return dst, err
	}
	out, err := w.avro.BinaryFromNative(appendConfluentHeader(dst, id), native)
	if err != nil {
		return dst, fmt.Errorf("codec: encode %s: %w", name, err)
	}
	return out, nil
}

// Decode decodes data, in either framing, into into, which must be a non-nil
// pointer to the record type data holds (e.g. *records.Event); otherwise it
// returns a *WrongTypeError without decoding the body. Fields the Go type does
// not have are ignored; see DecodeNative to see them. Errors match the
// sentinels in errors.go.
func (c *Codec) Decode(ctx context.Context, data []byte, into records.Record) error {
	if isNil(into) {
		return fmt.Errorf("codec: decode into nil %T", into)
	}
	w, h, err := c.writerFor(ctx, data)
	if err != nil {
		return err
	}
	want := into.AvroName()
	if w.name != want {
		return &WrongTypeError{Want: want, Got: w.name}
	}
	return c.decodeInto(w, h, len(data), into)
}

// DecodeAny decodes data into a new value of the record type it holds and
// returns a pointer to it (*records.Event, *records.Receipt, ...), for
// consumers of topics that carry several types.
func (c *Codec) DecodeAny(ctx context.Context, data []byte) (records.Record, error) {
	w, h, err := c.writerFor(ctx, data)
	if err != nil {
		return nil, err
	}
	b := bindings[w.name]
	if b == nil {
		return nil, &WrongTypeError{Want: "a dev.beckon record", Got: w.name}
	}
	into := b.alloc()
	if err := c.decodeInto(w, h, len(data), into); err != nil {
		return nil, err
	}
	return into, nil
}

// DecodeNative decodes data with its writer's schema into goavro's native
// form, for tools that need every field the writer sent, including fields the
// Go types do not carry yet. It returns the record's full name. Unions appear
// as goavro represents them: nil, or a one-entry map from branch type name to
// value.
func (c *Codec) DecodeNative(ctx context.Context, data []byte) (recordName string, datum map[string]any, err error) {
	w, h, err := c.writerFor(ctx, data)
	if err != nil {
		return "", nil, err
	}
	native, err := w.decode(h.Body, len(data), h.headerLen())
	if err != nil {
		return "", nil, err
	}
	return w.name, native, nil
}

func (c *Codec) decodeInto(w *writerSchema, h Header, inputLen int, into records.Record) error {
	if read, own := readers[w.name], c.own[w.name]; read != nil && own != nil && w.fingerprint == own.fingerprint && read(h.Body, into) {
		return nil
	}
	b := bindings[w.name]
	if b == nil {
		return &WrongTypeError{Want: into.AvroName(), Got: w.name}
	}
	native, err := w.decode(h.Body, inputLen, h.headerLen())
	if err != nil {
		return err
	}
	f := newFields(w, native)
	if !b.decode(f, into) {
		return fmt.Errorf("codec: decode %s into %T: need a non-nil pointer", w.name, into)
	}
	return *f.err
}

// isNil reports whether r is nil or a nil pointer, on which the value
// methods of records.Record would panic.
func isNil(r records.Record) bool {
	if r == nil {
		return true
	}
	v := reflect.ValueOf(r)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// writerFor parses data's header and finds the schema it was written with.
func (c *Codec) writerFor(ctx context.Context, data []byte) (*writerSchema, Header, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, h, err
	}
	if h.Framing == SingleObject {
		w, ok := c.byFingerprint.load(h.Fingerprint)
		if !ok {
			return nil, h, &UnknownFingerprintError{Fingerprint: h.Fingerprint}
		}
		return w, h, nil
	}
	if w, ok := c.byID.load(h.SchemaID); ok {
		return w, h, nil
	}
	w, err := c.fetchSchema(ctx, h.SchemaID)
	return w, h, err
}
