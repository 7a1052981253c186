package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/report"
)

func newReportCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Make and verify signed measures reports",
		Long: `A measures report states a tenant's technical and organisational measures
(GDPR art. 28 and 32) as the running installation has them: TLS, encryption
and key holders, two-factor coverage, backups and restore tests, the audit
trail, retention, the WAF, the malware scanner, operator accesses, open
data-subject requests, and where the data is. It is signed with the audit
key. See docs/evidence.md.`,
	}
	cmd.AddCommand(newReportMeasuresCmd(e), newReportVerifyCmd(e))
	return cmd
}

func newReportMeasuresCmd(e *env) *cobra.Command {
	var tenantRef, format, lang, out, from, to string
	cmd := &cobra.Command{
		Use:   "measures --tenant SLUG",
		Short: "Write a tenant's signed measures report (json, html, pdf, or a zip of all three)",
		Long: `Write a tenant's measures report and its signature (FILE.sig, except for zip,
which holds every form with its signature). Check it with 'valv report verify'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenantRef == "" {
				return usageError{errors.New("give --tenant (the tenant's slug or id)")}
			}
			if format != "json" && format != "html" && format != "pdf" && format != "zip" {
				return usageError{fmt.Errorf("--format %q: use json, html, pdf or zip", format)}
			}
			if lang != "sv" && lang != "en" {
				return usageError{fmt.Errorf("--lang %q: use sv or en", lang)}
			}
			var period [2]time.Time
			for i, s := range []string{from, to} {
				if s == "" {
					continue
				}
				t, err := time.Parse(time.DateOnly, s)
				if err != nil {
					return usageError{fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)}
				}
				period[i] = t
			}
			if !period[1].IsZero() {
				period[1] = period[1].AddDate(0, 0, 1) // to the end of that day
			}
			return e.withApp(cmd, func(a *app.App) error {
				ctx := cmd.Context()
				f, err := a.MeasuresFile(ctx, authz.PrincipalFrom(ctx), tenantRef, period[0], period[1], format, lang)
				if err != nil {
					return err
				}
				path := out
				if path == "" {
					path = f.Name
				}
				if err := writeNew(path, f.Body); err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "Wrote %s\n", path)
				if len(f.Signature) > 0 {
					if err := writeNew(path+".sig", f.Signature); err != nil {
						return err
					}
					fmt.Fprintf(e.Stdout, "Wrote %s.sig (check with: valv report verify --signature %s.sig %s)\n", path, path, path)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenantRef, "tenant", "", "the tenant's slug or id")
	cmd.Flags().StringVar(&format, "format", "pdf", "json, html, pdf or zip")
	cmd.Flags().StringVar(&lang, "lang", "sv", "sv or en")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: measures-<slug>-<date>[-<lang>].<format>)")
	cmd.Flags().StringVar(&from, "from", "", "first day of the period (default: 30 days ago)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period (default: today)")
	return cmd
}

// writeNew writes a file that must not exist yet (mode 0640).
func writeNew(path string, body []byte) error {
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func newReportVerifyCmd(e *env) *cobra.Command {
	var key, keyFile, sig string
	cmd := &cobra.Command{
		Use:   "verify --key KEY --signature FILE.sig FILE",
		Short: "Check a report file against its signature and the audit verifier key (offline)",
		Long: `Check that a report file is exactly what Valv signed. KEY is the installation's
audit verifier key (in the report as audit.verifier_key, and at
GET /api/v1/audit/key); get it from a source you trust, not from the file
you are checking. Needs no running Valv and no configuration.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (key == "") == (keyFile == "") {
				return usageError{errors.New("give the verifier key with --key or --key-file")}
			}
			if keyFile != "" {
				b, err := os.ReadFile(filepath.Clean(keyFile))
				if err != nil {
					return err
				}
				key = strings.TrimSpace(string(b))
			}
			if sig == "" {
				sig = args[0] + ".sig"
			}
			body, err := os.ReadFile(filepath.Clean(args[0]))
			if err != nil {
				return err
			}
			signature, err := os.ReadFile(filepath.Clean(sig))
			if err != nil {
				return err
			}
			st, err := report.Verify(body, signature, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "OK: %s is the %s measures report of tenant %s (language %s), generated %s; the signature checks against the key given.\n",
				args[0], st.Format, st.Tenant, st.Language, st.Generated.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the audit verifier key (name+hash+key)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "a file holding the verifier key")
	cmd.Flags().StringVar(&sig, "signature", "", "the signature file (default: FILE.sig)")
	return cmd
}
