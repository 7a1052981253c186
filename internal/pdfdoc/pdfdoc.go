// Package pdfdoc holds what Valv's PDF documents (the register extract and
// the measures report) share on top of maroto: the colours, text made
// drawable with PDF core fonts, and table cells that wrap well.
package pdfdoc

import (
	"strings"

	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/consts/breakline"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Palette is a document's colours, made per rendering because maroto
// takes pointers to them.
type Palette struct {
	Grey, RuleGrey, HeadFill, ZebraFill, CodeFill, Red, RedFill props.Color
}

// NewPalette returns the colours every Valv document uses.
func NewPalette() *Palette {
	return &Palette{
		Grey:      props.Color{Red: 100, Green: 100, Blue: 100},
		RuleGrey:  props.Color{Red: 180, Green: 180, Blue: 180},
		HeadFill:  props.Color{Red: 230, Green: 230, Blue: 230},
		ZebraFill: props.Color{Red: 245, Green: 245, Blue: 245},
		CodeFill:  props.Color{Red: 242, Green: 242, Blue: 242},
		Red:       props.Color{Red: 164, Green: 0, Blue: 0},
		RedFill:   props.Color{Red: 251, Green: 228, Blue: 228},
	}
}

// Text makes s printable in a PDF.
//
// maroto's default font is Arial, which gofpdf maps to the PDF core font
// Helvetica (Courier for preformatted text) with WinAnsiEncoding, and
// maroto converts every string to Windows-1252 before writing it.
// Windows-1252 holds å, ä, ö, Å, Ä, Ö, é, ü and the rest of Western
// European Latin, so Swedish text is shown and extracted (by pdftotext,
// say) correctly without embedding a font. A rune outside Windows-1252
// (Polish ł, Cyrillic, emoji ...) cannot be drawn with a core font: gofpdf
// would silently print '.', so it is written here as its base letter when
// it has one (ő → o) and as '?' otherwise. Control characters become
// spaces, and s is cut after limit runes. HTML and JSON forms keep every
// character; embedding a Unicode TrueType font would lift this limit at
// the cost of a larger file.
func Text(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == limit {
			b.WriteString("…")
			break
		}
		n++
		if r < 0x20 || r == 0x7f {
			b.WriteByte(' ') // a line break or tab inside a value
			continue
		}
		if r < 0x80 || encodable(r) {
			b.WriteRune(r)
			continue
		}
		if base := []rune(norm.NFD.String(string(r)))[0]; base != r && encodable(base) {
			b.WriteRune(base)
			continue
		}
		b.WriteByte('?')
	}
	return b.String()
}

func encodable(r rune) bool {
	_, ok := charmap.Windows1252.EncodeRune(r)
	return ok
}

// MaxCellRunes is where Cell cuts a value.
const MaxCellRunes = 1000

// Cell is a text column for any value, cut after MaxCellRunes. maroto wraps
// at spaces, or anywhere with a dash; the dash mode garbles non-ASCII
// letters (it works on Windows-1252 bytes as if they were UTF-8), so it is
// used only for ASCII values without spaces (ids, fingerprints, keys),
// which would otherwise run out of their column.
func Cell(size int, s string, style props.Text) core.Col {
	s = Text(s, MaxCellRunes)
	style.BreakLineStrategy = breakline.EmptySpaceStrategy
	if !strings.Contains(s, " ") && isASCII(s) {
		style.BreakLineStrategy = breakline.DashStrategy
	}
	return text.NewCol(size, s, style)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
