package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func receiptToNative(r *records.Receipt) (map[string]any, error) {
	attrs, err := jsonObject(schemas.Receipt, "attributes", r.Attributes)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"receipt_id":     r.ReceiptID,
		"command_id":     optString(r.CommandID),
		"user_id":        r.UserID,
		"channel":        r.Channel,
		"status":         string(r.Status),
		"reply_text":     optString(r.ReplyText),
		"failure_reason": optString(r.FailureReason),
		"occurred_at":    millis(r.OccurredAt),
		"attributes":     attrs,
	}, nil
}

func receiptFromNative(f *fields, r *records.Receipt) {
	r.ReceiptID = f.str("receipt_id", true)
	r.CommandID = f.str("command_id", false)
	r.UserID = f.str("user_id", true)
	r.Channel = f.str("channel", true)
	r.Status = records.ReceiptStatus(f.str("status", true))
	r.ReplyText = f.str("reply_text", false)
	r.FailureReason = f.str("failure_reason", false)
	r.OccurredAt = f.time("occurred_at", true)
	r.Attributes = f.json("attributes")
}
