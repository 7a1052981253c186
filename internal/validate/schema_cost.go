package validate

import (
	"cmp"
	"maps"
	"slices"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxEvaluationsPerValue bounds how many times validation may apply a
// subschema to any one value of a document. The library evaluates every
// branch of allOf/anyOf/oneOf and follows every $ref without memoising, so a
// schema of a kilobyte whose $defs each refer twice to the next makes 2^n
// evaluations of one value: at n = 20 one check took seconds here, at 30 it
// would take hours. CompileSchema refuses such schemas; with this bound a
// document's validation costs at most about this many evaluations per value.
// Real schemas stay far below it.
const maxEvaluationsPerValue = 1000

// Bounds on the analysis itself, so that it stays well under a second on
// any schema up to maxSchemaSize. It converges in two or three rounds for
// real schemas; one that needs more work is refused as too complex.
const (
	maxCostRounds = 100
	// maxCostKeys is how many child keys a node keeps apart; past it, its
	// property keys merge into anyProperty and its item keys into anyItem,
	// keeping their largest bound (less precise, still an upper bound).
	maxCostKeys = 64
	// maxCostWork bounds the key updates of the whole analysis.
	maxCostWork = 1 << 21
)

// costKey names the child values of a value that an applicator reaches:
// anyProperty (a property no applicator names), anyItem (an item no
// applicator names), propertyKeys (the property names themselves, which
// propertyNames applies to), or a property name or item index, numbered
// from firstNamedKey by costGraph.
type costKey int32

const (
	anyProperty costKey = iota
	anyItem
	propertyKeys
	firstNamedKey
)

// costNode is one subschema with its applicators, as indexes of other nodes.
type costNode struct {
	inPlace  []int   // to the same value: $ref, allOf, anyOf, oneOf, not, if, dependentSchemas
	choices  [][]int // to the same value, but only one of each group runs: then or else; a $dynamicRef's targets
	children map[costKey][]int
	objAll   []int // to every property value: patternProperties, additionalProperties, unevaluatedProperties
	arrAll   []int // to every item: items, additionalItems, contains, unevaluatedItems
}

// costState is the running bound for one node: evaluations at the value it
// is applied to, and at the worst value below it, by first key on the way.
type costState struct {
	here  int
	below map[costKey]int
	worst int
}

// costAnalysis is the schema graph and the running bounds.
type costAnalysis struct {
	nodes  []costNode
	isItem []bool // by costKey: an item index rather than a property name
	states []costState
	work   int
}

// withinEvaluationBudget reports whether validating any document against
// root applies subschemas to a single value at most maxEvaluationsPerValue
// times. It computes an upper bound as a least fixpoint over the schema
// graph, cycles included. Per node s, with t ranging over the applicators
// of s to the same value and u over those to a child under key k:
//
//	here(s)     = 1 + Σ here(t)
//	below(s, k) = Σ below(t, k) + Σ worst(u)
//	worst(s)    = max(here(s), below(s, k) for every k)
//
// Summing over every way to a value makes it an upper bound; keeping keys
// apart keeps it tight enough for recursive schemas (a tree of sections),
// whose bound then converges, while a recursion that fans out grows past the
// bound and is refused. Where only one of several applicators runs (then or
// else; the schema a $dynamicRef resolves to), the costliest one counts.
func withinEvaluationBudget(root *jsonschema.Schema) bool {
	a := newCostAnalysis(root)
	for range maxCostRounds {
		changed := false
		// Nodes are in depth-first post-order, applicators first, so an
		// acyclic schema settles in one round.
		for i := range a.nodes {
			next := a.step(i)
			if next.worst > maxEvaluationsPerValue || a.work > maxCostWork {
				return false
			}
			old := a.states[i]
			if next.here != old.here || next.worst != old.worst || !maps.Equal(next.below, old.below) {
				a.states[i] = next
				changed = true
			}
		}
		if !changed {
			return true
		}
	}
	return false
}

// step computes node i's state from the current states of the others.
func (a *costAnalysis) step(i int) costState {
	n := a.nodes[i]
	here := 1
	for _, t := range n.inPlace {
		here += a.states[t].here
	}
	here += choiceMax(n.choices, func(t int) int { return a.states[t].here })

	keys := map[costKey]bool{anyProperty: true, anyItem: true, propertyKeys: true}
	for k := range n.children {
		keys[k] = true
	}
	for _, t := range slices.Concat(n.inPlace, slices.Concat(n.choices...)) {
		for k := range a.states[t].below {
			keys[k] = true
		}
	}
	a.work += len(keys)
	below := make(map[costKey]int, len(keys))
	for k := range keys {
		b := a.own(n, k)
		for _, t := range n.inPlace {
			b += a.at(t, k)
		}
		b += choiceMax(n.choices, func(t int) int { return a.at(t, k) })
		if b = capped(b); b > 0 {
			below[k] = b
		}
	}
	if len(below) > maxCostKeys {
		a.merge(below)
	}
	worst := capped(here)
	for _, b := range below {
		worst = max(worst, b)
	}
	return costState{here: capped(here), below: below, worst: worst}
}

// merge folds the named keys of below into anyProperty and anyItem.
func (a *costAnalysis) merge(below map[costKey]int) {
	for k, b := range below {
		if k >= firstNamedKey {
			any := a.fallback(k)
			below[any] = max(below[any], b)
			delete(below, k)
		}
	}
}

// own is the evaluations n's own applicators cause at and under its child
// values with key k.
func (a *costAnalysis) own(n costNode, k costKey) int {
	sum := func(idx []int) int {
		s := 0
		for _, u := range idx {
			s += a.states[u].worst
		}
		return s
	}
	switch {
	case k == propertyKeys:
		return sum(n.children[k])
	case a.fallback(k) == anyProperty:
		return sum(n.children[k]) + sum(n.objAll)
	default:
		return sum(n.children[k]) + sum(n.arrAll)
	}
}

// at is node t's bound under key k: a key it has no entry for gets what any
// other property or item gets.
func (a *costAnalysis) at(t int, k costKey) int {
	below := a.states[t].below
	if b, ok := below[k]; ok {
		return b
	}
	if k == propertyKeys {
		return 0
	}
	return below[a.fallback(k)]
}

// fallback is the key that stands for k when k has no entry of its own.
func (a *costAnalysis) fallback(k costKey) costKey {
	switch {
	case k < firstNamedKey:
		return k
	case a.isItem[k]:
		return anyItem
	default:
		return anyProperty
	}
}

// choiceMax is the cost of the choices: for each group, its costliest member.
func choiceMax(choices [][]int, f func(int) int) int {
	total := 0
	for _, group := range choices {
		m := 0
		for _, t := range group {
			m = max(m, f(t))
		}
		total += m
	}
	return total
}

// capped keeps counts from overflowing; anything over the bound is as bad
// as the bound plus one.
func capped(n int) int { return min(n, maxEvaluationsPerValue+1) }

// newCostAnalysis numbers every subschema reachable from root, in
// depth-first post-order, and every property name and item index that an
// applicator names.
func newCostAnalysis(root *jsonschema.Schema) *costAnalysis {
	index := map[*jsonschema.Schema]int{}
	var order []*jsonschema.Schema
	var visit func(s *jsonschema.Schema)
	visit = func(s *jsonschema.Schema) {
		if _, seen := index[s]; seen {
			return
		}
		index[s] = -1 // on the stack; its number comes after its applicators'
		for _, t := range applicators(s) {
			visit(t)
		}
		index[s] = len(order)
		order = append(order, s)
	}
	visit(root)

	a := &costAnalysis{isItem: make([]bool, firstNamedKey)}
	keys := map[string]costKey{}
	intern := func(name string) costKey {
		k, ok := keys[name]
		if !ok {
			k = costKey(len(a.isItem)) // #nosec G115 -- one key per distinct name in a schema of at most maxSchemaSize (256 KiB)
			keys[name] = k
			a.isItem = append(a.isItem, name[0] == 'i')
		}
		return k
	}
	a.nodes = make([]costNode, len(order))
	for i, s := range order {
		a.nodes[i] = newCostNode(s, index, order, intern)
	}
	a.states = make([]costState, len(order))
	return a
}

// applicators returns every subschema s applies, in a fixed order.
func applicators(s *jsonschema.Schema) []*jsonschema.Schema {
	e := rawEdges(s, nil)
	all := slices.Concat(e.inPlace, slices.Concat(e.choices...), e.objAll, e.arrAll, e.keys)
	for _, k := range slices.Sorted(maps.Keys(e.children)) {
		all = append(all, e.children[k]...)
	}
	return all
}

// schemaEdges is costNode before the schemas are numbered.
type schemaEdges struct {
	inPlace, objAll, arrAll []*jsonschema.Schema
	choices                 [][]*jsonschema.Schema
	children                map[string][]*jsonschema.Schema // by "p"+property name or "i"+item index
	keys                    []*jsonschema.Schema            // propertyNames
}

// rawEdges lists the applicators of s by the value they apply to. Content
// keywords (not asserted) are left out.
//
// A $dynamicRef resolves, at validation time, to one schema with the same
// $dynamicAnchor, and a $recursiveRef to one with $recursiveAnchor; which
// one depends on the path taken, so every such schema in all is a choice of
// the reference: an upper bound. (The walk that finds all passes nil: the
// schemas a dynamic reference can reach are on the path to it.)
func rawEdges(s *jsonschema.Schema, all []*jsonschema.Schema) schemaEdges {
	e := schemaEdges{children: map[string][]*jsonschema.Schema{}}
	e.inPlace = nonNil(s.Ref, s.Not)
	if s.If != nil { // without an if, then and else are ignored
		e.inPlace = append(e.inPlace, s.If)
		e.choices = append(e.choices, nonNil(s.Then, s.Else))
	}
	if s.DynamicRef != nil {
		group := nonNil(s.DynamicRef.Ref)
		for _, t := range all {
			if s.DynamicRef.Anchor != "" && t.DynamicAnchor == s.DynamicRef.Anchor {
				group = append(group, t)
			}
		}
		e.choices = append(e.choices, group)
	}
	if s.RecursiveRef != nil {
		group := nonNil(s.RecursiveRef)
		for _, t := range all {
			if t.RecursiveAnchor {
				group = append(group, t)
			}
		}
		e.choices = append(e.choices, group)
	}
	e.inPlace = slices.Concat(e.inPlace, s.AllOf, s.AnyOf, s.OneOf, sortedValues(s.DependentSchemas))
	for _, key := range slices.Sorted(maps.Keys(s.Dependencies)) {
		if t, ok := s.Dependencies[key].(*jsonschema.Schema); ok {
			e.inPlace = append(e.inPlace, t)
		}
	}

	for name, t := range s.Properties {
		e.children["p"+name] = []*jsonschema.Schema{t}
	}
	for _, re := range slices.SortedFunc(maps.Keys(s.PatternProperties), func(a, b jsonschema.Regexp) int {
		return cmp.Compare(a.String(), b.String())
	}) {
		e.objAll = append(e.objAll, s.PatternProperties[re])
	}
	if t, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		e.objAll = append(e.objAll, t)
	}
	e.objAll = append(e.objAll, nonNil(s.UnevaluatedProperties)...)

	tuple := s.PrefixItems
	switch items := s.Items.(type) {
	case []*jsonschema.Schema:
		tuple = items
	case *jsonschema.Schema:
		e.arrAll = append(e.arrAll, items)
	}
	for i, t := range tuple {
		e.children["i"+strconv.Itoa(i)] = []*jsonschema.Schema{t}
	}
	if t, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		e.arrAll = append(e.arrAll, t)
	}
	e.arrAll = append(e.arrAll, nonNil(s.Items2020, s.Contains, s.UnevaluatedItems)...)

	e.keys = nonNil(s.PropertyNames)
	return e
}

