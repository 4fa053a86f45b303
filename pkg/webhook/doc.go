// Package webhook is Beckon's reference channel adapter: a Sender consumes
// the send.webhook topic as a consumer group, POSTs each SendCommand as
// signed JSON to one configured endpoint, retries what may succeed later,
// and reports the outcome as a delivered or failed Receipt on the receipts
// topic.
//
// Delivery is at-least-once. A command's offset is committed only after its
// receipt is acknowledged, so a crash re-sends whatever was in flight; every
// request carries the command ID as Idempotency-Key so the endpoint can drop
// the duplicates. The HTTP contract is documented on Body and in
// docs/configuration.md.
//
// It is not a template renderer or a multi-endpoint router: the command's
// Recipient travels in the body for the endpoint to use, and every command
// goes to the same URL.
package webhook
