package journey

import (
	"encoding/json"
	"slices"

	"github.com/beckon-dev/beckon/pkg/records"
)

// applyStateRule changes the instance's state for an event: items added,
// removed or counted, values set, counters incremented. An expression that
// fails records an error activity and leaves that part of the state as it
// was; the rest of the rule still applies.
func (a *applier) applyStateRule(j *Journey, inst *Instance, r *StateRule, ev *records.Event) {
	if r.When != "" && !a.holds(j, inst, r.When, ev, nil, "state.when") {
		return
	}
	exprs := []*Expr{}
	for _, ir := range []*ItemRule{r.AddItem, r.RemoveItem} {
		if ir != nil {
			exprs = append(exprs, j.Expr(ir.Key), j.Expr(ir.Value), j.Expr(ir.Quantity))
		}
	}
	for _, src := range r.Set {
		exprs = append(exprs, j.Expr(src))
	}
	vars := a.vars(inst, ev, nil, uses(exprs...))
	delete(a.items, inst) // the items may change
	fail := func(what string, err error) {
		a.activity(j, inst, records.ActivityError, "state rule on "+r.On+": "+what+": "+err.Error(), nil)
	}
	if r.ClearItems {
		inst.Items = nil
	}
	if ir := r.AddItem; ir != nil {
		if key, err := j.Expr(ir.Key).String(vars); err != nil {
			fail("add_item.key", err)
		} else if err := addItem(j, inst, ir, key, vars, ev); err != nil {
			fail("add_item", err)
		}
	}
	if ir := r.RemoveItem; ir != nil {
		if key, err := j.Expr(ir.Key).String(vars); err != nil {
			fail("remove_item.key", err)
		} else if err := removeItem(j, inst, ir, key, vars); err != nil {
			fail("remove_item", err)
		}
	}
	for _, name := range sortedKeys(r.Set) {
		v, err := j.Expr(r.Set[name]).Eval(vars)
		if err != nil {
			fail("set."+name, err)
			continue
		}
		if inst.Vars == nil {
			inst.Vars = map[string]any{}
		}
		inst.Vars[name] = jsonValue(v)
	}
	for _, name := range r.Increment {
		if inst.Vars == nil {
			inst.Vars = map[string]any{}
		}
		n, _ := inst.Vars[name].(float64)
		inst.Vars[name] = n + 1
	}
}

// addItem inserts or replaces the item (its value: the rule's value
// expression, else the event's properties), or adds to its quantity.
func addItem(j *Journey, inst *Instance, ir *ItemRule, key string, vars *Vars, ev *records.Event) error {
	var value json.RawMessage
	if ir.Value != "" {
		v, err := j.Expr(ir.Value).Eval(vars)
		if err != nil {
			return err
		}
		if value, err = json.Marshal(jsonValue(v)); err != nil {
			return err
		}
	} else if !ev.Properties.IsZero() {
		value = json.RawMessage(ev.Properties)
	}
	qty := 1.0
	if ir.Quantity != "" {
		q, err := number(j.Expr(ir.Quantity), vars)
		if err != nil {
			return err
		}
		qty = q
	}
	for i := range inst.Items {
		if inst.Items[i].Key == key {
			inst.Items[i].Value = value
			if ir.Quantity != "" {
				inst.Items[i].Quantity += qty
			}
			return nil
		}
	}
	inst.Items = append(inst.Items, Item{Key: key, Value: value, Quantity: qty})
	return nil
}

// removeItem removes the item, or subtracts from its quantity (removing it
// at zero).
func removeItem(j *Journey, inst *Instance, ir *ItemRule, key string, vars *Vars) error {
	i := slices.IndexFunc(inst.Items, func(it Item) bool { return it.Key == key })
	if i < 0 {
		return nil
	}
	if ir.Quantity != "" {
		q, err := number(j.Expr(ir.Quantity), vars)
		if err != nil {
			return err
		}
		if inst.Items[i].Quantity -= q; inst.Items[i].Quantity > 0 {
			return nil
		}
	}
	inst.Items = slices.Delete(inst.Items, i, i+1)
	return nil
}
