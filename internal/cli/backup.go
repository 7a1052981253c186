package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/backup"
	"github.com/valvhq/valv/internal/config"
)

func newBackupCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Encrypted backups: take, list, verify, restore, and test restores",
		Long: `Backups are consistent snapshots of all of Valv's data, compressed, encrypted
under a key wrapped by the root key, and written to every target in
backup.targets (a directory or an S3 bucket each, at least two places).
The server takes one every backup.interval, keeps them backup.keep, and
restores the latest into a scratch place every backup.restore_test_interval.
See docs/operations/backup.md.`,
	}
	cmd.AddCommand(newBackupRunCmd(e), newBackupListCmd(e), newBackupVerifyCmd(e), newBackupRestoreCmd(e),
		newBackupTestCmd(e), newBackupStatusCmd(e))
	return cmd
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func newBackupRunCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Take a backup now and write it to every target",
		Long: `Take a backup now, while Valv serves: one consistent snapshot of every table,
written to every target and read back from each. It is OK when every target
(at least two) holds a verified copy; degraded (exit status 1, and an alert
to the security operators) when a target failed or only one is configured.
Old backups are pruned afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				p := e.progress("backup", 0)
				rep, err := a.BackupNow(cmd.Context(), p.set)
				p.finish()
				if asJSON {
					if jerr := e.printJSON(rep); jerr != nil {
						return jerr
					}
				} else if rep.ID != "" {
					fmt.Fprintf(e.Stdout, "Backup %s: %s (%d rows, %s stored of %s, %d chunks, %s)\n", rep.ID, rep.Status, rep.Rows,
						mib(rep.Stored), mib(rep.PlainBytes), rep.Chunks, rep.Duration.Round(time.Millisecond))
					tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TARGET\tREGION\tRESULT")
					for _, t := range rep.Targets {
						res := "written and verified"
						if !t.OK || !t.Verified {
							res = "FAILED: " + t.Error
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Region, res)
					}
					tw.Flush()
				}
				if err != nil {
					return err
				}
				if rep.Status != backup.StatusOK {
					return fmt.Errorf("the backup is %s: %s", rep.Status, rep.Reason)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newBackupListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the complete backups on every target, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				list, bad, err := a.Backups.List(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return e.printJSON(map[string]any{"backups": list, "unreadable_targets": bad})
				}
				tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTAKEN\tROWS\tSTORED\tTARGETS")
				for _, l := range list {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.ID, l.CreatedAt.Format(time.RFC3339), l.Rows, mib(l.Stored), strings.Join(l.Targets, ","))
				}
				tw.Flush()
				for _, b := range bad {
					fmt.Fprintf(e.Stderr, "target %s: %s\n", b.Target, b.Error)
				}
				if len(bad) > 0 {
					return errors.New("some targets could not be read")
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBackupVerifyCmd(e *env) *cobra.Command {
	var target string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [backup-id]",
		Short: "Read back every chunk of a backup and check it",
		Long: `Read back every chunk of a backup (default: the latest) on each target (or
--target), check its checksum, decrypt and decompress it, parse the data and
compare the row counts with the manifest. Every bad chunk is named. Exit
status 1 if any problem was found.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return e.withApp(cmd, func(a *app.App) error {
				reps, err := a.VerifyBackup(cmd.Context(), target, id)
				if err != nil {
					return err
				}
				if asJSON {
					if err := e.printJSON(reps); err != nil {
						return err
					}
				}
				bad := 0
				for _, r := range reps {
					if !asJSON {
						if r.OK {
							fmt.Fprintf(e.Stdout, "%s on %s: OK (%d chunks, %d rows)\n", r.ID, r.Target, r.Chunks, r.Rows)
						} else {
							fmt.Fprintf(e.Stdout, "%s on %s: %d problems\n", orDash(r.ID), r.Target, len(r.Problems))
							for _, p := range r.Problems {
								fmt.Fprintf(e.Stdout, "  %s\n", p)
							}
						}
					}
					if !r.OK {
						bad++
					}
				}
				if bad > 0 {
					return fmt.Errorf("%d of %d copies do not verify", bad, len(reps))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "verify only on this target")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newBackupRestoreCmd(e *env) *cobra.Command {
	var target, id, toDir, toURL, keyFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restore --to-data-dir DIR | --to-database-url URL",
		Short: "Restore a backup into a new data directory or an empty database",
		Long: `Restore a backup (default: the latest on the first target) into a NEW
installation: an empty data directory (embedded SQLite) or an empty
PostgreSQL database. Restoring over an existing installation is refused.
A backup from either engine restores into either (the way to move from the
embedded default to PostgreSQL).

The root key the backup was made under is needed: the key file (given with
--root-key-file, default the configured one, which is then copied beside
the restored data), the HSM, or the key holders' shares, asked for here.
Every erasure made after the backup (the erasure ledger kept beside the
backups) is re-applied before the restored copy is used; then its audit
chains are verified and a sample of documents decrypted.

Start the restored installation with the same configuration and the new
--data-dir or database.url.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (toDir == "") == (toURL == "") {
				return usageError{errors.New("give exactly one of --to-data-dir and --to-database-url")}
			}
			src, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			dest := src
			if toDir != "" {
				dest.DataDir, dest.Database.Driver, dest.Database.Path, dest.Database.URL = toDir, "sqlite", "", ""
				dest.Keys.File = ""
				dest.TLS.CertFile, dest.TLS.KeyFile = "", ""
			} else {
				dest.Database.Driver, dest.Database.URL = "postgres", config.Secret(toURL)
			}
			dest.Database.AutoMigrate = true
			p := e.progress("restore", 0)
			res, err := app.RestoreBackup(cmd.Context(), app.RestoreRequest{Source: src, Target: target, ID: id, Dest: dest,
				RootKeyFile: keyFile, Unseal: e.unsealPrompt(), Progress: p.set, Out: e.Stderr})
			p.finish()
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(res)
			}
			fmt.Fprintf(e.Stdout, "Restored backup %s (taken %s) from %s into %s: %d rows.\n", res.ID,
				res.CreatedAt.Format(time.RFC3339), res.Target, res.Database, res.Rows)
			r := res.Replayed
			fmt.Fprintf(e.Stdout, "Re-applied %d erasures made after the backup (%d documents erased, %d restricted, %d subjects, %d tenants).\n",
				r.Entries, r.Erased, r.Restricted, r.Subjects, r.Tenants)
			fmt.Fprintf(e.Stdout, "Verified %d audit entries; decrypted %d sample documents.\n", res.AuditEntries, res.Sampled)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "target to restore from (default: the first in backup.targets)")
	cmd.Flags().StringVar(&id, "id", "", "backup id (default: the latest on the target)")
	cmd.Flags().StringVar(&toDir, "to-data-dir", "", "new, empty data directory to restore into (embedded SQLite)")
	cmd.Flags().StringVar(&toURL, "to-database-url", "", "empty PostgreSQL database to restore into")
	cmd.Flags().StringVar(&keyFile, "root-key-file", "", "root key file the backup was made under (file provider; default keys.file)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newBackupTestCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the restore test now",
		Long: `Restore the latest backup of each target into a scratch directory, verify its
audit chains and row counts, decrypt a sample of documents, delete the
scratch copy and record the result, as the server does every
backup.restore_test_interval. Exit status 1 if a test failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				tests, err := a.RestoreTests(cmd.Context())
				if asJSON {
					if jerr := e.printJSON(tests); jerr != nil {
						return jerr
					}
				} else {
					printRestoreTests(e, tests)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printRestoreTests(e *env, tests []app.RestoreTest) {
	tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tBACKUP\tTESTED\tRESULT\tROWS\tAUDIT ENTRIES\tDOCUMENTS DECRYPTED")
	for _, t := range tests {
		res := "ok"
		if !t.OK {
			res = "FAILED: " + t.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", t.Target, orDash(t.BackupID), t.FinishedAt.Format(time.RFC3339), res, t.Rows, t.AuditEntries, t.Sampled)
	}
	tw.Flush()
}

func newBackupStatusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the configured targets, the last backups and the last restore tests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				st, err := a.BackupStatus(cmd.Context(), 10)
				if err != nil {
					return err
				}
				if asJSON {
					return e.printJSON(st)
				}
				tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TARGET\tREGION\tWHERE")
				for _, t := range st.Targets {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Region, t.Where)
				}
				tw.Flush()
				fmt.Fprintln(e.Stdout)
				tw = tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BACKUP\tSTATUS\tSTORED\tREASON")
				for _, b := range st.Backups {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", orDash(b.ID), b.Status, mib(b.Stored), b.Reason)
				}
				tw.Flush()
				fmt.Fprintln(e.Stdout)
				printRestoreTests(e, st.RestoreTests)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
