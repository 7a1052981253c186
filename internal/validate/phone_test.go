package validate

import "testing"

func TestPhone(t *testing.T) {
	checkVectors(t, Phone, []vector{
		{in: "+46 70 123 45 67", want: "+46701234567"},
		{in: "+46701234567", want: "+46701234567"},
		{in: "070-123 45 67", want: "+46701234567"},
		{in: "(070) 123 45 67", want: "+46701234567"},
		{in: "0046 70 123 45 67", want: "+46701234567"},
		{in: "+46 (0)70-123 45 67", want: "+46701234567"},
		{in: "08-123 456 78", want: "+46812345678"},
		{in: "+1 (202) 555-0123", want: "+12025550123"},
		{in: "+44 20 7946 0958", want: "+442079460958"},
		{in: "+358 9 1234567", want: "+35891234567"},
		{in: "+123456789012345", want: "+123456789012345"}, // 15 digits

		{in: "+46 070 123 45 67", code: CodePhoneFormat}, // the trunk 0 kept after +46
		{in: "701234567", code: CodePhoneFormat},         // no country code, no trunk prefix
		{in: "+0701234567", code: CodePhoneFormat},
		{in: "+46 70 123 45 67 ext. 2", code: CodePhoneFormat},
		{in: "070.123.45.67", code: CodePhoneFormat},
		{in: "+46+701234567", code: CodePhoneFormat},
		{in: "＋46701234567", code: CodePhoneFormat},     // full-width plus
		{in: "+46 7O 123 45 67", code: CodePhoneFormat}, // letter O
		{in: "", code: CodePhoneFormat},
		{in: "00", code: CodePhoneFormat},
		{in: "+1234567", code: CodePhoneLength},          // 7 digits
		{in: "+1234567890123456", code: CodePhoneLength}, // 16 digits
		{in: "0", code: CodePhoneLength},
	})
}
