package sample

import (
	"reflect"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

func TestDeterministic(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a, b := NewShop(7, 20).Traffic(), NewShop(7, 20).Traffic()
	for i := range 200 {
		ea, eb := a.Next(now), b.Next(now)
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("event %d differs between two shops with the same seed:\n%+v\n%+v", i, ea, eb)
		}
	}
}

// TestTrafficIsPlausible checks what journeys rely on: per user, a cart is
// only bought or viewed after something was added to it, and the usual
// events all occur.
func TestTrafficIsPlausible(t *testing.T) {
	shop := NewShop(1, 30)
	tr := shop.Traffic()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	added := map[string]bool{} // cart IDs with an item
	names := map[string]int{}
	for range 2000 {
		e := tr.Next(now)
		if e.UserID == "" || e.MessageID == "" || e.Properties.IsZero() {
			t.Fatalf("incomplete event %+v", e)
		}
		names[e.Name]++
		props, err := e.Properties.Map()
		if err != nil {
			t.Fatal(err)
		}
		cart, _ := props["cart_id"].(string)
		switch e.Name {
		case "Product Added":
			added[cart] = true
		case "Cart Viewed", "Order Completed", "Product Removed":
			if !added[cart] {
				t.Fatalf("%s for cart %s before any Product Added", e.Name, cart)
			}
		}
	}
	for _, n := range []string{"", "Signed Up", "Session Started", "Page Viewed", "Feature Used", "Product Viewed", "Product Added", "Cart Viewed",
		"Order Completed", "Order Shipped", "Product Removed", "Application Started", "Application Step Completed"} {
		if names[n] == 0 {
			t.Errorf("no %q events in 2000", n)
		}
	}
	if names["Order Completed"] >= names["Cart Viewed"] {
		t.Errorf("every cart was bought (%d orders, %d carts viewed): no abandonment to react to", names["Order Completed"], names["Cart Viewed"])
	}
}

func TestTables(t *testing.T) {
	shop := NewShop(3, 12)
	now := time.Now()
	if got := len(shop.Catalog(now)); got != 40 {
		t.Errorf("catalog has %d products, want 40", got)
	}
	profiles := shop.Profiles(now)
	if len(profiles) != 12 || profiles[2].ConsentFor("sms") != records.ConsentUnsubscribed || profiles[0].Addresses.Email == "" {
		t.Errorf("profiles: %+v", profiles[:3])
	}
	for _, f := range shop.Facts(now) {
		var v struct {
			Tier   string
			Points int
		}
		if err := f.Value.Decode(&v); err != nil || v.Tier == "" || v.Points <= 0 {
			t.Errorf("loyalty fact %s: %+v %v", f.UserID, v, err)
		}
	}
}
