package timeline

import "encoding/json"

// memberData is what an engine says about itself in its consumer group
// member metadata (ConsumerMemberMetadata.UserData): the address it
// answers timeline queries on. JSON, so that fields can be added and
// group tooling can show it.
type memberData struct {
	QueryAddr string `json:"query_addr"`
}

// MemberData encodes an engine's query address (host:port, or a URL with
// scheme http or https) for stream.Options.GroupUserData.
func MemberData(queryAddr string) []byte {
	b, _ := json.Marshal(memberData{QueryAddr: queryAddr})
	return b
}

// ParseMemberData returns the query address in a member's user data; ok
// false if it has none (another kind of member, an engine without one).
func ParseMemberData(b []byte) (queryAddr string, ok bool) {
	var m memberData
	if len(b) == 0 || json.Unmarshal(b, &m) != nil || m.QueryAddr == "" {
		return "", false
	}
	return m.QueryAddr, true
}
