// Package api is Beckon's HTTP API: the server every route is mounted on
// (bearer-token authentication with read and write roles, request size
// limits, timeouts, JSON error bodies), the journey control plane routes,
// and a client for them.
//
// The server does not know what other routes do: instance timelines and
// journey metrics are plain http.Handlers built in their own packages and
// mounted with Server.Handle, which applies the same authentication,
// limits and error bodies to them. The contract is docs/openapi.yaml; a
// test checks the implementation against it.
package api
