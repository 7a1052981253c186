package audit

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/valvhq/valv/internal/store"
)

// Platform is the chain of entries that belong to no tenant.
const Platform = store.PlatformTenant

// Outcomes.
const (
	Success = "success" // done (2xx, 3xx)
	Denied  = "denied"  // refused: not authenticated or not allowed (401, 403)
	Failed  = "failed"  // the request was wrong or could not be met (other 4xx)
	Error   = "error"   // Valv failed (5xx)
)

// OutcomeOf maps an HTTP status to an outcome.
func OutcomeOf(status int) string {
	switch {
	case status == 401 || status == 403:
		return Denied
	case status >= 500:
		return Error
	case status >= 400:
		return Failed
	}
	return Success
}

// Entry is an audit entry before it is sealed and chained.
type Entry struct {
	Time         time.Time
	TenantID     string // "" for the platform chain
	ActorType    string // user, operator, api_key, system, anonymous
	ActorID      string
	Action       string // "document.read", "user.role.change", ...
	ResourceType string
	ResourceID   string
	Outcome      string
	Status       int
	RequestID    string
	Channel      string
	ClientIP     netip.Addr // sealed; in the chain only as a keyed token
	UserAgent    string     // sealed; in the chain only as a keyed token
	Reason       string     // sealed; in the chain only as a keyed token
	GrantID      string
	// Details are short, non-personal facts (counts, codes, a decision's
	// reason). Keys and values MUST NOT hold personal data.
	Details map[string]string
}

// chain is the chain an entry belongs to.
func (e Entry) chain() string {
	if e.TenantID == "" {
		return Platform
	}
	return e.TenantID
}

// Limits on what an entry may hold.
const (
	maxField   = 256
	maxDetails = 16
)

func (e Entry) check() error {
	// ResourceID is not here: one that is not a Valv id (whatever its
	// length) is kept only as a keyed token.
	for _, f := range []string{e.ActorType, e.ActorID, e.Action, e.ResourceType, e.RequestID, e.Channel, e.GrantID} {
		if len(f) > maxField {
			return fmt.Errorf("audit: entry field longer than %d bytes", maxField)
		}
	}
	if e.Action == "" {
		return fmt.Errorf("audit: entry without an action")
	}
	if len(e.Details) > maxDetails {
		return fmt.Errorf("audit: more than %d details", maxDetails)
	}
	return nil
}

func encodeDetails(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(d) // map keys are sorted: the encoding is canonical
	return string(b)
}

const encodingVersion = "valv-audit-entry-v1"

// canonical is the byte string an entry's hash covers: a version tag, the
// sequence number and time, every field (length-prefixed, in a fixed
// order; the tokens standing in for sealed values — the reason's is in the
// details), and the previous hash.
func canonical(r *store.AuditEntryRow) []byte {
	b := make([]byte, 0, 512)
	b = append(b, encodingVersion...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq)) // #nosec G115 -- canonical encoding: two's-complement bits of the int64, fixed by the hashes already in chains
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Status)) // #nosec G115 -- canonical encoding: the low 32 bits of the status (an HTTP status), fixed by the hashes already in chains
	for _, f := range []string{r.ID, r.Chain, r.TenantID, r.ActorType, r.ActorID, r.Action, r.ResourceType, r.ResourceID,
		r.Outcome, r.RequestID, r.Channel, r.IPToken, r.UAToken, r.GrantID, r.Details} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f))) // #nosec G115 -- a column value cannot reach 4 GiB (PostgreSQL and SQLite cap values at about 1 GB)
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.PrevHash))) // #nosec G115 -- the previous entry's SHA-256 hash (at most 32 bytes)
	return append(b, r.PrevHash...)
}

// canonicalRaw is canonical over the raw columns of a scanned row; it MUST
// produce the same bytes as canonical.
func canonicalRaw(b []byte, r *store.AuditScanRow) []byte {
	b = append(b[:0], encodingVersion...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))    // #nosec G115 -- canonical encoding: two's-complement bits of the int64, fixed by the hashes already in chains
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time))   // #nosec G115 -- canonical encoding: two's-complement bits of the int64, fixed by the hashes already in chains
	b = binary.BigEndian.AppendUint32(b, uint32(r.Status)) // #nosec G115 -- canonical encoding: the low 32 bits of the status (an HTTP status), fixed by the hashes already in chains
	for _, f := range [...][]byte{r.ID, r.Chain, r.TenantID, r.ActorType, r.ActorID, r.Action, r.ResourceType, r.ResourceID,
		r.Outcome, r.RequestID, r.Channel, r.IPToken, r.UAToken, r.GrantID, r.Details} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f))) // #nosec G115 -- a column value cannot reach 4 GiB (PostgreSQL and SQLite cap values at about 1 GB)
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.PrevHash))) // #nosec G115 -- a stored hash column; no database value reaches 4 GiB
	return append(b, r.PrevHash...)
}

var hasher = rfc6962.DefaultHasher

// entryHash is the RFC 6962 leaf hash of the entry's canonical encoding.
func entryHash(r *store.AuditEntryRow) []byte {
	return hasher.HashLeaf(canonical(r))
}

// reasonTokenKey is the detail that holds the keyed token of an entry's
// sealed reason, which puts the reason in the chain.
const reasonTokenKey = "reason_token"

// zeroHash is the previous hash of a chain's first entry.
var zeroHash = make([]byte, 32)

// Action names are lower-case words joined by dots.
func validAction(a string) bool {
	if a == "" || len(a) > 64 {
		return false
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return !strings.HasPrefix(a, ".") && !strings.HasSuffix(a, ".")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
