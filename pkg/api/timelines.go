package api

import "net/http"

// TimelineRoutes mounts the instance timeline routes, GET
// /v1/users/{userId}/instances and GET /v1/instances/{instanceId};
// *timeline.Router is one (docs/api-timelines.md). It is an interface so
// that the api package does not depend on how timelines are found.
type TimelineRoutes interface {
	Mount(handle func(method, pattern string, h http.Handler))
}

// mountTimelines mounts t's routes with the read role: a timeline is
// read-only, and every route still authenticates.
func mountTimelines(s *Server, t TimelineRoutes) {
	t.Mount(func(method, pattern string, h http.Handler) { s.Handle(method, pattern, Read, h) })
}
