// Package hsm is the PKCS#11 root-key provider: the root key is an AES-256
// key generated inside a hardware security module (or SoftHSM2 in tests),
// marked sensitive and non-extractable, and Valv only asks the module to
// encrypt and decrypt with it (AES-GCM). The key never leaves the module.
//
// The provider needs cgo and is built only with -tags pkcs11; without the
// tag this package is empty and 'keys.provider: pkcs11' is refused.
package hsm