// newCostNode numbers the applicators of s; all are the schemas numbered.
func newCostNode(s *jsonschema.Schema, index map[*jsonschema.Schema]int, all []*jsonschema.Schema, intern func(string) costKey) costNode {
	e := rawEdges(s, all)
	num := func(ss []*jsonschema.Schema) []int {
		out := make([]int, len(ss))
		for i, t := range ss {
			out[i] = index[t]
		}
		return out
	}
	n := costNode{
		inPlace:  num(e.inPlace),
		objAll:   num(e.objAll),
		arrAll:   num(e.arrAll),
		children: make(map[costKey][]int, len(e.children)),
	}
	for _, group := range e.choices {
		n.choices = append(n.choices, num(group))
	}
	for name, ss := range e.children {
		n.children[intern(name)] = num(ss)
	}
	if len(e.keys) > 0 {
		n.children[propertyKeys] = num(e.keys)
	}
	return n
}

func nonNil(ss ...*jsonschema.Schema) []*jsonschema.Schema {
	out := make([]*jsonschema.Schema, 0, len(ss))
	for _, s := range ss {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// sortedValues returns m's values ordered by key, so that the graph does not
// depend on map order.
func sortedValues(m map[string]*jsonschema.Schema) []*jsonschema.Schema {
	out := make([]*jsonschema.Schema, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}
