//go:build pkcs11

package app

import (
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/keyring/hsm"
)

// openHSM opens the root key in a PKCS#11 module. create generates it in
// the token when missing (only for a new installation).
func openHSM(c config.PKCS11, create bool) (keyring.RootKey, func() error, error) {
	k, err := hsm.Open(hsm.Options{Module: c.Module, TokenLabel: c.TokenLabel, PIN: c.PIN.Reveal(), KeyLabel: c.KeyLabel, Create: create})
	if err != nil {
		return nil, nil, err
	}
	return k, k.Close, nil
}
