package api

import "net/http"

// Me is who the request's token is: its name and its role. The console
// asks, to offer only the actions the role allows; the server checks the
// role on every route regardless.
type Me struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// me serves GET /v1/me.
func me(r *http.Request) (int, any, *Error) {
	t, _ := TokenFrom(r.Context())
	return http.StatusOK, Me{Name: t.Name, Role: t.Role.String()}, nil
}
