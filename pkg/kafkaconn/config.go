package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names accepted in SASL.Mechanism.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// DefaultBrokers is where a service looks for Kafka when nothing is
// configured: the address `beckon dev` listens on.
const DefaultBrokers = "127.0.0.1:9092"

// Config says how to reach Kafka. The zero value plus Brokers is a plaintext
// connection without a topic prefix.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// ClientID is sent to the brokers with every request (shows in quotas
	// and broker logs). Default "beckon".
	ClientID string
	// TopicPrefix is prepended to every topic name Beckon uses, so several
	// deployments can share one cluster ("acme." gives "acme.events").
	TopicPrefix string
	// TLS configures an encrypted connection.
	TLS TLS
	// SASL configures authentication.
	SASL SASL
	// SchemaRegistry, when its URL is set, switches the Avro framing from
	// single-object encoding to the Confluent wire format.
	SchemaRegistry SchemaRegistry
}

// TLS configures the client side of TLS. Setting any file enables TLS.
type TLS struct {
	// Enabled turns TLS on with the system roots when no CA file is given.
	Enabled bool
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS. Both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string
	// InsecureSkipVerify disables certificate verification (testing only).
	InsecureSkipVerify bool
}

// SASL configures SASL authentication. An empty Mechanism disables it.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	Username  string
	Password  string
}

// SchemaRegistry locates a Confluent-compatible schema registry.
type SchemaRegistry struct {
	// URL of the registry; empty means no registry.
	URL      string
	Username string
	Password string
}

// Topic returns the full name of a Beckon topic: the prefix plus name.
func (c Config) Topic(name string) string { return c.TopicPrefix + name }

// Validate reports the first configuration error, naming the setting.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka brokers: %w", errMissing)
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("kafka broker %q: want host:port", b)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("kafka tls: cert file and key file go together; set both or neither")
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		if c.SASL.Username == "" {
			return fmt.Errorf("kafka sasl username: %w for mechanism %s", errMissing, c.SASL.Mechanism)
		}
	default:
		return fmt.Errorf("kafka sasl mechanism %q: want %s, %s or %s", c.SASL.Mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
	}
	if strings.ContainsAny(c.TopicPrefix, " /\\,") {
		return fmt.Errorf("kafka topic prefix %q: only letters, digits, '.', '_' and '-' are valid in topic names", c.TopicPrefix)
	}
	return nil
}

var errMissing = errors.New("not set")

// ClientOpts returns the franz-go options for this connection.
func (c Config) ClientOpts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	id := c.ClientID
	if id == "" {
		id = "beckon"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
	}
	tc, err := c.TLS.config()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := c.SASL.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// NewClient returns a franz-go client for this connection with extra
// options (consumer group, transactional ID, ...) appended.
func (c Config) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.ClientOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// Ping checks that the brokers answer within timeout.
func Ping(ctx context.Context, cl *kgo.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka brokers do not answer: %w", err)
	}
	return nil
}

func (t TLS) config() (*tls.Config, error) {
	if !t.Enabled && t.CAFile == "" && t.CertFile == "" && !t.InsecureSkipVerify && t.ServerName == "" {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit operator choice, documented as testing only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka tls ca file %s: no PEM certificates found", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s SASL) mechanism() sasl.Mechanism {
	switch strings.ToUpper(s.Mechanism) {
	case MechanismPlain:
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
	case MechanismScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case MechanismScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}
	return nil
}
