package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/authz"
)

func newOperatorCreateCmd(e *env) *cobra.Command {
	var email, role, lang string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an operator account; prints its one-time setup link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				acc, link, err := a.Tenants.CreateOperator(cmd.Context(), e.principal(), email, authz.Role(role), lang)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "created %s operator %s\n", acc.Role, acc.ID)
				fmt.Fprintf(e.Stdout, "They set a password here (valid 72 hours, once), then log in with two factors:\n  %s\n", link)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the operator's e-mail address (required)")
	cmd.Flags().StringVar(&role, "role", "security", "operator or security")
	cmd.Flags().StringVar(&lang, "language", "en", "sv or en")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}
