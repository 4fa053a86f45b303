package api

import "context"

// Counts are a journey's headline figures across its versions: instances
// that entered and are active, and sends by how far they got.
type Counts struct {
	Entered   int64 `json:"entered"`
	Active    int64 `json:"active"`
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Opened    int64 `json:"opened"`
	Clicked   int64 `json:"clicked"`
	Replied   int64 `json:"replied"`
	Converted int64 `json:"converted"`
}

// CountsSource answers a journey's headline counts; the journey metrics
// processor's reader implements it. Without one the API omits counts
// rather than show zeros it does not know to be true.
type CountsSource interface {
	JourneyCounts(ctx context.Context, journeyID string) (Counts, error)
}
