package gdpr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/line"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/align"
	"github.com/johnfercher/maroto/v2/pkg/consts/border"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontfamily"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"

	"github.com/valvhq/valv/internal/pdfdoc"
)

// The readable forms of an Extract: an HTML page and a PDF with the same
// content, in Swedish or English. Both are built from one view, so they
// cannot drift apart; the JSON form (the Extract itself) stays the
// complete record.

// timeLayout is how every time is shown: always UTC, so a report does not
// depend on the time zone of the machine that renders it.
const timeLayout = "2006-01-02 15:04:05 UTC"

// empty stands for a value that is not set.
const empty = "–"

// view is an Extract made ready to show: times formatted, codes
// translated, JSON indented and metadata sorted.
type view struct {
	L         *labels
	Tenant    TenantInfo
	Request   requestView
	Generated string
	Subjects  []Identifier
	Documents []documentView
	Messages  []messageView
	Payloads  []payloadView
	Access    []accessView
}

type requestView struct {
	ID, Kind, Received, Deadline string
}

type documentView struct {
	ID, Type, Archive, DocumentDate string
	Created, Updated                string
	RetainUntil, Basis              string
	Restricted                      bool
	Version                         int64
	Data                            string // indented JSON; "" when none
	Metadata                        []keyValue
	Subjects                        []Identifier
	File                            *fileView
	Versions                        []versionView
}

type keyValue struct{ Key, Value string }

type fileView struct{ Name, ContentType, Size string }

type versionView struct {
	Version                  int64
	Time, ActorType, Changed string
}

type messageView struct{ ID, Time, Direction, Recipients string }

type payloadView struct{ Time, Action, Resource, RequestID string }

type accessView struct {
	Time, ActorType, ActorID, Action, Resource, Outcome, Reason string
}

func newView(e *Extract, lang string) (*view, error) {
	if e == nil {
		return nil, errors.New("gdpr: render: no extract")
	}
	l, err := labelsFor(lang)
	if err != nil {
		return nil, err
	}
	v := &view{
		L:      l,
		Tenant: TenantInfo{ID: orEmpty(e.Tenant.ID), Name: orEmpty(e.Tenant.Name)},
		Request: requestView{
			ID:       orEmpty(e.Request.ID),
			Kind:     orEmpty(e.Request.Kind),
			Received: formatTime(e.Request.ReceivedAt),
			Deadline: orEmpty(e.Request.Deadline),
		},
		Generated: formatTime(e.GeneratedAt),
		Subjects:  identifiers(e.Subjects),
	}
	for _, d := range e.Documents {
		dv := documentView{
			ID:           orEmpty(d.ID),
			Type:         orEmpty(d.Type),
			Archive:      translate(l.Archives, d.Archive),
			DocumentDate: orEmpty(d.DocumentDate),
			Created:      formatTime(d.CreatedAt),
			Updated:      formatTime(d.UpdatedAt),
			RetainUntil:  orEmpty(d.RetainUntil),
			Basis:        orEmpty(d.Basis),
			Restricted:   d.Restricted,
			Version:      d.Version,
			Data:         prettyJSON(d.Data),
			Metadata:     sortedMetadata(d.Metadata),
			Subjects:     identifiers(d.Subjects),
		}
		if f := d.File; f != nil {
			dv.File = &fileView{Name: orEmpty(f.Name), ContentType: orEmpty(f.ContentType), Size: l.Bytes(f.Size)}
		}
		for _, ver := range d.Versions {
			dv.Versions = append(dv.Versions, versionView{
				Version:   ver.Version,
				Time:      formatTime(ver.Time),
				ActorType: translate(l.ActorTypes, ver.ActorType),
				Changed:   orEmpty(strings.Join(ver.Changed, ", ")),
			})
		}
		v.Documents = append(v.Documents, dv)
	}
	for _, m := range e.Messages {
		recipients := strings.Join(m.Recipients, ", ")
		if recipients == "" {
			recipients = l.NoneLower
		}
		v.Messages = append(v.Messages, messageView{
			ID:         orEmpty(m.ID),
			Time:       formatTime(m.Time),
			Direction:  translate(l.Directions, m.Direction),
			Recipients: recipients,
		})
	}
	for _, p := range e.PayloadHistory {
		v.Payloads = append(v.Payloads, payloadView{
			Time:      formatTime(p.Time),
			Action:    orEmpty(p.Action),
			Resource:  resource(p.ResourceType, p.ResourceID),
			RequestID: orEmpty(p.RequestID),
		})
	}
	for _, a := range e.Access {
		v.Access = append(v.Access, accessView{
			Time:      formatTime(a.Time),
			ActorType: translate(l.ActorTypes, a.ActorType),
			ActorID:   orEmpty(a.ActorID),
			Action:    orEmpty(a.Action),
			Resource:  resource(a.ResourceType, a.ResourceID),
			Outcome:   translate(l.Outcomes, a.Outcome),
			Reason:    orEmpty(a.Reason),
		})
	}
	return v, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return empty
	}
	return t.UTC().Format(timeLayout)
}

