package auth

import (
	_ "embed"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

//go:embed weakwords.txt
var weakWordsText string

// weakWords is built from weakwords.txt when first needed; it is read-only
// afterwards.
func weakWords() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(weakWordsText, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, w := range strings.Fields(line) {
			m[w] = true
		}
	}
	return m
}

var weakSet = weakWords()

// deLeet undoes the usual letter-for-digit swaps.
var deLeet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s", "!", "i")

// keyboard rows (Swedish layout), for walks like "qwertyuiopå" or "asdfghjkl".
var keyboardRows = []string{"1234567890+", "qwertyuiopå", "asdfghjklöä", "zxcvbnm,.-"}

// isWeak reports whether a password is a common one, a trivial pattern, or
// built from a common word or from the words of its context.
func isWeak(password string, context []string) bool {
	p := strings.ToLower(norm.NFKC.String(password))
	runes := []rune(p)
	if repeatsUnit(runes) || mostlySequential(runes) || mostlyKeyboardWalk(runes) {
		return true
	}
	// Two readings: digits and symbols dropped ("iloveyou1234" → iloveyou),
	// and, with the digits and symbols around the word trimmed, common
	// letter-for-digit swaps undone ("P@ssw0rd12345" → password).
	candidates := []string{
		lettersOnly(p),
		lettersOnly(deLeet.Replace(strings.TrimFunc(p, func(r rune) bool { return !unicode.IsLetter(r) && !strings.ContainsRune("@$!", r) }))),
	}
	words := weakSet
	ctx := contextWords(context)
	if len(ctx) > 0 {
		words = make(map[string]bool, len(weakSet)+len(ctx))
		for w := range weakSet {
			words[w] = true
		}
		for _, w := range ctx {
			words[w] = true
		}
	}
	for _, letters := range candidates {
		if letters == "" {
			continue // digits and symbols only: caught above if trivial
		}
		if segments(letters, words) <= 2 {
			return true
		}
		// A password that is mostly its owner's name or address is weak too.
		for _, w := range ctx {
			if strings.Contains(letters, w) && len(letters)-len(w) < 6 {
				return true
			}
		}
	}
	return false
}

func lettersOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// contextWords splits e-mail addresses and names into words of 4+ letters.
func contextWords(context []string) []string {
	var out []string
	for _, c := range context {
		for _, w := range strings.FieldsFunc(strings.ToLower(c), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len([]rune(w)) >= 4 {
				out = append(out, w)
			}
		}
	}
	return out
}

// segments returns the least number of listed words (3+ letters each) that
// concatenate to s, or a large number if it cannot be done.
func segments(s string, words map[string]bool) int {
	const never = 1 << 20
	best := make([]int, len(s)+1)
	for i := 1; i <= len(s); i++ {
		best[i] = never
	}
	for i := 0; i < len(s); i++ {
		if best[i] == never {
			continue
		}
		for j := i + 3; j <= len(s); j++ {
			if words[s[i:j]] && best[i]+1 < best[j] {
				best[j] = best[i] + 1
			}
		}
	}
	return best[len(s)]
}

// repeatsUnit reports a string that is one short unit repeated ("aaaa",
// "abab", "12341234").
func repeatsUnit(r []rune) bool {
	for unit := 1; unit <= 4 && unit <= len(r)/2; unit++ {
		ok := true
		for i := unit; i < len(r); i++ {
			if r[i] != r[i%unit] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// mostlySequential reports runs like "123456789012" or "abcdefghijkl" (up
// or down, digits wrapping from 9 to 0) making up 80% of the password.
func mostlySequential(r []rune) bool {
	if len(r) < 2 {
		return true
	}
	steps := 0
	for i := 1; i < len(r); i++ {
		d := r[i] - r[i-1]
		if d == 1 || d == -1 || (r[i-1] == '9' && r[i] == '0') || (r[i-1] == '0' && r[i] == '9') {
			steps++
		}
	}
	return steps*5 >= (len(r)-1)*4
}

// mostlyKeyboardWalk reports passwords typed along keyboard rows.
func mostlyKeyboardWalk(r []rune) bool {
	pos := map[rune][2]int{}
	for row, keys := range keyboardRows {
		for col, k := range []rune(keys) {
			pos[k] = [2]int{row, col}
		}
	}
	steps := 0
	for i := 1; i < len(r); i++ {
		a, okA := pos[r[i-1]]
		b, okB := pos[r[i]]
		if okA && okB && a[0] == b[0] && (a[1]-b[1] == 1 || b[1]-a[1] == 1) {
			steps++
		}
	}
	return len(r) > 1 && steps*5 >= (len(r)-1)*4
}
