package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults used when Config leaves a field zero.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultRetryBase   = 200 * time.Millisecond
	DefaultRetryMax    = 30 * time.Second
	DefaultGroup       = "beckon-webhook-sender"
	DefaultConcurrency = 16
)

// partitionBacklog is how many fetched commands a partition may have
// waiting before its fetching pauses, so a partition stuck retrying one
// endpoint does not fill memory while the others keep flowing.
const partitionBacklog = 256

// outcomeTimeout bounds producing a receipt and committing once an outcome
// is known; it applies during shutdown too, so a finished send is recorded.
const outcomeTimeout = 30 * time.Second

// commitTimeout bounds committing a recorded outcome. It is short because a
// commit that does not go through only means the command is sent again,
// with the same Idempotency-Key and receipt ID.
const commitTimeout = 5 * time.Second

// Config configures a Sender.
type Config struct {
	// Kafka are the connection options (kafkaconn.Config.ClientOpts); the
	// Sender adds its consumer-group options.
	Kafka []kgo.Opt
	// Commands is the full name of the send.webhook topic (prefix included).
	Commands string
	// Receipts is the full name of the receipts topic.
	Receipts string
	// DeadLetter is the full name of the dlq topic, where records of the
	// commands topic that do not decode go, with the reason and where they
	// came from in headers (as the engine writes them). Empty: they are
	// logged and skipped.
	DeadLetter string
	// Group is the consumer group. Default "beckon-webhook-sender".
	Group string
	// Codec decodes commands and encodes receipts.
	Codec *codec.Codec
	// URL receives every command as a POST. Required, http or https.
	URL string
	// Secret keys the HMAC-SHA256 of X-Beckon-Signature.
	Secret []byte
	// Timeout bounds one attempt (connect, send, response headers and
	// body). Default 10s.
	Timeout time.Duration
	// Retry is the backoff between attempts. Defaults 200ms base, 30s cap.
	Retry Backoff
	// Concurrency bounds the requests in flight across all partitions.
	// Default 16.
	Concurrency int
	// HTTPClient sends the requests; default a client with its own
	// transport. Its Timeout should be zero: Timeout applies per attempt.
	HTTPClient *http.Client
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// Metrics receives each command's outcome; nil: none.
	Metrics Metrics
	// Tracing, when enabled, gives each delivery a span in the command's
	// trace (and the Kafka client its spans); nil or off: none.
	Tracing *telemetry.Provider
}

func (c *Config) setDefaults() error {
	switch {
	case c.Commands == "" || c.Receipts == "":
		return errors.New("webhook: commands and receipts topics are required")
	case c.Codec == nil:
		return errors.New("webhook: codec is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: url %q: want an absolute http or https URL", c.URL)
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retry.Base <= 0 {
		c.Retry.Base = DefaultRetryBase
	}
	if c.Retry.Max <= 0 {
		c.Retry.Max = DefaultRetryMax
	}
	if c.Retry.Max < c.Retry.Base {
		return fmt.Errorf("webhook: retry cap %v is below the retry base %v", c.Retry.Max, c.Retry.Base)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.Concurrency
		c.HTTPClient = &http.Client{Transport: t}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
