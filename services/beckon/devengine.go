package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/examples"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/health"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// publishExamples publishes the example journeys that are not live with
// the same definition yet, and returns their IDs.
func publishExamples(ctx context.Context, conn kafkaconn.Config, cd *codec.Codec) ([]string, error) {
	kopts, err := conn.ClientOpts()
	if err != nil {
		return nil, err
	}
	control := &engine.Control{Kafka: kopts, Topic: conn.Topic("journeys"), Codec: cd, Channels: journey.DefaultChannels, By: "beckon dev"}
	all, err := examples.Journeys()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, x := range all {
		if _, _, err := control.PublishIfChanged(ctx, x.YAML, records.FormatYAML); err != nil {
			return nil, fmt.Errorf("publish example %s: %w", x.Name, err)
		}
		ids = append(ids, x.Name)
	}
	return ids, nil
}

// scaledClock runs journey time faster than the wall clock from start, so
// a dev session sees hours of journey in minutes.
func scaledClock(start time.Time, scale float64) func() time.Time {
	return func() time.Time {
		return start.Add(time.Duration(float64(time.Since(start)) * scale))
	}
}

// startEngine runs the journey engine and the processors beside it in
// this process until the returned stop is called, and waits until they
// are all ready; the probe answers for all of them.
func (c *cli) startEngine(ctx context.Context, d devConfig, conn kafkaconn.Config, layout topics.Layout, cd *codec.Codec, reg *metrics.Registry, tracing *telemetry.Provider) (health.Probed, func(), error) {
	kopts, err := conn.ClientOpts()
	if err != nil {
		return nil, nil, err
	}
	streamMetrics, journeyMetrics, err := metrics.ForEngine(reg)
	if err != nil {
		return nil, nil, err
	}
	c.journeyNow = scaledClock(time.Now(), d.timeScale)
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: layout, Codec: cd, StateDir: filepath.Join(d.dataDir, "engine"), InstanceID: "dev",
		Stream:  stream.Options{Clock: c.journeyNow, StayInGroupOnShutdown: true, Metrics: streamMetrics},
		Metrics: journeyMetrics,
		Logger:  c.log.With("component", "engine"),
		Tracing: tracing,
	})
	if err != nil {
		return nil, nil, err
	}
	streamMetrics.ReportOwned(e.OwnedPartitions)
	// The journey metrics processor runs beside the engine, as the
	// engine service runs it by default.
	jm, err := journeymetrics.New(journeymetrics.Config{Topics: layout, Codec: cd, Group: "beckon-engine-metrics"})
	if err != nil {
		return nil, nil, err
	}
	run, err := jm.Alongside(stream.Options{Kafka: kopts, StateDir: filepath.Join(d.dataDir, "engine"), InstanceID: "dev", Clock: c.journeyNow,
		StayInGroupOnShutdown: true, Logger: c.log.With("component", "journey-metrics")}, e.Run)
	if err != nil {
		return nil, nil, err
	}
	// So does the timeline processor, answering timeline queries on
	// loopback, advertised in its group for the api service's router
	// (docs/api-timelines.md).
	queries, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("timeline query listener: %w", err)
	}
	tp, err := timeline.New(timeline.Config{Topics: layout, Codec: cd, Group: timeline.GroupBeside(engine.DefaultGroup), QueryAddr: queries.Addr().String(),
		Logger: c.log.With("component", "timelines")})
	if err == nil {
		run, err = tp.Alongside(stream.Options{Kafka: kopts, StateDir: filepath.Join(d.dataDir, "engine"), InstanceID: "dev", Clock: c.journeyNow,
			StayInGroupOnShutdown: true, Logger: c.log.With("component", "timelines")}, run)
	}
	if err != nil {
		queries.Close()
		return nil, nil, err
	}
	probed := health.All(e, jm, tp)
	qsrv := &http.Server{Handler: tp.QueryHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = qsrv.Serve(queries) }()
	ectx, cancel := context.WithCancel(ctx)
	context.AfterFunc(ectx, func() { _ = qsrv.Close() })
	done := make(chan error, 1)
	go func() { done <- run(ectx) }()
	var stopped atomic.Bool
	stop := func() {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			if err := <-done; err != nil {
				c.log.Error("engine stopped", "err", err)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for !probed.Ready() {
		select {
		case err := <-done:
			stopped.Store(true)
			cancel()
			return nil, nil, fmt.Errorf("engine: %w", err)
		case <-ctx.Done():
			stop()
			return nil, nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("engine not ready within a minute")
		}
	}
	return probed, stop, nil
}

// showOutput prints a send command or hand-off the engine committed, and
// plays the channel for WhatsApp: every command is delivered, and every
// other one gets a reply asking for the price, which the WhatsApp example
// hands to an agent.
func (c *cli) showOutput(ctx context.Context, cl *kgo.Client, cd *codec.Codec, conn kafkaconn.Config, r *kgo.Record) error {
	if r.Topic == conn.Topic("dlq") {
		showDeadLetter(c.stdout, r)
		return nil
	}
	if r.Topic == conn.Topic("handoff") {
		var h records.Handoff
		if err := cd.Decode(ctx, r.Value, &h); err != nil {
			fmt.Fprintf(c.stdout, "HANDOFF p%d@%d UNDECODABLE (%d bytes): %v\n", r.Partition, r.Offset, len(r.Value), err)
			return nil
		}
		var lines []string
		for _, m := range h.Conversation {
			lines = append(lines, fmt.Sprintf("%s %q", m.Direction, m.Text))
		}
		fmt.Fprintf(c.stdout, "HANDOFF %-9s %-8s %s: %s\n", h.UserID, h.Channel, h.JourneyID, strings.Join(lines, ", "))
		return nil
	}
	var s records.SendCommand
	if err := cd.Decode(ctx, r.Value, &s); err != nil {
		fmt.Fprintf(c.stdout, "SEND   %s p%d@%d UNDECODABLE (%d bytes): %v\n", r.Topic, r.Partition, r.Offset, len(r.Value), err)
		return nil
	}
	payload := string(s.Payload)
	if len(payload) > 160 {
		payload = payload[:157] + "..."
	}
	fmt.Fprintf(c.stdout, "SEND   %-8s %-9s %-24s %-20s %s\n", s.Channel, s.UserID, s.JourneyID+"/"+s.StepID, s.TemplateID, payload)
	if s.Channel != "whatsapp" {
		return nil
	}
	receipts := []records.Receipt{{ReceiptID: s.CommandID + "/delivered", CommandID: s.CommandID, UserID: s.UserID, Channel: s.Channel, Status: records.ReceiptDelivered, OccurredAt: c.journeyNow().UTC()}}
	if r.Offset%2 == 0 {
		receipts = append(receipts, records.Receipt{ReceiptID: s.CommandID + "/replied", CommandID: s.CommandID, UserID: s.UserID, Channel: s.Channel,
			Status: records.ReceiptReplied, ReplyText: "Great! What's the price of the wool scarf?", OccurredAt: c.journeyNow().UTC()})
	}
	for _, rc := range receipts {
		v, err := cd.Encode(ctx, conn.Topic("receipts"), rc)
		if err != nil {
			return err
		}
		cl.Produce(ctx, &kgo.Record{Topic: conn.Topic("receipts"), Key: []byte(rc.UserID), Value: v}, nil)
	}
	return nil
}
