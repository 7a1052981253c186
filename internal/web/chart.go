package web

import (
	"time"

	"github.com/valvhq/valv/internal/document"
)

// chart is a small bar chart drawn as SVG by the template: no chart
// library and no script.
type chart struct {
	Label  string // a message key: what the chart shows
	Bars   []bar
	Legend []legend
	Max    int64
	Width  int
	Height int
}

type bar struct {
	X, W   int
	Label  string // under the bar
	Title  string // the exact figures, for the tooltip and screen readers
	Blocks []block
}

type block struct {
	Y, H  int
	Class string
}

type legend struct {
	Class, Label string
}

const (
	chartHeight = 160
	chartBar    = 28
	chartGap    = 12
)

// monthlyChart stacks the documents per archive for the twelve months
// from from.
func monthlyChart(pg *page, from time.Time, counts []document.MonthCount) *chart {
	archives := []string{document.ArchiveStandard, document.ArchiveLegal, document.ArchiveMessage}
	per := map[string]map[string]int64{}
	for _, c := range counts {
		if per[c.Month] == nil {
			per[c.Month] = map[string]int64{}
		}
		per[c.Month][c.Archive] += c.Count
	}
	c := &chart{Label: "home.chart", Height: chartHeight}
	for _, a := range archives {
		c.Legend = append(c.Legend, legend{Class: "a-" + a, Label: pg.T("archive." + a)})
	}
	months := make([]time.Time, 12)
	for i := range months {
		months[i] = from.AddDate(0, i, 0)
		var total int64
		for _, n := range per[months[i].Format("2006-01")] {
			total += n
		}
		c.Max = max(c.Max, total)
	}
	scale := func(n int64) int {
		if c.Max == 0 {
			return 0
		}
		return int(n * (chartHeight - 20) / c.Max)
	}
	for i, m := range months {
		b := bar{X: i * (chartBar + chartGap), W: chartBar, Label: pg.month(m)}
		y := chartHeight - 20
		title := pg.month(m) + ":"
		for _, a := range archives {
			n := per[m.Format("2006-01")][a]
			title += " " + pg.T("archive."+a) + " " + pg.Num(n)
			if h := scale(n); h > 0 {
				y -= h
				b.Blocks = append(b.Blocks, block{Y: y, H: h, Class: "a-" + a})
			}
		}
		b.Title = title
		c.Bars = append(c.Bars, b)
	}
	c.Width = 12 * (chartBar + chartGap)
	return c
}

// month names a month briefly in the page's language.
func (pg *page) month(t time.Time) string {
	if pg.Lang == "sv" {
		return [...]string{"jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"}[t.Month()-1]
	}
	return t.Format("Jan")
}
