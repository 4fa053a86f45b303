package kafkaconn

import (
	"flag"
	"strings"

	"github.com/beckon-dev/beckon/pkg/settings"
)

// Settings is every connection setting, in the order help shows them.
var Settings = []settings.Setting{
	{Flag: "kafka-brokers", Env: "BECKON_BROKERS", Default: DefaultBrokers, Usage: "comma-separated seed brokers, host:port"},
	{Flag: "kafka-client-id", Env: "BECKON_CLIENT_ID", Default: "beckon", Usage: "client ID sent to the brokers"},
	{Flag: "topic-prefix", Env: "BECKON_TOPIC_PREFIX", Usage: "prefix for every Beckon topic name"},
	{Flag: "kafka-tls", Env: "BECKON_TLS", Default: "false", Usage: "connect with TLS (system roots unless a CA file is given)"},
	{Flag: "kafka-tls-ca", Env: "BECKON_TLS_CA_FILE", Usage: "PEM file of the CAs that sign the brokers' certificates (enables TLS)"},
	{Flag: "kafka-tls-cert", Env: "BECKON_TLS_CERT_FILE", Usage: "client certificate PEM for mutual TLS (enables TLS)"},
	{Flag: "kafka-tls-key", Env: "BECKON_TLS_KEY_FILE", Usage: "client key PEM for mutual TLS"},
	{Flag: "kafka-tls-server-name", Env: "BECKON_TLS_SERVER_NAME", Usage: "name to verify in the brokers' certificates"},
	{Flag: "kafka-tls-insecure", Env: "BECKON_TLS_INSECURE_SKIP_VERIFY", Default: "false", Usage: "do not verify the brokers' certificates (testing only)"},
	{Flag: "kafka-sasl-mechanism", Env: "BECKON_SASL_MECHANISM", Usage: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL"},
	{Flag: "kafka-sasl-username", Env: "BECKON_SASL_USERNAME", Usage: "SASL user"},
	{Flag: "kafka-sasl-password", Env: "BECKON_SASL_PASSWORD", Usage: "SASL password (prefer the environment variable: flags show in process lists)"},
	{Flag: "schema-registry-url", Env: "BECKON_SCHEMA_REGISTRY_URL", Usage: "schema registry URL; set to use the Confluent wire format instead of Avro single-object encoding"},
	{Flag: "schema-registry-username", Env: "BECKON_SCHEMA_REGISTRY_USERNAME", Usage: "schema registry basic-auth user"},
	{Flag: "schema-registry-password", Env: "BECKON_SCHEMA_REGISTRY_PASSWORD", Usage: "schema registry basic-auth password"},
}

// Flags is a Config bound to a flag set.
type Flags struct{ v *settings.Values }

// RegisterFlags adds every connection flag to fs, with defaults read from
// getenv (os.Getenv when nil).
func RegisterFlags(fs *flag.FlagSet, getenv func(string) string) *Flags {
	return &Flags{settings.Bind(fs, getenv, Settings)}
}

// Config returns the configuration the flags and environment describe,
// validated.
func (f *Flags) Config() (Config, error) {
	v := f.v
	tlsOn, err := v.Bool("kafka-tls")
	if err != nil {
		return Config{}, err
	}
	insecure, err := v.Bool("kafka-tls-insecure")
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Brokers:     v.List("kafka-brokers"),
		ClientID:    v.String("kafka-client-id"),
		TopicPrefix: v.String("topic-prefix"),
		TLS: TLS{
			Enabled:            tlsOn,
			CAFile:             v.String("kafka-tls-ca"),
			CertFile:           v.String("kafka-tls-cert"),
			KeyFile:            v.String("kafka-tls-key"),
			ServerName:         v.String("kafka-tls-server-name"),
			InsecureSkipVerify: insecure,
		},
		SASL: SASL{
			Mechanism: strings.ToUpper(v.String("kafka-sasl-mechanism")),
			Username:  v.String("kafka-sasl-username"),
			Password:  v.Secret("kafka-sasl-password"),
		},
		SchemaRegistry: SchemaRegistry{
			URL:      v.String("schema-registry-url"),
			Username: v.String("schema-registry-username"),
			Password: v.Secret("schema-registry-password"),
		},
	}
	return c, c.Validate()
}
