package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
)

// TestDevServesAPI: `beckon dev` serves the API on 127.0.0.1 with the
// token it prints, the three printed curl commands (the abandoned-cart
// journey, its metrics, and a sample shopper's instances, whose timeline
// they lead to) work as printed, and the API stops with dev.
func TestDevServesAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"dev", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate", "50"}, &out, &errb, func(string) string { return "" })
	}()
	m := waitFor(t, &out, regexp.MustCompile(`API +(http://127\.0\.0\.1:\d+) \(write token (dev-[0-9a-f]+);`), time.Minute)
	url, token := m[1], m[2]
	curl := waitFor(t, &out, regexp.MustCompile(`Try +curl -H 'Authorization: Bearer (\S+)' (\S+)`), time.Second)
	if curl[1] != token || curl[2] != url+"/v1/journeys/abandoned-cart" {
		t.Fatalf("the printed curl command does not use the printed token and API: %q", curl[0])
	}
	get := func(token string) (int, map[string]any) {
		code, raw := servicetest.GetAs(t, curl[2], token)
		var body map[string]any
		if err := json.Unmarshal([]byte(raw), &body); err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	// Live, and with counts once the journey metrics are read.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) { // polls the condition
		code, body := get(token)
		if code != 200 || body["status"] != "live" {
			t.Fatalf("GET abandoned-cart with the dev token: %d %v", code, body)
		}
		if _, ok := body["counts"].(map[string]any); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counts within a minute: %v", body)
		}
	}
	if code, _ := get(""); code != 401 {
		t.Fatalf("without a token: %d, want 401", code)
	}

	// The second curl command shows the abandoned-cart journey's metrics,
	// which fill as the sample traffic runs through the journey.
	metricsCurl := waitFor(t, &out, regexp.MustCompile(`\n {12}curl -H 'Authorization: Bearer (\S+)' (\S+)\n`), time.Second)
	if metricsCurl[1] != token || metricsCurl[2] != url+"/v1/journeys/abandoned-cart/metrics" {
		t.Fatalf("the second curl command is not the abandoned-cart metrics with the printed token: %q", metricsCurl[0])
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) { // polls the condition
		code, raw := servicetest.GetAs(t, metricsCurl[2], token)
		var body struct {
			JourneyID string `json:"journeyId"`
			Totals    struct {
				Entered int64 `json:"entered"`
			} `json:"totals"`
			Steps  []struct{ Step string }    `json:"steps"`
			Hourly []struct{ Hour time.Time } `json:"hourly"`
		}
		if code != 200 && code != 503 { // 503 while the metrics topic is read
			t.Fatalf("GET abandoned-cart metrics: %d %s", code, raw)
		}
		if code == 200 {
			if err := json.Unmarshal([]byte(raw), &body); err != nil || body.JourneyID != "abandoned-cart" {
				t.Fatalf("abandoned-cart metrics: %v %s", err, raw)
			}
			if body.Totals.Entered > 0 && len(body.Steps) > 0 && len(body.Hourly) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nobody entered abandoned-cart within two minutes: %d %s", code, raw)
		}
	}

	// The third shows the instances of the shopper the banner names,
	// whom the sample traffic puts in abandoned-cart; an instance's id
	// leads to its timeline.
	tlCurl := waitFor(t, &out, regexp.MustCompile(`\n {12}curl -H 'Authorization: Bearer (\S+)' (\S+/v1/users/(\S+)/instances)\n {12}# (\S+)'s journey instances`), time.Second)
	if tlCurl[1] != token || !strings.HasPrefix(tlCurl[2], url+"/") || tlCurl[3] != tlCurl[4] {
		t.Fatalf("the third curl command is not a shopper's instances with the printed token: %q", tlCurl[0])
	}
	var instance string
	for deadline := time.Now().Add(2 * time.Minute); instance == ""; time.Sleep(50 * time.Millisecond) { // polls the condition
		code, raw := servicetest.GetAs(t, tlCurl[2], token)
		if code != 200 && code != 503 { // 503 while the timeline group settles
			t.Fatalf("GET %s: %d %s", tlCurl[2], code, raw)
		}
		var body struct {
			UserID    string `json:"user_id"`
			Instances []struct {
				ID        string `json:"id"`
				JourneyID string `json:"journey_id"`
			} `json:"instances"`
		}
		if code == 200 {
			if err := json.Unmarshal([]byte(raw), &body); err != nil || body.UserID != tlCurl[3] {
				t.Fatalf("%s's instances: %v %s", tlCurl[3], err, raw)
			}
			for _, in := range body.Instances {
				if in.JourneyID == "abandoned-cart" {
					instance = in.ID
				}
			}
		}
		if instance == "" && time.Now().After(deadline) {
			t.Fatalf("%s entered no abandoned-cart instance within two minutes: %d %s", tlCurl[3], code, raw)
		}
	}
	code, raw := servicetest.GetAs(t, url+"/v1/instances/"+instance, token)
	var tl struct {
		Entries []struct{ Kind string } `json:"entries"`
	}
	if err := json.Unmarshal([]byte(raw), &tl); code != 200 || err != nil || len(tl.Entries) == 0 || tl.Entries[0].Kind != "entered" {
		t.Fatalf("the timeline of %s: %d %s", instance, code, raw)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exit %d\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop within 20s")
	}
	if _, err := http.Get(url + "/v1/journeys"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("the dev API still answers after dev stopped: %v", err)
	}
}
