package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// journeysSettings are the flags of `beckon journeys validate`: the
// custom channels, the same setting `beckon topics` provisions them from.
var journeysSettings = func() []settings.Setting {
	i := slices.IndexFunc(topics.Settings, func(s settings.Setting) bool { return s.Flag == "channels" })
	return []settings.Setting{topics.Settings[i]}
}()

// journeys runs `beckon journeys validate FILE...`: it prints every problem
// of every file as FILE:LINE:COL: PATH: REASON and exits 1 if any file is
// invalid.
func (c *cli) journeys(args []string) int {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprint(c.stderr, "usage: beckon journeys validate [--channels a,b] FILE...\n")
		return 2
	}
	fs := flag.NewFlagSet("beckon journeys validate", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	v := settings.Bind(fs, c.getenv, journeysSettings)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(c.stderr, "usage: beckon journeys validate [--channels a,b] FILE...\n")
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
		def, err := journey.Parse(data)
		if err == nil {
			err = journey.Validate(def, channels)
		}
		var ve *journey.ValidationError
		switch {
		case err == nil:
			steps := "steps"
			if len(def.Steps) == 1 {
				steps = "step"
			}
			fmt.Fprintf(c.stdout, "%s: ok (journey %s, %d %s)\n", name, def.ID, len(def.Steps), steps)
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
