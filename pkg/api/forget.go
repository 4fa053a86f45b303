package api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
)

// MaxUserIDBytes bounds a user ID the API accepts to forget: far above
// any real user ID, low enough that a mistaken body in the path is
// refused.
const MaxUserIDBytes = 1024

// Forget serves DELETE /v1/users/{userId}: it produces a ForgetRequest
// to the forget topic, keyed by the user ID with Kafka's default
// partitioner, and answers 202 with the request's ID once the record is
// acknowledged. The engine that owns the user's partition carries it out
// (docs/forget.md). Repeating a request is harmless: forgetting a user
// who is already forgotten changes nothing.
type Forget struct {
	Kafka []kgo.Opt
	// Topic is the forget topic's full name.
	Topic  string
	Codec  *codec.Codec
	Logger *slog.Logger
}

// ForgetAccepted is the body of a 202 answer to DELETE /v1/users/{userId}.
type ForgetAccepted struct {
	RequestID   string    `json:"requestId"`
	UserID      string    `json:"userId"`
	RequestedAt time.Time `json:"requestedAt"`
}

// Mount adds the route to s.
func (f *Forget) Mount(s *Server) {
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	s.Handle("DELETE", "/v1/users/{userId}", Write, http.HandlerFunc(f.serve))
}

func (f *Forget) serve(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("userId")
	if reason := invalidUserID(user); reason != "" {
		writeError(w, errInvalid("userId", reason))
		return
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	req := records.ForgetRequest{RequestID: hex.EncodeToString(id), UserID: user, RequestedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if tok, ok := TokenFrom(r.Context()); ok {
		req.RequestedBy = tok.Name
	}
	if err := f.produce(r, &req); err != nil {
		f.Logger.ErrorContext(r.Context(), "forget request not written", "request_id", req.RequestID, "err", err)
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the forget request could not be written to Kafka; retry"})
		return
	}
	// The request ID, never the user ID: logs outlive the erasure.
	f.Logger.InfoContext(r.Context(), "forget requested", "request_id", req.RequestID, "by", req.RequestedBy)
	writeJSON(w, http.StatusAccepted, ForgetAccepted{RequestID: req.RequestID, UserID: user, RequestedAt: req.RequestedAt})
}

func (f *Forget) produce(r *http.Request, req *records.ForgetRequest) error {
	v, err := f.Codec.Encode(r.Context(), f.Topic, req)
	if err != nil {
		return err
	}
	// A client per request: forgetting is rare, and a client costs
	// nothing between requests. Its default partitioner is Kafka's
	// (murmur2 of the key), which places the request on the user's
	// partition.
	cl, err := kgo.NewClient(f.Kafka...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.ProduceSync(r.Context(), &kgo.Record{Topic: f.Topic, Key: []byte(req.UserID), Value: v}).FirstErr()
}

// invalidUserID says why user cannot be a user ID, or "".
func invalidUserID(user string) string {
	switch {
	case strings.TrimSpace(user) == "":
		return "is empty"
	case len(user) > MaxUserIDBytes:
		return "is longer than 1024 bytes"
	case strings.IndexByte(user, 0) >= 0:
		return "holds a zero byte, which no user ID the engine accepts holds"
	case !utf8.ValidString(user):
		return "is not valid UTF-8"
	}
	return ""
}
