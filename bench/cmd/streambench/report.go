package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// results are the figures of a run, filled as the suites go.
type results struct {
	pipelines []*pipelineResult
	paceRate  float64
	restore   *restoreResult
	timers    *timerResult
}

func (b *benchRun) pipeline(name string) *pipelineResult {
	for _, r := range b.results.pipelines {
		if r.name == name && r.rate > 0 {
			return r
		}
	}
	return nil
}

// report renders the results as markdown.
func (b *benchRun) report() string {
	var s strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&s, format, a...) }
	c := b.c
	p("\n## Stream runtime (`pkg/stream`)\n\n")
	p("```sh\n%s\n```\n\n", commandLine())
	p("Run %s on %s: %s, %d CPUs, Go %s %s/%s, GOMAXPROCS %d; load average %s at the start, %s at the end; %v in all.\n",
		b.started.UTC().Format("2006-01-02 15:04 MST"), b.broker, cpuModel(), runtime.NumCPU(), strings.TrimPrefix(runtime.Version(), "go"),
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), b.load0, loadAvg(), time.Since(b.started).Round(time.Second))

	if len(b.results.pipelines) > 0 {
		p("\n### Throughput: %d events over %d users, %d partitions\n\n", c.events, c.users, c.partitions)
		p("Events pre-produced; each pipeline runs in its own process, timed from Ready until its last output is visible to a read_committed consumer. %d rounds, the pipelines alternating; the median round is shown, every round's rate in the last column. Outputs are checked across all rounds.\n\n", c.rounds)
		p("| pipeline | guarantee | events/s | × pipe | time | outputs | peak RSS | CPU | rounds (events/s) |\n|---|---|---:|---:|---:|---|---:|---:|---|\n")
		pipe := b.pipeline("pipe")
		for _, r := range b.results.pipelines {
			if r.err != nil && r.rate == 0 {
				p("| %s | %s | failed: %v | | | | | | |\n", r.name, r.guarantee, r.err)
				continue
			}
			ratio := "-"
			if pipe != nil && pipe.rate > 0 {
				ratio = fmt.Sprintf("%.2f", r.rate/pipe.rate)
			}
			var rounds []string
			for _, x := range r.rates {
				rounds = append(rounds, fmt.Sprintf("%.0f", x))
			}
			p("| %s | %s | %.0f | %s | %.2f s | %s | %s | %.1f s | %s |\n", r.name, r.guarantee, r.rate, ratio, r.took.Seconds(), r.check, mib(r.throughput.PeakRSS), r.throughput.CPU.Seconds(), strings.Join(rounds, ", "))
		}
		if st, gk := b.pipeline("stream"), b.pipeline("goka"); st != nil {
			if pipe != nil {
				p("\nRuntime / pipe: **%.2f**.", st.rate/pipe.rate)
			}
			if gk != nil {
				p(" Runtime / goka: **%.2f**.", st.rate/gk.rate)
			}
			if ks := b.pipeline("kstreams"); ks != nil {
				p(" Runtime / Kafka Streams: **%.2f**.", st.rate/ks.rate)
			}
			p("\n")
		}
		if b.results.paceRate > 0 {
			p("\n### Latency at %.0f events/s (half the runtime's throughput)\n\n", b.results.paceRate)
			p("A paced producer (no linger) stamps each event with its send time; a read_committed consumer takes the time its output arrives. %v paced per pipeline, the first %v left out.\n\n", c.latency, c.warmup)
			p("| pipeline | p50 | p99 | p99.9 | max | samples | outputs | peak RSS | CPU |\n|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
			for _, r := range b.results.pipelines {
				if r.latency.N == 0 {
					p("| %s | failed: %v | | | | | | | |\n", r.name, r.err)
					continue
				}
				p("| %s | %s | %s | %s | %s | %d | %s | %s | %.1f s |\n", r.name, ms(r.latency.P50), ms(r.latency.P99), ms(r.latency.P999), ms(r.latency.Max), r.latency.N, r.latCheck, mib(r.latencyUse.PeakRSS), r.latencyUse.CPU.Seconds())
			}
		}
	}

	if r := b.results.restore; r != nil {
		p("\n### Restore and state of %d keys\n\n", r.keys)
		p("The changelog is produced directly in the runtime's format (`'s'+key` → 8-byte counter, each key in its user's partition); a runner with an empty state directory starts, and the time runs from its start to `Ready()` (group join included).\n\n")
		p("| figure | value |\n|---|---:|\n")
		p("| changelog fill (producer) | %.1f s |\n", r.fill.Seconds())
		if r.took > 0 {
			p("| restore, start to Ready | %.2f s |\n| restore rate | **%.0f entries/s** |\n| RSS at Ready (peak until Ready) | %s (%s) |\n", r.took.Seconds(), r.rate, mib(r.rssReady), mib(r.hwmReady))
		}
		if r.eventsTook > 0 {
			p("| %d events against the %d keys | %.0f events/s, %s, %d without restored state |\n", r.events, r.keys, r.eventsRate, r.check, r.notRestored)
			p("| peak RSS (restore + events) | **%s** |\n", mib(r.use.PeakRSS))
		}
		if r.err != nil {
			p("| error | %v |\n", r.err)
		}
	}
	if r := b.results.timers; r != nil {
		p("\n### %d timers due over %v\n\n", r.timers, r.spread)
		p("The changelog holds the timers (`'d'+due+key` and `'k'+key`, %d entries); the runtime's clock (`Options.Clock`) shows the first due time the moment the runner is Ready and then runs at wall-clock speed, so the dues are spread over the %v after Ready. Lateness in the processor is the clock at the processor call minus the due time; visible is the time the output reached a read_committed consumer minus the due time.\n\n", 2*r.timers, r.spread)
		p("| figure | value |\n|---|---:|\n")
		p("| changelog fill (producer) | %.1f s |\n", r.fill.Seconds())
		if r.restore > 0 {
			p("| restore of %d entries, start to Ready | %.2f s (%.0f entries/s) |\n| RSS at Ready (peak until Ready) | %s (%s) |\n", 2*r.timers, r.restore.Seconds(), float64(2*r.timers)/r.restore.Seconds(), mib(r.rssReady), mib(r.hwmReady))
		}
		p("| fired | %d of %d, %d duplicates |\n", r.fired, r.timers, r.duplicates)
		p("| lateness in the processor p50 / p99 / max | %s / **%s** / %s |\n", ms(r.processor.P50), ms(r.processor.P99), ms(r.processor.Max))
		p("| lateness visible p50 / p99 / max | %s / %s / %s |\n", ms(r.visible.P50), ms(r.visible.P99), ms(r.visible.Max))
		if r.lastFired > 0 {
			p("| Ready to last timer output visible | %.1f s |\n", r.lastFired.Seconds())
		}
		p("| peak RSS | %s |\n", mib(r.use.PeakRSS))
		if r.err != nil {
			p("| error | %v |\n", r.err)
		}
	}
	p("%s", b.targets())
	return s.String()
}

