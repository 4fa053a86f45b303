package journey

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"

	"github.com/beckon-dev/beckon/pkg/records"
)

// ErrInvalidJourney is what every parse and validation error is (errors.Is).
var ErrInvalidJourney = errors.New("invalid journey")

// DefaultChannels are the built-in channels. Deployments add custom ones.
var DefaultChannels = []string{"email", "sms", "push", "whatsapp", "inapp", "webhook"}

// ReceiptStatuses are the statuses a wait_receipt step can branch on.
var ReceiptStatuses = []string{
	string(records.ReceiptSent), string(records.ReceiptDelivered), string(records.ReceiptFailed),
	string(records.ReceiptOpened), string(records.ReceiptClicked), string(records.ReceiptReplied),
	string(records.ReceiptUnsubscribed),
}

// ExitTarget is the reserved step target that ends the instance: next,
// else, on_timeout and the like may always name it.
const ExitTarget = "exit"

// FieldError is one problem with a definition.
type FieldError struct {
	// Path names the field, e.g. steps[2].send.channel (indexes from 0);
	// empty for problems with the document as a whole.
	Path string
	// Line and Column locate the field's value in the source, from 1; 0
	// when unknown (a definition that was not parsed, a missing field's
	// parent could not be found).
	Line, Column int
	Reason       string
}

func (e FieldError) String() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		if e.Path != "" {
			b.WriteString(" (")
		}
		fmt.Fprintf(&b, "line %d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ", col %d", e.Column)
		}
		if e.Path != "" {
			b.WriteString(")")
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ValidationError lists every problem found in a definition, in the order
// they appear in the source.
type ValidationError struct {
	Errors []FieldError
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidJourney) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidJourney }

// newValidationError sorts errs by position; those without one go last, in
// the order found.
func newValidationError(errs []FieldError) *ValidationError {
	line := func(e FieldError) int {
		if e.Line == 0 {
			return math.MaxInt
		}
		return e.Line
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(line(a), line(b)), cmp.Compare(a.Column, b.Column))
	})
	return &ValidationError{Errors: errs}
}

// ParseDuration parses a positive duration: Go's units (ns, us, ms, s, m,
// h) and d (24h) and w (7d), combined like "1d12h", "2w" or "90m".
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration (want e.g. 90s, 30m, 1h30m, 1d or 2w)", s)
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	for rest := s; rest != ""; {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, bad
		}
		rest = rest[len(m[0]):]
		var d time.Duration
		var err error
		switch unit := m[2]; unit {
		case "d", "w":
			d, err = time.ParseDuration(m[1] + "h")
			mult := time.Duration(24)
			if unit == "w" {
				mult = 24 * 7
			}
			if err == nil && d > maxDuration/mult {
				err = bad
			}
			d *= mult
		default:
			d, err = time.ParseDuration(m[1] + unit)
		}
		if err != nil || d > maxDuration-total {
			return 0, bad
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return total, nil
}

const maxDuration = time.Duration(1<<63 - 1)

