package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func profileToNative(p *records.Profile) (map[string]any, error) {
	traits, err := jsonObject(schemas.Profile, "traits", p.Traits)
	if err != nil {
		return nil, err
	}
	tokens := make([]any, len(p.Addresses.PushTokens))
	for i, t := range p.Addresses.PushTokens {
		tokens[i] = map[string]any{"token": t.Token, "platform": t.Platform}
	}
	custom := make(map[string]any, len(p.Addresses.Custom))
	for ch, addr := range p.Addresses.Custom {
		custom[ch] = addr
	}
	consent := make(map[string]any, len(p.Consent))
	for ch, c := range p.Consent {
		status := c.Status
		if status == "" {
			status = records.ConsentUnknown
		}
		consent[ch] = map[string]any{"status": string(status), "updated_at": millis(c.UpdatedAt)}
	}
	return map[string]any{
		"user_id": p.UserID,
		"traits":  traits,
		"addresses": map[string]any{
			"email":       optString(p.Addresses.Email),
			"phone":       optString(p.Addresses.Phone),
			"push_tokens": tokens,
			"whatsapp":    optString(p.Addresses.WhatsApp),
			"custom":      custom,
		},
		"time_zone":  optString(p.TimeZone),
		"locale":     optString(p.Locale),
		"consent":    consent,
		"updated_at": millis(p.UpdatedAt),
	}, nil
}

func profileFromNative(f *fields, p *records.Profile) {
	p.UserID = f.str("user_id", true)
	p.Traits = f.json("traits")
	if a := f.sub("addresses", false); a != nil {
		p.Addresses.Email = a.str("email", false)
		p.Addresses.Phone = a.str("phone", false)
		a.array("push_tokens", func(name string, v any, t *node) {
			if tf := a.asRecord(name, v, t); tf != nil {
				p.Addresses.PushTokens = append(p.Addresses.PushTokens, records.PushToken{
					Token:    tf.str("token", true),
					Platform: tf.str("platform", false),
				})
			}
		})
		p.Addresses.WhatsApp = a.str("whatsapp", false)
		a.avroMap("custom", func(name, ch string, v any, _ *node) {
			if p.Addresses.Custom == nil {
				p.Addresses.Custom = map[string]string{}
			}
			p.Addresses.Custom[ch] = a.asString(name, v)
		})
	}
	p.TimeZone = f.str("time_zone", false)
	p.Locale = f.str("locale", false)
	f.avroMap("consent", func(name, ch string, v any, t *node) {
		cf := f.asRecord(name, v, t)
		if cf == nil {
			return
		}
		if p.Consent == nil {
			p.Consent = map[string]records.Consent{}
		}
		p.Consent[ch] = records.Consent{
			Status:    records.ConsentStatus(cf.str("status", true)),
			UpdatedAt: cf.time("updated_at", false),
		}
	})
	p.UpdatedAt = f.time("updated_at", true)
}
