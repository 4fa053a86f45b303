package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// outcome is what became of one command: delivered, or failed for reason.
type outcome struct {
	status   records.ReceiptStatus
	reason   string // empty when delivered
	code     int    // last HTTP status; 0 when no response
	attempts int
	at       time.Time
}

// attempt is the result of one POST.
type attempt struct {
	code       int           // 0 on a transport error
	err        error         // transport error or timeout
	retryAfter time.Duration // from a 429's Retry-After
	hasAfter   bool
	snippet    string // start of an error response body
}

// verdict says what to do after an attempt.
type verdict int

const (
	done      verdict = iota // 2xx
	permanent                // 4xx other than 408 and 429
	retry                    // transport error, timeout, 408, 429, 5xx
)

func (a attempt) verdict() verdict {
	switch {
	case a.err != nil:
		return retry
	case a.code >= 200 && a.code < 300:
		return done
	case a.code == http.StatusTooManyRequests, a.code == http.StatusRequestTimeout, a.code >= 500:
		return retry
	default: // other 4xx, and 1xx/3xx the client did not resolve
		return permanent
	}
}

func (a attempt) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	s := "HTTP " + strconv.Itoa(a.code)
	if a.snippet != "" {
		s += ": " + a.snippet
	}
	return s
}

// deliver POSTs cmd until it is delivered, fails permanently or passes its
// deadline. It returns ctx's error, and no outcome, when ctx ends first: the
// command is then left for a later run.
func (s *Sender) deliver(ctx context.Context, cmd records.SendCommand, traceparent string) (outcome, error) {
	body, err := encodeBody(cmd)
	if err != nil {
		return outcome{status: records.ReceiptFailed, reason: err.Error(), at: time.Now()}, nil
	}
	sig := Sign(s.cfg.Secret, body)
	expired := func(t time.Time) bool { return !cmd.Deadline.IsZero() && !t.Before(cmd.Deadline) }
	if now := time.Now(); expired(now) {
		return outcome{status: records.ReceiptFailed, reason: "deadline passed before the first attempt", at: now}, nil
	}
	log := s.log.With("command_id", cmd.CommandID, "user_id", cmd.UserID)
	for n := 0; ; n++ {
		a := s.post(ctx, cmd, body, sig, traceparent)
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		now := time.Now()
		switch a.verdict() {
		case done:
			return outcome{status: records.ReceiptDelivered, code: a.code, attempts: n + 1, at: now}, nil
		case permanent:
			return outcome{status: records.ReceiptFailed, reason: "rejected: " + a.String(), code: a.code, attempts: n + 1, at: now}, nil
		}
		wait := s.cfg.Retry.Delay(n)
		if a.code == http.StatusTooManyRequests && a.hasAfter {
			wait = a.retryAfter
		}
		if expired(now.Add(wait)) {
			return outcome{status: records.ReceiptFailed, reason: fmt.Sprintf("deadline passed after %d attempts; last: %s", n+1, a), code: a.code, attempts: n + 1, at: now}, nil
		}
		log.Warn("webhook attempt failed; retrying", "attempt", n+1, "err", a.String(), "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return outcome{}, ctx.Err()
		case <-t.C:
		}
	}
}

// post makes one attempt, holding one of the Concurrency slots while the
// request is in flight (not while waiting to retry).
func (s *Sender) post(ctx context.Context, cmd records.SendCommand, body []byte, sig, traceparent string) attempt {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return attempt{err: ctx.Err()}
	}
	defer func() { <-s.slots }()
	timeout := s.cfg.Timeout
	if !cmd.Deadline.IsZero() {
		timeout = min(timeout, time.Until(cmd.Deadline))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return attempt{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "beckon-webhook-sender")
	req.Header.Set(HeaderIdempotencyKey, cmd.CommandID)
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	if traceparent != "" {
		req.Header.Set(HeaderTraceParent, traceparent)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no response within %v", timeout)
		}
		return attempt{err: err}
	}
	defer resp.Body.Close()
	a := attempt{code: resp.StatusCode}
	if a.verdict() != done {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		a.snippet = strings.TrimSpace(string(b))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if a.code == http.StatusTooManyRequests {
		a.retryAfter, a.hasAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return a
}
