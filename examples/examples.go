// Package examples holds Beckon's example journeys (journeys/*.yaml), the
// ones `beckon dev` publishes and the engine's scenario tests run.
package examples

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed journeys/*.yaml
var files embed.FS

// Journey is one example definition.
type Journey struct {
	Name string // file name without .yaml
	YAML []byte
}

// Journeys returns every example, by name.
func Journeys() ([]Journey, error) {
	names, err := fs.Glob(files, "journeys/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Journey, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Journey{Name: path.Base(n)[:len(path.Base(n))-len(".yaml")], YAML: b})
	}
	return out, nil
}
