package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/authz"
)

func newSeedCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Fill a test or development installation with synthetic data",
	}
	var tenants, documents int
	var seed uint64
	var asJSON bool
	synthetic := &cobra.Command{
		Use:   "synthetic",
		Short: "Make synthetic tenants, owners, documents and messages (refused in production)",
		Long: `Make realistic synthetic Swedish data: organisations with valid
organisationsnummer, bankgiro and IBANs, owners, invoices and member records
whose people have personnummer from Skatteverket's test series, e-mail at
reserved example domains and phone numbers from PTS's fiction series, and
invoices sent as messages between the organisations. Nothing comes from
production, and a production installation refuses (ENV-1). Each owner gets
a one-time setup link (printed) to log in with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				p := e.progress("documents", int64(tenants*documents))
				ctx := cmd.Context()
				list, err := a.SeedSynthetic(ctx, authz.PrincipalFrom(ctx), app.SeedOptions{Tenants: tenants, Documents: documents, Seed: seed, Progress: p.set})
				p.finish()
				if asJSON {
					if jerr := e.printJSON(list); jerr != nil {
						return jerr
					}
				} else if len(list) > 0 {
					tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TENANT\tDOCUMENTS\tMESSAGES\tOWNER\tSETUP LINK")
					for _, t := range list {
						fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Slug, t.Documents, t.Messages, t.Owner, t.SetupLink)
					}
					tw.Flush()
				}
				return err
			})
		},
	}
	synthetic.Flags().IntVar(&tenants, "tenants", 3, "organisations to make")
	synthetic.Flags().IntVar(&documents, "documents", 50, "documents per organisation")
	synthetic.Flags().Uint64Var(&seed, "seed", 1, "seed of the generator: the same seed gives the same data")
	synthetic.Flags().BoolVar(&asJSON, "json", false, "print the tenants made as JSON")
	cmd.AddCommand(synthetic)
	return cmd
}
