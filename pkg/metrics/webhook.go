package metrics

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Webhook measures the webhook sender (it implements webhook.Metrics):
// commands by final outcome, and the attempts they took.
type Webhook struct {
	outcomes *counter[records.ReceiptStatus]
	attempts metric.Int64Histogram
	none     *bound
}

// NewWebhook creates the webhook sender's instruments on m.
func NewWebhook(m metric.Meter) (*Webhook, error) {
	in := &instruments{m: m}
	w := &Webhook{none: bind()}
	w.outcomes = counterOf(in, "beckon_webhook_commands", "Webhook commands whose outcome is final, by receipt status (delivered or failed).",
		func(s records.ReceiptStatus) []attribute.KeyValue { return label("status")(string(s)) })
	err := in.err
	if err == nil {
		w.attempts, err = m.Int64Histogram("beckon_webhook_attempts", metric.WithDescription("POSTs a webhook command took until its outcome was final."),
			metric.WithExplicitBucketBoundaries(0, 1, 2, 3, 5, 8, 13, 21))
	}
	if err == nil {
		err = register(m, w.outcomes)
	}
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Delivered counts a command's final outcome and its attempts.
func (w *Webhook) Delivered(status records.ReceiptStatus, attempts int) {
	w.outcomes.add(status, 1)
	w.attempts.Record(context.Background(), int64(attempts), w.none.rec...)
}
