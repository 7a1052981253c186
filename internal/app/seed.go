package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/synth"
	"github.com/valvhq/valv/internal/tenant"
)

// Synthetic data (ENV-1): test and development installations are filled
// with generated Swedish data — Skatteverket's test personnummer, reserved
// example domains and PTS's fiction phone numbers — never with data from
// production. Every value goes through the same services (and validators)
// as real input.

// SeedOptions says how much synthetic data to make.
type SeedOptions struct {
	Tenants   int
	Documents int // per tenant
	// Seed makes the data reproducible: the same seed on an empty
	// installation gives the same data.
	Seed uint64
	// Progress is told how many documents are made of how many.
	Progress func(done, total int64)
}

// SeededTenant is one tenant made, with its owner's one-time setup link.
type SeededTenant struct {
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	SetupLink string `json:"setup_link"`
	Documents int    `json:"documents"`
	Messages  int    `json:"messages"`
}

// MaxSeed bounds one seeding run.
const (
	maxSeedTenants   = 1000
	maxSeedDocuments = 100000
)

// SeedSynthetic fills a test or development installation with synthetic
// tenants, owners, document types, documents and messages between the
// tenants. A production installation refuses.
func (a *App) SeedSynthetic(ctx context.Context, p authz.Principal, o SeedOptions) ([]SeededTenant, error) {
	if a.cfg.Environment == config.Production || a.Installation.Environment == string(config.Production) {
		return nil, errors.New("seed: this is a production installation; synthetic data goes only into test and development installations (environment: test or development)")
	}
	if o.Tenants < 1 || o.Tenants > maxSeedTenants || o.Documents < 0 || o.Documents > maxSeedDocuments {
		return nil, fmt.Errorf("seed: give 1 to %d tenants and 0 to %d documents per tenant", maxSeedTenants, maxSeedDocuments)
	}
	if o.Progress == nil {
		o.Progress = func(int64, int64) {}
	}
	g := synth.New(o.Seed)
	now := a.now()
	total := int64(o.Tenants * o.Documents)
	var done int64
	var out []SeededTenant
	owners := map[string]authz.Principal{}
	for range o.Tenants {
		st, owner, err := a.seedTenant(ctx, p, g)
		if err != nil {
			return out, err
		}
		owners[st.Slug] = owner
		for i := range o.Documents {
			if err := a.seedDocument(ctx, owner, g, now, i); err != nil {
				return out, fmt.Errorf("seed: tenant %s: %w", st.Slug, err)
			}
			st.Documents++
			done++
			o.Progress(done, total)
		}
		out = append(out, st)
	}
	// Each tenant sends a few invoices to the next one.
	for i := range out {
		if len(out) < 2 {
			break
		}
		to := out[(i+1)%len(out)]
		for range min(3, o.Documents) {
			inv := g.Invoice(now)
			data, err := json.Marshal(inv)
			if err != nil {
				return out, err
			}
			_, err = a.Messages.Send(withAuditRecord(ctx, "message.send"), owners[out[i].Slug], message.SendRequest{To: message.Recipient{Tenant: to.Slug},
				Type: "faktura", Data: data, DocumentDate: inv.IssueDate.Format(time.DateOnly),
				Subjects: []document.Subject{{Kind: "organisationsnummer", Value: inv.Buyer.Organisationsnummer}}})
			if err != nil {
				return out, fmt.Errorf("seed: message from %s to %s: %w", out[i].Slug, to.Slug, err)
			}
			out[i].Messages++
		}
	}
	return out, nil
}

// seedTenant makes one tenant with its owner and document types.
func (a *App) seedTenant(ctx context.Context, p authz.Principal, g *synth.Generator) (SeededTenant, authz.Principal, error) {
	person := g.Person()
	var created tenant.Created
	var err error
	for try := 0; ; try++ {
		created, err = a.Tenants.Create(withAuditRecord(ctx, "tenant.create"), p, tenant.CreateInput{Name: g.Company().Name,
			OwnerEmail: person.Email, OwnerLanguage: "sv", SecurityContact: person.Email})
		if pe, ok := problem.As(err); ok && pe.Kind == problem.KindConflict && try < 20 {
			continue // a name taken by an earlier run: draw another company
		}
		break
	}
	if err != nil {
		return SeededTenant{}, authz.Principal{}, fmt.Errorf("seed: tenant: %w", err)
	}
	if created.Owner == nil {
		return SeededTenant{}, authz.Principal{}, errors.New("seed: the tenant was made without an owner")
	}
	owner := authz.Principal{Kind: authz.User, ID: created.Owner.ID, TenantID: created.Tenant.ID, Role: authz.Owner}
	for name, archive := range map[string]string{"faktura": document.ArchiveLegal, "medlem": document.ArchiveStandard} {
		if _, err := a.Documents.PutType(withAuditRecord(ctx, "document.type.put"), owner, name, document.TypeInput{DefaultArchive: archive}); err != nil {
			return SeededTenant{}, authz.Principal{}, fmt.Errorf("seed: document type %s: %w", name, err)
		}
	}
	return SeededTenant{Slug: created.Tenant.Slug, Name: created.Tenant.Name, Owner: person.Email, SetupLink: created.SetupLink}, owner, nil
}

// seedDocument makes one document: mostly invoices, else member records.
func (a *App) seedDocument(ctx context.Context, owner authz.Principal, g *synth.Generator, now time.Time, i int) error {
	var in document.Input
	if i%5 < 3 {
		inv := g.Invoice(now)
		contact := g.Person()
		data, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		in = document.Input{Type: "faktura", DocumentDate: inv.IssueDate.Format(time.DateOnly), Data: data,
			Subjects: []document.Subject{{Kind: "organisationsnummer", Value: inv.Buyer.Organisationsnummer},
				{Kind: "personnummer", Value: contact.Personnummer}, {Kind: "email", Value: contact.Email}},
			Metadata: map[string]string{"invoice_number": inv.Number, "source": "synthetic"}}
	} else {
		m := g.Member(now)
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		in = document.Input{Type: "medlem", DocumentDate: m.JoinedAt.Format(time.DateOnly), Data: data,
			Subjects: []document.Subject{{Kind: "personnummer", Value: m.Person.Personnummer}, {Kind: "email", Value: m.Person.Email}},
			Metadata: map[string]string{"member_number": m.MemberNumber, "source": "synthetic"}}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = a.Documents.Create(withAuditRecord(ctx, "document.create"), owner, document.CreateRequest{Input: in, Raw: raw})
	return err
}

// withAuditRecord gives one service call of a multi-step command its own
// audit record, so that each call is an entry of its own.
func withAuditRecord(ctx context.Context, action string) context.Context {
	ctx, _ = audit.Begin(ctx, action)
	return ctx
}
