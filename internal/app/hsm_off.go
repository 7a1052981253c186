//go:build !pkcs11

package app

import (
	"errors"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/keyring"
)

// openHSM is unavailable in builds without PKCS#11 support (which needs cgo).
func openHSM(config.PKCS11, bool) (keyring.RootKey, func() error, error) {
	return nil, nil, errors.New("this valv was built without PKCS#11 support; build it with 'go build -tags pkcs11' (needs cgo)")
}
