package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/doctor"
)

func newDoctorCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration and the running system for weaknesses, and say how to fix each",
		Long: `Check the configuration and the installation's state for weaknesses: a root
key in a plain file in production, a single key holder, TLS below 1.2,
backups to a single target or outside the tenants' region, a restore test
older than its schedule, a lenient WAF, no malware scanner, owners and
admins without a second factor, an audit trail that does not verify, a
clock that is off. Each finding says how to fix it. The server runs the same
checks every hour; the operator console and /metrics show the last run.

Exit status: 0 when nothing worse than info was found, 3 for warnings,
4 for critical findings (1: the checks could not run). See docs/operations/doctor.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var run app.DoctorRun
			err := e.withApp(cmd, func(a *app.App) error {
				var err error
				run, err = a.Doctor(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				if err := e.printJSON(run); err != nil {
					return err
				}
			} else {
				printFindings(e, run.Findings)
			}
			if st := doctor.ExitStatus(run.Findings); st != 0 {
				return exitError{status: st}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	return cmd
}

func printFindings(e *env, findings []doctor.Finding) {
	if len(findings) == 0 {
		fmt.Fprintln(e.Stdout, "No weaknesses found.")
		return
	}
	for _, f := range findings {
		fmt.Fprintf(e.Stdout, "%-8s %s (%s)\n", strings.ToUpper(f.Severity), f.Check, f.Requirement)
		fmt.Fprintf(e.Stdout, "         %s\n         Fix: %s\n", f.Problem, f.Fix)
	}
	c := doctor.Count(findings)
	fmt.Fprintf(e.Stdout, "\n%d critical, %d warning, %d info.\n", c[doctor.Critical], c[doctor.Warning], c[doctor.Info])
}
