// Package console is the end-to-end test of Beckon's web console: it
// builds and starts `beckon dev` on free ports, drives headless Chromium
// (Debian's chromium package) through the console with chromedp, and
// saves a screenshot of each page to docs/console.
//
// It is its own module, so that chromedp stays out of the product's
// go.mod; it drives Beckon as a subprocess and imports nothing of it.
// Run it with `go run github.com/go-task/task/v3/cmd/task@v3.53.1
// test:console` (which installs Chromium when it is missing), or from
// this directory with `GOWORK=off go test -count=1 .`.
package console
