// Package interop drives independent Avro implementations, Apache Avro's
// Java library (the java folder, a Maven project) and fastavro (the python
// folder), as peers of Beckon's codec in tests: they compute schema
// fingerprints and Parsing Canonical Forms, encode records in Avro
// single-object encoding and decode Beckon's. Everything they report is
// computed by those libraries, so a test that compares Beckon with them
// checks Beckon against the ecosystem, not against itself.
//
// Peers are installed by package kafkatest/peers, once per machine; a peer
// that cannot be installed or run fails the test. It is for tests only.
package interop
