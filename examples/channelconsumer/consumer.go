// Package channelconsumer is the example in docs/channels.md: a complete,
// minimal consumer of one send topic, for channel teams writing their own
// adapter. It reads committed send commands, delivers each at most once
// per command ID (the idempotency key), and reports a receipt.
package channelconsumer

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Deliver sends one command on the channel (an SMS gateway call, an email
// API call). It should pass cmd.CommandID to the provider as its
// idempotency key where the provider has one.
type Deliver func(ctx context.Context, cmd records.SendCommand) error

// Run consumes topic (e.g. "send.sms") in consumer group group until ctx
// ends: for each committed command, it skips commands past their
// deadline, delivers the others, writes a delivered or failed receipt to
// receipts keyed by user ID, and only then commits the command's offset.
// A crash between delivery and commit delivers again after restart (at
// least once): seen and the provider's idempotency key make it once.
func Run(ctx context.Context, brokers []string, group, topic, receipts string, deliver Deliver, seen func(commandID string) bool) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		// Only committed commands are real: the engine writes them in
		// transactions that can abort.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	cd, err := codec.New()
	if err != nil {
		return err
	}
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		for _, rec := range fetches.Records() {
			if rec.Value == nil {
				// A tombstone: Beckon forgot this user (docs/forget.md).
				// Nothing to deliver; a real adapter deletes what it keeps
				// about the user here.
				continue
			}
			var cmd records.SendCommand
			if err := cd.Decode(ctx, rec.Value, &cmd); err != nil {
				return err // a real adapter would dead-letter it
			}
			receipt := records.Receipt{
				ReceiptID: cmd.CommandID + "/delivered", CommandID: cmd.CommandID, UserID: cmd.UserID,
				Channel: cmd.Channel, Status: records.ReceiptDelivered, OccurredAt: time.Now().UTC(),
			}
			switch {
			case seen != nil && seen(cmd.CommandID):
				continue // delivered before a crash: do not send twice
			case !cmd.Deadline.IsZero() && time.Now().After(cmd.Deadline):
				receipt.ReceiptID, receipt.Status, receipt.FailureReason = cmd.CommandID+"/failed", records.ReceiptFailed, "deadline passed"
			default:
				if err := deliver(ctx, cmd); err != nil {
					receipt.ReceiptID, receipt.Status, receipt.FailureReason = cmd.CommandID+"/failed", records.ReceiptFailed, err.Error()
				}
			}
			v, err := cd.Encode(ctx, receipts, receipt)
			if err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: receipts, Key: []byte(receipt.UserID), Value: v}).FirstErr(); err != nil {
				return err
			}
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
}
