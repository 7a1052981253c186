package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/config"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and describe the configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and explain every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := e.loadConfig(cmd)
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					fmt.Fprintf(e.Stdout, "%s\n", p)
				}
				return fmt.Errorf("the configuration has %d problem(s)", len(ps))
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(e.Stdout, "configuration ok")
			return nil
		},
	}, keysCmd(e))
	return cmd
}

func keysCmd(e *env) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List every configuration key with its environment variable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if markdown {
				_, err := fmt.Fprint(e.Stdout, config.Markdown())
				return err
			}
			tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tENVIRONMENT\tDESCRIPTION")
			for _, k := range config.AllKeys() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k, config.EnvName(k), config.Doc(k))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a Markdown table with defaults (docs/configuration.md)")
	return cmd
}
