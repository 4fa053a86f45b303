package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/console"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// devAPI is the API `beckon dev` runs, with its one write token.
type devAPI struct {
	url   string
	token string
}

// startAPI serves the API on addr with a fresh write token, made for this
// run only and printed in the banner; stop ends it.
func (c *cli) startAPI(ctx context.Context, d devConfig, conn kafkaconn.Config, layout topics.Layout, cd *codec.Codec, reg *metrics.Registry) (devAPI, func(), error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return devAPI{}, nil, err
	}
	token := "dev-" + hex.EncodeToString(b)
	tokens, err := api.ParseTokens(strings.NewReader("dev write " + api.HashToken(token)))
	if err != nil {
		return devAPI{}, nil, err
	}
	kopts, err := conn.ClientOpts()
	if err != nil {
		return devAPI{}, nil, err
	}
	metricsTopic, err := journeymetrics.TopicOf(layout)
	if err != nil {
		return devAPI{}, nil, err
	}
	// The timeline routes ask the timeline processor beside the dev
	// engine, found in its group as the api service finds them.
	adm, err := kgo.NewClient(kopts...)
	if err != nil {
		return devAPI{}, nil, err
	}
	activity, _ := layout.Spec("activity")
	timelines, err := timeline.NewRouter(timeline.RouterConfig{Admin: kadm.NewClient(adm), Group: timeline.GroupBeside(engine.DefaultGroup), Topic: activity.Name, Logger: c.log})
	if err != nil {
		adm.Close()
		return devAPI{}, nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	context.AfterFunc(ctx, adm.Close)
	counts := journeymetrics.NewReader(c.log)
	go func() {
		if err := counts.Follow(ctx, kopts, metricsTopic); err != nil {
			c.log.Error("journey counts unavailable", "err", err)
		}
	}()
	s, err := api.Start(ctx, api.Config{
		Kafka: kopts, JourneysTopic: conn.Topic("journeys"), Codec: cd, Channels: journey.DefaultChannels,
		Counts: api.CountsFrom(counts.JourneyCounts), Metrics: counts, Timelines: timelines,
		Server: api.Options{Tokens: tokens, Logger: c.log, Meter: reg.Meter()},
	})
	if err != nil {
		stop()
		return devAPI{}, nil, err
	}
	(&api.Simulations{Kafka: kopts, Layout: layout, Codec: cd, Channels: journey.DefaultChannels}).Mount(s.Server)
	if err := console.Mount(s, console.Options{TraceURL: d.traceURL}); err != nil {
		stop()
		return devAPI{}, nil, err
	}
	// The banner's curl command works as soon as it is printed.
	if err := s.WaitReady(ctx); err != nil {
		stop()
		return devAPI{}, nil, fmt.Errorf("dev API: %w", err)
	}
	bound, done, err := s.Serve(ctx, d.api)
	if err != nil {
		stop()
		return devAPI{}, nil, fmt.Errorf("dev API: %w", err)
	}
	return devAPI{url: "http://" + bound.String(), token: token}, func() { stop(); <-done }, nil
}

// curl is a command that reads path from the dev API.
func (a devAPI) curl(path string) string {
	return fmt.Sprintf("curl -H 'Authorization: Bearer %s' %s%s", a.token, a.url, path)
}
