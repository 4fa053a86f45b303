package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsole walks the console as a person would, on a laptop-sized
// screen, against `beckon dev`: sign in (a wrong token first), the
// journeys with their counts, the abandoned-cart flowchart, a draft with
// a validation error, its simulation, a user's instances and an instance
// timeline with a hold reset and a send; and an action with its
// confirmation, one that fails with its error. Each wait is on a
// condition with a bound.
func TestConsole(t *testing.T) {
	ctx, errs := browser(t)
	d := startDev(t)
	defer errs.check(t)

	// Sign in: a wrong token is refused with the reason, the dev token
	// (typed and entered with the keyboard) is taken.
	step(t, ctx, "open the console", time.Minute,
		chromedp.Navigate(d.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token\r"))
	waitFor(t, ctx, "a wrong token refused", `document.querySelector('.login .alert:not([hidden])')?.textContent.includes('Not signed in')`, 20*time.Second)
	screenshot(t, ctx, "login")
	clearField(t, ctx, "token")
	step(t, ctx, "sign in", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#token"), d.token+"\r"),
		chromedp.WaitVisible(chromedp.CSS("#journeys")))
	if who := value[string](t, ctx, `document.getElementById('who').textContent`); who != "dev (write)" {
		t.Errorf("signed in as %q, want dev (write)", who)
	}

	// Journeys: every example, and abandoned-cart with entries and sends.
	examples := exampleJourneys(t)
	waitFor(t, ctx, "every example journey listed", fmt.Sprintf(`%s.every(id => document.querySelector('#journeys tr[data-journey="' + id + '"]'))`, js(examples)), 30*time.Second)
	count := func(id, measure string) string {
		return fmt.Sprintf(`parseInt((document.querySelector('#journeys tr[data-journey=%q] td[data-count=%q]')?.textContent || '0').replace(/,/g, ''), 10)`, id, measure)
	}
	waitFor(t, ctx, "abandoned-cart counts entries and sends", count("abandoned-cart", "entered")+" > 0 && "+count("abandoned-cart", "sent")+" > 0", 2*time.Minute)
	// Sorting by a count orders the rows by it.
	step(t, ctx, "sort by entered", 10*time.Second, chromedp.Click(chromedp.CSS(`#journeys thead th:nth-child(4) button`)))
	waitFor(t, ctx, "rows sorted by entered, ascending", `(() => {
		const th = document.querySelector('#journeys thead th:nth-child(4)');
		const v = [...document.querySelectorAll('#journeys tbody td[data-count="entered"]')].map(td => parseInt(td.textContent.replace(/,/g, ''), 10) || 0);
		return th.getAttribute('aria-sort') === 'ascending' && v.every((x, i) => i === 0 || v[i - 1] <= x);
	})()`, 10*time.Second)
	screenshot(t, ctx, "journeys")

	// An action that fails says why: cloning onto an existing journey.
	step(t, ctx, "clone abandoned-cart onto onboarding", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#journeys button[data-journey="abandoned-cart"][data-action="clone"]`)),
		chromedp.WaitVisible(chromedp.CSS("#clone-id")))
	clearField(t, ctx, "clone-id")
	step(t, ctx, "name the clone", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#clone-id"), "onboarding\r"))
	waitFor(t, ctx, "the clone refused with the reason", `[...document.querySelectorAll('main .alert:not([hidden])')].some(a => a.textContent.includes('Clone failed') && a.textContent.includes('exists'))`, 20*time.Second)
	// An action with its confirmation: pause a journey, then resume it.
	for _, a := range []struct{ action, status string }{{"pause", "paused"}, {"resume", "live"}} {
		step(t, ctx, a.action+" lapsed-user", 10*time.Second,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#journeys button[data-journey="lapsed-user"][data-action=%q]`, a.action))),
			chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")))
		waitFor(t, ctx, "lapsed-user "+a.status, fmt.Sprintf(`document.querySelector('#journeys tr[data-journey="lapsed-user"] .badge')?.textContent === %q`, a.status), 30*time.Second)
	}

	// The abandoned-cart flowchart: the hold with its timeout and reset
	// events, the sends with live counts and hourly sparklines.
	step(t, ctx, "open abandoned-cart", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#journeys a[href="#/journeys/abandoned-cart"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.flow g.node[data-step="idle-for-an-hour"]`)))
	node := func(id string) string {
		return fmt.Sprintf(`(document.querySelector('svg.flow g.node[data-step=%q]')?.textContent || '')`, id)
	}
	waitFor(t, ctx, "the hold drawn with its timeout and resets", node("idle-for-an-hour")+`.includes('timeout 1h') && `+node("idle-for-an-hour")+`.includes('reset by Product Added')`, 10*time.Second)
	waitFor(t, ctx, "the email step counted and charted", `/[1-9][0-9,]* sent/.test(`+node("email-reminder")+`) && document.querySelector('svg.flow g.node[data-step="email-reminder"] .spark polyline')`, time.Minute)
	for _, s := range []string{"anything-left", "wait-a-day", "push-reminder", "cart-emptied"} {
		waitFor(t, ctx, "step "+s+" drawn", node(s)+` !== ''`, 5*time.Second)
	}
	if n := value[int](t, ctx, `document.querySelectorAll('svg.flow path.edge').length`); n < 8 {
		t.Errorf("the flowchart has %d edges, want the abandoned-cart's 8 or more", n)
	}
	// The whole flowchart in one picture: a taller screen of the same width.
	step(t, ctx, "a taller screen", 10*time.Second, chromedp.EmulateViewport(width, 1500))
	screenshot(t, ctx, "journey")
	step(t, ctx, "back to the laptop screen", 10*time.Second, chromedp.EmulateViewport(width, height))

	// The editor: an invalid edit shows the field path and reason as you
	// type; a valid one is saved as the draft and simulated.
	waitFor(t, ctx, "the definition validated", `document.querySelector('#validation .ok')?.textContent.startsWith('Valid')`, 20*time.Second)
	edit := func(from, to string) string {
		return fmt.Sprintf(`(() => { const a = document.getElementById('definition'); a.value = a.value.replace(%s, %s); a.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, js(from), js(to))
	}
	value[bool](t, ctx, edit("timeout: 1h", "timeout: soon"))
	waitFor(t, ctx, "the validation error shown", `(document.querySelector('#validation .invalid')?.textContent || '').includes('steps[0].hold.timeout') && document.querySelector('#validation .invalid').textContent.includes('is not a duration')`, 20*time.Second)
	value[bool](t, ctx, `(() => { document.getElementById('definition').scrollIntoView(); return true; })()`)
	screenshot(t, ctx, "editor")
	// A key the schema does not allow: the API names it, its line takes
	// the cursor there, and the schema help says it is not a field there.
	value[bool](t, ctx, edit("max_resets: 20", "max_reset: 20"))
	waitFor(t, ctx, "the unknown field reported", `document.querySelector('#validation li[data-path*="max_reset"] button')`, 20*time.Second)
	step(t, ctx, "go to the unknown field's line", 10*time.Second, chromedp.Click(chromedp.CSS(`#validation li[data-path*="max_reset"] button`)))
	waitFor(t, ctx, "the cursor on the line and the schema's verdict", `document.activeElement.id === 'definition' &&
		(a => a.value.split('\n')[a.value.slice(0, a.selectionStart).split('\n').length - 1].trim().startsWith('max_reset'))(document.activeElement) &&
		(document.querySelector('#schema-help [data-schema="problem"]')?.textContent || '').includes('max_reset is not a field of steps[].hold')`, 10*time.Second)
	value[bool](t, ctx, edit("max_reset: 20", "max_resets: 20"))
	// A five-second hold, so that a simulation of the last minutes, in
	// real time (the draft does not run on dev's fast journey clock),
	// times carts out and sends.
	value[bool](t, ctx, edit("timeout: soon", "timeout: 5s"))
	waitFor(t, ctx, "the fixed definition valid", `document.querySelector('#validation .ok')?.textContent.startsWith('Valid')`, 20*time.Second)
	step(t, ctx, "save the draft", 10*time.Second, chromedp.Click(chromedp.CSS("#save-draft")))
	waitFor(t, ctx, "the draft saved", `document.getElementById('status').textContent.includes('Saved as draft version')`, 30*time.Second)
	clearField(t, ctx, "sim-from")
	step(t, ctx, "simulate the last hour", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#sim-from"), "1h"),
		chromedp.Click(chromedp.CSS("#simulate")))
	waitFor(t, ctx, "the simulation report", `document.querySelector('#simulation-report') && /[1-9]/.test(document.querySelector('#simulation-report dl.tiles dd')?.textContent || '')`, 2*time.Minute)
	if !strings.Contains(value[string](t, ctx, `document.getElementById('simulation-report').textContent`), "Sends by hour") {
		t.Error("the simulation report has no send times")
	}
	value[bool](t, ctx, `(() => { document.getElementById('simulation').scrollIntoView(); return true; })()`)
	screenshot(t, ctx, "simulation")

	// A user: search, their instances, and a timeline with a hold reset
	// and a send with its payload.
	user, ref := d.findInstance(t, "SEND", "abandoned-cart", func(es []entry) bool {
		return has(es, func(e entry) bool { return e.Kind == "waiting" && strings.Contains(e.Reason, "reset by") }) &&
			has(es, func(e entry) bool { return e.Kind == "sent" })
	}, 2*time.Minute)
	t.Logf("sample user %s, instance %s", user, ref)
	step(t, ctx, "search the user", 20*time.Second,
		chromedp.Click(chromedp.CSS(`nav a[data-nav="users"]`)),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
		chromedp.SendKeys(chromedp.CSS("#user-id"), user+"\r"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#instances tr[data-instance=%q]`, ref))))
	screenshot(t, ctx, "user")
	step(t, ctx, "open the timeline", 20*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#instances tr[data-instance=%q] a[href^="#/instances/"]`, ref))),
		chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	waitFor(t, ctx, "a hold reset and a send in the timeline", `document.querySelector('ol.timeline li[data-kind="reset"]')?.textContent.includes('reset by') && document.querySelector('ol.timeline li[data-kind="sent"] .send')`, 20*time.Second)
	if got := value[string](t, ctx, `document.querySelector('ol.timeline li[data-kind="sent"] .send pre')?.textContent || ''`); !strings.Contains(got, "cart_url") {
		t.Errorf("the send's payload shows %q, want the cart reminder's fields", got)
	}
	if head := value[string](t, ctx, `document.getElementById('instance-head').innerText`); strings.Contains(head, "null") || strings.Contains(head, "undefined") {
		t.Errorf("the instance header shows a missing value:\n%s", head)
	}
	if trace := value[string](t, ctx, `document.getElementById('trace-link')?.href || ''`); trace != "" && !strings.HasPrefix(trace, "http://localhost:16686/trace/") {
		t.Errorf("trace link %q does not follow --trace-url", trace)
	}
	screenshot(t, ctx, "instance")

	// A hand-off: the WhatsApp conversation's sends and replies, then the
	// hand-off marked as one.
	_, handoff := d.findInstance(t, "HANDOFF", "whatsapp-two-way", func(es []entry) bool {
		return has(es, func(e entry) bool { return strings.HasPrefix(e.Reason, "handed off") }) &&
			has(es, func(e entry) bool { return e.Receipt != nil && e.Receipt.ReplyText != "" })
	}, 2*time.Minute)
	step(t, ctx, "open a hand-off's timeline", 20*time.Second,
		chromedp.Navigate(d.url+"/#/instances/"+handoff),
		chromedp.WaitVisible(chromedp.CSS(`ol.timeline li[data-kind="handoff"]`)))
	waitFor(t, ctx, "the reply shown before the hand-off", `[...document.querySelectorAll('ol.timeline li')].findIndex(li => li.dataset.kind === 'receipt' && /Receipt: replied "/.test(li.textContent)) >= 0 &&
		[...document.querySelectorAll('ol.timeline li')].findIndex(li => li.dataset.kind === 'receipt') < [...document.querySelectorAll('ol.timeline li')].findIndex(li => li.dataset.kind === 'handoff')`, 10*time.Second)
	screenshot(t, ctx, "handoff")

	// Every example's flowchart draws each of its steps and the trigger.
	for _, id := range examples {
		var v struct {
			Parsed struct {
				Steps []struct {
					ID string `json:"id"`
				} `json:"steps"`
			} `json:"parsed"`
		}
		if err := d.apiGet("/v1/journeys/"+id+"/versions/1", &v); err != nil {
			t.Fatal(err)
		}
		step(t, ctx, "open "+id, 20*time.Second,
			chromedp.Navigate(d.url+"/#/journeys/"+id),
			chromedp.WaitVisible(chromedp.CSS(`svg.flow g.node`)))
		for _, s := range v.Parsed.Steps {
			waitFor(t, ctx, id+": step "+s.ID+" drawn", fmt.Sprintf(`document.querySelector('svg.flow g.node[data-step=%q]')`, s.ID), 10*time.Second)
		}
		waitFor(t, ctx, id+": the trigger drawn", `document.querySelector('svg.flow g.node.k-trigger')`, 5*time.Second)
	}

	// A hidden tab polls nothing; shown again, it catches up at once.
	step(t, ctx, "back to the journeys", 20*time.Second,
		chromedp.Click(chromedp.CSS(`nav a[data-nav="journeys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#journeys tr[data-journey="abandoned-cart"]`)))
	value[bool](t, ctx, `(() => {
		window.__apiCalls = 0;
		const f = window.fetch;
		window.fetch = (...a) => { if (String(a[0]).startsWith('/v1/')) window.__apiCalls++; return f(...a); };
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__hidden === true });
		window.__hidden = true;
		document.dispatchEvent(new Event('visibilitychange'));
		return true;
	})()`)
	// No condition marks "nothing happened": watch for longer than the
	// list's 5 s refresh.
	hiddenFor := 7 * time.Second
	time.Sleep(hiddenFor)
	if n := value[int](t, ctx, `window.__apiCalls`); n != 0 {
		t.Errorf("a hidden tab called the API %d times in %s", n, hiddenFor)
	}
	value[bool](t, ctx, `(() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); return true; })()`)
	waitFor(t, ctx, "the shown tab refreshing at once", `window.__apiCalls > 0`, 2*time.Second)

	// Signing out forgets the token: the API is not called without one.
	step(t, ctx, "sign out", 10*time.Second, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	if tok := value[string](t, ctx, `sessionStorage.getItem('beckon.token') || ''`); tok != "" {
		t.Error("the token is still in sessionStorage after signing out")
	}

	// A link opened signed out asks for the token, then shows its page.
	step(t, ctx, "open a user's link signed out, and sign in", 30*time.Second,
		chromedp.Navigate(d.url+"/#/users/"+user),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), d.token+"\r"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#instances tr[data-instance=%q]`, ref))))
}

// clearField empties an input, as selecting its text and deleting it
// would.
func clearField(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	value[bool](t, ctx, fmt.Sprintf(`(() => { const f = document.getElementById(%q); f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, id))
}
