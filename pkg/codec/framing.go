package codec

import (
	"encoding/binary"
	"fmt"
)

// Framing is how an encoded record names its writer schema in front of the
// Avro body.
type Framing uint8

const (
	// SingleObject is Avro single-object encoding, the default: 0xC3 0x01,
	// then the writer schema's 8-byte CRC-64-AVRO fingerprint little-endian,
	// then the body. It needs no registry.
	SingleObject Framing = iota + 1
	// Confluent is the Confluent Schema Registry wire format: 0x00, then the
	// writer schema's 4-byte registry ID big-endian, then the body.
	Confluent
)

// Header sizes and markers.
const (
	singleObjectHeaderLen = 10
	confluentHeaderLen    = 5
	singleObjectMarker0   = 0xC3
	singleObjectMarker1   = 0x01
	confluentMagic        = 0x00
)

// String returns "single-object" or "confluent".
func (f Framing) String() string {
	switch f {
	case SingleObject:
		return "single-object"
	case Confluent:
		return "confluent"
	default:
		return fmt.Sprintf("Framing(%d)", uint8(f))
	}
}

// Header is the framing of one encoded record.
type Header struct {
	Framing     Framing
	Fingerprint uint64 // writer schema fingerprint, for SingleObject
	SchemaID    int    // writer schema registry ID, for Confluent
	Body        []byte // the Avro binary body after the header (aliases the input)
}

// ParseHeader reads the framing of an encoded record without decoding its
// body, e.g. to label a dead-lettered record or count records per schema. It
// returns a *TruncatedError or a *BadMagicError for input that is neither
// framing.
func ParseHeader(data []byte) (Header, error) {
	if len(data) == 0 {
		return Header{}, &TruncatedError{Len: 0, Need: 1, What: "magic byte"}
	}
	switch data[0] {
	case singleObjectMarker0:
		if len(data) < 2 {
			return Header{}, &TruncatedError{Len: len(data), Need: 2, What: "single-object marker"}
		}
		if data[1] != singleObjectMarker1 {
			return Header{}, &BadMagicError{Seen: []byte{data[0], data[1]}}
		}
		if len(data) < singleObjectHeaderLen {
			return Header{}, &TruncatedError{Len: len(data), Need: singleObjectHeaderLen, What: "single-object header"}
		}
		return Header{
			Framing:     SingleObject,
			Fingerprint: binary.LittleEndian.Uint64(data[2:singleObjectHeaderLen]),
			Body:        data[singleObjectHeaderLen:],
		}, nil
	case confluentMagic:
		if len(data) < confluentHeaderLen {
			return Header{}, &TruncatedError{Len: len(data), Need: confluentHeaderLen, What: "Confluent header"}
		}
		return Header{
			Framing:  Confluent,
			SchemaID: int(binary.BigEndian.Uint32(data[1:confluentHeaderLen])),
			Body:     data[confluentHeaderLen:],
		}, nil
	default:
		return Header{}, &BadMagicError{Seen: []byte{data[0]}}
	}
}

// headerLen returns the length of h's framing header.
func (h Header) headerLen() int {
	if h.Framing == Confluent {
		return confluentHeaderLen
	}
	return singleObjectHeaderLen
}

// appendSingleObjectHeader appends the single-object header for fingerprint.
func appendSingleObjectHeader(dst []byte, fingerprint uint64) []byte {
	dst = append(dst, singleObjectMarker0, singleObjectMarker1)
	return binary.LittleEndian.AppendUint64(dst, fingerprint)
}

// appendConfluentHeader appends the Confluent header for a schema ID.
func appendConfluentHeader(dst []byte, id int) []byte {
	dst = append(dst, confluentMagic)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}
