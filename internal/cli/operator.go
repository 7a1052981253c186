package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
)

func newOperatorCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Initialise, unseal, seal and rekey the root key",
	}
	cmd.AddCommand(newOperatorInitCmd(e), newOperatorUnsealCmd(e), newOperatorSealCmd(e), newOperatorStatusCmd(e), newOperatorRekeyCmd(e), newOperatorCreateCmd(e))
	return cmd
}

func newOperatorInitCmd(e *env) *cobra.Command {
	var shares, threshold int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the root key and split it among key holders (keys.provider: shamir)",
		Long: `Create the root key, split it into --key-shares shares of which any
--key-threshold recover it, and print each share once. Valv keeps no copy of
the key or the shares: give each share to one key holder. Valv then starts
sealed, and key holders unseal it with 'valv operator unseal'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			a, err := app.Open(cmd.Context(), app.Options{Config: cfg, Logger: e.quietLogger(cfg), Out: e.Stdout})
			if err != nil {
				return err
			}
			defer a.Close()
			out, err := a.InitShamir(cmd.Context(), shares, threshold)
			if err != nil {
				return err
			}
			printShares(e, out, threshold)
			return nil
		},
	}
	cmd.Flags().IntVar(&shares, "key-shares", 5, "number of shares (key holders)")
	cmd.Flags().IntVar(&threshold, "key-threshold", 3, "number of shares needed to unseal")
	return cmd
}

func printShares(e *env, shares []string, threshold int) {
	fmt.Fprintf(e.Stdout, "The root key is split into %d shares; any %d of them unseal Valv.\n", len(shares), threshold)
	fmt.Fprintf(e.Stdout, "Give each share to one key holder. They are shown only now: Valv keeps no copy.\n\n")
	for i, s := range shares {
		fmt.Fprintf(e.Stdout, "Unseal share %d: %s\n", i+1, s)
	}
}

func newOperatorUnsealCmd(e *env) *cobra.Command {
	var sf serverFlags
	var reset bool
	cmd := &cobra.Command{
		Use:   "unseal",
		Short: "Give one unseal share to the running Valv",
		Long: `Give one key holder's unseal share to the running Valv. The share is read
from the terminal without echo, or as one line from standard input. When
enough distinct valid shares were given, Valv unseals. Each node of a
multi-node installation is unsealed on its own (use --addr).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			c, err := e.newClient(cfg, sf)
			if err != nil {
				return err
			}
			var st sealStatus
			if err := c.do(cmd.Context(), "GET", "/api/v1/sys/seal-status", nil, &st); err != nil {
				return err
			}
			if !st.Sealed {
				fmt.Fprintln(e.Stdout, "Valv is already unsealed.")
				return nil
			}
			share, err := e.lines().secret(fmt.Sprintf("Unseal share (%d of %d given): ", st.Progress, st.Threshold))
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "POST", "/api/v1/sys/unseal", map[string]any{"share": share, "reset": reset}, &st); err != nil {
				return err
			}
			printSealStatus(e, st)
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().BoolVar(&reset, "reset", false, "forget the shares given so far before this one")
	return cmd
}

func newOperatorSealCmd(e *env) *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Seal the running Valv (drop all keys from memory); needs one valid share",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			c, err := e.newClient(cfg, sf)
			if err != nil {
				return err
			}
			share, err := e.lines().secret("Your unseal share: ")
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "POST", "/api/v1/sys/seal", map[string]any{"share": share}, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.Stdout, "Valv is sealed. Key holders unseal it with 'valv operator unseal'.")
			return nil
		},
	}
	sf.add(cmd)
	return cmd
}

func newOperatorStatusCmd(e *env) *cobra.Command {
	var sf serverFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the running Valv is sealed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			c, err := e.newClient(cfg, sf)
			if err != nil {
				return err
			}
			var st sealStatus
			if err := c.do(cmd.Context(), "GET", "/api/v1/sys/seal-status", nil, &st); err != nil {
				return err
			}
			printSealStatus(e, st)
			if st.Sealed {
				return errors.New("sealed")
			}
			return nil
		},
	}
	sf.add(cmd)
	return cmd
}

type sealStatus struct {
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Provider    string `json:"provider"`
	Threshold   int    `json:"threshold"`
	Shares      int    `json:"shares"`
	Progress    int    `json:"progress"`
}

func printSealStatus(e *env, st sealStatus) {
	state := "unsealed"
	if st.Sealed {
		state = "sealed"
	}
	fmt.Fprintf(e.Stdout, "Valv is %s (root key provider: %s", state, st.Provider)
	if st.Threshold > 0 {
		fmt.Fprintf(e.Stdout, ", %d of %d shares needed", st.Threshold, st.Shares)
		if st.Sealed {
			fmt.Fprintf(e.Stdout, ", %d given", st.Progress)
		}
	}
	fmt.Fprintln(e.Stdout, ")")
}

func newOperatorRekeyCmd(e *env) *cobra.Command {
	var shares, threshold int
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Replace the root key and its shares; needs a quorum of current key holders",
		Long: `Replace the Shamir root key with a new one split into --key-shares shares
with threshold --key-threshold. A quorum of current key holders gives their
shares (read without echo, or one per line from standard input); every
tenant keyset is re-wrapped with the new key in one transaction, and the new
shares are printed once. The old shares stop working. Running nodes notice
and seal themselves: unseal them with the new shares.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			lr := e.lines()
			a, err := app.Open(cmd.Context(), app.Options{Config: cfg, Logger: e.quietLogger(cfg), Out: e.Stderr})
			if err != nil {
				return err
			}
			defer a.Close()
			st, err := a.Keys.Status(cmd.Context())
			if err != nil {
				return err
			}
			if st.Threshold == 0 {
				return errors.New("this installation's root key is not split into shares (keys.provider: shamir)")
			}
			var current []string
			for i := 0; i < st.Threshold; i++ {
				s, err := lr.secret(fmt.Sprintf("Current unseal share %d of %d: ", i+1, st.Threshold))
				if err != nil {
					return err
				}
				current = append(current, s)
			}
			out, err := a.Rekey(cmd.Context(), current, shares, threshold)
			if err != nil {
				return err
			}
			printShares(e, out, threshold)
			return nil
		},
	}
	cmd.Flags().IntVar(&shares, "key-shares", 5, "number of new shares")
	cmd.Flags().IntVar(&threshold, "key-threshold", 3, "number of new shares needed to unseal")
	return cmd
}

// unsealPrompt asks for shares on the terminal or standard input, for
// one-shot commands on an installation whose root key is split.
func (e *env) unsealPrompt() app.UnsealPrompt {
	lr := e.lines()
	return func(ctx context.Context, progress, threshold int) (string, error) {
		return lr.secret(fmt.Sprintf("The root key is sealed. Unseal share (%d of %d given): ", progress, threshold))
	}
}
