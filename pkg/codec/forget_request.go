package codec

import "github.com/beckon-dev/beckon/pkg/records"

func forgetRequestToNative(r *records.ForgetRequest) (map[string]any, error) {
	return map[string]any{
		"request_id":   r.RequestID,
		"user_id":      r.UserID,
		"requested_at": millis(r.RequestedAt),
		"requested_by": optString(r.RequestedBy),
	}, nil
}

func forgetRequestFromNative(f *fields, r *records.ForgetRequest) {
	r.RequestID = f.str("request_id", true)
	r.UserID = f.str("user_id", true)
	r.RequestedAt = f.time("requested_at", true)
	r.RequestedBy = f.str("requested_by", false)
}
