package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
)

func newMigrateCmd(e *env) *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database schema migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			a, err := app.Open(cmd.Context(), app.Options{Config: cfg, Logger: e.quietLogger(cfg), SkipMigrations: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if status {
				cur, latest, err := a.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "schema version %d of %d\n", cur, latest)
				return nil
			}
			applied, err := a.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			for _, name := range applied {
				fmt.Fprintf(e.Stdout, "applied %s\n", name)
			}
			cur, _, err := a.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "schema is at version %d\n", cur)
			return nil
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "only print the current and latest schema version")
	return cmd
}
