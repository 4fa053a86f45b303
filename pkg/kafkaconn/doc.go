// Package kafkaconn is the one way every Beckon service connects to Kafka:
// seed brokers, client ID, TLS, SASL (PLAIN, SCRAM-SHA-256/512), the topic
// prefix and the optional schema registry, read from flags and BECKON_*
// environment variables.
//
// It builds franz-go client options; it does not know whether the brokers
// are a production cluster, a test broker or the embedded development Kafka,
// and it does not declare topics (see package topics).
package kafkaconn
