package gdpr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/store"
)

// The erasure ledger (GDPR-5) lists every erasure by ids and blind tokens
// only — never personal data — so that it can be kept beside every backup
// and replayed against a restored database: whatever was erased after the
// backup was taken is erased again before the restored Valv serves.

// LedgerEntry is one erasure. Scope and Target:
//
//	document    the document id (erased with its versions, files, subject
//	            index entries and payload history)
//	restricted  "<document id>@<YYYY-MM-DD>": restricted in place of an
//	            erasure, kept until that day
//	subject     the base64 blind token of an identifier: the subject's
//	            identifiers and extracts in earlier requests were dropped
//	tenant      the tenant id: the tenant was terminated
type LedgerEntry struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	RequestID string    `json:"request_id"`
	Scope     string    `json:"scope"`
	Target    string    `json:"target"`
	Time      time.Time `json:"time"`
}

// Ledger returns ledger entries after the entry id after ("" = from the
// start), oldest first.
func Ledger(ctx context.Context, db *store.DB, after string, limit int) ([]LedgerEntry, error) {
	rows, err := db.Reader().ErasureLedger(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = LedgerEntry{ID: r.ID, TenantID: r.TenantID, RequestID: r.RequestID, Scope: r.Scope, Target: r.Target, Time: r.Time}
	}
	return out, nil
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Entries    int `json:"entries"`
	Erased     int `json:"erased"`
	Restricted int `json:"restricted"`
	Subjects   int `json:"subjects"`
	Tenants    int `json:"tenants"`
}

// Replay applies ledger entries to a database (a restored backup): each
// erased document is erased, each restricted one restricted, each erased
// subject's identifiers forgotten, each terminated tenant's data deleted
// (legal-archive documents stay restricted, as they were). The entries
// are added to the database's own ledger, so a later backup carries
// them. Replaying an entry twice changes nothing.
func Replay(ctx context.Context, db *store.DB, entries []LedgerEntry) (ReplayResult, error) {
	var res ReplayResult
	for start := 0; start < len(entries); start += 200 {
		batch := entries[start:min(start+200, len(entries))]
		next := res
		err := db.Write(ctx, func(tx *store.Tx) error {
			next = res
			for _, e := range batch {
				if err := replayOne(ctx, tx, e, &next); err != nil {
					return fmt.Errorf("ledger entry %s: %w", e.ID, err)
				}
				if err := tx.AppendErasure(ctx, store.ErasureRow{ID: e.ID, TenantID: e.TenantID, RequestID: e.RequestID, Scope: e.Scope,
					Target: e.Target, Time: e.Time}); err != nil {
					return err
				}
				next.Entries++
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res = next
	}
	return res, nil
}

func replayOne(ctx context.Context, tx *store.Tx, e LedgerEntry, res *ReplayResult) error {
	switch e.Scope {
	case "document":
		res.Erased++
		return tx.EraseDocuments(ctx, e.TenantID, []string{e.Target})
	case "restricted":
		id, until, ok := strings.Cut(e.Target, "@")
		if !ok {
			return errors.New("malformed restricted target")
		}
		err := tx.RestrictDocument(ctx, e.TenantID, id, "erasure", until)
		if errors.Is(err, store.ErrNotFound) {
			return nil // culled meanwhile
		}
		res.Restricted++
		return err
	case "subject":
		tok, err := base64.StdEncoding.DecodeString(e.Target)
		if err != nil {
			return fmt.Errorf("malformed token: %w", err)
		}
		res.Subjects++
		return tx.ForgetSubject(ctx, e.TenantID, [][]byte{tok})
	case "tenant":
		res.Tenants++
		return tx.EraseTenantData(ctx, e.TenantID)
	default:
		return fmt.Errorf("unknown scope %q", e.Scope)
	}
}
