package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable Valv reads.
const EnvPrefix = "VALV_"

// maxFileSize bounds a configuration file; anything larger is a mistake.
const maxFileSize = 1 << 20

// Source says where to read configuration from.
type Source struct {
	// File is a YAML file; empty means none.
	File string
	// Environ is the environment, as os.Environ returns it.
	Environ []string
	// Overrides are key=value settings from flags, by yaml key path
	// ("data_dir", "database.driver"). They win over everything else.
	Overrides map[string]string
}

// Load reads the configuration from src over the defaults. It does not
// validate; call Validate on the result.
func Load(src Source) (Config, error) {
	cfg := Default()
	if src.File != "" {
		if err := loadFile(&cfg, src.File); err != nil {
			return Config{}, err
		}
	}
	keys := AllKeys()
	byEnv := make(map[string]string, len(keys))
	for _, k := range keys {
		byEnv[EnvName(k)] = k
	}
	var names []string
	values := map[string]string{}
	for _, kv := range src.Environ {
		name, value, ok := strings.Cut(kv, "=")
		// An empty variable counts as unset, as in most tools.
		if !ok || value == "" || !strings.HasPrefix(name, EnvPrefix) || isToolVariable(name) {
			continue
		}
		key, known := byEnv[name]
		if !known {
			return Config{}, fmt.Errorf("environment variable %s is not a Valv setting (see 'valv config keys')", name)
		}
		names = append(names, key)
		values[key] = value
	}
	sort.Strings(names)
	for _, key := range names {
		if err := Set(&cfg, key, values[key]); err != nil {
			return Config{}, fmt.Errorf("environment variable %s: %w", EnvName(key), err)
		}
	}
	overrideKeys := make([]string, 0, len(src.Overrides))
	for k := range src.Overrides {
		overrideKeys = append(overrideKeys, k)
	}
	sort.Strings(overrideKeys)
	for _, k := range overrideKeys {
		if err := Set(&cfg, k, src.Overrides[k]); err != nil {
			return Config{}, fmt.Errorf("flag for %s: %w", k, err)
		}
	}
	return cfg, nil
}

// isToolVariable reports VALV_* variables that configure tooling around Valv
// (tests, CI) rather than Valv itself.
func isToolVariable(name string) bool {
	return strings.HasPrefix(name, "VALV_TEST_") || name == "VALV_REQUIRE_INTEGRATION" || name == "VALV_CONFIG"
}

func loadFile(cfg *Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("config file %s: larger than %d bytes", path, maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is allowed: all defaults
		}
		return fmt.Errorf("config file %s: %s", path, yamlMessage(err))
	}
	return nil
}

// yamlMessage turns the YAML decoder's errors into one line a person can act
// on ("line 3: field colour not found in type config.Config" →
// "line 3: unknown key colour").
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			if i := strings.Index(m, "field "); i >= 0 && strings.Contains(m, " not found in type") {
				field := strings.TrimPrefix(m[i:], "field ")
				field = field[:strings.Index(field, " not found")]
				m = m[:i] + "unknown key " + strconv.Quote(field)
			}
			msgs = append(msgs, m)
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// AllKeys lists every settable key path, in struct order.
func AllKeys() []string {
	var keys []string
	walk(reflect.TypeOf(Config{}), "", func(path string, _ reflect.StructField) {
		keys = append(keys, path)
	})
	return keys
}

// Doc returns the documentation string of a key.
func Doc(key string) string {
	var doc string
	walk(reflect.TypeOf(Config{}), "", func(path string, f reflect.StructField) {
		if path == key {
			doc = f.Tag.Get("doc")
		}
	})
	return doc
}

// EnvName is the environment variable for a key path.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func walk(t reflect.Type, prefix string, fn func(path string, f reflect.StructField)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			walk(f.Type, path, fn)
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			continue // lists of objects are settable in the file only
		}
		fn(path, f)
	}
}

// Set sets one key from its string form, as given in an environment
// variable or flag. Lists are comma-separated.
func Set(cfg *Config, key, value string) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("unknown key %q", key)
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if name == part {
				v = v.Field(i)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unknown key %q", key)
		}
	}
	return setValue(v, value)
}

func setValue(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (examples: 30s, 5m, 2h)", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return errors.New("this key can only be set in the config file")
		}
		var items []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		sv := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			sv.Index(i).SetString(item)
		}
		v.Set(sv)
	default:
		return errors.New("this key can only be set in the config file")
	}
	return nil
}

// Get returns one key's value in the form Set accepts (secrets redacted).
func Get(cfg Config, key string) string {
	v := reflect.ValueOf(cfg)
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return ""
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return ""
		}
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// Markdown documents every key as a Markdown table: key, environment
// variable, default and description.
func Markdown() string {
	var b strings.Builder
	def := Default()
	b.WriteString("| key | environment variable | default | description |\n|---|---|---|---|\n")
	for _, k := range AllKeys() {
		d := Get(def, k)
		if d == "" {
			d = "—"
		} else {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", k, EnvName(k), d, strings.ReplaceAll(Doc(k), "|", "\\|"))
	}
	return b.String()
}
