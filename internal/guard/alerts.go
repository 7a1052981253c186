package guard

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/valvhq/valv/internal/store"
)

// Summary is what the security contact is told about a stretch of time:
// counts, rule ids, block lengths — never an address or request data.
type Summary struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// WAFBlocks is how many requests the WAF blocked, from how many
	// sources (distinct addresses).
	WAFBlocks  int `json:"waf_blocks"`
	WAFSources int `json:"waf_sources"`
	// Rules are the rules that matched in blocked requests, the most
	// frequent first (at most MaxSummaryRules).
	Rules []RuleCount `json:"rules,omitempty"`
	// AutoBlocks is how many sources were blocked automatically, by
	// reason (waf, auth), and the longest such block.
	AutoBlocks map[string]int `json:"automatic_blocks,omitempty"`
	Longest    time.Duration  `json:"-"`
	LongestS   int64          `json:"longest_block_s,omitempty"`
}

// RuleCount is how often a rule matched in blocked requests.
type RuleCount struct {
	ID    int `json:"id"`
	Count int `json:"count"`
}

// MaxSummaryRules bounds Summary.Rules.
const MaxSummaryRules = 10

// maxSummaryAlerts is the most queued events one summary covers; the rest
// go in the next.
const maxSummaryAlerts = 10000

// Summarise gathers the queued events into a Summary and hands it to send;
// once send succeeds the events are removed. With no events it does
// nothing and reports false. A failed send keeps the events for the next
// summary (so a summary may be sent twice, never lost).
func (g *Gate) Summarise(ctx context.Context, send func(ctx context.Context, s Summary) error) (bool, error) {
	rows, err := g.opts.DB.Reader().GuardAlerts(ctx, maxSummaryAlerts)
	if err != nil || len(rows) == 0 {
		return false, err
	}
	s := summarise(rows)
	if err := send(ctx, s); err != nil {
		return false, err
	}
	last := rows[len(rows)-1]
	return true, g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.DeleteGuardAlertsUpTo(ctx, last.At, last.ID)
		return err
	})
}

func summarise(rows []store.GuardAlertRow) Summary {
	s := Summary{From: rows[0].At, To: rows[len(rows)-1].At}
	sources := map[string]bool{}
	rules := map[int]int{}
	for _, r := range rows {
		switch r.Kind {
		case "waf":
			s.WAFBlocks++
			sources[string(r.Source)] = true
			var d struct {
				Rules []int `json:"rules"`
			}
			if json.Unmarshal([]byte(r.Detail), &d) == nil {
				for _, id := range d.Rules {
					rules[id]++
				}
			}
		case "block":
			var d struct {
				Reason    string `json:"reason"`
				DurationS int64  `json:"duration_s"`
			}
			if json.Unmarshal([]byte(r.Detail), &d) != nil {
				continue
			}
			if s.AutoBlocks == nil {
				s.AutoBlocks = map[string]int{}
			}
			s.AutoBlocks[d.Reason]++
			if l := time.Duration(d.DurationS) * time.Second; l > s.Longest {
				s.Longest, s.LongestS = l, d.DurationS
			}
		}
	}
	s.WAFSources = len(sources)
	for id, n := range rules {
		s.Rules = append(s.Rules, RuleCount{ID: id, Count: n})
	}
	slices.SortFunc(s.Rules, func(a, b RuleCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.ID, b.ID))
	})
	if len(s.Rules) > MaxSummaryRules {
		s.Rules = s.Rules[:MaxSummaryRules]
	}
	return s
}
