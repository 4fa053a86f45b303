// Package realkafka obtains, starts and stops a real Apache Kafka broker for
// tests: a single KRaft node (broker and controller in one JVM) on
// 127.0.0.1, with its server jars fetched once from Maven Central by Maven
// and cached under the user cache directory.
//
// It is for test tooling (cmd/withkafka and tests that need the real thing)
// on a machine with a JDK 17+ and Maven. It is not for running Beckon in
// development (that is package embedded) nor for production: the broker has
// one replica of everything, no security, and its data is deleted on Stop.
package realkafka
