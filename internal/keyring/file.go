package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The root-key file holds one line: a header and the key in base64, so a
// truncated or edited file is recognised instead of misread.
const fileHeader = "valv-root-key-v1:"

// FileKey is a root key kept in a local file (mode 0600). It is the
// development default: anyone who can read the file can read all data.
type FileKey struct {
	Path string
}

// ErrNoKeyFile means the root-key file does not exist.
var ErrNoKeyFile = errors.New("keyring: root key file does not exist")

// Load reads the key file. If the file is missing and the .new file from
// an interrupted rotation exists, Load returns ErrNoKeyFile so the caller
// can resolve it with LoadPending.
func (f FileKey) Load() ([]byte, error) {
	return readKeyFile(f.Path)
}

// PendingPath is where a rotation writes the next key before committing it.
func (f FileKey) PendingPath() string { return f.Path + ".new" }

// LoadPending reads the key of an interrupted rotation, if any.
func (f FileKey) LoadPending() ([]byte, error) { return readKeyFile(f.PendingPath()) }

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoKeyFile
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: root key file %s: %w", path, err)
	}
	if st.Size() > 1024 {
		return nil, fmt.Errorf("keyring: root key file %s is not a Valv key file (too large)", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: root key file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: root key file %s: %w", path, err)
	}
	line := strings.TrimSpace(string(data))
	if !strings.HasPrefix(line, fileHeader) {
		return nil, fmt.Errorf("keyring: root key file %s is corrupt (no %q header)", path, strings.TrimSuffix(fileHeader, ":"))
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, fileHeader))
	if err != nil || len(key) != RootKeySize {
		return nil, fmt.Errorf("keyring: root key file %s is corrupt (the key is not %d bytes of base64)", path, RootKeySize)
	}
	return key, nil
}

// Create writes a new random key to the file. It refuses to overwrite.
func (f FileKey) Create() ([]byte, error) {
	key := make([]byte, RootKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := writeKeyFile(f.Path, key, false); err != nil {
		return nil, err
	}
	return key, nil
}

// WritePending writes the next key of a rotation to PendingPath.
func (f FileKey) WritePending(key []byte) error { return writeKeyFile(f.PendingPath(), key, true) }

// CommitPending makes the pending key the key (an atomic rename).
func (f FileKey) CommitPending() error {
	if err := os.Rename(f.PendingPath(), f.Path); err != nil {
		return fmt.Errorf("keyring: commit new root key file: %w", err)
	}
	return syncDir(filepath.Dir(f.Path))
}

func writeKeyFile(path string, key []byte, overwrite bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(fileHeader)
	b.WriteString(base64.StdEncoding.EncodeToString(key))
	b.WriteString("\n")
	if _, err := fh.Write(b.Bytes()); err != nil {
		fh.Close()
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Install writes key as a new key file (a restore puts the root key beside
// the restored data); it refuses to replace an existing file.
func (f FileKey) Install(key []byte) error { return writeKeyFile(f.Path, key, false) }
