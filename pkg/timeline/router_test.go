package timeline_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

func TestRef(t *testing.T) {
	for _, user := range []string{"u1", "user with spaces/and.dots", "é"} {
		u, inst, err := timeline.ParseRef(timeline.Ref(user, "abc.def"))
		if err != nil || u != user || inst != "abc.def" {
			t.Errorf("%q: %q %q %v", user, u, inst, err)
		}
	}
	for _, bad := range []string{"", "nodot", ".inst", "dTE.", "!!.inst"} {
		if _, _, err := timeline.ParseRef(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMemberData(t *testing.T) {
	if addr, ok := timeline.ParseMemberData(timeline.MemberData("10.0.0.1:8090")); !ok || addr != "10.0.0.1:8090" {
		t.Errorf("%q %v", addr, ok)
	}
	for _, b := range [][]byte{nil, []byte("x"), []byte(`{}`)} {
		if _, ok := timeline.ParseMemberData(b); ok {
			t.Errorf("%q parsed", b)
		}
	}
}

// TestRouterNoEngines: with no engine in the group, a query is a 503
// with Retry-After and a JSON error, never an empty answer.
func TestRouterNoEngines(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Prefix(t) + "events"
	kafkatest.CreateTopics(t, brokers, 3, topic)
	rt, err := timeline.NewRouter(timeline.RouterConfig{Admin: kadm.NewClient(kafkatest.Client(t, brokers)), Group: kafkatest.Prefix(t) + "engine", Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rt.Mount(func(method, pattern string, h http.Handler) { mux.Handle(method+" "+pattern, h) })
	for path, want := range map[string]int{
		"/v1/users/u1/instances":                   http.StatusServiceUnavailable,
		"/v1/instances/" + timeline.Ref("u1", "i"): http.StatusServiceUnavailable,
		"/v1/instances/garbage":                    http.StatusBadRequest,
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body timeline.ErrorBody
		if rec.Code != want || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Message == "" {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
		if want == http.StatusServiceUnavailable && (rec.Header().Get("Retry-After") == "" || body.Error.Code != "unavailable") {
			t.Errorf("%s: 503 without Retry-After: %s", path, rec.Body)
		}
	}
}
