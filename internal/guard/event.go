package guard

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
)

// Event describes a blocked request for the audit trail, metrics and the
// security contact. It holds nothing of the request's content (no path,
// query, header or body, no matched text): only the client's address,
// which rules matched and how they scored. It logs and prints without the
// address.
type Event struct {
	RequestID string
	// ClientIP is personal data: it MUST NOT be logged; audit seals it.
	ClientIP netip.Addr
	// Rules are the detection rules that matched, in the order they were
	// evaluated; rules that only set up or skip are left out.
	Rules []Match
	// AnomalyScore is the request's CRS inbound anomaly score; it is below
	// the threshold when a rule denied the request outright (a body that
	// cannot be parsed, too many arguments).
	AnomalyScore int
}

// Match is one rule that matched.
type Match struct {
	ID int
	// Message is the rule's description with its macros unexpanded, for
	// example "SQL Injection Attack Detected via libinjection": it never
	// holds matched data.
	Message string
	// Severity is the rule's severity ("critical", "warning", ...), or ""
	// for rules that only score or decide.
	Severity string
}

// LogValue leaves the client address out, so that a log line cannot leak
// it.
func (e Event) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("request_id", e.RequestID),
		slog.Any("rules", e.RuleIDs()),
		slog.Int("anomaly_score", e.AnomalyScore))
}

// String leaves the client address out, like LogValue.
func (e Event) String() string {
	return fmt.Sprintf("request %s blocked: rules %v, anomaly score %d", e.RequestID, e.RuleIDs(), e.AnomalyScore)
}

// RuleIDs returns the ids of the rules in e.
func (e Event) RuleIDs() []int {
	ids := make([]int, len(e.Rules))
	for i, m := range e.Rules {
		ids[i] = m.ID
	}
	return ids
}

// crsInitialization is the CRS's set-up rule range (901000-901999); a few
// of its rules have messages ("Enabling body inspection") but detect
// nothing.
const crsInitialization = 901

// event builds the Event of a blocked transaction.
func (w *WAF) event(tx types.Transaction, requestID string, ip netip.Addr) Event {
	e := Event{RequestID: requestID, ClientIP: ip, AnomalyScore: anomalyScore(tx)}
	for _, mr := range tx.MatchedRules() {
		r := mr.Rule()
		msg, ok := w.messages[r.ID()]
		if !ok || r.ID()/1000 == crsInitialization {
			continue // set-up and flow-control rules: they detect nothing
		}
		m := Match{ID: r.ID(), Message: msg}
		if s := r.Severity(); s != types.RuleSeverityUnset {
			m.Severity = s.String()
		}
		e.Rules = append(e.Rules, m)
	}
	return e
}

// anomalyScore reads the CRS inbound anomaly score from the transaction's
// TX collection. Coraza's public Transaction interface does not expose
// it; its implementation does, through the plugin interface.
func anomalyScore(tx types.Transaction) int {
	v, ok := tx.(interface {
		Variables() plugintypes.TransactionVariables
	})
	if !ok {
		return 0
	}
	vals := v.Variables().TX().Get("blocking_inbound_anomaly_score")
	if len(vals) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(vals[0])
	return n
}