var durationPart = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d|w)`)

var (
	journeyID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	stepID    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	varName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Validate checks a definition against the format's rules and reports
// every problem as a *ValidationError. channels are the deployment's
// channel names (DefaultChannels when nil).
func Validate(def *Definition, channels []string) error {
	c := check(def, channels)
	if len(c.errs) > 0 {
		return newValidationError(c.errs)
	}
	return nil
}

// checker walks a definition, collecting problems and, for Compile, the
// compiled expressions and parsed durations.
type checker struct {
	def      *Definition
	channels []string
	errs     []FieldError
	exprs    map[string]*Expr
	exprErrs map[string]error
	durs     map[string]time.Duration
	steps    map[string]int
	// brokenRefs is set when a reference names no step.
	brokenRefs bool
}

func check(def *Definition, channels []string) *checker {
	if channels == nil {
		channels = DefaultChannels
	}
	c := &checker{
		def:      def,
		channels: channels,
		exprs:    map[string]*Expr{},
		exprErrs: map[string]error{},
		durs:     map[string]time.Duration{},
		steps:    map[string]int{},
	}
	if def == nil {
		c.errs = append(c.errs, FieldError{Reason: "no definition"})
		return c
	}
	c.top()
	c.trigger()
	c.stateRules()
	c.exitRules()
	c.goal()
	c.policies()
	c.stepList()
	if len(def.Steps) > 0 {
		c.graph()
	}
	return c
}

func (c *checker) fail(path, format string, args ...any) {
	p := c.def.pos.at(path)
	c.errs = append(c.errs, FieldError{Path: path, Line: p.line, Column: p.col, Reason: fmt.Sprintf(format, args...)})
}

func (c *checker) required(path, value string) bool {
	if value == "" {
		c.fail(path, "required")
		return false
	}
	return true
}

// duration checks an optional duration.
func (c *checker) duration(path, s string) {
	if s == "" {
		return
	}
	d, err := ParseDuration(s)
	if err != nil {
		c.fail(path, "%v", err)
		return
	}
	c.durs[s] = d
}

// want is the type an expression must have where the format knows it.
type want int

const (
	wantAny    want = iota
	wantBool        // conditions
	wantKey         // entry and item keys: a string or a number
	wantNumber      // quantities
	wantTime        // delay until: a timestamp, RFC 3339 string or Unix seconds
	wantString      // locales
)

var wantNames = map[want]string{
	wantBool: "a bool", wantKey: "a string or a number", wantNumber: "a number",
	wantTime: "a timestamp, an RFC 3339 string or Unix seconds", wantString: "a string",
}

// allows says whether an expression whose checked type has kind k can
// give what w needs. Dynamic types are only known when evaluated.
func (w want) allows(k types.Kind) bool {
	switch k {
	case types.DynKind, types.AnyKind, types.TypeParamKind, types.ErrorKind:
		return true
	}
	number := k == types.IntKind || k == types.UintKind || k == types.DoubleKind
	switch w {
	case wantBool:
		return k == types.BoolKind
	case wantKey:
		return k == types.StringKind || number
	case wantNumber:
		return number
	case wantTime:
		return k == types.TimestampKind || k == types.StringKind || number
	case wantString:
		return k == types.StringKind
	}
	return true
}

// Where an expression is evaluated decides which variables it may use.
var (
	// The trigger runs before any instance exists: no state, no receipt.
	atTrigger = []string{varState, varReceipt}
	// The audience is about the user, not the event.
	atAudience = []string{varEvent, varState, varReceipt}
)

// expr checks an optional CEL expression.
func (c *checker) expr(path, src string, w want, unavailable []string) {
	if src == "" {
		return
	}
	e, ok := c.exprs[src]
	if !ok {
		err, seen := c.exprErrs[src]
		if !seen {
			e, err = CompileExpr(src)
			if err != nil {
				c.exprErrs[src] = err
			} else {
				c.exprs[src] = e
			}
		}
		if err != nil {
			c.fail(path, "%v", err)
			return
		}
	}
	if !w.allows(e.out.Kind()) {
		c.fail(path, "the expression gives %s, want %s", e.out, wantNames[w])
	}
	for _, v := range e.vars {
		if slices.Contains(unavailable, v) {
			c.fail(path, "%s is not available here", v)
		}
	}
}

var (
	lookupName  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	lookupTable = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

func (c *checker) enum(path, value string, allowed ...string) {
	if value != "" && !slices.Contains(allowed, value) {
		c.fail(path, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func (c *checker) channel(path, name string) {
	if name == "" || slices.Contains(c.channels, name) {
		return
	}
	c.fail(path, "unknown channel %q; %s", name, suggestOne(name, c.channels, "configured channels are"))
}

// suggestOne says which of names s probably meant, or lists them after
// list.
func suggestOne(s string, names []string, list string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein(s, n); d < bestDist && d < max(len(n), len(s))/2+1 {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(names) > 12 {
		names = append(slices.Clone(names[:12]), "...")
	}
	return list + " " + strings.Join(names, ", ")
}

func (c *checker) top() {
	if c.required("id", c.def.ID) && !journeyID.MatchString(c.def.ID) {
		c.fail("id", "%q: want lowercase letters, digits and dashes (not first or last), at most 64", c.def.ID)
	}
}

func (c *checker) trigger() {
	t := &c.def.Trigger
	c.required("trigger.event", t.Event)
	c.expr("trigger.when", t.When, wantBool, atTrigger)
	c.expr("trigger.audience", t.Audience, wantBool, atAudience)
	c.expr("trigger.key", t.Key, wantKey, atTrigger)
	c.enum("trigger.reentry", t.Reentry, ReentryAlways, ReentryOnce, ReentryOncePerSession, ReentryCooldown)
	switch {
	case t.Reentry == ReentryCooldown && t.Cooldown == "":
		c.fail("trigger.cooldown", "required with reentry cooldown")
	case t.Reentry != ReentryCooldown && t.Cooldown != "":
		c.fail("trigger.cooldown", "only applies with reentry cooldown")
	}
	c.duration("trigger.cooldown", t.Cooldown)
	if t.MaxInstances < 0 {
		c.fail("trigger.max_instances", "must not be negative")
	}
}

func (c *checker) stateRules() {
	for i, r := range c.def.State {
		path := fmt.Sprintf("state[%d]", i)
		c.required(path+".on", r.On)
		c.expr(path+".when", r.When, wantBool, nil)
		if r.AddItem == nil && r.RemoveItem == nil && len(r.Set) == 0 && len(r.Increment) == 0 && !r.ClearItems {
			c.fail(path, "does nothing: want add_item, remove_item, set, increment or clear_items")
		}
		if it := r.AddItem; it != nil {
			c.required(path+".add_item.key", it.Key)
			c.expr(path+".add_item.key", it.Key, wantKey, nil)
			c.expr(path+".add_item.value", it.Value, wantAny, nil)
			c.expr(path+".add_item.quantity", it.Quantity, wantNumber, nil)
		}
		if it := r.RemoveItem; it != nil {
			c.required(path+".remove_item.key", it.Key)
			c.expr(path+".remove_item.key", it.Key, wantKey, nil)
			if it.Value != "" {
				c.fail(path+".remove_item.value", "only add_item has a value")
			}
			c.expr(path+".remove_item.quantity", it.Quantity, wantNumber, nil)
		}
		for _, name := range slices.Sorted(maps.Keys(r.Set)) {
			p := keyPath(path+".set", name)
			c.stateName(p, name)
			if c.required(p, r.Set[name]) {
				c.expr(p, r.Set[name], wantAny, nil)
			}
		}
		for j, name := range r.Increment {
			c.stateName(fmt.Sprintf("%s.increment[%d]", path, j), name)
		}
	}
}

// reservedState are the names the engine itself gives in state, beside
// the values and counters of state rules.
var reservedState = []string{"items", "entry_key", "entered_at", "step"}

// stateName checks the name of a state value or counter: state.NAME in
// CEL.
func (c *checker) stateName(path, name string) {
	switch {
	case !varName.MatchString(name):
		c.fail(path, "%q: want a name of letters, digits and underscores, not starting with a digit", name)
	case slices.Contains(reservedState, name):
		c.fail(path, "%q is reserved: state.%s is the instance's own", name, name)
	}
}

func (c *checker) exitRules() {
	for i, r := range c.def.Exit {
		path := fmt.Sprintf("exit[%d]", i)
		c.required(path+".event", r.Event)
		c.expr(path+".when", r.When, wantBool, nil)
	}
}

func (c *checker) goal() {
	g := c.def.Goal
	if g == nil {
		return
	}
	c.required("goal.event", g.Event)
	c.expr("goal.when", g.When, wantBool, nil)
	c.duration("goal.within", g.Within)
}

func (c *checker) policies() {
	p := &c.def.Policies
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
			c.fail("policies.time_zone", "%q is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)", p.TimeZone)
		}
	}
	c.window("policies.quiet_hours", p.QuietHours)
	c.window("policies.business_hours", p.BusinessHours)
	for i, fc := range p.FrequencyCaps {
		path := fmt.Sprintf("policies.frequency_caps[%d]", i)
		if c.required(path+".channel", fc.Channel) {
			c.channel(path+".channel", fc.Channel)
		}
		if fc.Max < 1 {
			c.fail(path+".max", "must be at least 1")
		}
		if c.required(path+".per", fc.Per) {
			c.duration(path+".per", fc.Per)
		}
		c.enum(path+".action", fc.Action, ActionSkip, ActionDelay)
	}
	if pp := p.Paused; pp != nil {
		if c.required("policies.paused.action", pp.Action) {
			c.enum("policies.paused.action", pp.Action, PausedSendLate, PausedSkip)
		}
		if pp.MaxLateness != "" && pp.Action == PausedSkip {
			c.fail("policies.paused.max_lateness", "only applies to action send_late")
		}
		c.duration("policies.paused.max_lateness", pp.MaxLateness)
	}
	if p.MaxEventsPerMinute < 0 {
		c.fail("policies.max_events_per_minute", "must not be negative")
	}
}

func (c *checker) window(path string, w *Window) {
	if w == nil {
		return
	}
	var from, to Clock
	var errFrom, errTo error
	if c.required(path+".from", w.From) {
		if from, errFrom = ParseClock(w.From); errFrom != nil {
			c.fail(path+".from", "%v", errFrom)
		}
	}
	if c.required(path+".to", w.To) {
		if to, errTo = ParseClock(w.To); errTo != nil {
			c.fail(path+".to", "%v", errTo)
		}
	}
	if w.From != "" && w.To != "" && errFrom == nil && errTo == nil && from == to {
		c.fail(path+".to", "equals from: the window would be empty")
	}
	for i, d := range w.Days {
		if _, err := ParseWeekday(d); err != nil {
			c.fail(fmt.Sprintf("%s.days[%d]", path, i), "%v", err)
		}
	}
	c.enum(path+".action", w.Action, ActionDelay, ActionSkip)
}

// kinds names the kinds set on a step, in the format's order.
func kinds(s *Step) []string {
	var out []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"delay", s.Delay != nil}, {"hold", s.Hold != nil}, {"branch", s.Branch != nil},
		{"split", s.Split != nil}, {"send", s.Send != nil}, {"wait_receipt", s.WaitReceipt != nil},
		{"handoff", s.Handoff != nil}, {"exit", s.Exit != nil},
	} {
		if k.set {
			out = append(out, k.name)
		}
	}
	return out
}

func (c *checker) stepList() {
	if len(c.def.Steps) == 0 {
		c.fail("steps", "required: at least one step")
		return
	}
	for i, s := range c.def.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		if !c.required(path+".id", s.ID) {
			continue
		}
		switch first, dup := c.steps[s.ID]; {
		case s.ID == ExitTarget:
			c.fail(path+".id", "exit is reserved: next: exit ends the instance")
		case !stepID.MatchString(s.ID):
			c.fail(path+".id", "%q: want letters, digits, '_' and '-', at most 64", s.ID)
		case dup:
			c.fail(path+".id", "duplicate step id %q (first at steps[%d])", s.ID, first)
		default:
			c.steps[s.ID] = i
		}
	}
	for i := range c.def.Steps {
		c.step(i)
	}
}

// ref checks a reference to a step; required says it may not be empty.
func (c *checker) ref(path, target string, required bool) {
	if target == "" {
		if required {
			c.fail(path, "required")
		}
		return
	}
	if target == ExitTarget {
		return
	}
	if _, ok := c.steps[target]; !ok {
		c.fail(path, "unknown step %q; %s", target, suggestOne(target, c.stepIDs(), "steps are"))
		c.brokenRefs = true
	}
}

func (c *checker) stepIDs() []string {
	ids := make([]string, 0, len(c.def.Steps))
	for i, s := range c.def.Steps {
		if j, ok := c.steps[s.ID]; ok && j == i {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func (c *checker) step(i int) {
	s := &c.def.Steps[i]
	path := fmt.Sprintf("steps[%d]", i)
	switch ks := kinds(s); len(ks) {
	case 0:
		c.fail(path, "no step kind: want one of delay, hold, branch, split, send, wait_receipt, handoff or exit")
	case 1:
	default:
		c.fail(path, "several step kinds (%s): want exactly one", strings.Join(ks, ", "))
	}
	switch {
	case s.Next != "" && s.Split != nil:
		c.fail(path+".next", "a split has no next: each path names its own")
	case s.Next != "" && s.Exit != nil:
		c.fail(path+".next", "an exit step has no next")
	case s.Next != "" && s.Branch != nil && s.Branch.Else != "":
		c.fail(path+".next", "never taken: the branch has an else")
	default:
		c.ref(path+".next", s.Next, false)
	}
	if d := s.Delay; d != nil {
		p := path + ".delay"
		switch {
		case d.For == "" && d.AtTime == "" && d.Until == "":
			c.fail(p, "want for, at_time or until")
		case d.Until != "" && (d.For != "" || d.AtTime != ""):
			c.fail(p+".until", "until stands alone: not with for or at_time")
		}
		c.duration(p+".for", d.For)
		if d.AtTime != "" {
			if _, err := ParseClock(d.AtTime); err != nil {
				c.fail(p+".at_time", "%v", err)
			}
		}
		c.expr(p+".until", d.Until, wantTime, nil)
	}
	if h := s.Hold; h != nil {
		p := path + ".hold"
		if h.Event == "" {
			if h.When != "" {
				c.fail(p+".when", "needs event")
			}
			if h.OnEvent != "" {
				c.fail(p+".on_event", "needs event")
			}
		}
		c.expr(p+".when", h.When, wantBool, nil)
		if c.required(p+".timeout", h.Timeout) {
			c.duration(p+".timeout", h.Timeout)
		}
		for j, e := range h.ResetOn {
			if e == "" {
				c.fail(fmt.Sprintf("%s.reset_on[%d]", p, j), "empty event name")
			}
		}
		if h.MaxResets < 0 {
			c.fail(p+".max_resets", "must not be negative")
		}
		c.ref(p+".on_event", h.OnEvent, false)
		c.ref(p+".on_timeout", h.OnTimeout, false)
	}
	if b := s.Branch; b != nil {
		p := path + ".branch"
		if len(b.Cases) == 0 {
			c.fail(p+".cases", "required: at least one case")
		}
		for j, cs := range b.Cases {
			cp := fmt.Sprintf("%s.cases[%d]", p, j)
			if c.required(cp+".when", cs.When) {
				c.expr(cp+".when", cs.When, wantBool, nil)
			}
			c.ref(cp+".next", cs.Next, true)
		}
		c.ref(p+".else", b.Else, false)
	}
	if sp := s.Split; sp != nil {
		p := path + ".split"
		if len(sp.Paths) == 0 {
			c.fail(p+".paths", "required: at least one path")
		}
		names := map[string]bool{}
		for j, pt := range sp.Paths {
			pp := fmt.Sprintf("%s.paths[%d]", p, j)
			if c.required(pp+".name", pt.Name) {
				if names[pt.Name] {
					c.fail(pp+".name", "duplicate path name %q", pt.Name)
				}
				names[pt.Name] = true
			}
			if pt.Weight == 0 {
				c.fail(pp+".weight", "required: a whole number from 1 to 1000000")
			} else if pt.Weight < 1 || pt.Weight > 1_000_000 {
				c.fail(pp+".weight", "want 1 to 1000000, got %d", pt.Weight)
			}
			c.ref(pp+".next", pt.Next, true)
		}
		if sp.Holdout < 0 || sp.Holdout > 100 {
			c.fail(p+".holdout", "want a percentage, 0 to 100, got %d", sp.Holdout)
		}
	}
	if sd := s.Send; sd != nil {
		p := path + ".send"
		if c.required(p+".channel", sd.Channel) {
			c.channel(p+".channel", sd.Channel)
		}
		c.required(p+".template", sd.Template)
		c.expr(p+".locale", sd.Locale, wantString, nil)
		for _, k := range slices.Sorted(maps.Keys(sd.Payload)) {
			kp := keyPath(p+".payload", k)
			if k == "" {
				c.fail(kp, "empty field name")
			}
			if c.required(kp, sd.Payload[k]) {
				c.expr(kp, sd.Payload[k], wantAny, nil)
			}
		}
		c.duration(p+".deadline", sd.Deadline)
		names := map[string]bool{}
		for i, lk := range sd.Lookups {
			lp := fmt.Sprintf("%s.lookups[%d]", p, i)
			if c.required(lp+".name", lk.Name) {
				if !lookupName.MatchString(lk.Name) {
					c.fail(lp+".name", "%q: want lowercase letters, digits and underscores, not first a digit", lk.Name)
				} else if names[lk.Name] {
					c.fail(lp+".name", "duplicate lookup name %q", lk.Name)
				}
				names[lk.Name] = true
			}
			if c.required(lp+".table", lk.Table) && !lookupTable.MatchString(lk.Table) {
				c.fail(lp+".table", "%q: want the <table> of a lookups.<table> topic (lowercase letters, digits, '_' or '-')", lk.Table)
			}
			switch {
			case lk.Key == "" && lk.Keys == "":
				c.fail(lp, "want key (one row) or keys (a list of rows)")
			case lk.Key != "" && lk.Keys != "":
				c.fail(lp, "key and keys both set: want one")
			}
			c.expr(lp+".key", lk.Key, wantAny, nil)
			c.expr(lp+".keys", lk.Keys, wantAny, nil)
		}
		c.enum(p+".missing", sd.Missing, MissingSend, MissingWait, MissingSkip)
		if sd.MaxWait != "" && sd.Missing != MissingWait {
			c.fail(p+".max_wait", "only applies with missing: wait")
		}
		c.duration(p+".max_wait", sd.MaxWait)
	}
	if w := s.WaitReceipt; w != nil {
		p := path + ".wait_receipt"
		if c.required(p+".of", w.Of) {
			if j, ok := c.steps[w.Of]; !ok {
				c.fail(p+".of", "unknown step %q; %s", w.Of, suggestOne(w.Of, c.stepIDs(), "steps are"))
			} else if c.def.Steps[j].Send == nil {
				c.fail(p+".of", "step %q is not a send step", w.Of)
			}
		}
		if c.required(p+".timeout", w.Timeout) {
			c.duration(p+".timeout", w.Timeout)
		}
		for _, status := range slices.Sorted(maps.Keys(w.On)) {
			kp := keyPath(p+".on", status)
			if !slices.Contains(ReceiptStatuses, status) {
				c.fail(kp, "%q is not a receipt status (want %s)", status, strings.Join(ReceiptStatuses, ", "))
			}
			c.ref(kp, w.On[status], true)
		}
		for j, r := range w.Replies {
			rp := fmt.Sprintf("%s.replies[%d]", p, j)
			if c.required(rp+".when", r.When) {
				c.expr(rp+".when", r.When, wantBool, nil)
			}
			c.ref(rp+".next", r.Next, true)
		}
		c.ref(p+".on_timeout", w.OnTimeout, false)
	}
	if h := s.Handoff; h != nil {
		c.channel(path+".handoff.channel", h.Channel)
	}
}

// targets lists the steps step i can go to ("exit" included): its explicit
// targets and, but for a split or an exit step, the step that follows it
// by default (a branch's else, else its next).
func targets(def *Definition, i int) []string {
	s := &def.Steps[i]
	var out []string
	switch {
	case s.Split != nil:
		for _, p := range s.Split.Paths {
			out = append(out, p.Next)
		}
		return out
	case s.Exit != nil:
		return nil
	case s.Branch != nil:
		for _, cs := range s.Branch.Cases {
			out = append(out, cs.Next)
		}
		if s.Branch.Else != "" {
			return append(out, s.Branch.Else)
		}
	case s.Hold != nil:
		out = append(out, s.Hold.OnEvent, s.Hold.OnTimeout)
	case s.WaitReceipt != nil:
		for _, status := range slices.Sorted(maps.Keys(s.WaitReceipt.On)) {
			out = append(out, s.WaitReceipt.On[status])
		}
		for _, r := range s.WaitReceipt.Replies {
			out = append(out, r.Next)
		}
		out = append(out, s.WaitReceipt.OnTimeout)
	}
	return append(out, nextOf(def, i))
}

// nextOf is the step after step i: its next, else the next in the list,
// else exit.
func nextOf(def *Definition, i int) string {
	if i < 0 || i >= len(def.Steps) {
		return ExitTarget
	}
	if n := def.Steps[i].Next; n != "" {
		return n
	}
	if i+1 < len(def.Steps) {
		return def.Steps[i+1].ID
	}
	return ExitTarget
}

// waits says whether a step stops the instance until time passes or
// something arrives.
func waits(s *Step) bool { return s.Delay != nil || s.Hold != nil || s.WaitReceipt != nil }

// graph finds steps no path reaches and loops that never wait.
func (c *checker) graph() {
	n := len(c.def.Steps)
	adj := make([][]int, n)
	for i := range n {
		for _, t := range targets(c.def, i) {
			if j, ok := c.steps[t]; ok && !slices.Contains(adj[i], j) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	seen := make([]bool, n)
	seen[0] = true
	for queue := []int{0}; len(queue) > 0; queue = queue[1:] {
		for _, j := range adj[queue[0]] {
			if !seen[j] {
				seen[j] = true
				queue = append(queue, j)
			}
		}
	}
	// A step that a broken reference meant to reach, or one without a
	// usable ID, would be reported twice.
	if !c.brokenRefs {
		for i, ok := range seen {
			if j, named := c.steps[c.def.Steps[i].ID]; !ok && named && j == i {
				c.fail(fmt.Sprintf("steps[%d]", i), "step %q is unreachable from the first step", c.def.Steps[i].ID)
			}
		}
	}
	for _, scc := range components(adj) {
		if len(scc) == 1 && !slices.Contains(adj[scc[0]], scc[0]) {
			continue
		}
		if slices.ContainsFunc(scc, func(i int) bool { return waits(&c.def.Steps[i]) }) {
			continue
		}
		slices.Sort(scc)
		ids := make([]string, len(scc))
		for k, i := range scc {
			ids[k] = strconv.Quote(c.def.Steps[i].ID)
		}
		c.fail(fmt.Sprintf("steps[%d]", scc[0]), "loop with no wait: steps %s can repeat forever at once; put a delay, hold or wait_receipt in it", strings.Join(ids, ", "))
	}
}

// components returns the strongly connected components of a graph
// (Tarjan's algorithm, iterative so that no definition can overflow the
// stack).
func components(adj [][]int) [][]int {
	n := len(adj)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	type frame struct{ v, edge int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.edge < len(adj[f.v]) {
				w := adj[f.v][f.edge]
				f.edge++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var scc []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					scc = append(scc, w)
					if w == v {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}
