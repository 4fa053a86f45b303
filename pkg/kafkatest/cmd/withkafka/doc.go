// Command withkafka runs a command against a real Apache Kafka broker:
//
//	go run ./pkg/kafkatest/cmd/withkafka -- go test -count=1 ./...
//
// It starts a single-node KRaft broker on 127.0.0.1 with package realkafka
// (fetching Kafka with Maven on first use), runs the command with
// BECKON_TEST_BROKERS set to the broker's address, so kafkatest points every
// integration test at it, stops the broker afterwards (also on Ctrl-C or
// SIGTERM) and exits with the command's exit code.
//
// When the broker cannot be had (no Java, no Maven, a start that fails), it
// skips: it says why, does not run the command and exits 0, so a developer
// without a JDK can still run the whole task. With CI=true or -require it
// fails instead.
//
// It is not a general Kafka launcher: the broker is disposable and its data
// is deleted when the command ends.
package main
