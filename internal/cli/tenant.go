package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/tenant"
)

func newTenantCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create and list tenants",
	}
	var name, slug, contact, owner, ownerLang string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				c, err := a.Tenants.Create(cmd.Context(), e.principal(), tenant.CreateInput{Name: name, Slug: slug, SecurityContact: contact,
					OwnerEmail: owner, OwnerLanguage: ownerLang})
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(e.Stdout).Encode(c)
				}
				fmt.Fprintf(e.Stdout, "created tenant %s (%s), short name %s\n", c.Tenant.ID, c.Tenant.Name, c.Tenant.Slug)
				if c.SetupLink != "" {
					fmt.Fprintf(e.Stdout, "The owner sets up the account here (valid 72 hours, once):\n  %s\n", c.SetupLink)
				}
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "the tenant's name (required)")
	create.Flags().StringVar(&slug, "slug", "", "short name used to log in (default: derived from the name)")
	create.Flags().StringVar(&contact, "security-contact", "", "email address for security notifications")
	create.Flags().StringVar(&owner, "owner-email", "", "create the tenant's owner, who gets a one-time setup link")
	create.Flags().StringVar(&ownerLang, "owner-language", "", "the owner's language: sv or en")
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
					page, next, err := a.Tenants.List(cmd.Context(), e.principal(), cursor, tenant.MaxPage)
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
				fmt.Fprintln(tw, "ID\tSHORT NAME\tNAME\tSTATUS\tCREATED")
				for _, t := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Slug, t.Name, t.Status, t.CreatedAt.Format(time.RFC3339))
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
// The command runs as the local operator, and is audited (AUD-1): its
// context (cmd.Context() inside fn) carries the principal and the call's
// audit record, whose entry is written when fn returns.
func (e *env) withApp(cmd *cobra.Command, fn func(a *app.App) error) error {
	cfg, err := e.loadConfig(cmd)
	if err != nil {
		return err
	}
	a, err := app.Open(cmd.Context(), app.Options{Config: cfg, Logger: e.quietLogger(cfg), Out: e.Stderr, Unseal: e.unsealPrompt(), Version: version})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := call.With(cmd.Context(), call.Info{Channel: call.ChannelCLI, RequestID: call.NewRequestID(), Start: time.Now()})
	ctx = authz.WithPrincipal(ctx, e.principal())
	ctx, _ = audit.Begin(ctx, cliAction(cmd))
	cmd.SetContext(ctx)
	err = fn(a)
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		if p, ok := problem.As(err); ok {
			status = p.Kind.Status()
		}
	}
	if ferr := a.Trail.Finish(ctx, status, err); ferr != nil && err == nil {
		return fmt.Errorf("the command ran but could not be recorded in the audit trail: %w", ferr)
	}
	return err
}

// cliAction names a command's audit action: "valv keys rotate-root" is
// cli.keys.rotate-root.
func cliAction(cmd *cobra.Command) string {
	parts := strings.Fields(cmd.CommandPath())
	if len(parts) > 0 {
		parts[0] = "cli"
	}
	return strings.Join(parts, ".")
}