// targets compares the figures with the targets.
func (b *benchRun) targets() string {
	var rows []string
	row := func(target, measured string, met bool) {
		verdict := "met"
		if !met {
			verdict = "**missed**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", target, measured, verdict))
	}
	st, pipe, gk := b.pipeline("stream"), b.pipeline("pipe"), b.pipeline("goka")
	if st != nil && pipe != nil {
		row("runtime ≥ 0.4 × pipe", fmt.Sprintf("%.2f ×", st.rate/pipe.rate), st.rate/pipe.rate >= 0.4)
	}
	if ks := b.pipeline("kstreams"); st != nil && ks != nil {
		row("runtime ≥ 1.5 × Kafka Streams (both exactly-once)", fmt.Sprintf("%.2f ×", st.rate/ks.rate), st.rate >= 1.5*ks.rate)
	}
	if st != nil && pipe != nil {
		row("runtime ≥ 0.75 × pipe", fmt.Sprintf("%.2f ×", st.rate/pipe.rate), st.rate >= 0.75*pipe.rate)
	}
	if st != nil && gk != nil {
		row("runtime faster than goka", fmt.Sprintf("%.2f ×", st.rate/gk.rate), st.rate > gk.rate)
	}
	if st != nil {
		row("runtime exactly-once", st.check.String()+"; latency run: "+st.latCheck.String(), st.check.exact() && st.latCheck.exact())
		if st.latency.N > 0 {
			row("p99 < 100 ms at half the maximum rate", ms(st.latency.P99), st.latency.P99 < 100*time.Millisecond)
		}
	}
	if r := b.results.restore; r != nil && r.took > 0 {
		row(fmt.Sprintf("restore ≥ 200k entries/s (%d keys)", r.keys), fmt.Sprintf("%.0f entries/s", r.rate), r.rate >= 200_000)
		if r.use.PeakRSS > 0 {
			row(fmt.Sprintf("RSS < 512 MiB with %d keys in state", r.keys), "peak "+mib(r.use.PeakRSS)+" (restore's peak "+mib(r.hwmReady)+", "+mib(r.rssReady)+" at Ready)", r.use.PeakRSS < 512<<20)
		}
	}
	if r := b.results.timers; r != nil && r.processor.N > 0 {
		row(fmt.Sprintf("timer lateness p99 < 1 s (%d timers over %v)", r.timers, r.spread), ms(r.processor.P99)+" (visible "+ms(r.visible.P99)+")", r.processor.P99 < time.Second)
		row("every timer fires exactly once", fmt.Sprintf("%d fired, %d missing, %d duplicates", r.fired, r.missing, r.duplicates), r.missing == 0 && r.duplicates == 0)
	}
	if len(rows) == 0 {
		return ""
	}
	return "\n### Targets\n\n| target | measured | |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func commandLine() string {
	args := append([]string{"go run ./bench/cmd/streambench"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
