package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"
)

// errNoRegistry is the cause of UnknownSchemaIDError when the codec has no
// registry to ask.
var errNoRegistry = errors.New("no schema registry configured")

// schemaID returns the registry ID of w under subject, registering it on
// first use. Registering a schema the subject already has returns its
// existing ID, so every producer instance converges on the same ID.
func (c *Codec) schemaID(ctx context.Context, subject string, w *writerSchema) (int, error) {
	key := subjectKey{subject: subject, fingerprint: w.fingerprint}
	if id, ok := c.ids.load(key); ok {
		return id, nil
	}
	id, err := c.registry.RegisterSchema(ctx, subject, sr.Schema{Schema: w.text, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, &RegistryError{Op: fmt.Sprintf("register %s under subject %q", w.name, subject), Err: err}
	}
	c.byID.store(id, w)
	return c.ids.store(key, id), nil
}

// fetchSchema asks the registry for the schema with the given ID and caches
// it. Concurrent misses on one ID may each ask; the first answer is kept.
// Negative answers are not cached: they cost a registry call per record, but
// a record cannot name an ID before the schema is registered, so they only
// come from foreign or corrupt data.
func (c *Codec) fetchSchema(ctx context.Context, id int) (*writerSchema, error) {
	if c.registry == nil {
		return nil, &UnknownSchemaIDError{ID: id, Err: errNoRegistry}
	}
	s, err := c.registry.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.ErrorCode == sr.ErrSchemaNotFound.Code || re.StatusCode == http.StatusNotFound) {
			return nil, &UnknownSchemaIDError{ID: id, Err: err}
		}
		return nil, &RegistryError{Op: fmt.Sprintf("fetch schema ID %d", id), Err: err}
	}
	if s.Type != sr.TypeAvro {
		return nil, &UnknownSchemaIDError{ID: id, Err: fmt.Errorf("schema is %v, not Avro", s.Type)}
	}
	if len(s.References) > 0 {
		return nil, &UnknownSchemaIDError{ID: id, Err: fmt.Errorf("schema uses %d references, which the codec does not resolve", len(s.References))}
	}
	w, err := parseWriterSchema(s.Schema)
	if err != nil {
		return nil, &UnknownSchemaIDError{ID: id, Err: err}
	}
	// One parsed schema per fingerprint, shared by every ID and framing.
	w = c.remember(w)
	return c.byID.store(id, w), nil
}
