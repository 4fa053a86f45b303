// Package promtest runs a real Prometheus for tests: Debian's prometheus
// package (which also ships promtool), fetched once with apt-get download
// and unpacked into the user cache (~/.cache/beckon/prometheus-debian),
// like the real Kafka broker of package realkafka, and started on
// 127.0.0.1 with a scrape configuration the test gives.
//
// A test that needs it fails when it cannot be installed or started; it
// never skips. It is not for production use.
package promtest
