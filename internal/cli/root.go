package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/problem"
)

// version is set at build time with -ldflags "-X ...cli.version=...".
var version = "dev"

// Streams are the process's standard files and environment.
type Streams struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

// configKeyAnnotation ties a flag to the configuration key it overrides.
const configKeyAnnotation = "valv_config_key"

// env is what every command shares.
type env struct {
	Streams
	configFile string
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError ends a command with an exit status of its own (valv doctor's
// 3 and 4), its message already printed.
type exitError struct{ status int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// Run runs the valv command with args and returns the exit status.
func Run(ctx context.Context, args []string, s Streams) int {
	e := &env{Streams: s}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(s.Stdin)
	root.SetOut(s.Stdout)
	root.SetErr(s.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var xe exitError
	if errors.As(err, &xe) {
		return xe.status
	}
	msg := errorLine(err)
	fmt.Fprintf(s.Stderr, "valv: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// errorLine is the one line printed for a failed command. A problem shows
// its message (what a person can act on), not its code or internal cause.
func errorLine(err error) string {
	msg := err.Error()
	if p, ok := problem.As(err); ok && p.Kind != problem.KindInternal {
		msg = p.Message
		for _, f := range p.Fields {
			msg += " " + strings.TrimPrefix(f.Field, "/") + ": " + f.Message
		}
	}
	return strings.ReplaceAll(strings.TrimSpace(msg), "\n", " ")
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "valv",
		Short: "Valv — a self-hosted, GDPR-native data and document vault",
		Long: `Valv keeps an EU software company's customer data and documents encrypted,
audited and under retention rules, and proves it on demand.

Start it with 'valv serve'. Configuration comes from a YAML file (--config or
VALV_CONFIG), VALV_* environment variables and flags, in rising precedence;
'valv config keys' lists every setting.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
	})
	root.PersistentFlags().StringVar(&e.configFile, "config", "", "YAML configuration file (default: $VALV_CONFIG)")
	configFlag(root.PersistentFlags(), "data-dir", "data_dir", "directory for the embedded database, keys and TLS files")
	root.AddCommand(
		newServeCmd(e),
		newMigrateCmd(e),
		newConfigCmd(e),
		newTenantCmd(e),
		newAccessCmd(e),
		newGuardCmd(e),
		newOperatorCmd(e),
		newKeysCmd(e),
		newAuditCmd(e),
		newRetentionCmd(e),
		newReportCmd(e),
		newDoctorCmd(e),
		newSeedCmd(e),
		newBenchCmd(e),
		newBackupCmd(e),
		newJobsCmd(e),
		newVersionCmd(e),
	)
	markUsageErrors(root)
	return root
}

// markUsageErrors makes argument errors usage errors throughout the tree,
// and makes a group command given an unknown sub-command fail instead of
// printing its help.
func markUsageErrors(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageError{fmt.Errorf("unknown command %q for '%s' (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())}
				}
				return cmd.Help()
			}
		} else {
			c.Args = wrapArgs(c.Args)
		}
		markUsageErrors(c)
	}
}

// wrapArgs marks argument-count errors as usage errors.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if check == nil {
			return nil
		}
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// configFlag defines a string flag that overrides a configuration key.
func configFlag(fs *pflag.FlagSet, name, key, usage string) {
	fs.String(name, "", usage+" (config "+key+", env "+config.EnvName(key)+")")
	_ = fs.SetAnnotation(name, configKeyAnnotation, []string{key})
}

// loadConfig reads the configuration for cmd: the file, the environment,
// then the flags that were set.
func (e *env) loadConfig(cmd *cobra.Command) (config.Config, error) {
	file := e.configFile
	if file == "" {
		file = lookupEnv(e.Environ, "VALV_CONFIG")
	}
	overrides := map[string]string{}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if keys := f.Annotations[configKeyAnnotation]; len(keys) == 1 {
			overrides[keys[0]] = f.Value.String()
		}
	})
	cfg, err := config.Load(config.Source{File: file, Environ: e.Environ, Overrides: overrides})
	if err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// logger builds the server log from the configuration: JSON or text on
// stderr, at the configured level.
func (e *env) logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(e.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(e.Stderr, opts))
}

// quietLogger is the log for one-shot commands: warnings and errors only.
func (e *env) quietLogger(cfg config.Config) *slog.Logger {
	cfg.Log.Level = "warn"
	return e.logger(cfg)
}

// principal is the operator at this console. The CLI works on the data
// directory, which holds the root key (or needed the key holders' shares):
// whoever can run it there is a security operator. They are named by their
// operating-system account (not $USER, which anyone can set), so that two
// people at the console are two operators, and one is never two.
func (e *env) principal() authz.Principal {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if err == nil {
		name = "uid-" + u.Uid
	}
	return authz.LocalOperator(name)
}

// Main is the valv program: it runs with the process's arguments and
// streams and returns the exit status.
func Main() int {
	return Run(context.Background(), os.Args[1:], Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
}
