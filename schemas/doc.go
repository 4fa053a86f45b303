// Package schemas holds Beckon's Avro schemas, the wire contract of every
// record on Beckon's topics, and embeds them so programs carry them without
// touching the file system.
//
// It is for reading the schema text (to build codecs, register them with a
// schema registry, or serve them). It is not for encoding or decoding records:
// that is pkg/codec, and the Go types are in pkg/records. The contract itself
// (topics, keys, framings, evolution rules) is documented in docs/schemas.md.
package schemas
