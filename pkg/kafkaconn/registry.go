package kafkaconn

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/beckon-dev/beckon/pkg/codec"
)

// Registry returns a schema registry client, or nil when no registry URL is
// configured (the codec then uses Avro single-object encoding).
func (c Config) Registry() (*sr.Client, error) {
	if c.SchemaRegistry.URL == "" {
		return nil, nil
	}
	opts := []sr.ClientOpt{sr.URLs(c.SchemaRegistry.URL), sr.UserAgent("beckon")}
	if c.SchemaRegistry.Username != "" {
		opts = append(opts, sr.BasicAuth(c.SchemaRegistry.Username, c.SchemaRegistry.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", c.SchemaRegistry.URL, err)
	}
	return cl, nil
}

// Codec returns the codec the configuration describes: the Confluent wire
// format through the schema registry when one is configured, Avro
// single-object encoding otherwise.
func (c Config) Codec() (*codec.Codec, error) {
	reg, err := c.Registry()
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return codec.New()
	}
	return codec.New(codec.WithRegistry(reg))
}
