// Package peers gives tests the independent implementations Beckon's wire
// claims are checked against: a Python with pinned PyPI packages
// (fastavro, confluent-kafka, whose wheel carries librdkafka) and Java
// programs built with Maven from Maven Central (Apache Avro's Java
// library, Kafka's own clients).
//
// Each peer is installed once into the user cache
// (${XDG_CACHE_HOME:-~/.cache}/beckon) under a name that hashes what it is
// built from, so a changed requirement or source builds anew and parallel
// test binaries never see a half-built peer. A peer that cannot be
// installed fails the test: an interoperability test that skips proves
// nothing.
//
// It is for tests only.
package peers
