package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/records"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/topics"
)

const journeysUsage = `usage: beckon journeys validate [--channels a,b | --api URL] FILE...
       beckon journeys draft [flags] FILE...            save each file as its journey's draft (not run)
       beckon journeys publish [flags] FILE...          publish each file as its journey's next version, live
       beckon journeys publish --draft [flags] ID...    publish each journey's draft
       beckon journeys pause|resume|archive [flags] ID...
       beckon journeys simulate FILE --from TIME|DURATION [--to ...] [--users N] [--json]
                                                        run FILE on past traffic, sending nothing (docs/simulation.md)
With --api URL (or $BECKON_API_URL) and a token in $BECKON_API_TOKEN the
commands go through the Beckon API; otherwise they write Kafka directly.
`

// apiSettings point `beckon journeys` at a Beckon API instead of Kafka.
var apiSettings = []settings.Setting{
	{Flag: "api", Env: "BECKON_API_URL", Usage: "base URL of a Beckon API to use instead of Kafka, e.g. http://127.0.0.1:8080"},
	{Flag: "token", Env: "BECKON_API_TOKEN", Usage: "bearer token for --api (prefer the environment variable: flags show in process lists)"},
}

// apiClient returns the API client the flags describe, nil without --api.
func apiClient(v *settings.Values) *api.Client {
	if v.String("api") == "" {
		return nil
	}
	return &api.Client{URL: v.String("api"), Token: v.String("token")}
}

// journeyWriter changes journeys: engine.Control writes the journeys
// topic, api.Client asks the API to.
type journeyWriter interface {
	Draft(ctx context.Context, text []byte, format string) (int32, error)
	Publish(ctx context.Context, text []byte, format string) (int32, error)
	PublishDraft(ctx context.Context, id string) (int32, error)
	SetState(ctx context.Context, id string, state records.JourneyState) error
}

// journeysSettings are the flags of `beckon journeys validate`: the
// custom channels, the same setting `beckon topics` provisions them from.
var journeysSettings = func() []settings.Setting {
	i := slices.IndexFunc(topics.Settings, func(s settings.Setting) bool { return s.Flag == "channels" })
	return []settings.Setting{topics.Settings[i]}
}()

// journeys runs `beckon journeys validate FILE...`: it prints every problem
// of every file as FILE:LINE:COL: PATH: REASON and exits 1 if any file is
// invalid.
func (c *cli) journeys(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "simulate" {
		return c.journeysSimulate(ctx, args[1:])
	}
	if len(args) > 0 && slices.Contains([]string{"draft", "publish", "pause", "resume", "archive"}, args[0]) {
		return c.journeysControl(ctx, args[0], args[1:])
	}
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprint(c.stderr, journeysUsage)
		return 2
	}
	fs := flag.NewFlagSet("beckon journeys validate", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	v := settings.Bind(fs, c.getenv, journeysSettings)
	remote := apiClient(settings.Bind(fs, c.getenv, apiSettings))
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(c.stderr, "usage: beckon journeys validate [--channels a,b | --api URL] FILE...\n")
		return 2
	}
	channels := append(slices.Clone(journey.DefaultChannels), v.List("channels")...)
	code, invalid := 0, 0
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(c.stderr, "beckon journeys validate: %v\n", err)
			code = 2
			continue
		}
		var id string
		var steps int
		if remote != nil {
			var res api.Validation
			res, err = remote.Validate(ctx, data, formatOf(name))
			id, steps = res.JourneyID, res.Steps
		} else {
			var def *journey.Definition
			if def, err = journey.Parse(data); err == nil {
				err = journey.Validate(def, channels)
				id, steps = def.ID, len(def.Steps)
			}
		}
		var ve *journey.ValidationError
		switch {
		case err == nil:
			noun := "steps"
			if steps == 1 {
				noun = "step"
			}
			fmt.Fprintf(c.stdout, "%s: ok (journey %s, %d %s)\n", name, id, steps, noun)
			continue
		case !errors.As(err, &ve):
			fmt.Fprintf(c.stderr, "beckon journeys validate: %s: %v\n", name, err)
			code = 2
			continue
		}
		invalid++
		for _, fe := range ve.Errors {
			fmt.Fprintln(c.stdout, problemLine(name, fe))
		}
	}
	if invalid > 0 {
		fmt.Fprintf(c.stdout, "%d of %d files invalid\n", invalid, fs.NArg())
		code = max(code, 1)
	}
	return code
}

