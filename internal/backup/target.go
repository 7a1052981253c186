package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// A Target is one place backups are written to: a directory (a mounted
// remote volume) or an S3 bucket. Keys are slash-separated object names
// such as "backups/<id>/manifest.json"; a target keeps them under its own
// prefix. Implementations are safe for concurrent use.
type Target interface {
	// Name is the operator's name for the target ("primary", "offsite").
	Name() string
	// Region is a free label of where the target is ("se-sto", "eu-north-1").
	Region() string
	// Put stores an object whole: a reader sees either the old object (or
	// none) or all of the new one, never part of it.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// PutNew stores an object only if no object has the key (append-only
	// writes); it reports ErrExists otherwise.
	PutNew(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens an object; ErrNotExist if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// Errors of targets.
var (
	ErrNotExist = errors.New("backup: no such object")
	ErrExists   = errors.New("backup: object exists")
)

// validKey reports whether key is a relative slash path without "." or
// ".." parts.
func validKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key {
		return false
	}
	for _, p := range strings.Split(key, "/") {
		if p == "." || p == ".." || p == "" {
			return false
		}
	}
	return true
}

// DirTarget keeps backups in a directory, typically a mounted volume in
// another location. Objects are written to a temporary file, synced, and
// renamed into place, so a crash never leaves half an object under its name.
type DirTarget struct {
	name, region, root string
}

// NewDirTarget returns a target writing under root, which is created if
// missing.
func NewDirTarget(name, region, root string) (*DirTarget, error) {
	if root == "" {
		return nil, errors.New("backup: a dir target needs a path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return &DirTarget{name: name, region: region, root: abs}, nil
}

func (d *DirTarget) Name() string   { return d.name }
func (d *DirTarget) Region() string { return d.region }

// String says where the target is, for messages.
func (d *DirTarget) String() string { return "dir " + d.root }

func (d *DirTarget) file(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("backup: invalid object name %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func (d *DirTarget) Put(ctx context.Context, key string, r io.Reader, _ int64) error {
	return d.put(ctx, key, r, false)
}

func (d *DirTarget) PutNew(ctx context.Context, key string, r io.Reader, _ int64) error {
	return d.put(ctx, key, r, true)
}

func (d *DirTarget) put(ctx context.Context, key string, r io.Reader, exclusive bool) (err error) {
	name, err := d.file(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, readerCtx{ctx, r}); err != nil {
		return fmt.Errorf("backup: target %s: write %s: %w", d.name, key, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("backup: target %s: sync %s: %w", d.name, key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	if exclusive {
		// A hard link fails if the name exists: an atomic create-if-absent.
		if err = os.Link(tmp, name); err != nil {
			if errors.Is(err, os.ErrExist) {
				err = ErrExists
				return err
			}
			return fmt.Errorf("backup: target %s: %w", d.name, err)
		}
		os.Remove(tmp)
	} else if err = os.Rename(tmp, name); err != nil {
		return fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (d *DirTarget) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := d.file(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s on target %s", ErrNotExist, key, d.name)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	return f, nil
}

func (d *DirTarget) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(d.root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("backup: target %s: list: %w", d.name, err)
	}
	sort.Strings(out)
	return out, nil
}

func (d *DirTarget) Delete(ctx context.Context, key string) error {
	name, err := d.file(key)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: target %s: %w", d.name, err)
	}
	// Drop directories the delete left empty, up to the root.
	for dir := filepath.Dir(name); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// readerCtx stops a copy when ctx is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
