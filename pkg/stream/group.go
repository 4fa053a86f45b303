package stream

import (
	"errors"
	"fmt"
	"slices"
)

// Group declares a stream processor: its name (the consumer group and the
// prefix of its state directories), its edges and its processor. Build one
// with Define.
type Group struct {
	name      string
	inputs    []string
	tables    []string
	deliver   map[string]bool
	globals   []string
	outputs   []string
	changelog string
	dlq       string
	process   Processor
	// checkPartitioning and validators screen records before they reach
	// the processor or a table (CheckPartitioning, Validate).
	checkPartitioning bool
	validators        map[string]Validator
	watchers          []Watcher
}

// Edge is one declaration passed to Define.
type Edge func(*Group)

// Input consumes topic: co-partitioned with every other input and table,
// keyed by user ID.
func Input(topic string) Edge {
	return func(g *Group) { g.inputs = append(g.inputs, topic) }
}

// Table materialises a co-partitioned table topic (compacted, keyed like
// the inputs) into each partition's store, read through Context.Lookup.
// The topic is its own changelog. With deliver, each update is also passed
// to the processor as a KindTableUpdate message.
func Table(topic string, deliver bool) Edge {
	return func(g *Group) {
		g.tables = append(g.tables, topic)
		if deliver {
			g.deliver[topic] = true
		}
	}
}

// GlobalTable replicates every partition of topic on every instance,
// read through Context.Lookup (catalogs, journey definitions).
func GlobalTable(topic string) Edge {
	return func(g *Group) { g.globals = append(g.globals, topic) }
}

// Output declares a topic the processor emits to. Once a group declares
// any Output, an Emit to another topic is a permanent error of the message
// (dead-lettered) rather than a produce that fails the transaction; a group
// without Output edges may emit anywhere.
func Output(topic string) Edge {
	return func(g *Group) { g.outputs = append(g.outputs, topic) }
}

// Changelog names the compacted topic that backs the state stores. It must
// have as many partitions as the inputs.
func Changelog(topic string) Edge {
	return func(g *Group) { g.changelog = topic }
}

// DeadLetter names the topic that receives records the processor rejects.
func DeadLetter(topic string) Edge {
	return func(g *Group) { g.dlq = topic }
}

// Process sets the processor.
func Process(p Processor) Edge {
	return func(g *Group) { g.process = p }
}

// Define declares a group. It returns an error naming what is missing or
// contradictory.
func Define(name string, edges ...Edge) (*Group, error) {
	g := &Group{name: name, deliver: map[string]bool{}}
	for _, e := range edges {
		e(g)
	}
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("group name is empty"))
	}
	if len(g.inputs)+len(g.tables) == 0 {
		errs = append(errs, errors.New("no Input or Table: nothing to consume"))
	}
	if g.changelog == "" {
		errs = append(errs, errors.New("no Changelog topic"))
	}
	if g.dlq == "" {
		errs = append(errs, errors.New("no DeadLetter topic"))
	}
	if g.process == nil {
		errs = append(errs, errors.New("no Process function"))
	}
	for topic := range g.validators {
		if !g.isTable(topic) && !slices.Contains(g.globals, topic) {
			errs = append(errs, fmt.Errorf("Validate(%q): not a Table or GlobalTable of the group", topic))
		}
	}
	seen := map[string]string{}
	for kind, topics := range map[string][]string{"input": g.inputs, "table": g.tables, "global table": g.globals, "changelog": {g.changelog}, "dead-letter": {g.dlq}, "output": g.outputs} {
		for _, t := range topics {
			if t == "" {
				continue
			}
			if other, dup := seen[t]; dup {
				errs = append(errs, fmt.Errorf("topic %q is both %s and %s", t, other, kind))
			}
			seen[t] = kind
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("define group %q: %w", name, err)
	}
	return g, nil
}

// Name is the group's name.
func (g *Group) Name() string { return g.name }

// consumed returns the topics the consumer group reads: inputs and tables.
func (g *Group) consumed() []string { return append(slices.Clone(g.inputs), g.tables...) }

func (g *Group) isTable(topic string) bool { return slices.Contains(g.tables, topic) }

// mayEmit reports whether the processor may emit to topic.
func (g *Group) mayEmit(topic string) bool {
	return len(g.outputs) == 0 || slices.Contains(g.outputs, topic)
}
