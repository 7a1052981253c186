package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/guard"
)

// newGuardCmd manages the guard's block and allow lists (GRD-2). Changes
// reach every node at once for addresses and within seconds for networks.
func newGuardCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "List, add and remove blocked addresses and networks, and allowed networks",
	}
	var listJSON bool
	list := func(kind string) *cobra.Command {
		c := &cobra.Command{
			Use:   "list",
			Short: map[string]string{"block": "List the blocks in force, automatic and manual", "allow": "List the allowed networks"}[kind],
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return e.withApp(cmd, func(a *app.App) error {
					all, err := a.GuardList(cmd.Context(), e.principal())
					if err != nil {
						return err
					}
					var out []guard.Entry
					for _, x := range all {
						if x.Kind == kind {
							out = append(out, x)
						}
					}
					if listJSON {
						if out == nil {
							out = []guard.Entry{}
						}
						return json.NewEncoder(e.Stdout).Encode(out)
					}
					if len(out) == 0 {
						fmt.Fprintf(e.Stdout, "No %s entries.\n", map[string]string{"block": "block", "allow": "allow-list"}[kind])
						return nil
					}
					tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TARGET\tREASON\tUNTIL\tBLOCKS\tBY\tNOTE")
					for _, x := range out {
						until := "until removed"
						if !x.Until.IsZero() {
							until = x.Until.Format(time.RFC3339)
						}
						count := "-"
						if x.Count > 0 {
							count = fmt.Sprint(x.Count)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Target, x.Reason, until, count, x.By, oneLine(x.Note, 60))
					}
					return tw.Flush()
				})
			},
		}
		c.Flags().BoolVar(&listJSON, "json", false, "print the entries as JSON")
		return c
	}

	var note string
	var dur time.Duration
	blockAdd := &cobra.Command{
		Use:   "add <address|network>",
		Short: "Block an address or a CIDR network, for --for or until removed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				x, err := a.GuardBlock(cmd.Context(), e.principal(), args[0], dur, note)
				if err != nil {
					return err
				}
				if x.Until.IsZero() {
					fmt.Fprintf(e.Stdout, "Blocked %s until removed.\n", x.Target)
				} else {
					fmt.Fprintf(e.Stdout, "Blocked %s until %s.\n", x.Target, x.Until.Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	blockAdd.Flags().DurationVar(&dur, "for", 0, "how long the block lasts (e.g. 24h); 0 until removed")
	blockAdd.Flags().StringVar(&note, "note", "", "why (one line, shown in the list)")
	blockRemove := &cobra.Command{
		Use:   "remove <address|network>",
		Short: "Lift a block, automatic or manual",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				if err := a.GuardUnblock(cmd.Context(), e.principal(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "Lifted the block on %s.\n", args[0])
				return nil
			})
		},
	}
	blocks := &cobra.Command{Use: "blocks", Short: "Blocked addresses and networks"}
	blocks.AddCommand(list("block"), blockAdd, blockRemove)

	var allowNote string
	allowAdd := &cobra.Command{
		Use:   "add <network>",
		Short: "Allow a network: never blocked automatically, not limited per address (the WAF still applies)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				x, err := a.GuardAllow(cmd.Context(), e.principal(), args[0], allowNote)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "Allowed %s.\n", x.Target)
				return nil
			})
		},
	}
	allowAdd.Flags().StringVar(&allowNote, "note", "", "why (one line, shown in the list)")
	allowRemove := &cobra.Command{
		Use:   "remove <network>",
		Short: "Remove a network from the allow list",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				if err := a.GuardDisallow(cmd.Context(), e.principal(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "Removed %s from the allow list.\n", args[0])
				return nil
			})
		},
	}
	allow := &cobra.Command{Use: "allow", Short: "Allowed networks"}
	allow.AddCommand(list("allow"), allowAdd, allowRemove)

	cmd.AddCommand(blocks, allow)
	return cmd
}
