// Package kafkatest gives integration tests a Kafka to talk to: franz-go's
// in-process kfake by default, or a real Apache Kafka when
// BECKON_TEST_BROKERS names one (cmd/withkafka starts one and sets it). A
// test asks for Brokers, a Prefix for its topic, group and transactional
// names so it can share a real broker with tests running in parallel, and
// Clients that are closed for it.
//
// It is for tests only. It does not start real brokers (that is
// realkafka) and does not mock Kafka: whatever it returns speaks the Kafka
// protocol.
package kafkatest
