package kafkaconn

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Setting is one configurable value: its flag, its environment variable and
// what it means. Settings lists them all, so docs and help stay in step.
type Setting struct {
	Flag    string
	Env     string
	Default string
	Usage   string
}

// Settings is every connection setting, in the order help shows them.
var Settings = []Setting{
	{"kafka-brokers", "BECKON_BROKERS", DefaultBrokers, "comma-separated seed brokers, host:port"},
	{"kafka-client-id", "BECKON_CLIENT_ID", "beckon", "client ID sent to the brokers"},
	{"topic-prefix", "BECKON_TOPIC_PREFIX", "", "prefix for every Beckon topic name"},
	{"kafka-tls", "BECKON_TLS", "false", "connect with TLS (system roots unless a CA file is given)"},
	{"kafka-tls-ca", "BECKON_TLS_CA_FILE", "", "PEM file of CAs that sign the brokers' certificates (enables TLS)"},
	{"kafka-tls-cert", "BECKON_TLS_CERT_FILE", "", "client certificate PEM for mutual TLS (enables TLS)"},
	{"kafka-tls-key", "BECKON_TLS_KEY_FILE", "", "client key PEM for mutual TLS"},
	{"kafka-tls-server-name", "BECKON_TLS_SERVER_NAME", "", "name to verify in the brokers' certificates"},
	{"kafka-tls-insecure", "BECKON_TLS_INSECURE_SKIP_VERIFY", "false", "do not verify the brokers' certificates (testing only)"},
	{"kafka-sasl-mechanism", "BECKON_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL"},
	{"kafka-sasl-username", "BECKON_SASL_USERNAME", "", "SASL user"},
	{"kafka-sasl-password", "BECKON_SASL_PASSWORD", "", "SASL password (prefer the environment variable over the flag)"},
	{"schema-registry-url", "BECKON_SCHEMA_REGISTRY_URL", "", "schema registry URL; set to use the Confluent wire format instead of Avro single-object encoding"},
	{"schema-registry-username", "BECKON_SCHEMA_REGISTRY_USERNAME", "", "schema registry basic-auth user"},
	{"schema-registry-password", "BECKON_SCHEMA_REGISTRY_PASSWORD", "", "schema registry basic-auth password"},
}

// Flags binds a Config to a flag set. Defaults come from the BECKON_*
// environment (looked up through Getenv), so a flag overrides its variable,
// which overrides the built-in default.
type Flags struct {
	values map[string]*string
}

// RegisterFlags adds every connection flag to fs, with defaults read from
// getenv (os.Getenv when nil).
func RegisterFlags(fs *flag.FlagSet, getenv func(string) string) *Flags {
	if getenv == nil {
		getenv = os.Getenv
	}
	f := &Flags{values: make(map[string]*string, len(Settings))}
	for _, s := range Settings {
		def := s.Default
		if v := getenv(s.Env); v != "" {
			def = v
		}
		f.values[s.Flag] = fs.String(s.Flag, def, s.Usage+" ($"+s.Env+")")
	}
	return f
}

// Config returns the configuration the flags and environment describe,
// validated.
func (f *Flags) Config() (Config, error) {
	get := func(name string) string { return strings.TrimSpace(*f.values[name]) }
	boolean := func(name string) (bool, error) {
		v := get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("--%s: %q is not a boolean", name, v)
		}
		return b, nil
	}
	tlsOn, err := boolean("kafka-tls")
	if err != nil {
		return Config{}, err
	}
	insecure, err := boolean("kafka-tls-insecure")
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Brokers:     splitList(get("kafka-brokers")),
		ClientID:    get("kafka-client-id"),
		TopicPrefix: get("topic-prefix"),
		TLS: TLS{
			Enabled:            tlsOn,
			CAFile:             get("kafka-tls-ca"),
			CertFile:           get("kafka-tls-cert"),
			KeyFile:            get("kafka-tls-key"),
			ServerName:         get("kafka-tls-server-name"),
			InsecureSkipVerify: insecure,
		},
		SASL: SASL{
			Mechanism: strings.ToUpper(get("kafka-sasl-mechanism")),
			Username:  get("kafka-sasl-username"),
			Password:  *f.values["kafka-sasl-password"],
		},
		SchemaRegistry: SchemaRegistry{
			URL:      get("schema-registry-url"),
			Username: get("schema-registry-username"),
			Password: *f.values["schema-registry-password"],
		},
	}
	return c, c.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
