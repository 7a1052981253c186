package cli

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
)

func newServeCmd(e *env) *cobra.Command {
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Valv server (HTTPS API and portal)",
		Long: `Run the Valv server. It listens on HTTPS only; with no certificate configured
it creates a self-signed one in the data directory and prints its fingerprint.
With --listen 127.0.0.1:0 it picks a free port, prints it and writes it to
<data-dir>/valv.addr. SIGINT or SIGTERM shuts it down gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			a, err := app.Open(ctx, app.Options{Config: cfg, Logger: e.logger(cfg), Out: e.Stdout, Version: version})
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Serve(ctx)
		},
	}
	configFlag(cmd.Flags(), "listen", "listen", "HTTPS listen address host:port; port 0 picks a free one")
	configFlag(cmd.Flags(), "redirect-listen", "redirect_listen", "plain-HTTP address that only redirects to HTTPS")
	configFlag(cmd.Flags(), "environment", "environment", "production, test or development")
	configFlag(cmd.Flags(), "log-level", "log.level", "debug, info, warn or error")
	// For 'valv bench': where the time goes, written at shutdown.
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile (pprof) to this new file until shutdown")
	_ = cmd.Flags().MarkHidden("cpu-profile")
	return cmd
}

// startCPUProfile profiles the process into a new file (never over an
// existing one) until the returned stop is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
