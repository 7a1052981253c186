package app

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/store"
)

// Environments are explicit (ENV-1). Every installation records the
// environment it was made in, in its database (the installation row) and
// in a marker file in its data directory. Test and development refuse a
// data set a production installation made — and production refuses one a
// test or development installation made, so synthetic data never turns
// into production data by a changed setting.

// markerFile is the data directory's environment marker.
const markerFile = "valv-installation"

// checkDataDirMarker refuses a data directory whose marker names another
// environment. It runs before the database is opened.
func checkDataDirMarker(cfg config.Config) error {
	f, err := os.Open(filepath.Join(cfg.DataDir, markerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory marker: %w", err)
	}
	defer f.Close()
	env := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "environment: "); ok {
			env = strings.TrimSpace(v)
		}
	}
	if env == "" {
		return fmt.Errorf("data directory %s: the marker %s names no environment; restore it from a backup or remove the directory", cfg.DataDir, markerFile)
	}
	return environmentMismatch(env, cfg.Environment, "data directory "+cfg.DataDir)
}

// environmentMismatch explains why an installation of environment want
// refuses a data set made by environment got, or returns nil.
func environmentMismatch(got string, want config.Environment, what string) error {
	if got == string(want) {
		return nil
	}
	if got == string(config.Production) {
		return fmt.Errorf("%s belongs to a production installation; a %s installation refuses production data (ENV-1). "+
			"Use a new data directory and database, and fill it with 'valv seed synthetic'", what, want)
	}
	return fmt.Errorf("%s was made by a %s installation and may hold synthetic or test data; this installation is %s. "+
		"Start it on a new data directory and database", what, got, want)
}

// writeDataDirMarker records the installation and its environment in the
// data directory.
func writeDataDirMarker(cfg config.Config, inst store.InstallationRow) error {
	path := filepath.Join(cfg.DataDir, markerFile)
	text := fmt.Sprintf("# This directory belongs to a Valv installation. Do not copy it into another environment.\ninstallation: %s\nenvironment: %s\n",
		inst.ID, inst.Environment)
	if cur, err := os.ReadFile(path); err == nil && string(cur) == text {
		return nil
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("data directory marker: %w", err)
	}
	return nil
}
