// Package embedded runs an in-process Kafka (franz-go's kfake) on 127.0.0.1
// for development: `beckon dev` starts it so Beckon runs on a laptop with
// nothing else installed. Its topics and records persist under a data
// directory, so restarting the dev process keeps them.
//
// It is not for production and not a test fixture (tests use package
// kafkatest). Services never see it: they get its address through
// kafkaconn.Config like any other cluster.
package embedded
