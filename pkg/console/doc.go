// Package console is Beckon's web console: plain HTML, CSS and JavaScript
// modules embedded in the binary, served by the api service at / beside
// the API it calls (same origin, same bearer tokens). It lists journeys
// with their counts and the actions the token's role allows, draws a
// journey as a flowchart with live counts per step, edits and validates
// drafts and simulates them, and shows any user's instances and an
// instance's timeline.
//
// It is not an API of its own: its files hold no data and need no token;
// everything it shows comes from the documented /v1 routes with the token
// the user signs in with. It has no build step and needs no Node.js.
package console
