package webhook

import "net/url"

// loggedURL is the endpoint as logs show it: without the user
// information and the query, where endpoints commonly take tokens.
func loggedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	u.Fragment = ""
	return u.String()
}
