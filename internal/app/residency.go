package app

import (
	"context"
	"fmt"

	"github.com/valvhq/valv/internal/region"
)

// pins gives the message service each tenant's data-residency pin.
type pins struct{ a *App }

func (p pins) Pin(ctx context.Context, tenantID string) (string, error) {
	st, err := p.a.Tenants.SettingsOf(ctx, tenantID)
	if err != nil {
		return "", err
	}
	return st.Region, nil
}

// strictestPin is the strictest pin of every tenant, and of the platform's
// own data (operators' accounts, the platform audit chain), which always
// stays in the EU/EEA: what a backup, which holds all of it, must keep to
// (ENV-2).
func (a *App) strictestPin(ctx context.Context) (string, error) {
	all, err := a.Tenants.Pins(ctx)
	if err != nil {
		return "", err
	}
	list := []string{region.EEA}
	for _, p := range all {
		list = append(list, p)
	}
	return region.Strictest(list...), nil
}

// pinKept says why the installation cannot keep a tenant's data inside
// pin: its storage, or a backup target, is outside it. Without this
// check one owner's stricter pin would stop every tenant's backups.
func (a *App) pinKept(pin string) error {
	if a.cfg.Region != "" {
		if err := region.Check(pin, a.cfg.Region); err != nil {
			return fmt.Errorf("its storage: %w", err)
		}
	}
	for _, t := range a.cfg.Backup.Targets {
		if err := region.Check(pin, t.Region); err != nil {
			return fmt.Errorf("backup target %s: %w", t.Name, err)
		}
	}
	return nil
}
