package validate

import (
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	checkVectors(t, Email, []vector{
		{in: "anna@example.se", want: "anna@example.se"},
		{in: "Anna@Example.SE", want: "Anna@example.se"}, // the local part keeps its case
		{in: "  anna@example.se\n", want: "anna@example.se"},
		{in: "anna.svensson+kvitto@mail.example.co.uk", want: "anna.svensson+kvitto@mail.example.co.uk"},
		{in: "o'brien@example.ie", want: "o'brien@example.ie"},
		{in: "!#$%&'*+-/=?^_`{|}~@example.se", want: "!#$%&'*+-/=?^_`{|}~@example.se"},
		{in: "anna@EXÄMPLE.se", want: "anna@exämple.se"},
		{in: "anna@xn--exmple-cua.se", want: "anna@exämple.se"}, // punycode is shown as Unicode
		{in: "åsa@exämple.se", want: "åsa@exämple.se"},
		{in: "a\u030asa@example.se", want: "åsa@example.se"}, // decomposed å becomes NFC
		{in: "用户@例子.广告", want: "用户@例子.广告"},
		{in: strings.Repeat("a", 64) + "@example.se", want: strings.Repeat("a", 64) + "@example.se"},

		{in: "Anna Svensson <anna@example.se>", code: CodeEmailFormat},
		{in: "<anna@example.se>", code: CodeEmailFormat},
		{in: "\"anna\"@example.se", code: CodeEmailFormat},
		{in: "anna@@example.se", code: CodeEmailFormat},
		{in: "an na@example.se", code: CodeEmailFormat},
		{in: ".anna@example.se", code: CodeEmailFormat},
		{in: "anna.@example.se", code: CodeEmailFormat},
		{in: "an..na@example.se", code: CodeEmailFormat},
		{in: "anna(comment)@example.se", code: CodeEmailFormat},
		{in: "anna＠example.se", code: CodeEmailFormat}, // full-width @
		{in: "annaexample.se", code: CodeEmailFormat},
		{in: "@example.se", code: CodeEmailFormat},
		{in: "anna@", code: CodeEmailFormat},
		{in: "", code: CodeEmailFormat},
		{in: strings.Repeat("a", 65) + "@example.se", code: CodeEmailLength},
		{in: "anna@" + strings.Repeat(long63+".", 4) + "se", code: CodeEmailLength}, // domain over 253
		{in: strings.Repeat("a", 64) + "@" + strings.Repeat(long63+".", 2) + strings.Repeat("b", 61) + ".se", code: CodeEmailLength}, // total over 254
		{in: "anna@example", code: CodeEmailDomain},
		{in: "anna@localhost", code: CodeEmailDomain},
		{in: "anna@192.0.2.1", code: CodeEmailDomain},
		{in: "anna@[192.0.2.1]", code: CodeEmailDomain},
		{in: "anna@example.se.", code: CodeEmailDomain},
		{in: "anna@.example.se", code: CodeEmailDomain},
		{in: "anna@exa_mple.se", code: CodeEmailDomain},
		{in: "anna@-example.se", code: CodeEmailDomain},
		{in: "anna@example-.se", code: CodeEmailDomain},
		{in: "anna@exa mple.se", code: CodeEmailDomain},
		{in: "anna@" + strings.Repeat("a", 64) + ".se", code: CodeEmailDomain}, // label over 63
		{in: "anna@xn--zzzz.se", code: CodeEmailDomain},                        // broken punycode
		// Unicode tricks: text that shows as one thing and is another.
		{in: "anna@example.se\u202e", code: CodeInvalidCharacters},     // right-to-left override
		{in: "an\u200bna@example.se", code: CodeInvalidCharacters},     // zero-width space
		{in: "anna@exam\u200dple.se", code: CodeInvalidCharacters},     // zero-width joiner
		{in: "\ufeffanna@example.se", code: CodeInvalidCharacters},     // byte-order mark
		{in: "anna@exam\u00adple.se", code: CodeInvalidCharacters},     // soft hyphen, which IDNA would delete
		{in: "anna\u2066@example.se", code: CodeInvalidCharacters},     // left-to-right isolate
		{in: "anna@example.se\x00", code: CodeInvalidCharacters},       // NUL
		{in: "anna\r\nBcc: x@example.se", code: CodeInvalidCharacters}, // header injection
		{in: "anna@exa\xffmple.se", code: CodeInvalidCharacters},       // not UTF-8
		{in: "anna@ex\u0430mple.se", want: "anna@exаmple.se"},          // Cyrillic a: a valid IDN, not our call
	})
}
