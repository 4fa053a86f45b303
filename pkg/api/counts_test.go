package api_test

import (
	"context"
	"errors"
	"testing"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
)

// The journey metrics reader's headline counts serve as the API's counts,
// field for field.
func TestCountsFrom(t *testing.T) {
	want := journeymetrics.Headline{Entered: 1, Active: 2, Sent: 3, Delivered: 4, Opened: 5, Clicked: 6, Replied: 7, Converted: 8}
	src := api.CountsFrom(func(_ context.Context, id string) (journeymetrics.Headline, error) {
		if id != "cart" {
			return journeymetrics.Headline{}, errors.New("unknown")
		}
		return want, nil
	})
	got, err := src.JourneyCounts(context.Background(), "cart")
	if err != nil || got != (api.Counts{Entered: 1, Active: 2, Sent: 3, Delivered: 4, Opened: 5, Clicked: 6, Replied: 7, Converted: 8}) {
		t.Fatalf("counts %+v, err %v", got, err)
	}
	if _, err := src.JourneyCounts(context.Background(), "other"); err == nil {
		t.Fatal("the source's error was lost")
	}
	// The reader itself fits.
	if _, err := api.CountsFrom(journeymetrics.NewReader(nil).JourneyCounts).JourneyCounts(context.Background(), "cart"); !errors.Is(err, journeymetrics.ErrNotReady) {
		t.Fatalf("a reader that has not loaded: %v", err)
	}
}
