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

// countsFunc is a CountsSource made of a function.
type countsFunc func(ctx context.Context, journeyID string) (Counts, error)

func (f countsFunc) JourneyCounts(ctx context.Context, journeyID string) (Counts, error) {
	return f(ctx, journeyID)
}

// CountsFrom adapts a counts function whose result has Counts' fields
// (journeymetrics.Reader.JourneyCounts, say) to a CountsSource, so that
// the package that computes counts need not import this one.
func CountsFrom[T ~struct {
	Entered, Active, Sent, Delivered, Opened, Clicked, Replied, Converted int64
}](f func(ctx context.Context, journeyID string) (T, error)) CountsSource {
	return countsFunc(func(ctx context.Context, journeyID string) (Counts, error) {
		t, err := f(ctx, journeyID)
		return Counts(t), err
	})
}
