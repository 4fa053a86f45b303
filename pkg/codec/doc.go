// Package codec turns Beckon's records (package records) into Avro bytes for
// Kafka and back, with goavro and the schemas embedded in package schemas.
//
// Two framings are supported and always accepted when decoding:
//
//   - Avro single-object encoding (default, no registry): C3 01, the writer
//     schema's 8-byte CRC-64-AVRO fingerprint little-endian, the body. The
//     fingerprint is of the Parsing Canonical Form as the Avro specification
//     defines it, which the codec computes itself (canonical.go) because
//     goavro's differs; records with goavro's fingerprint, which Beckon
//     wrote before, are still read. The codec knows Beckon's schemas and any
//     writer schema added with WithWriterSchemas or AddWriterSchema.
//   - Confluent wire format (WithRegistry): 00, the 4-byte schema ID
//     big-endian, the body. Schemas are registered under a subject named by a
//     SubjectStrategy, and unknown IDs are fetched from the registry once and
//     cached.
//
// goavro cannot resolve a writer schema into a reader schema, so the codec
// decodes with the writer's schema and reads the result into the Go struct by
// field name: a newer producer's extra fields are ignored (DecodeNative shows
// them), an older producer's missing optional fields stay zero. Bad input
// yields typed errors (see errors.go) and never a panic or an unbounded
// allocation: a bounds check walks every body before goavro sees it.
//
// It is not for choosing topics, keys or partitions (records have Key; topic
// names belong to the topics package), and it does not validate records beyond
// what the wire needs (valid JSON in free-form fields, enum symbols). The wire
// contract is documented in docs/schemas.md.
package codec
