package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/kafkatest/peers"
)

// The Kafka Streams counter (bench/peers/kstreams, Counter.java): the
// runtime's workload written as a Kafka Streams application, exactly-once
// (exactly_once_v2) with a RocksDB store, run as the "kstreams" pipeline.
// Kafka Streams 4.3.1 cannot start on kfake (its admin client fails on
// kfake's DescribeTopicPartitions answer), so the pipeline is in the
// default set only on a real broker.

// kstreamsPeer is the built peer.
type kstreamsPeer struct {
	java, classpath string
}

// buildKStreams builds the peer's Maven project (found from the working
// directory unless dir is set).
func buildKStreams(dir string) (*kstreamsPeer, error) {
	if dir == "" {
		var err error
		if dir, err = findKStreams(); err != nil {
			return nil, err
		}
	}
	logger.Printf("building the Kafka Streams pipeline in %s", dir)
	java, cp, err := peers.BuildJava(dir)
	if err != nil {
		return nil, err
	}
	return &kstreamsPeer{java: java, classpath: cp}, nil
}

// start runs the counter for t; it speaks the children's "ready" protocol.
func (k *kstreamsPeer) start(t topics, brokers string, partitions, threads int) (*bench.Child, error) {
	args := []string{"-cp", k.classpath, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}
	// KSTREAMS_JAVA_OPTS adds JVM options (a heap size, -Xlog:gc:file).
	args = append(args, strings.Fields(os.Getenv("KSTREAMS_JAVA_OPTS"))...)
	args = append(args, "dev.beckon.bench.Launch", "counter", "brokers="+brokers, "app="+t.group,
		"input="+t.input, "output="+t.output, "state="+t.state,
		"partitions="+strconv.Itoa(partitions), "threads="+strconv.Itoa(threads))
	return bench.StartChild(t.group, k.java, args...)
}

// findKStreams looks for the peer's Maven project from the working
// directory up.
func findKStreams() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "bench", "peers", "kstreams")
		if _, err := os.Stat(filepath.Join(cand, "pom.xml")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/peers/kstreams not found from the working directory; run from the repository or pass -kstreams")
		}
		dir = parent
	}
}
