package sample

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Product is one catalog entry.
type Product struct {
	SKU      string  `json:"sku"`
	Name     string  `json:"name"`
	Price    float64 `json:"price"`
	Currency string  `json:"currency"`
	Size     string  `json:"size"`
	Colour   string  `json:"colour"`
	ImageURL string  `json:"image_url"`
	Stock    int     `json:"stock"`
}

// User is one shopper.
type User struct {
	ID       string
	Email    string
	Phone    string
	TimeZone string
	Locale   string
	Tier     string // loyalty tier: "", silver, gold
	Points   int
}

// Shop is a deterministic sample world: the same seed gives the same
// catalog, users and traffic.
type Shop struct {
	Products []Product
	Users    []User
	rng      *rand.Rand
}

var (
	garments = []struct {
		name  string
		price float64
	}{
		{"Linen Shirt", 59}, {"Merino Sweater", 89}, {"Denim Jacket", 119}, {"Chino Trousers", 69},
		{"Rain Parka", 179}, {"Canvas Sneakers", 75}, {"Wool Scarf", 35}, {"Leather Belt", 45},
	}
	sizes   = []string{"XS", "S", "M", "L", "XL"}
	colours = []string{"navy", "olive", "sand", "black", "rust"}
	zones   = []struct{ zone, locale, phone string }{
		{"Europe/Paris", "fr-FR", "+336"}, {"Europe/Berlin", "de-DE", "+4915"}, {"America/New_York", "en-US", "+1212"},
		{"Asia/Tokyo", "ja-JP", "+8190"}, {"Europe/London", "en-GB", "+447"}, {"America/Sao_Paulo", "pt-BR", "+5511"},
	}
)

// NewShop builds a shop of users shoppers and a catalog of 40 variants.
func NewShop(seed uint64, users int) *Shop {
	s := &Shop{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i, g := range garments {
		for j := range 5 {
			s.Products = append(s.Products, Product{
				SKU:      fmt.Sprintf("SKU-%02d%02d", i, j),
				Name:     g.name,
				Price:    g.price,
				Currency: "EUR",
				Size:     sizes[j],
				Colour:   colours[(i+j)%len(colours)],
				ImageURL: fmt.Sprintf("https://cdn.example.com/p/%02d-%s.jpg", i, colours[(i+j)%len(colours)]),
				Stock:    s.rng.IntN(50),
			})
		}
	}
	for i := range users {
		z := zones[i%len(zones)]
		u := User{
			ID:       fmt.Sprintf("user-%03d", i+1),
			Email:    fmt.Sprintf("shopper%03d@example.com", i+1),
			Phone:    fmt.Sprintf("%s%07d", z.phone, 1000000+i),
			TimeZone: z.zone,
			Locale:   z.locale,
		}
		switch s.rng.IntN(3) {
		case 1:
			u.Tier, u.Points = "silver", 100+s.rng.IntN(900)
		case 2:
			u.Tier, u.Points = "gold", 1000+s.rng.IntN(4000)
		}
		s.Users = append(s.Users, u)
	}
	return s
}

// Catalog returns the products as lookups.catalog records keyed by SKU.
func (s *Shop) Catalog(now time.Time) []records.LookupRecord {
	out := make([]records.LookupRecord, 0, len(s.Products))
	for _, p := range s.Products {
		out = append(out, records.LookupRecord{Table: "catalog", ID: p.SKU, Attributes: mustJSON(p), UpdatedAt: now})
	}
	return out
}

// Profiles returns one profile per user. Every third user has not consented
// to SMS, so journeys show consent at work.
func (s *Shop) Profiles(now time.Time) []records.Profile {
	out := make([]records.Profile, 0, len(s.Users))
	for i, u := range s.Users {
		sms := records.ConsentSubscribed
		if i%3 == 2 {
			sms = records.ConsentUnsubscribed
		}
		out = append(out, records.Profile{
			UserID:    u.ID,
			Traits:    mustJSON(map[string]any{"first_name": fmt.Sprintf("Shopper %d", i+1), "signup_source": []string{"web", "app"}[i%2]}),
			Addresses: records.Addresses{Email: u.Email, Phone: u.Phone, WhatsApp: u.Phone},
			TimeZone:  u.TimeZone,
			Locale:    u.Locale,
			Consent: map[string]records.Consent{
				"email":    {Status: records.ConsentSubscribed, UpdatedAt: now},
				"sms":      {Status: sms, UpdatedAt: now},
				"whatsapp": {Status: records.ConsentSubscribed, UpdatedAt: now},
			},
			UpdatedAt: now,
		})
	}
	return out
}

// Facts returns a facts.loyalty record for every loyalty member.
func (s *Shop) Facts(now time.Time) []records.Fact {
	var out []records.Fact
	for _, u := range s.Users {
		if u.Tier == "" {
			continue
		}
		out = append(out, records.Fact{UserID: u.ID, Name: "loyalty", Value: mustJSON(map[string]any{"tier": u.Tier, "points": u.Points}), UpdatedAt: now})
	}
	return out
}

func mustJSON(v any) records.JSON {
	j, err := records.NewJSON(v)
	if err != nil {
		panic(err) // only called with values built here, which always marshal
	}
	return j
}
