package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/tenant"
)

func newKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate, re-encrypt and retire tenant keys; rotate the root key",
	}
	cmd.AddCommand(newKeysRotateCmd(e), newKeysReencryptCmd(e), newKeysRetireCmd(e), newKeysStatusCmd(e), newKeysRotateRootCmd(e))
	return cmd
}

// tenantSelector is --tenant ID or --all.
type tenantSelector struct {
	tenant string
	all    bool
}

func (s *tenantSelector) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.tenant, "tenant", "", "tenant id")
	cmd.Flags().BoolVar(&s.all, "all", false, "every tenant")
}

func (s *tenantSelector) resolve(e *env, cmd *cobra.Command, a *app.App) ([]string, error) {
	if (s.tenant == "") == !s.all {
		return nil, usageError{errors.New("give either --tenant ID or --all")}
	}
	if !s.all {
		if _, err := a.Tenants.Get(cmd.Context(), e.principal(), s.tenant); err != nil {
			return nil, err
		}
		return []string{s.tenant}, nil
	}
	var ids []string
	cursor := ""
	for {
		page, next, err := a.Tenants.List(cmd.Context(), e.principal(), cursor, tenant.MaxPage)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			ids = append(ids, t.ID)
		}
		if next == "" {
			return ids, nil
		}
		cursor = next
	}
}

func newKeysRotateCmd(e *env) *cobra.Command {
	var sel tenantSelector
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new primary key for a tenant's data; old data stays readable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				ids, err := sel.resolve(e, cmd, a)
				if err != nil {
					return err
				}
				for _, id := range ids {
					kid, err := a.Keys.Rotate(cmd.Context(), id)
					if err != nil {
						return fmt.Errorf("tenant %s: %w", id, err)
					}
					fmt.Fprintf(e.Stdout, "tenant %s: new primary key %d\n", id, kid)
				}
				fmt.Fprintln(e.Stdout, "New data is sealed with the new keys. Run 'valv keys reencrypt' to move old data, then 'valv keys retire'.")
				return nil
			})
		},
	}
	sel.add(cmd)
	return cmd
}

func newKeysReencryptCmd(e *env) *cobra.Command {
	var sel tenantSelector
	cmd := &cobra.Command{
		Use:   "reencrypt",
		Short: "Move a tenant's data sealed with old keys to its primary key (resumable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				ids, err := sel.resolve(e, cmd, a)
				if err != nil {
					return err
				}
				for _, id := range ids {
					p := e.progress("re-encrypting "+id, 0)
					res, err := a.Keys.Reencrypt(cmd.Context(), id, p.set)
					p.finish()
					if err != nil {
						return fmt.Errorf("tenant %s: %w", id, err)
					}
					fmt.Fprintf(e.Stdout, "tenant %s: %d values examined, %d re-encrypted\n", id, res.Examined, res.Reencrypted)
				}
				return nil
			})
		},
	}
	sel.add(cmd)
	return cmd
}

func newKeysRetireCmd(e *env) *cobra.Command {
	var sel tenantSelector
	cmd := &cobra.Command{
		Use:   "retire",
		Short: "Delete a tenant's old keys once no data uses them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				ids, err := sel.resolve(e, cmd, a)
				if err != nil {
					return err
				}
				for _, id := range ids {
					n, err := a.Keys.RetireOldKeys(cmd.Context(), id)
					if err != nil {
						return fmt.Errorf("tenant %s: %w", id, err)
					}
					fmt.Fprintf(e.Stdout, "tenant %s: %d old keys deleted\n", id, n)
				}
				return nil
			})
		},
	}
	sel.add(cmd)
	return cmd
}

func newKeysStatusCmd(e *env) *cobra.Command {
	var sel tenantSelector
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List a tenant's keys and how many values each seals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				ids, err := sel.resolve(e, cmd, a)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
				if !asJSON {
					fmt.Fprintln(tw, "TENANT\tKEY\tSTATUS\tPRIMARY\tVALUES")
				}
				for _, id := range ids {
					st, err := a.Keys.KeyStatus(cmd.Context(), id)
					if err != nil {
						return fmt.Errorf("tenant %s: %w", id, err)
					}
					if asJSON {
						if err := json.NewEncoder(e.Stdout).Encode(st); err != nil {
							return err
						}
						continue
					}
					if st.Destroyed {
						fmt.Fprintf(tw, "%s\t-\tdestroyed\t-\t-\n", id)
					}
					for _, k := range st.Keys {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%d\n", id, k.ID, k.Status, k.Primary, k.Values)
					}
				}
				return tw.Flush()
			})
		},
	}
	sel.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newKeysRotateRootCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-root",
		Short: "Replace the root key file and re-wrap every tenant keyset (file provider)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				if err := a.RotateRootFile(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintln(e.Stdout, "The root key was replaced and every keyset re-wrapped. Restart other nodes with the new key file.")
				return nil
			})
		},
	}
}
