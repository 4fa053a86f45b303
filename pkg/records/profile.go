package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// ConsentStatus says whether a user agreed to receive messages on a channel.
type ConsentStatus string

// Consent statuses, the symbols of the Avro enum dev.beckon.ConsentStatus.
const (
	ConsentUnknown      ConsentStatus = "unknown"
	ConsentSubscribed   ConsentStatus = "subscribed"
	ConsentUnsubscribed ConsentStatus = "unsubscribed"
)

// Profile is the latest known profile of a user (dev.beckon.Profile), read
// from the compacted profiles topic keyed by UserID.
type Profile struct {
	UserID    string             // the user; the record key
	Traits    JSON               // free-form traits (object)
	Addresses Addresses          // where the user can be reached
	TimeZone  string             // IANA zone name, e.g. "Europe/Paris"; optional
	Locale    string             // BCP 47 tag, e.g. "fr-FR"; optional
	Consent   map[string]Consent // consent per channel name; missing means unknown
	UpdatedAt time.Time          // when the warehouse last changed the profile
}

// Addresses says where a user can be reached, per channel. Empty means the
// channel cannot reach the user.
type Addresses struct {
	Email      string            // RFC 5322 address; optional
	Phone      string            // E.164 number for SMS; optional
	PushTokens []PushToken       // push registrations, one per device
	WhatsApp   string            // E.164 number; optional
	Custom     map[string]string // addresses on custom channels, by channel name
}

// PushToken is one device registration for push notifications.
type PushToken struct {
	Token    string // provider-issued device token
	Platform string // "ios", "android" or "web"
}

// Consent is a user's subscription state on one channel.
type Consent struct {
	Status    ConsentStatus
	UpdatedAt time.Time // when Status last changed
}

// AvroName returns "dev.beckon.Profile".
func (Profile) AvroName() string { return schemas.Profile }

// Key returns the user ID.
func (p Profile) Key() string { return p.UserID }

// ConsentFor returns the user's consent status on channel, ConsentUnknown when
// the profile says nothing about it.
func (p Profile) ConsentFor(channel string) ConsentStatus {
	c, ok := p.Consent[channel]
	if !ok || c.Status == "" {
		return ConsentUnknown
	}
	return c.Status
}
