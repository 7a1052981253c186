package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/problem"
)

// The OpenAPI 3.1 document is built from the route table: each route's
// summary, access, and request and response types (their JSON schemas come
// from the Go types by reflection). docs/api/openapi.json is a committed
// copy that a test keeps equal to what the server serves.

// OpenAPI returns the OpenAPI document.
func (a *API) OpenAPI() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, r := range a.Routes() {
		op := map[string]any{
			"summary":     r.Summary,
			"operationId": operationID(r.Method, r.Pattern),
		}
		if r.Tag != "" {
			op["tags"] = []string{r.Tag}
		}
		if r.Access == Public {
			op["security"] = []any{}
		}
		var params []any
		for _, name := range pathParams(r.Pattern) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.Query {
			schema := map[string]any{"type": q.Type}
			if q.Type == "date-time" {
				schema = map[string]any{"type": "string", "format": "date-time"}
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": schema})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Request))}}}
		}
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		if r.Response != nil {
			ct := r.ContentType
			if ct == "" {
				ct = "application/json"
			}
			ok["content"] = map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(r.Response))}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(status): ok,
			"default":            map[string]any{"$ref": "#/components/responses/Error"},
		}
		path := r.Pattern
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	g.defs["Error"] = g.schema(reflect.TypeOf(problem.Envelope{}))
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Valv API",
			"version": "1",
			"description": "The JSON API of Valv, a self-hosted, multi-tenant, GDPR-native data and document vault. " +
				"Every error is {\"error\": {\"code\", \"message\", \"request_id\", \"fields\"}} with a stable code. " +
				"Browsers authenticate with the valv_session cookie; programs with an API key.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":   g.defs,
			"responses": map[string]any{"Error": map[string]any{"description": "An error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}},
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "valv_session"},
				"apiKey":  map[string]any{"type": "http", "scheme": "bearer", "description": "An API key, valv_<id>_<secret>"},
			},
		},
		"security": []any{map[string]any{"session": []any{}}, map[string]any{"apiKey": []any{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

var paramPattern = regexp.MustCompile(`\{([a-z_]+)\}`)

func pathParams(pattern string) []string {
	var out []string
	for _, m := range paramPattern.FindAllStringSubmatch(pattern, -1) {
		out = append(out, m[1])
	}
	return out
}

func operationID(method, pattern string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(strings.TrimPrefix(pattern, "/api/v1/"), func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == '_' }) {
		part = strings.Trim(part, "{}")
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaGen turns Go types into JSON schemas, naming structs in $defs.
type schemaGen struct {
	defs map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t.Implements(reflect.TypeOf((*json.Marshaler)(nil)).Elem()) && t.Kind() != reflect.Struct {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if _, done := g.defs[name]; !done {
			g.defs[name] = nil // mark, for recursive types
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func schemaName(t reflect.Type) string {
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	name := t.Name()
	if name == "" {
		return "Anonymous"
	}
	if pkg == "api" {
		return name
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			embedded := g.object(f.Type)
			for k, v := range embedded["properties"].(map[string]any) {
				props[k] = v
			}
			if req, ok := embedded["required"].([]string); ok {
				required = append(required, req...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
