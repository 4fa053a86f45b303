package sample

import (
	"fmt"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Traffic emits the shop's events one at a time, interleaving the visits of
// several shoppers. Each visit is a short script: sign up (the first
// time), start a session, browse (the pricing page, a feature), add to
// cart, maybe remove, then buy (and the order ships), abandon, or apply
// for the store credit card and stop half way: the events the example
// journeys in examples/journeys react to.
type Traffic struct {
	shop    *Shop
	pending []step // the scripted events still to emit, oldest first
	seq     int
	seen    map[string]bool // users who signed up
}

type step struct {
	user      User
	typ       records.EventType
	name      string
	props     map[string]any
	sessionID string
}

// Traffic returns a generator of the shop's events.
func (s *Shop) Traffic() *Traffic { return &Traffic{shop: s} }

// Next returns the next event, stamped at now.
func (t *Traffic) Next(now time.Time) records.Event {
	// Keep a few visits in flight so users' events interleave.
	for len(t.pending) < 12 {
		t.visit()
	}
	i := t.shop.rng.IntN(min(len(t.pending), 4))
	st := t.pending[i]
	// Preserve each user's order: take that user's earliest step.
	for j := range i {
		if t.pending[j].user.ID == st.user.ID {
			i, st = j, t.pending[j]
			break
		}
	}
	t.pending = append(t.pending[:i], t.pending[i+1:]...)
	t.seq++
	return records.Event{
		MessageID:  fmt.Sprintf("sample-%d-%08d", now.UnixMilli(), t.seq),
		Type:       st.typ,
		Name:       st.name,
		UserID:     st.user.ID,
		Timestamp:  now,
		Properties: mustJSON(st.props),
		Context:    mustJSON(map[string]any{"locale": st.user.Locale, "timezone": st.user.TimeZone, "user_agent": "beckon-sample/1", "session_id": st.sessionID}),
		SessionID:  st.sessionID,
	}
}

// visit scripts one shopper's visit.
func (t *Traffic) visit() {
	s := t.shop
	u := s.Users[s.rng.IntN(len(s.Users))]
	session := fmt.Sprintf("s-%s-%d", u.ID, t.seq+len(t.pending))
	cart := "cart-" + session[2:]
	add := func(typ records.EventType, name string, props map[string]any) {
		t.pending = append(t.pending, step{user: u, typ: typ, name: name, props: props, sessionID: session})
	}
	if !t.seen[u.ID] {
		if t.seen == nil {
			t.seen = map[string]bool{}
		}
		t.seen[u.ID] = true
		add(records.EventTrack, "Signed Up", map[string]any{"plan": "free"})
	}
	add(records.EventTrack, "Session Started", map[string]any{"referrer": []string{"search", "email", "direct"}[s.rng.IntN(3)]})
	add(records.EventPage, "", map[string]any{"path": "/", "title": "Home"})
	if s.rng.IntN(4) == 0 {
		add(records.EventTrack, "Page Viewed", map[string]any{"path": "/pricing/store-card", "title": "Store card"})
	}
	if s.rng.IntN(5) == 0 {
		add(records.EventTrack, "Feature Used", map[string]any{"feature": []string{"wishlist", "smart-playlists", "size-guide"}[s.rng.IntN(3)]})
	}
	var cartItems []Product
	for range 1 + s.rng.IntN(3) {
		p := s.Products[s.rng.IntN(len(s.Products))]
		add(records.EventTrack, "Product Viewed", map[string]any{"sku": p.SKU, "name": p.Name, "price": p.Price})
		if s.rng.IntN(3) > 0 {
			add(records.EventTrack, "Product Added", map[string]any{"cart_id": cart, "sku": p.SKU, "quantity": 1, "price": p.Price})
			cartItems = append(cartItems, p)
		}
	}
	if len(cartItems) > 1 && s.rng.IntN(4) == 0 {
		p := cartItems[0]
		add(records.EventTrack, "Product Removed", map[string]any{"cart_id": cart, "sku": p.SKU, "quantity": 1})
		cartItems = cartItems[1:]
	}
	if len(cartItems) == 0 {
		return
	}
	value := 0.0
	for _, p := range cartItems {
		value += p.Price
	}
	add(records.EventTrack, "Cart Viewed", map[string]any{"cart_id": cart, "items": len(cartItems)})
	add(records.EventTrack, "Page Viewed", map[string]any{"path": "/cart", "title": "Cart", "cart_value": value})
	switch r := s.rng.IntN(10); {
	case r < 4: // buys
		total := 0.0
		for _, p := range cartItems {
			total += p.Price
		}
		add(records.EventTrack, "Checkout Started", map[string]any{"cart_id": cart})
		add(records.EventTrack, "Order Completed", map[string]any{"cart_id": cart, "order_id": "order-" + session[2:], "total": total, "currency": "EUR"})
		add(records.EventTrack, "Order Shipped", map[string]any{"order_id": "order-" + session[2:], "carrier": "DHL", "items": len(cartItems)})
	case r < 5: // applies for the store card, and stops half way
		app := "app-" + session[2:]
		add(records.EventTrack, "Application Started", map[string]any{"application_id": app, "product": "store-card"})
		add(records.EventTrack, "Application Step Completed", map[string]any{"application_id": app, "step": "identity"})
	default: // abandons the cart
	}
}
