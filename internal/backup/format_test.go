package backup

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

type collect struct {
	tables []string
	rows   [][]any
}

func (c *collect) begin(name string, cols []string) error {
	c.tables = append(c.tables, name)
	return nil
}
func (c *collect) row(v []any) error       { c.rows = append(c.rows, slices.Clone(v)); return nil }
func (c *collect) end(string, int64) error { return nil }

func encodeSample(t testing.TB) []byte {
	var buf bytes.Buffer
	e, err := newEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	e.table("tenants", []string{"id", "name", "created", "blob"})
	e.row([]any{"t1", "Anna AB", int64(-5), []byte{0, 1, 2}})
	e.row([]any{"t2", nil, int64(1 << 60), []byte{}})
	e.endTable(2)
	e.table("empty", []string{"x"})
	e.endTable(0)
	if err := e.finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStreamRoundTrip(t *testing.T) {
	var c collect
	if err := newDecoder(bytes.NewReader(encodeSample(t))).run(&c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.tables, []string{"tenants", "empty"}) || len(c.rows) != 2 {
		t.Fatalf("%+v", c)
	}
	r := c.rows[0]
	if r[0] != "t1" || r[1] != "Anna AB" || r[2] != int64(-5) || !bytes.Equal(r[3].([]byte), []byte{0, 1, 2}) || c.rows[1][1] != nil {
		t.Fatalf("rows: %#v", c.rows)
	}
}

func TestStreamRejectsDamage(t *testing.T) {
	good := encodeSample(t)
	for name, b := range map[string][]byte{
		"truncated":     good[:len(good)-3],
		"no magic":      append([]byte("XALVDUMP\x01"), good[9:]...),
		"trailing data": append(slices.Clone(good), 'x'),
		"bad count":     bytes.Replace(slices.Clone(good), []byte{recEnd, 2}, []byte{recEnd, 3}, 1),
	} {
		t.Run(name, func(t *testing.T) {
			h := &countHandler{}
			if err := newDecoder(bytes.NewReader(b)).run(h); !errors.Is(err, errCorrupt) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// FuzzDecode: no input makes the decoder panic or allocate without bound;
// whatever it accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encodeSample(f))
	f.Add([]byte("VALVDUMP\x01Z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c collect
		var tables [][]string
		h := &fuzzHandler{c: &c, cols: &tables}
		if err := newDecoder(bytes.NewReader(b)).run(h); err != nil {
			return
		}
		var buf bytes.Buffer
		e, _ := newEncoder(&buf)
		i := 0
		for ti, name := range c.tables {
			e.table(name, tables[ti])
			for range h.counts[ti] {
				if err := e.row(c.rows[i]); err != nil {
					t.Fatal(err)
				}
				i++
			}
			e.endTable(h.counts[ti])
		}
		e.finish()
		var again collect
		if err := newDecoder(&buf).run(&again); err != nil {
			t.Fatalf("re-encoded stream does not decode: %v", err)
		}
		if len(again.rows) != len(c.rows) {
			t.Fatal("rows lost in the round trip")
		}
	})
}

type fuzzHandler struct {
	c      *collect
	cols   *[][]string
	counts []int64
}

func (h *fuzzHandler) begin(name string, cols []string) error {
	*h.cols = append(*h.cols, cols)
	h.counts = append(h.counts, 0)
	return h.c.begin(name, cols)
}
func (h *fuzzHandler) row(v []any) error { h.counts[len(h.counts)-1]++; return h.c.row(v) }
func (h *fuzzHandler) end(name string, n int64) error {
	if n != h.counts[len(h.counts)-1] {
		return errCorrupt
	}
	return nil
}

func TestIDs(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	id := newID(at)
	if !validID(id) || !idTime(id).Equal(at) {
		t.Fatalf("%s", id)
	}
	for _, bad := range []string{"", "x", "20261122T030000Z", "20261122T030000Z-zzzzzz", "../../etc-abcdef", "20261122T030000Z-abcdef/x"} {
		if validID(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
