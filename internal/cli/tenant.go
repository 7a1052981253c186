package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/tenant"
)

func newTenantCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create and list tenants",
	}
	var name, contact string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				t, err := a.Tenants.Create(cmd.Context(), tenant.CreateInput{Name: name, SecurityContact: contact})
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(e.Stdout).Encode(t)
				}
				fmt.Fprintf(e.Stdout, "created tenant %s (%s)\n", t.ID, t.Name)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "the tenant's name (required)")
	create.Flags().StringVar(&contact, "security-contact", "", "email address for security notifications")
	create.Flags().BoolVar(&asJSON, "json", false, "print the tenant as JSON")
	_ = create.MarkFlagRequired("name")

	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				var all []tenant.Tenant
				cursor := ""
				for {
					page, next, err := a.Tenants.List(cmd.Context(), cursor, tenant.MaxPage)
					if err != nil {
						return err
					}
					all = append(all, page...)
					if next == "" {
						break
					}
					cursor = next
				}
				if listJSON {
					return json.NewEncoder(e.Stdout).Encode(all)
				}
				tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tCREATED")
				for _, t := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Status, t.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print the tenants as JSON")
	cmd.AddCommand(create, list)
	return cmd
}

// withApp opens the app for a one-shot command and closes it afterwards.
func (e *env) withApp(cmd *cobra.Command, fn func(a *app.App) error) error {
	cfg, err := e.loadConfig(cmd)
	if err != nil {
		return err
	}
	a, err := app.Open(cmd.Context(), app.Options{Config: cfg, Logger: e.quietLogger(cfg), Out: e.Stderr, Unseal: e.unsealPrompt()})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
