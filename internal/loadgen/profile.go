package loadgen

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Hot is one function's share of a CPU profile.
type Hot struct {
	Function string  `json:"function"`
	Flat     float64 `json:"flat_percent"` // in the function itself
	Cum      float64 `json:"cum_percent"`  // in it and what it calls
}

// Profile summarises a CPU profile: where the time goes by component, and
// the functions with the most time of their own.
type Profile struct {
	Components []Share `json:"components"`
	Flat       []Hot   `json:"flat"`
}

// Component names the code under one function-name prefix.
type Component struct {
	Prefix string
	Name   string
}

// Share is one component's share of the samples.
type Share struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

// Other is the component of samples no component's prefix claims.
const Other = "other"

// Summarise reads a pprof CPU profile and keeps the top n functions by
// flat time, and each component's share: a sample belongs to the first
// component in the list with a frame anywhere in its stack (so a regexp
// match or an allocation under the WAF is the WAF's, and a system call
// under the database the database's). List specific components before
// general ones.
func Summarise(data []byte, components []Component, n int) (Profile, error) {
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		return Profile{}, fmt.Errorf("read the CPU profile: %w", err)
	}
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return Profile{}, errors.New("read the CPU profile: no cpu samples")
	}
	flat, cum, shares := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		shares[componentOf(s, components)] += v
		seen := map[string]bool{}
		for li, loc := range s.Location {
			for lj, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				// The leaf is the first line of the first location.
				if li == 0 && lj == 0 {
					flat[name] += v
				}
				if !seen[name] { // recursion counts once
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	if total == 0 {
		return Profile{}, errors.New("read the CPU profile: it is empty")
	}
	pct := func(v int64) float64 { return float64(v*1000/total) / 10 }
	top := func(flat, cum map[string]int64) []Hot {
		var hs []Hot
		for name, v := range flat {
			hs = append(hs, Hot{Function: name, Flat: pct(v), Cum: pct(cum[name])})
		}
		slices.SortFunc(hs, func(a, b Hot) int {
			return cmp.Or(cmp.Compare(b.Flat, a.Flat), strings.Compare(a.Function, b.Function))
		})
		return hs[:min(n, len(hs))]
	}
	out := Profile{Flat: top(flat, cum)}
	for name, v := range shares {
		out.Components = append(out.Components, Share{Name: name, Percent: pct(v)})
	}
	slices.SortFunc(out.Components, func(a, b Share) int {
		return cmp.Or(cmp.Compare(b.Percent, a.Percent), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// componentOf is the first component with a frame in the sample's stack.
func componentOf(s *profile.Sample, components []Component) string {
	for _, c := range components {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && strings.HasPrefix(line.Function.Name, c.Prefix) {
					return c.Name
				}
			}
		}
	}
	return Other
}
