package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
)

// Config is what the API service needs to run its control plane.
type Config struct {
	// Kafka are the client options of the cluster.
	Kafka []kgo.Opt
	// JourneysTopic is the journeys topic's name, prefix included.
	JourneysTopic string
	Codec         *codec.Codec
	// Channels are the channels definitions are validated against: the
	// built-in ones and the configured custom ones.
	Channels []string
	// Counts answers journeys' headline counts; nil omits them.
	Counts CountsSource
	// Metrics answers GET /v1/journeys/{id}/metrics (a
	// journeymetrics.Reader); nil leaves that route out.
	Metrics MetricsSource
	// Timelines serves each user's instance timelines (a
	// timeline.Router); nil leaves those routes out.
	Timelines TimelineRoutes
	// Server configures authentication and limits.
	Server Options
}

// Service is a running API: the server with the control plane mounted,
// and a catalog following the journeys topic.
type Service struct {
	*Server
	catalog *engine.Catalog
	ready   chan struct{}         // closed once the catalog has caught up
	stopped chan struct{}         // closed when following ends
	failed  atomic.Pointer[error] // why following ended, if it failed
}

// Start mounts the control plane and starts following the journeys
// topic until ctx ends. Mount more routes with Handle before serving.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	log := cfg.Server.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := New(cfg.Server)
	if err != nil {
		return nil, err
	}
	s := &Service{Server: srv, catalog: engine.NewCatalog(cfg.Channels, log), ready: make(chan struct{}), stopped: make(chan struct{})}
	j := &Journeys{
		Catalog: s.catalog,
		Control: engine.Control{Kafka: cfg.Kafka, Topic: cfg.JourneysTopic, Codec: cfg.Codec, Channels: cfg.Channels},
		Counts:  cfg.Counts,
		Metrics: cfg.Metrics,
		Logger:  log,
	}
	j.Mount(srv)
	if cfg.Timelines != nil {
		mountTimelines(srv, cfg.Timelines)
	}
	go func() {
		defer close(s.stopped)
		if err := s.catalog.Follow(ctx, cfg.Kafka, cfg.JourneysTopic, cfg.Codec, s.ready); err != nil {
			err = fmt.Errorf("follow %s: %w", cfg.JourneysTopic, err)
			log.Error("api stopped following the journeys topic", "err", err)
			s.failed.Store(&err)
		}
	}()
	return s, nil
}

// Ready reports whether the catalog has read the journeys topic to where
// it stood at start.
func (s *Service) Ready() bool { return s.catalog.Ready() }

// WaitReady returns once the service is ready, or why it never will be.
func (s *Service) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-s.stopped:
		if err := s.Health(); err != nil {
			return err
		}
		return errors.New("stopped before it was ready")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Health is nil while the journeys topic is followed.
func (s *Service) Health() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}
