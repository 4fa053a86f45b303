package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The laptop screen the console is checked on.
const width, height = 1366, 768

// traceURL is the template dev is started with; the instance page links
// to it.
const traceURL = "http://localhost:16686/trace/{traceId}"

// devBeckon is a running `beckon dev`.
type devBeckon struct {
	url, token string

	mu    sync.Mutex
	users map[string][]string // by "SEND journey" or "HANDOFF journey": the users dev printed such a line for, first first
	log   []string            // its output, for a failure's report
}

var (
	apiLine = regexp.MustCompile(`^\s*API\s+(http://\S+) \(write token (\S+);`)
	// SEND   email    user-007  abandoned-cart/email-reminder ...
	// HANDOFF user-017  whatsapp whatsapp-two-way: ...
	outputLine = regexp.MustCompile(`^(SEND)\s+\S+\s+(\S+)\s+([a-z0-9-]+)/|^(HANDOFF)\s+(\S+)\s+\S+\s+([a-z0-9-]+):`)
)

// startDev builds beckon and runs `beckon dev` on free ports with journey
// time 3600x the clock (a one-hour hold takes a second, quiet hours at
// most eleven), until the test ends.
func startDev(t *testing.T) *devBeckon {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "beckon")
	build := exec.Command("go", "build", "-o", bin, "./services/beckon")
	build.Dir = root
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build beckon: %v\n%s", err, out)
	}
	// The sample traffic's seed, logged so a failure's shoppers can be
	// had again (BECKON_E2E_SEED); the traffic's timing still varies.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BECKON_E2E_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("BECKON_E2E_SEED: %v", err)
		}
	}
	t.Logf("sample traffic seed %d (BECKON_E2E_SEED=%d repeats it)", seed, seed)
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--port", "0", "--api-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--rate", "20", "--time-scale", "3600", "--trace-url", traceURL, "--seed", strconv.FormatUint(seed, 10))
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT=", "BECKON_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(t.TempDir(), "dev.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start beckon dev: %v", err)
	}
	d := &devBeckon{users: map[string][]string{}}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log = append(d.log, line)
			if len(d.log) > 400 {
				d.log = d.log[len(d.log)-400:]
			}
			if m := apiLine.FindStringSubmatch(line); m != nil && d.url == "" {
				d.url, d.token = m[1], m[2]
				close(ready)
			}
			if m := outputLine.FindStringSubmatch(line); m != nil {
				kind, user, journey := m[1]+m[4], m[2]+m[5], m[3]+m[6]
				if k := kind + " " + journey; !slices.Contains(d.users[k], user) {
					d.users[k] = append(d.users[k], user)
				}
			}
			d.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			d.mu.Lock()
			t.Logf("beckon dev output (last lines):\n%s", strings.Join(d.log[max(0, len(d.log)-60):], "\n"))
			d.mu.Unlock()
			if b, err := os.ReadFile(stderr.Name()); err == nil {
				t.Logf("beckon dev stderr (last 4 KiB):\n%s", b[max(0, len(b)-4096):])
			}
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatal("beckon dev exited before it printed the API's address")
	case <-time.After(3 * time.Minute):
		t.Fatal("beckon dev printed no API address in 3 minutes")
	}
	t.Logf("beckon dev: API and console at %s", d.url)
	return d
}

// apiGet reads a route of the dev API as JSON.
func (d *devBeckon) apiGet(path string, v any) error {
	req, err := http.NewRequest("GET", d.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// entry is what the test reads of a timeline entry.
type entry struct {
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Receipt *struct {
		ReplyText string `json:"reply_text"`
	} `json:"receipt"`
}

// findInstance finds, among the users dev printed an output line of kind
// for (SEND, HANDOFF) in journey, an instance of journey whose timeline
// entries satisfy want. dev's traffic keeps making candidates, so it
// looks again every second until within has passed.
func (d *devBeckon) findInstance(t *testing.T, kind, journey string, want func([]entry) bool, within time.Duration) (user, ref string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		d.mu.Lock()
		users := slices.Clone(d.users[kind+" "+journey])
		d.mu.Unlock()
		for _, u := range users {
			var list struct {
				Instances []struct {
					ID        string `json:"id"`
					JourneyID string `json:"journey_id"`
				} `json:"instances"`
			}
			if last = d.apiGet("/v1/users/"+url.PathEscape(u)+"/instances", &list); last != nil {
				continue
			}
			for _, in := range list.Instances {
				if in.JourneyID != journey {
					continue
				}
				var tl struct {
					Entries []entry `json:"entries"`
				}
				if last = d.apiGet("/v1/instances/"+url.PathEscape(in.ID), &tl); last == nil && want(tl.Entries) {
					return u, in.ID
				}
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no %s instance as wanted within %s among the users of %d %s lines (last error: %v)", journey, within, len(d.users[kind+" "+journey]), kind, last)
	return "", ""
}

// has reports whether some entry satisfies f.
func has(es []entry, f func(entry) bool) bool { return slices.ContainsFunc(es, f) }

// chromium finds the browser: $BECKON_CHROMIUM, or Debian's chromium.
// Without one the test is skipped, except under CI=true, where it fails.
func chromium(t *testing.T) string {
	if p := os.Getenv("BECKON_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium: install Debian's chromium package (apt-get install -y chromium; task test:console does) or set BECKON_CHROMIUM"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts headless Chromium with the flags this closed network
// needs, and records the page's uncaught exceptions and console errors.
func browser(t *testing.T) (context.Context, *pageErrors) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	errs := &pageErrors{}
	if err := chromedp.Listen(ctx, errs.record); err != nil {
		t.Fatalf("Chromium did not start: %v", err)
	}
	start, cancelStart := context.WithTimeout(ctx, time.Minute)
	defer cancelStart()
	if err := chromedp.Do(start, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("Chromium did not start: %v", err)
	}
	return ctx, errs
}

// pageErrors are the page's uncaught exceptions and console errors.
type pageErrors struct {
	mu         sync.Mutex
	exceptions []string
	console    []string
}

func (p *pageErrors) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		p.exceptions = append(p.exceptions, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, a.Description+string(a.Value))
			}
			p.console = append(p.console, strings.Join(parts, " "))
		}
	}
}

// check fails the test on any uncaught exception so far.
func (p *pageErrors) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.exceptions {
		t.Errorf("uncaught exception in the console: %s", e)
	}
	p.exceptions = nil
	for _, c := range p.console {
		t.Logf("console error: %s", c)
	}
	p.console = nil
}

// step runs actions with a bounded time.
func step(t *testing.T, ctx context.Context, what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor waits until a JavaScript expression is true in the page. It
// evaluates it through the DevTools protocol every 100 ms rather than
// with chromedp.Poll, whose page-side new Function the console's
// Content-Security-Policy rightly refuses.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-c.Done():
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText.slice(0, 1500) || ''`))
			t.Fatalf("%s: not within %s (last error %v); the page shows:\n%s", what, timeout, last, text)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// value evaluates an expression in the page.
func value[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as docs/console/NAME.png (or under
// $BECKON_CONSOLE_SCREENSHOTS).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("BECKON_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = "../../docs/console"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// exampleJourneys are the IDs of examples/journeys, which dev publishes.
func exampleJourneys(t *testing.T) []string {
	files, err := filepath.Glob("../../examples/journeys/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example journeys: %v", err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	return ids
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
