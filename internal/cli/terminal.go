package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether f is an interactive terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lineReader reads answers from stdin: hidden input on a terminal, else
// one line at a time.
type lineReader struct {
	e  *env
	br *bufio.Reader
}

func (e *env) lines() *lineReader {
	return &lineReader{e: e, br: bufio.NewReader(e.Stdin)}
}

// secret asks for a value that must not be echoed (an unseal share).
func (l *lineReader) secret(prompt string) (string, error) {
	if f, ok := l.e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(l.e.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(l.e.Stderr)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := l.br.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no more input: expected an unseal share on standard input")
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// progress shows long work: a bar on a terminal, plain lines otherwise.
type progress struct {
	e     *env
	label string
	bar   *progressbar.ProgressBar
	last  int
}

func (e *env) progress(label string, total int64) *progress {
	p := &progress{e: e, label: label, last: -1}
	if isTerminal(e.Stderr) {
		p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(e.Stderr),
			progressbar.OptionSetDescription(label), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	return p
}

// set reports done of total.
func (p *progress) set(done, total int64) {
	if p.bar != nil {
		p.bar.ChangeMax64(total)
		_ = p.bar.Set64(done)
		return
	}
	pct := 100
	if total > 0 {
		pct = int(done * 100 / total)
	}
	// A line at every 10%, so logs stay short.
	if pct/10 != p.last/10 || p.last < 0 {
		p.last = pct
		fmt.Fprintf(p.e.Stderr, "%s: %d of %d (%d%%)\n", p.label, done, total, pct)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
