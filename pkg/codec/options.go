package codec

import "github.com/twmb/franz-go/pkg/sr"

// Option configures a Codec.
type Option func(*config)

type config struct {
	registry      *sr.Client
	strategy      SubjectStrategy
	writerSchemas []string
}

// WithRegistry makes the codec encode in the Confluent wire format, registering
// Beckon's schemas with the registry behind cl on first use and caching their
// IDs, and resolve unknown schema IDs through it when decoding. Without it the
// codec encodes with Avro single-object encoding and needs no registry.
func WithRegistry(cl *sr.Client) Option {
	return func(c *config) { c.registry = cl }
}

// WithSubjectStrategy sets how registry subjects are named in registry mode.
// The default is TopicNameStrategy ("<topic>-value").
func WithSubjectStrategy(s SubjectStrategy) Option {
	return func(c *config) { c.strategy = s }
}

// WithWriterSchemas adds schemas (Avro JSON text) that records may have been
// written with, other versions of Beckon's records from older or newer
// producers, so that their single-object encodings decode. See AddWriterSchema.
func WithWriterSchemas(schemas ...string) Option {
	return func(c *config) { c.writerSchemas = append(c.writerSchemas, schemas...) }
}
