package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/simulate"
)

// Client calls the control plane routes. Its methods have the signatures
// of engine.Control's, so `beckon journeys` uses either: the API when
// pointed at one, the journeys topic directly otherwise. A definition the
// API finds invalid comes back as a *journey.ValidationError with the
// same paths, reasons, lines and columns local validation reports.
type Client struct {
	// URL is the API's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Token is a bearer token with the role the calls need.
	Token string
	// HTTP defaults to http.DefaultClient.
	HTTP *http.Client
}

// Validate validates a definition with the API's channels.
func (c *Client) Validate(ctx context.Context, text []byte, format string) (Validation, error) {
	var v Validation
	if err := c.do(ctx, "POST", "/v1/journeys/validate", text, format, &v); err != nil {
		return v, err
	}
	if !v.Valid {
		return v, &journey.ValidationError{Errors: FieldErrors(v.Errors)}
	}
	return v, nil
}

// Draft saves a definition as its journey's draft and returns the
// draft's version.
func (c *Client) Draft(ctx context.Context, text []byte, format string) (int32, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return 0, err
	}
	var v Version
	err = c.do(ctx, "PUT", "/v1/journeys/"+url.PathEscape(def.ID)+"/draft", text, format, &v)
	return v.Version, err
}

// Publish publishes a definition as its journey's next version, live.
func (c *Client) Publish(ctx context.Context, text []byte, format string) (int32, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return 0, err
	}
	var v Version
	err = c.do(ctx, "POST", "/v1/journeys/"+url.PathEscape(def.ID)+"/publish", text, format, &v)
	return v.Version, err
}

// PublishDraft publishes the journey's draft.
func (c *Client) PublishDraft(ctx context.Context, id string) (int32, error) {
	var v Version
	err := c.do(ctx, "POST", "/v1/journeys/"+url.PathEscape(id)+"/publish", nil, "", &v)
	return v.Version, err
}

// SetState pauses (paused), resumes (live) or archives (archived) a
// journey.
func (c *Client) SetState(ctx context.Context, id string, state records.JourneyState) error {
	verb, ok := map[records.JourneyState]string{records.JourneyPaused: "pause", records.JourneyLive: "resume", records.JourneyArchived: "archive"}[state]
	if !ok {
		return fmt.Errorf("journey state %q: want live, paused or archived", state)
	}
	return c.do(ctx, "POST", "/v1/journeys/"+url.PathEscape(id)+"/"+verb, nil, "", &Journey{})
}

// Simulate runs a definition on a window of past traffic
// (POST /v1/simulations); from and to are as the route takes them
// (RFC 3339 or a duration before now; to "" for now), users 0 for all.
func (c *Client) Simulate(ctx context.Context, text []byte, format, from, to string, users int) (*simulate.Report, error) {
	q := url.Values{"from": {from}}
	if to != "" {
		q.Set("to", to)
	}
	if users > 0 {
		q.Set("users", strconv.Itoa(users))
	}
	var rep simulate.Report
	if err := c.do(ctx, "POST", "/v1/simulations?"+q.Encode(), text, format, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// do sends a request and decodes a 2xx answer into out; an error answer
// becomes an *Error, or a *journey.ValidationError when it lists invalid
// definition fields.
func (c *Client) do(ctx context.Context, method, path string, body []byte, format string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
		if format == records.FormatJSON {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		if len(raw) == 0 {
			return nil
		}
		return json.Unmarshal(raw, out)
	}
	var eb struct{ Error *Error }
	if json.Unmarshal(raw, &eb) != nil || eb.Error == nil {
		return fmt.Errorf("%s %s: %s: %.200s", method, path, resp.Status, raw)
	}
	eb.Error.Status = resp.StatusCode
	if eb.Error.Code == "invalid" && len(eb.Error.Fields) > 0 && resp.StatusCode == http.StatusBadRequest {
		return &journey.ValidationError{Errors: FieldErrors(eb.Error.Fields)}
	}
	return eb.Error
}
