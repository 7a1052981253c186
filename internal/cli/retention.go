package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/jobs"
)

func newRetentionCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Cull documents past their retention by hand",
	}
	cmd.AddCommand(newRetentionRunCmd(e))
	return cmd
}

func newRetentionRunCmd(e *env) *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run culling now: delete every document past retention and not under a legal hold",
		Long: `Run the culling job now, as the scheduler does every retention.cull_interval:
every document whose retention has ended and that no legal hold covers is
deleted with its versions, files, subject index entries and payload history,
and each tenant gets a culling report (counts per archive and type). A run
that stops halfway is finished by the next one. With --dry-run nothing is
changed and the counts say what a run would cull.

It takes the job's lease, so it never runs beside a server's scheduled run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				label := "cull"
				if dryRun {
					label = "cull (dry run)"
				}
				p := e.progress(label, 0)
				res, err := a.CullNow(cmd.Context(), e.principal(), archive.CullOptions{DryRun: dryRun, Progress: p.set})
				p.finish()
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(e.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(res)
				}
				verb := "Culled"
				if dryRun {
					verb = "Would cull"
				}
				fmt.Fprintf(e.Stdout, "%s %d documents kept until before %s (%d held by legal holds, %d kept after recomputing).\n",
					verb, res.Culled, res.Cutoff, res.Held, res.Recomputed)
				tenants := make([]string, 0, len(res.Tenants))
				for t := range res.Tenants {
					tenants = append(tenants, t)
				}
				sort.Strings(tenants)
				tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
				if len(tenants) > 0 {
					fmt.Fprintln(tw, "TENANT\tARCHIVE\tTYPE\tDOCUMENTS\tREPORT")
				}
				for _, t := range tenants {
					for _, c := range res.Tenants[t] {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t, c.Archive, c.Type, c.Documents, res.Reports[t])
					}
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be culled; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newJobsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Show Valv's scheduled jobs",
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the scheduled jobs: next run, last run and its outcome, and which node runs one now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				st, err := a.JobStatus(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(e.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB\tNEXT RUN\tRUNS\tLAST FINISHED\tSTATUS\tRUNNING ON")
				for _, s := range st {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, when(s.NextRun), s.Runs, when(s.LastFinished), statusText(s), s.LeaseOwner)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(list)
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func statusText(s jobs.Status) string {
	switch {
	case s.LastStatus == "":
		return "never run"
	case s.LastError != "":
		return s.LastStatus + ": " + s.LastError
	}
	return s.LastStatus
}