func orEmpty(s string) string {
	if s == "" {
		return empty
	}
	return s
}

// translate shows a code in the report's language, or as it is when the
// language has no word for it.
func translate(words map[string]string, code string) string {
	if w, ok := words[code]; ok {
		return w
	}
	return orEmpty(code)
}

func resource(typ, id string) string {
	return orEmpty(strings.TrimSpace(typ + " " + id))
}

func identifiers(ids []Identifier) []Identifier {
	out := make([]Identifier, 0, len(ids))
	for _, id := range ids {
		out = append(out, Identifier{Kind: orEmpty(id.Kind), Value: orEmpty(id.Value)})
	}
	return out
}

// sortedMetadata lists metadata by key: map order is random and the report
// must be the same bytes every time.
func sortedMetadata(m map[string]string) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{Key: k, Value: orEmpty(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// prettyJSON indents a document's data for reading. Data that is not valid
// JSON (which Valv does not store, but a report must never fail on) is
// shown as it is.
func prettyJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// RenderHTML writes e as a complete, self-contained HTML page in lang ("sv"
// or "en"): inline CSS, no scripts and no external resources, every value
// escaped. The output is the same bytes for the same Extract.
func RenderHTML(w io.Writer, e *Extract, lang string) error {
	v, err := newView(e, lang)
	if err != nil {
		return err
	}
	// Render into a buffer first so a failure never leaves half a page.
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, v); err != nil {
		return fmt.Errorf("gdpr: render html: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("gdpr: write html: %w", err)
	}
	return nil
}

// htmlReport is parsed once; html/template escapes every value by context.
var htmlReport = template.Must(template.New("extract").Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="{{.L.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.L.Title}} – {{.Tenant.Name}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #1a1a1a; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin-bottom: 0.4rem; }
h4 { font-size: 0.95rem; margin: 1rem 0 0.3rem; }
.sub { margin-top: 0; color: #555; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; padding: 0.25rem 0.5rem; border: 1px solid #ccc; overflow-wrap: anywhere; }
th { background: #f0f0f0; font-weight: 600; }
table.facts th { width: 30%; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: 0.6rem; font-size: 0.85rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.document { border: 1px solid #999; border-radius: 4px; padding: 0 1rem 1rem; margin: 1.2rem 0; }
.document.restricted { border: 2px solid #a40000; }
.badge { display: inline-block; background: #a40000; color: #fff; font-size: 0.8rem; font-weight: 700; padding: 0.1rem 0.5rem; border-radius: 3px; margin-left: 0.5rem; vertical-align: middle; }
.note { color: #a40000; font-weight: 600; }
.none { color: #555; font-style: italic; }
footer { margin-top: 3rem; border-top: 1px solid #ccc; padding-top: 0.5rem; color: #555; font-size: 0.85rem; }
@media print { body { margin: 0; max-width: none; } .document { break-inside: avoid-page; } }
</style>
</head>
<body>
<header>
<h1>{{.L.Title}}</h1>
<p class="sub">{{.Tenant.Name}}</p>
</header>
<main>
<table class="facts">
<tr><th>{{.L.Controller}}</th><td>{{.Tenant.Name}} ({{.L.ID}} {{.Tenant.ID}})</td></tr>
<tr><th>{{.L.Request}}</th><td>{{.Request.ID}}</td></tr>
<tr><th>{{.L.RequestKind}}</th><td>{{.Request.Kind}}</td></tr>
<tr><th>{{.L.Received}}</th><td>{{.Request.Received}}</td></tr>
<tr><th>{{.L.Deadline}}</th><td>{{.Request.Deadline}}</td></tr>
<tr><th>{{.L.GeneratedAt}}</th><td>{{.Generated}}</td></tr>
</table>

<h2>{{.L.Subjects}}</h2>
{{- if .Subjects}}
<table>
<tr><th>{{.L.Kind}}</th><th>{{.L.Value}}</th></tr>
{{- range .Subjects}}
<tr><td>{{.Kind}}</td><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{.L.None}}</p>
{{- end}}

<h2>{{.L.AboutHeading}}</h2>
{{- range .L.About}}
<p>{{.}}</p>
{{- end}}

<h2>{{.L.RightsHeading}}</h2>
<ul>
{{- range .L.Rights}}
<li>{{.}}</li>
{{- end}}
</ul>

<h2>{{.L.Documents}} ({{len .Documents}})</h2>
{{- range .Documents}}
<section class="document{{if .Restricted}} restricted{{end}}">
<h3>{{$.L.Document}} {{.ID}}{{if .Restricted}} <span class="badge">{{$.L.Restricted}}</span>{{end}}</h3>
{{- if .Restricted}}
<p class="note">{{$.L.RestrictedNote}}</p>
{{- end}}
<table class="facts">
<tr><th>{{$.L.Type}}</th><td>{{.Type}}</td></tr>
<tr><th>{{$.L.Archive}}</th><td>{{.Archive}}</td></tr>
<tr><th>{{$.L.DocumentDate}}</th><td>{{.DocumentDate}}</td></tr>
<tr><th>{{$.L.Created}}</th><td>{{.Created}}</td></tr>
<tr><th>{{$.L.Updated}}</th><td>{{.Updated}}</td></tr>
<tr><th>{{$.L.RetainUntil}}</th><td>{{.RetainUntil}}</td></tr>
<tr><th>{{$.L.Basis}}</th><td>{{.Basis}}</td></tr>
<tr><th>{{$.L.CurrentVersion}}</th><td>{{.Version}}</td></tr>
</table>
<h4>{{$.L.Data}}</h4>
{{- if .Data}}
<pre>{{.Data}}</pre>
{{- else}}
<p class="none">{{$.L.NoData}}</p>
{{- end}}
<h4>{{$.L.Metadata}}</h4>
{{- if .Metadata}}
<table>
<tr><th>{{$.L.Key}}</th><th>{{$.L.Value}}</th></tr>
{{- range .Metadata}}
<tr><td>{{.Key}}</td><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{$.L.None}}</p>
{{- end}}
<h4>{{$.L.DocSubjects}}</h4>
{{- if .Subjects}}
<table>
<tr><th>{{$.L.Kind}}</th><th>{{$.L.Value}}</th></tr>
{{- range .Subjects}}
<tr><td>{{.Kind}}</td><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{$.L.None}}</p>
{{- end}}
<h4>{{$.L.File}}</h4>
{{- with .File}}
<table class="facts">
<tr><th>{{$.L.FileName}}</th><td>{{.Name}}</td></tr>
<tr><th>{{$.L.ContentType}}</th><td>{{.ContentType}}</td></tr>
<tr><th>{{$.L.Size}}</th><td>{{.Size}}</td></tr>
</table>
{{- else}}
<p class="none">{{$.L.NoFile}}</p>
{{- end}}
<h4>{{$.L.Versions}}</h4>
{{- if .Versions}}
<table>
<tr><th>{{$.L.Version}}</th><th>{{$.L.Time}}</th><th>{{$.L.ActorType}}</th><th>{{$.L.Changed}}</th></tr>
{{- range .Versions}}
<tr><td>{{.Version}}</td><td>{{.Time}}</td><td>{{.ActorType}}</td><td>{{.Changed}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{$.L.None}}</p>
{{- end}}
</section>
{{- else}}
<p class="none">{{.L.None}}</p>
{{- end}}

<h2>{{.L.Messages}} ({{len .Messages}})</h2>
{{- if .Messages}}
<table>
<tr><th>{{.L.ID}}</th><th>{{.L.Time}}</th><th>{{.L.Direction}}</th><th>{{.L.Recipients}}</th></tr>
{{- range .Messages}}
<tr><td>{{.ID}}</td><td>{{.Time}}</td><td>{{.Direction}}</td><td>{{.Recipients}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{.L.None}}</p>
{{- end}}

<h2>{{.L.PayloadHistory}} ({{len .Payloads}})</h2>
{{- if .Payloads}}
<table>
<tr><th>{{.L.Time}}</th><th>{{.L.Action}}</th><th>{{.L.Resource}}</th><th>{{.L.RequestID}}</th></tr>
{{- range .Payloads}}
<tr><td>{{.Time}}</td><td>{{.Action}}</td><td>{{.Resource}}</td><td>{{.RequestID}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{.L.None}}</p>
{{- end}}

<h2>{{.L.Access}} ({{len .Access}})</h2>
{{- if .Access}}
<table>
<tr><th>{{.L.Time}}</th><th>{{.L.ActorType}}</th><th>{{.L.ActorID}}</th><th>{{.L.Action}}</th><th>{{.L.Resource}}</th><th>{{.L.Outcome}}</th><th>{{.L.Reason}}</th></tr>
{{- range .Access}}
<tr><td>{{.Time}}</td><td>{{.ActorType}}</td><td>{{.ActorID}}</td><td>{{.Action}}</td><td>{{.Resource}}</td><td>{{.Outcome}}</td><td>{{.Reason}}</td></tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{.L.None}}</p>
{{- end}}
</main>
<footer>{{.L.Title}} · {{.Tenant.Name}} · {{.L.GeneratedAt}} {{.Generated}}</footer>
</body>
</html>
`

// PDF limits. A maroto row must fit on one page, so a PDF cuts what could
// be longer; the JSON form and the HTML page always carry everything.
const (
	pdfMaxDataLines = 200 // lines of a document's indented JSON
	pdfMaxLineRunes = 300 // runes of one JSON line

	// pdfGrid is the number of columns in a row: finer than maroto's
	// default 12 so the access log's seven columns fit.
	pdfGrid = 24
	// pdfCodeColumns is how many characters of a JSON line fit across
	// the page (Courier 7.5 pt is 1.59 mm a character; 176 mm wide).
	pdfCodeColumns = 104
)

// RenderPDF writes e as a PDF in lang ("sv" or "en") with the same content
// as RenderHTML. A document's JSON is cut after pdfMaxDataLines lines, with
// a note pointing to the JSON form. The PDF's creation date is
// e.GeneratedAt; its modification date is the time of rendering, so unlike
// the HTML page the bytes differ between runs.
func RenderPDF(w io.Writer, e *Extract, lang string) error {
	v, err := newView(e, lang)
	if err != nil {
		return err
	}
	c := pdfdoc.NewPalette()
	cfg := config.NewBuilder().
		WithPageSize(pagesize.A4).
		WithLeftMargin(15).
		WithRightMargin(15).
		WithTopMargin(12).
		WithMaxGridSize(pdfGrid).
		WithPageNumber(props.PageNumber{Pattern: v.L.PageNumber, Place: props.Bottom, Size: 8, Color: &c.Grey}).
		WithTitle(v.L.Title+" – "+e.Tenant.Name, true).
		WithCreator("Valv", false).
		WithCreationDate(e.GeneratedAt.UTC()).
		Build()
	m := maroto.New(cfg)
	p := &pdfWriter{m: m, l: v.L, c: c}
	if err := m.RegisterHeader(p.header(v)...); err != nil {
		return fmt.Errorf("gdpr: render pdf: %w", err)
	}
	p.body(v)
	doc, err := m.Generate()
	if err != nil {
		return fmt.Errorf("gdpr: render pdf: %w", err)
	}
	if _, err := w.Write(doc.GetBytes()); err != nil {
		return fmt.Errorf("gdpr: write pdf: %w", err)
	}
	return nil
}

// pdfWriter lays out the report as maroto rows.
type pdfWriter struct {
	m core.Maroto
	l *labels
	c *pdfdoc.Palette
}

func (p *pdfWriter) header(v *view) []core.Row {
	small := props.Text{Size: 8, Color: &p.c.Grey}
	right := small
	right.Align = align.Right
	return []core.Row{
		row.New().Add(
			pdfdoc.Cell(pdfGrid/2, v.L.Title+" – "+v.Tenant.Name, small),
			pdfdoc.Cell(pdfGrid/2, v.L.GeneratedAt+" "+v.Generated, right),
		),
		row.New(3).Add(line.NewCol(pdfGrid, props.Line{Thickness: 0.2, Color: &p.c.RuleGrey, SizePercent: 100, OffsetPercent: 50})),
	}
}

func (p *pdfWriter) body(v *view) {
	l := v.L
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, l.Title, props.Text{Size: 20, Style: fontstyle.Bold, Bottom: 1}))
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, v.Tenant.Name, props.Text{Size: 11, Color: &p.c.Grey, Bottom: 3}))
	p.facts([][2]string{
		{l.Controller, v.Tenant.Name + " (" + l.ID + " " + v.Tenant.ID + ")"},
		{l.Request, v.Request.ID},
		{l.RequestKind, v.Request.Kind},
		{l.Received, v.Request.Received},
		{l.Deadline, v.Request.Deadline},
		{l.GeneratedAt, v.Generated},
	})

	p.heading(l.Subjects, 13)
	p.identifiers(v.Subjects)

	p.heading(l.AboutHeading, 13)
	for _, s := range l.About {
		p.paragraph(s)
	}
	p.heading(l.RightsHeading, 13)
	for _, s := range l.Rights {
		p.paragraph("•  " + s)
	}

	p.heading(fmt.Sprintf("%s (%d)", l.Documents, len(v.Documents)), 13)
	if len(v.Documents) == 0 {
		p.none()
	}
	for _, d := range v.Documents {
		p.document(d)
	}

	p.heading(fmt.Sprintf("%s (%d)", l.Messages, len(v.Messages)), 13)
	var rows [][]string
	for _, m := range v.Messages {
		rows = append(rows, []string{m.ID, m.Time, m.Direction, m.Recipients})
	}
	p.table([]int{6, 6, 4, 8}, []string{l.ID, l.Time, l.Direction, l.Recipients}, rows)

	p.heading(fmt.Sprintf("%s (%d)", l.PayloadHistory, len(v.Payloads)), 13)
	rows = nil
	for _, r := range v.Payloads {
		rows = append(rows, []string{r.Time, r.Action, r.Resource, r.RequestID})
	}
	p.table([]int{6, 6, 6, 6}, []string{l.Time, l.Action, l.Resource, l.RequestID}, rows)

	p.heading(fmt.Sprintf("%s (%d)", l.Access, len(v.Access)), 13)
	rows = nil
	for _, a := range v.Access {
		rows = append(rows, []string{a.Time, a.ActorType, a.ActorID, a.Action, a.Resource, a.Outcome, a.Reason})
	}
	p.table([]int{5, 3, 3, 4, 4, 2, 3}, []string{l.Time, l.ActorType, l.ActorID, l.Action, l.Resource, l.Outcome, l.Reason}, rows)
}

func (p *pdfWriter) document(d documentView) {
	l := p.l
	p.m.AddRow(4)
	p.m.AddRow(2, line.NewCol(pdfGrid, props.Line{Thickness: 0.6, SizePercent: 100, OffsetPercent: 5}))
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, l.Document+" "+d.ID, props.Text{Size: 11, Style: fontstyle.Bold, Bottom: 1.5}))
	if d.Restricted {
		p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, l.Restricted+": "+l.RestrictedNote,
			props.Text{Size: 9, Style: fontstyle.Bold, Color: &p.c.Red, Top: 1, Bottom: 1, Left: 1.5, Right: 1.5}),
		).WithStyle(&props.Cell{BackgroundColor: &p.c.RedFill, BorderType: border.Full, BorderColor: &p.c.Red, BorderThickness: 0.4})
		p.m.AddRow(2)
	}
	p.facts([][2]string{
		{l.Type, d.Type},
		{l.Archive, d.Archive},
		{l.DocumentDate, d.DocumentDate},
		{l.Created, d.Created},
		{l.Updated, d.Updated},
		{l.RetainUntil, d.RetainUntil},
		{l.Basis, d.Basis},
		{l.CurrentVersion, fmt.Sprint(d.Version)},
	})

	p.subheading(l.Data)
	p.data(d.Data)

	p.subheading(l.Metadata)
	var rows [][]string
	for _, kv := range d.Metadata {
		rows = append(rows, []string{kv.Key, kv.Value})
	}
	p.table([]int{8, 16}, []string{l.Key, l.Value}, rows)

	p.subheading(l.DocSubjects)
	p.identifiers(d.Subjects)

	p.subheading(l.File)
	if f := d.File; f != nil {
		p.facts([][2]string{{l.FileName, f.Name}, {l.ContentType, f.ContentType}, {l.Size, f.Size}})
	} else {
		p.paragraph(l.NoFile)
	}

	p.subheading(l.Versions)
	rows = nil
	for _, ver := range d.Versions {
		rows = append(rows, []string{fmt.Sprint(ver.Version), ver.Time, ver.ActorType, ver.Changed})
	}
	p.table([]int{3, 6, 5, 10}, []string{l.Version, l.Time, l.ActorType, l.Changed}, rows)
}

// data lists indented JSON one line per row in a monospaced font, so a
// page break can fall between any two lines. Lines are wrapped here, not
// by maroto: its wrapping drops indentation and breaks non-ASCII letters.
func (p *pdfWriter) data(pretty string) {
	if pretty == "" {
		p.paragraph(p.l.NoData)
		return
	}
	code := props.Text{Family: fontfamily.Courier, Size: 7.5, Left: 2, Right: 2}
	fill := &props.Cell{BackgroundColor: &p.c.CodeFill}
	lines := strings.Split(pretty, "\n")
	left := 0
	if len(lines) > pdfMaxDataLines {
		left = len(lines) - pdfMaxDataLines
		lines = lines[:pdfMaxDataLines]
	}
	p.m.AddRow(1.5).WithStyle(fill)
	for _, s := range lines {
		for _, part := range wrapCode(pdfdoc.Text(s, pdfMaxLineRunes), pdfCodeColumns) {
			p.m.AddAutoRow(text.NewCol(pdfGrid, part, code)).WithStyle(fill)
		}
	}
	if left > 0 {
		note := props.Text{Size: 8, Style: fontstyle.Italic, Left: 2, Right: 2}
		p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, fmt.Sprintf(p.l.Truncated, left), note)).WithStyle(fill)
	}
	p.m.AddRow(1.5).WithStyle(fill)
}

// wrapCode cuts a line of monospaced text into pieces of at most width
// runes; the pieces after the first keep the line's indentation, plus two.
func wrapCode(s string, width int) []string {
	if strings.TrimSpace(s) == "" {
		return []string{" "} // an empty text would give the row no height
	}
	r := []rune(s)
	if len(r) <= width {
		return []string{s}
	}
	indent := len(r) - len([]rune(strings.TrimLeft(s, " "))) + 2
	if indent > width/2 {
		indent = width / 2
	}
	out := []string{string(r[:width])}
	for r = r[width:]; len(r) > 0; {
		n := min(len(r), width-indent)
		out = append(out, strings.Repeat(" ", indent)+string(r[:n]))
		r = r[n:]
	}
	return out
}

func (p *pdfWriter) heading(s string, size float64) {
	p.m.AddRow(5)
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: size, Style: fontstyle.Bold, Bottom: 0.5}))
	p.m.AddRow(3, line.NewCol(pdfGrid, props.Line{Thickness: 0.4, SizePercent: 100, OffsetPercent: 20}))
}

func (p *pdfWriter) subheading(s string) {
	p.m.AddRow(2)
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: 9.5, Style: fontstyle.Bold, Bottom: 1}))
}

func (p *pdfWriter) paragraph(s string) {
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: 9, Bottom: 1.5}))
}

func (p *pdfWriter) none() {
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, p.l.None, props.Text{Size: 9, Style: fontstyle.Italic, Color: &p.c.Grey, Bottom: 1}))
}

// facts lists label–value pairs in two columns.
func (p *pdfWriter) facts(pairs [][2]string) {
	label := props.Text{Size: 9, Style: fontstyle.Bold, Top: 0.5, Bottom: 0.5}
	value := props.Text{Size: 9, Top: 0.5, Bottom: 0.5}
	for _, kv := range pairs {
		p.m.AddAutoRow(
			pdfdoc.Cell(8, kv[0], label),
			pdfdoc.Cell(16, kv[1], value),
		)
	}
}

func (p *pdfWriter) identifiers(ids []Identifier) {
	var rows [][]string
	for _, id := range ids {
		rows = append(rows, []string{id.Kind, id.Value})
	}
	p.table([]int{8, 16}, []string{p.l.Kind, p.l.Value}, rows)
}

// table lays out rows under a shaded header; sizes are column widths on
// maroto's 12-column grid. No rows gives the "none" line instead.
func (p *pdfWriter) table(sizes []int, header []string, rows [][]string) {
	if len(rows) == 0 {
		p.none()
		return
	}
	head := props.Text{Size: 8, Style: fontstyle.Bold, Top: 0.8, Bottom: 0.8, Left: 1, Right: 1}
	body := props.Text{Size: 8, Top: 0.8, Bottom: 0.8, Left: 1, Right: 1}
	cols := func(values []string, style props.Text) []core.Col {
		out := make([]core.Col, len(sizes))
		for i, size := range sizes {
			out[i] = pdfdoc.Cell(size, values[i], style)
		}
		return out
	}
	p.m.AddAutoRow(cols(header, head)...).WithStyle(&props.Cell{BackgroundColor: &p.c.HeadFill})
	for i, r := range rows {
		added := p.m.AddAutoRow(cols(r, body)...)
		if i%2 == 1 {
			added.WithStyle(&props.Cell{BackgroundColor: &p.c.ZebraFill})
		}
	}
}
