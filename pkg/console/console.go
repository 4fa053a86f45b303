package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/beckon-dev/beckon/schemas"
)

//go:embed assets
var assets embed.FS

// Options configures the console.
type Options struct {
	// TraceURL is a URL template for an instance's trace in the tracing
	// UI, {traceId} standing for the trace ID (hex), e.g.
	// http://localhost:16686/trace/{traceId} for Jaeger. Empty: the
	// console shows trace IDs without a link.
	TraceURL string
}

// CheckTraceURL reports whether a trace URL template is usable: an
// absolute http or https URL naming {traceId}.
func CheckTraceURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	if !strings.Contains(tmpl, "{traceId}") {
		return errors.New("the trace URL template does not contain {traceId}")
	}
	u, err := url.Parse(strings.ReplaceAll(tmpl, "{traceId}", "0"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the trace URL template is not an absolute http or https URL")
	}
	return nil
}

// contentSecurity keeps the console's pages to its own files: no inline
// script, no third-party origin, no framing. Data comes from the same
// origin's API.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console: index.html at / and its files under
// /console/, with the configuration at /console/config.json and the
// journey JSON Schema at /console/journey.schema.json.
func Handler(opts Options) (http.Handler, error) {
	if err := CheckTraceURL(opts.TraceURL); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(map[string]string{"traceUrl": opts.TraceURL})
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix("/console/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurity)
		// The files change with the binary, not while it runs; revalidating
		// keeps an upgraded console from mixing old and new modules.
		w.Header().Set("Cache-Control", "no-cache")
		switch r.URL.Path {
		case "/", "/console/", "/console/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(index)
		case "/console/journey.schema.json":
			w.Header().Set("Content-Type", "application/schema+json")
			w.Write(schemas.JourneySchema)
		case "/console/config.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(config)
		default:
			files.ServeHTTP(w, r)
		}
	}), nil
}

// Server is where the console is mounted: the api package's Server.
type Server interface {
	Static(pattern string, h http.Handler)
}

// Mount serves the console on s at / and /console/.
func Mount(s Server, opts Options) error {
	h, err := Handler(opts)
	if err != nil {
		return err
	}
	s.Static("GET /{$}", h)
	s.Static("GET /console/", h)
	return nil
}
