package backup

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The data stream of a backup (docs/operations/backup.md, "Format") is the
// concatenation of its chunks' plaintexts:
//
//	stream  = magic { table } end
//	magic   = "VALVDUMP" 0x01
//	table   = 'T' string(name) uvarint(ncols) { string(column) } { row } 'E' uvarint(nrows)
//	row     = 'R' { value }              (ncols values)
//	value   = 0x00                       NULL
//	        | 0x01 varint                integer
//	        | 0x02 string                text
//	        | 0x03 uvarint(len) bytes    blob
//	end     = 'Z'
//	string  = uvarint(len) bytes (UTF-8)
//
// Integers are Go's zig-zag varints (encoding/binary). The stream does not
// depend on the engine it was read from or will be loaded into.

var streamMagic = []byte("VALVDUMP\x01")

const (
	recTable = 'T'
	recRow   = 'R'
	recEnd   = 'E'
	recDone  = 'Z'

	valNull = 0
	valInt  = 1
	valText = 2
	valBlob = 3
)

// Limits a reader enforces, so a damaged or hostile stream cannot make a
// restore allocate without bound.
const (
	maxNameLen  = 128
	maxColumns  = 256
	maxValueLen = 64 << 20
)

// encoder writes the data stream.
type encoder struct {
	w    *bufio.Writer
	cols int
	buf  [binary.MaxVarintLen64]byte
}

func newEncoder(w io.Writer) (*encoder, error) {
	e := &encoder{w: bufio.NewWriterSize(w, 64<<10)}
	_, err := e.w.Write(streamMagic)
	return e, err
}

func (e *encoder) uvarint(v uint64) {
	n := binary.PutUvarint(e.buf[:], v)
	e.w.Write(e.buf[:n])
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.w.WriteString(s)
}

func (e *encoder) table(name string, cols []string) error {
	e.w.WriteByte(recTable)
	e.str(name)
	e.uvarint(uint64(len(cols)))
	for _, c := range cols {
		e.str(c)
	}
	e.cols = len(cols)
	return nil
}

func (e *encoder) row(vals []any) error {
	if len(vals) != e.cols {
		return fmt.Errorf("backup: a row has %d values, its table %d columns", len(vals), e.cols)
	}
	e.w.WriteByte(recRow)
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			e.w.WriteByte(valNull)
		case int64:
			e.w.WriteByte(valInt)
			n := binary.PutVarint(e.buf[:], x)
			e.w.Write(e.buf[:n])
		case string:
			e.w.WriteByte(valText)
			e.str(x)
		case []byte:
			e.w.WriteByte(valBlob)
			e.uvarint(uint64(len(x)))
			e.w.Write(x)
		default:
			return fmt.Errorf("backup: cannot write a %T", v)
		}
	}
	return nil
}

func (e *encoder) endTable(rows int64) error {
	e.w.WriteByte(recEnd)
	e.uvarint(uint64(rows)) // #nosec G115 -- rows counts rows written, never negative
	return nil
}

// finish writes the end record and flushes.
func (e *encoder) finish() error {
	e.w.WriteByte(recDone)
	return e.w.Flush()
}

// errCorrupt is what a malformed stream reports.
var errCorrupt = errors.New("backup: the data stream is malformed")

// decoder reads the data stream and calls its handlers.
type decoder struct {
	r *bufio.Reader
}

// tableHandler receives one table: its columns, each row (the slice is
// reused), and the row count the stream declares at its end.
type tableHandler interface {
	begin(name string, cols []string) error
	row(vals []any) error
	end(name string, declared int64) error
}

func newDecoder(r io.Reader) *decoder { return &decoder{r: bufio.NewReaderSize(r, 256<<10)} }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

func (d *decoder) uvarint(limit uint64, what string) (uint64, error) {
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		return 0, corrupt("%s: %v", what, eofIsUnexpected(err))
	}
	if v > limit {
		return 0, corrupt("%s %d is more than %d", what, v, limit)
	}
	return v, nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *decoder) bytes(limit uint64, what string) ([]byte, error) {
	n, err := d.uvarint(limit, what+" length")
	if err != nil {
		return nil, err
	}
	if n <= 64<<10 {
		b := make([]byte, n)
		if _, err := io.ReadFull(d.r, b); err != nil {
			return nil, corrupt("%s: %v", what, eofIsUnexpected(err))
		}
		return b, nil
	}
	// A large value grows with what is actually there, so a damaged
	// length cannot allocate 64 MiB on its own.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, d.r, int64(n)); err != nil { // #nosec G115 -- d.uvarint bounded n by limit (at most maxValueLen, 64 MiB)
		return nil, corrupt("%s: %v", what, eofIsUnexpected(err))
	}
	return buf.Bytes(), nil
}

// run reads the whole stream.
func (d *decoder) run(h tableHandler) error {
	magic := make([]byte, len(streamMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != string(streamMagic) {
		return corrupt("not a Valv backup stream (or a newer format)")
	}
	for {
		tag, err := d.r.ReadByte()
		if err != nil {
			return corrupt("record: %v", eofIsUnexpected(err))
		}
		switch tag {
		case recDone:
			if _, err := d.r.ReadByte(); err != io.EOF {
				return corrupt("data after the end record")
			}
			return nil
		case recTable:
			if err := d.table(h); err != nil {
				return err
			}
		default:
			return corrupt("unknown record %#x", tag)
		}
	}
}

func (d *decoder) table(h tableHandler) error {
	name, err := d.bytes(maxNameLen, "table name")
	if err != nil {
		return err
	}
	n, err := d.uvarint(maxColumns, "column count")
	if err != nil {
		return err
	}
	cols := make([]string, n)
	for i := range cols {
		c, err := d.bytes(maxNameLen, "column name")
		if err != nil {
			return err
		}
		cols[i] = string(c)
	}
	if err := h.begin(string(name), cols); err != nil {
		return err
	}
	vals := make([]any, n)
	for {
		tag, err := d.r.ReadByte()
		if err != nil {
			return corrupt("table %s: %v", name, eofIsUnexpected(err))
		}
		switch tag {
		case recEnd:
			rows, err := binary.ReadUvarint(d.r)
			if err != nil {
				return corrupt("table %s: row count: %v", name, eofIsUnexpected(err))
			}
			if rows > math.MaxInt64 {
				return corrupt("table %s: row count %d is too large", name, rows)
			}
			return h.end(string(name), int64(rows))
		case recRow:
			for i := range vals {
				if vals[i], err = d.value(); err != nil {
					return fmt.Errorf("table %s column %s: %w", name, cols[i], err)
				}
			}
			if err := h.row(vals); err != nil {
				return err
			}
		default:
			return corrupt("table %s: unknown record %#x", name, tag)
		}
	}
}

func (d *decoder) value() (any, error) {
	kind, err := d.r.ReadByte()
	if err != nil {
		return nil, corrupt("value: %v", eofIsUnexpected(err))
	}
	switch kind {
	case valNull:
		return nil, nil
	case valInt:
		v, err := binary.ReadVarint(d.r)
		if err != nil {
			return nil, corrupt("integer: %v", eofIsUnexpected(err))
		}
		return v, nil
	case valText:
		b, err := d.bytes(maxValueLen, "text")
		return string(b), err
	case valBlob:
		return d.bytes(maxValueLen, "blob")
	}
	return nil, corrupt("unknown value kind %#x", kind)
}