// problemLine formats a problem the way compilers do, so that editors and
// CI annotations can jump to it: FILE:LINE:COL: PATH: REASON, leaving out
// what is unknown.
func problemLine(file string, fe journey.FieldError) string {
	loc := file
	if fe.Line > 0 {
		loc += fmt.Sprintf(":%d", fe.Line)
		if fe.Column > 0 {
			loc += fmt.Sprintf(":%d", fe.Column)
		}
	}
	if fe.Path == "" {
		return fmt.Sprintf("%s: %s", loc, fe.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", loc, fe.Path, fe.Reason)
}

// journeysControl runs `beckon journeys publish|pause|resume|archive`: it
// writes the journeys topic of a running deployment, which every engine
// follows. The Kafka connection and topic layout flags are those of
// `beckon topics`.
func (c *cli) journeysControl(ctx context.Context, verb string, args []string) int {
	fs := flag.NewFlagSet("beckon journeys "+verb, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	remoteFlags := settings.Bind(fs, c.getenv, apiSettings)
	conn := kafkaconn.RegisterFlags(fs, c.getenv)
	layoutFlags := topics.RegisterFlags(fs, c.getenv)
	by := fs.String("by", c.getenv("USER"), "who publishes, recorded with the version")
	fromDraft := fs.Bool("draft", false, "publish: the arguments are journey IDs whose drafts to publish")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(c.stderr, journeysUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "beckon journeys %s: %v\n", verb, err)
		return 1
	}
	var control journeyWriter
	if remote := apiClient(remoteFlags); remote != nil {
		control = remote
	} else {
		kafka, err := kafkaControl(conn, layoutFlags, *by)
		if err != nil {
			return fail(err)
		}
		control = kafka
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	code := 0
	for _, arg := range fs.Args() {
		switch {
		case verb == "publish" && *fromDraft:
			v, err := control.PublishDraft(ctx, arg)
			if err != nil {
				code = fail(err)
				continue
			}
			fmt.Fprintf(c.stdout, "%s: draft published as version %d, live\n", arg, v)
		case verb == "publish" || verb == "draft":
			data, err := os.ReadFile(arg)
			if err != nil {
				code = fail(err)
				continue
			}
			save, what := control.Publish, "published as version %d, live"
			if verb == "draft" {
				save, what = control.Draft, "saved as draft version %d"
			}
			v, err := save(ctx, data, formatOf(arg))
			var ve *journey.ValidationError
			if errors.As(err, &ve) {
				for _, fe := range ve.Errors {
					fmt.Fprintln(c.stdout, problemLine(arg, fe))
				}
				code = 1
				continue
			}
			if err != nil {
				code = fail(fmt.Errorf("%s: %w", arg, err))
				continue
			}
			fmt.Fprintf(c.stdout, "%s: "+what+"\n", arg, v)
		default:
			state := map[string]records.JourneyState{"pause": records.JourneyPaused, "resume": records.JourneyLive, "archive": records.JourneyArchived}[verb]
			if err := control.SetState(ctx, arg, state); err != nil {
				code = fail(err)
				continue
			}
			fmt.Fprintf(c.stdout, "%s: %s\n", arg, state)
		}
	}
	return code
}

// formatOf is a definition file's format, by its extension.
func formatOf(name string) string {
	if strings.HasSuffix(name, ".json") {
		return records.FormatJSON
	}
	return records.FormatYAML
}

// kafkaControl is the writer of the journeys topic the connection and
// layout flags describe.
func kafkaControl(conn *kafkaconn.Flags, layoutFlags *topics.Flags, by string) (*engine.Control, error) {
	cfg, err := conn.Config()
	if err != nil {
		return nil, err
	}
	opts, err := layoutFlags.Options(cfg.TopicPrefix)
	if err != nil {
		return nil, err
	}
	kopts, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	cd, err := cfg.Codec()
	if err != nil {
		return nil, err
	}
	return &engine.Control{
		Kafka: kopts, Topic: cfg.Topic("journeys"), Codec: cd, By: by,
		Channels: append(slices.Clone(journey.DefaultChannels), opts.Channels...),
	}, nil
}
