package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/audit"
)

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify, checkpoint and export the audit trail",
	}
	cmd.AddCommand(newAuditVerifyCmd(e), newAuditCheckpointCmd(e), newAuditExportCmd(e))
	return cmd
}

// chainFlag turns --tenant into a chain name: a tenant id, or "platform".
func chainFlag(s string) string {
	if s == audit.PlatformChain {
		return audit.Platform
	}
	return s
}

func newAuditVerifyCmd(e *env) *cobra.Command {
	var tenantID string
	var since int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit chains and checkpoints and name the first entry that does not match",
		Long: `Recompute every entry's hash and link, and the Merkle root and signature of
every checkpoint, of one chain (--tenant ID, or --tenant platform) or of all.
The first entry that does not match is named. Exit status 1 when a chain
does not verify.

With --since SIZE the chain is verified from its checkpoint of that size on
(the checkpoint's signature and tree state are checked, the entries before
it are trusted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 || (since > 0 && tenantID == "") {
				return usageError{errors.New("--since needs --tenant and a checkpoint size")}
			}
			return e.withApp(cmd, func(a *app.App) error {
				ctx := cmd.Context()
				chains := []string{chainFlag(tenantID)}
				if tenantID == "" {
					var err error
					if chains, err = a.Trail.Chains(ctx); err != nil {
						return err
					}
				}
				var reports []audit.Report
				bad := 0
				for _, chain := range chains {
					p := e.progress("verify "+chain, 0)
					start := time.Now()
					rep, err := a.Trail.VerifyWith(ctx, chain, since, p.set)
					p.finish()
					if err != nil {
						return fmt.Errorf("verify chain %s: %w", chain, err)
					}
					reports = append(reports, rep)
					if !rep.OK {
						bad++
					}
					if asJSON {
						continue
					}
					if rep.OK {
						secs := time.Since(start).Seconds()
						fmt.Fprintf(e.Stdout, "chain %s: OK, %d entries from %d, %d checkpoints (%.0f entries/s)\n",
							chain, rep.Entries, rep.From, rep.Checkpoints, float64(rep.Entries)/max(secs, 1e-6))
					} else {
						fmt.Fprintf(e.Stdout, "chain %s: DOES NOT VERIFY: first bad entry %d (%s): %s\n",
							chain, rep.Finding.Seq, rep.Finding.Kind, rep.Finding.Message)
					}
				}
				if asJSON {
					if err := json.NewEncoder(e.Stdout).Encode(reports); err != nil {
						return err
					}
				}
				if bad > 0 {
					return fmt.Errorf("%d of %d audit chains do not verify", bad, len(chains))
				}
				if !asJSON {
					fmt.Fprintf(e.Stdout, "all %d chains verify\n", len(chains))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant id whose chain to verify, or 'platform' (default: every chain)")
	cmd.Flags().Int64Var(&since, "since", 0, "start at the chain's checkpoint of this size")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	return cmd
}

func newAuditCheckpointCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of every chain that grew since its last one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				n, err := a.Trail.CheckpointAll(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "signed %d new checkpoints\n", n)
				return nil
			})
		},
	}
}

func newAuditExportCmd(e *env) *cobra.Command {
	var tenantID, from, to, action, output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a chain's entries as JSON lines, oldest first",
		Long: `Write the entries of one chain (--tenant ID, or --tenant platform) as JSON
lines, oldest first, to standard output or --output. Clients appear only as
keyed tokens: the export holds no personal data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenantID == "" {
				return usageError{errors.New("give --tenant ID (or --tenant platform)")}
			}
			var f audit.Filter
			f.Action = action
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"--from", from, &f.From}, {"--to", to, &f.To}} {
				if t.v == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return usageError{fmt.Errorf("%s: use RFC 3339, e.g. 2026-11-22T09:00:00Z", t.flag)}
				}
				*t.dst = v
			}
			return e.withApp(cmd, func(a *app.App) error {
				ctx := cmd.Context()
				chain := chainFlag(tenantID)
				total, err := a.Trail.Size(ctx, chain)
				if err != nil {
					return err
				}
				var w io.Writer = e.Stdout
				if output != "" {
					fh, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
					if err != nil {
						return fmt.Errorf("export file: %w", err)
					}
					defer fh.Close()
					w = fh
				}
				p := e.progress("export "+chain, total)
				cw := &lineCounter{w: w, every: 1000, fn: func(n int64) { p.set(n, max(total, n)) }}
				n, err := a.Trail.Export(ctx, chain, f, cw)
				p.finish()
				if err != nil {
					return err
				}
				if fh, ok := w.(*os.File); ok && output != "" {
					if err := fh.Sync(); err != nil {
						return err
					}
				}
				fmt.Fprintf(e.Stderr, "exported %d entries of chain %s\n", n, chain)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant id, or 'platform'")
	cmd.Flags().StringVar(&from, "from", "", "only entries at or after this time (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "only entries before this time (RFC 3339)")
	cmd.Flags().StringVar(&action, "action", "", "only this action, or actions under a prefix ending in '.'")
	cmd.Flags().StringVar(&output, "output", "", "write to this new file (mode 0600) instead of standard output")
	return cmd
}

// lineCounter counts the lines written through it, calling fn every so
// many.
type lineCounter struct {
	w     io.Writer
	n     int64
	every int64
	fn    func(int64)
}

func (c *lineCounter) Write(b []byte) (int, error) {
	for _, x := range b {
		if x == '\n' {
			c.n++
			if c.n%c.every == 0 {
				c.fn(c.n)
			}
		}
	}
	return c.w.Write(b)
}
