package webhook

import "github.com/beckon-dev/beckon/pkg/records"

// Metrics receives the sender's measurements (package metrics implements
// it). It must be safe for concurrent use: partitions deliver in
// parallel.
type Metrics interface {
	// Delivered counts a command whose outcome is final: status is the
	// receipt's (delivered or failed), attempts the POSTs it took (0 when
	// its deadline had passed before the first).
	Delivered(status records.ReceiptStatus, attempts int)
}

func (s *Sender) observe(out outcome) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Delivered(out.status, out.attempts)
	}
}
