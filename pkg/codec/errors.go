package codec

import (
	"errors"
	"fmt"
)

// Sentinels for errors.Is. Every error the codec returns for bad input
// matches exactly one of them; the typed errors below carry the details and can
// be extracted with errors.As.
//
// All of them except ErrRegistry are permanent: the same bytes will fail the
// same way again, so a consumer should dead-letter the record. ErrRegistry is
// transient (the registry could not be reached or answered an unexpected
// error) and worth a retry. IsTransient tells the two classes apart.
var (
	ErrTruncated          = errors.New("codec: truncated input")
	ErrBadMagic           = errors.New("codec: wrong magic byte")
	ErrUnknownFingerprint = errors.New("codec: unknown schema fingerprint")
	ErrUnknownSchemaID    = errors.New("codec: unknown schema registry ID")
	ErrWrongType          = errors.New("codec: wrong record type")
	ErrMalformed          = errors.New("codec: malformed Avro body")
	ErrInvalidField       = errors.New("codec: invalid field")
	ErrRegistry           = errors.New("codec: schema registry error")
)

// IsTransient reports whether err, an error of any Codec method (wrapped or
// not), is transient: the schema registry did not answer (unreachable, a
// timeout, a cancelled context) or answered with an error that says
// nothing about the record (a server error, an authorization failure).
// The same record may encode or decode when tried again, so a consumer
// retries it and must not dead-letter it, nor treat the row it was
// reading as absent. Every other codec error is permanent: the bytes
// themselves are bad (garbage, truncated, an unknown fingerprint, a schema
// ID the registry says it does not have, a malformed body), they will fail
// the same way on every try, and the record belongs in the dead-letter
// topic. A nil or non-codec error is not transient.
func IsTransient(err error) bool { return errors.Is(err, ErrRegistry) }

// TruncatedError reports input that ends before what it announces: shorter
// than its framing header, or a body whose last item runs past the end.
type TruncatedError struct {
	Len  int    // length of the whole input, in bytes
	Need int    // bytes that would have been needed (at least)
	What string // what was being read, e.g. "single-object header"
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("codec: truncated input: %d bytes, need at least %d for %s", e.Len, e.Need, e.What)
}

// Is reports whether target is ErrTruncated.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// BadMagicError reports input that starts with neither Avro single-object
// encoding's marker (0xC3 0x01) nor the Confluent wire format's magic (0x00).
type BadMagicError struct {
	Seen []byte // the leading byte(s) that were found
}

func (e *BadMagicError) Error() string {
	return fmt.Sprintf("codec: wrong magic % x: want c3 01 (Avro single-object) or 00 (Confluent)", e.Seen)
}

// Is reports whether target is ErrBadMagic.
func (e *BadMagicError) Is(target error) bool { return target == ErrBadMagic }

// UnknownFingerprintError reports a single-object encoded record whose writer
// schema is not known to the codec. Register the writer's schema with
// WithWriterSchemas or AddWriterSchema.
type UnknownFingerprintError struct {
	// Fingerprint is the CRC-64-AVRO (Rabin) fingerprint of the writer schema's
	// Parsing Canonical Form, as read little-endian from the header.
	Fingerprint uint64
}

func (e *UnknownFingerprintError) Error() string {
	return fmt.Sprintf("codec: unknown schema fingerprint %016x", e.Fingerprint)
}

// Is reports whether target is ErrUnknownFingerprint.
func (e *UnknownFingerprintError) Is(target error) bool { return target == ErrUnknownFingerprint }

// UnknownSchemaIDError reports a Confluent-framed record whose schema ID the
// registry does not know, or that arrived while no registry is configured.
type UnknownSchemaIDError struct {
	ID  int   // the schema ID from the header
	Err error // why it is unknown (the registry's answer), if any
}

func (e *UnknownSchemaIDError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("codec: unknown schema registry ID %d", e.ID)
	}
	return fmt.Sprintf("codec: unknown schema registry ID %d: %v", e.ID, e.Err)
}

// Is reports whether target is ErrUnknownSchemaID.
func (e *UnknownSchemaIDError) Is(target error) bool { return target == ErrUnknownSchemaID }

// Unwrap returns the cause.
func (e *UnknownSchemaIDError) Unwrap() error { return e.Err }

// WrongTypeError reports a record of another type than the one asked for,
// e.g. a Receipt decoded into an *records.Event.
type WrongTypeError struct {
	Want string // full Avro name asked for, e.g. "dev.beckon.Event"
	Got  string // full Avro name of the writer's schema
}

func (e *WrongTypeError) Error() string {
	return fmt.Sprintf("codec: wrong record type: want %s, got %s", e.Want, e.Got)
}

// Is reports whether target is ErrWrongType.
func (e *WrongTypeError) Is(target error) bool { return target == ErrWrongType }

// MalformedError reports a body that does not decode with its writer's schema:
// an out-of-range union or enum index, an over-long varint, a negative length,
// trailing bytes, or anything goavro rejects.
type MalformedError struct {
	Schema string // full name of the writer's schema
	Offset int    // byte offset in the whole input where it went wrong; -1 if unknown
	Err    error  // what was wrong
}

func (e *MalformedError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("codec: malformed %s body: %v", e.Schema, e.Err)
	}
	return fmt.Sprintf("codec: malformed %s body at offset %d: %v", e.Schema, e.Offset, e.Err)
}

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the cause.
func (e *MalformedError) Unwrap() error { return e.Err }

// FieldError reports a field that cannot be carried: when decoding, a writer
// schema that lacks a required field or gives it a type the Go field cannot
// hold; when encoding, a free-form field that is not valid JSON.
type FieldError struct {
	Record string // full Avro name of the record, e.g. "dev.beckon.Event"
	Field  string // field path, e.g. "addresses.push_tokens[1].token"
	Reason string // what is wrong with it
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("codec: %s field %s: %s", e.Record, e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidField.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidField }

// RegistryError reports a failed call to the schema registry that says nothing
// about the record itself (network error, authorization, server error). It is
// worth retrying.
type RegistryError struct {
	Op  string // what the codec was doing, e.g. `register subject "events-value"`
	Err error  // the client's error
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("codec: schema registry: %s: %v", e.Op, e.Err)
}

// Is reports whether target is ErrRegistry.
func (e *RegistryError) Is(target error) bool { return target == ErrRegistry }

// Unwrap returns the client's error.
func (e *RegistryError) Unwrap() error { return e.Err }
