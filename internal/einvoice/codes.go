package einvoice

import "strings"

// Code lists, as space-separated constants so that nothing here can be
// changed at run time. Membership is checked only for lists that are
// small and stable; for identifier schemes (EAS, ICD) and unit codes
// (UN/ECE Rec 20/21), which grow with every Peppol release, only the form
// is checked, so that a new valid code is never refused. Sources: the
// Peppol BIS Billing 3.0 schematron (release 3.0.15) and its code lists,
// with the ISO 4217 codes added since (MRU, SLE, VED, VES, XCG, ZWG).
const (
	// ISO 3166-1 alpha-2, with 1A (Kosovo) and XI (Northern Ireland) as Peppol allows.
	iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
		"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
		"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
		"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
		"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
		"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
		"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW 1A XI"

	// ISO 4217 currency codes.
	iso4217 = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
		"CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP " +
		"GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP " +
		"LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRO MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN " +
		"PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT " +
		"TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UZS VED VEF VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR " +
		"XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL"

	// UNCL1001 subset for Peppol invoices (PEPPOL-EN16931-P0100).
	invoiceTypeCodes = "71 80 82 84 102 218 219 331 380 382 383 386 388 393 395 553 575 623 780 817 870 875 876 877"

	// UNCL5305 subset: VAT category codes (BR-CL-17, BR-CL-18).
	vatCategories = "S Z E AE K G O L M"

	// UNCL4461: payment means codes (BR-CL-16).
	paymentMeansCodes = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 " +
		"35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 70 74 75 76 " +
		"77 78 91 92 93 94 95 96 97 ZZZ"

	// UNCL5189 subset: allowance reason codes (PEPPOL-EN16931-CL002).
	allowanceReasonCodes = "41 42 60 62 63 64 65 66 67 68 70 71 88 95 100 102 103 104 105"

	// UNCL7161: charge reason codes (PEPPOL-EN16931-CL003).
	chargeReasonCodes = "AA AAA AAC AAD AAE AAF AAH AAI AAS AAT AAV AAY AAZ ABA ABB ABC ABD ABF ABK ABL ABN ABR ABS ABT ABU " +
		"ACF ACG ACH ACI ACJ ACK ACL ACM ACS ADC ADE ADJ ADK ADL ADM ADN ADO ADP ADQ ADR ADT ADW ADY ADZ AEA AEB AEC AED AEF " +
		"AEH AEI AEJ AEK AEL AEM AEN AEO AEP AES AET AEU AEV AEW AEX AEY AEZ AJ AU CA CAB CAD CAE CAF CAI CAJ CAK CAL CAM CAN " +
		"CAO CAP CAQ CAR CAS CAT CAU CAV CAW CAX CAY CAZ CD CG CS CT DAB DAC DAD DAF DAG DAH DAI DAJ DAK DAL DAM DAN DAO DAP " +
		"DAQ DL EG EP ER FAA FAB FAC FC FH FI GAA HAA HD HH IAA IAB ID IF IR IS KO L1 LA LAA LAB LF MAE MI ML NAA OA PA PAA " +
		"PC PL RAB RAC RAD RAF RE RF RH RV SA SAA SAD SAE SAI SG SH SM SU TAB TAC TT TV V1 V2 WH XAA YY ZZZ"

	// UNCL2005 subset: VAT point date codes (PEPPOL-EN16931-CL006).
	vatPointDateCodes = "3 35 432"

	// MIME codes allowed for attachments (PEPPOL-EN16931-CL001).
	mimeCodes = "application/pdf image/png image/jpeg text/csv " +
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet application/vnd.oasis.opendocument.spreadsheet"
)

// isCode reports whether code is one of the space-separated codes in list.
func isCode(list, code string) bool {
	if code == "" || strings.ContainsAny(code, " \t\r\n") {
		return false
	}
	i := strings.Index(" "+list+" ", " "+code+" ")
	return i >= 0
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isSchemeCode reports whether s has the form of an ISO 6523 ICD or EAS
// code: four digits.
func isSchemeCode(s string) bool { return len(s) == 4 && allDigits(s) }

// isUnitCode reports whether s has the form of a UN/ECE Recommendation 20
// or 21 code: one to three upper-case letters or digits.
func isUnitCode(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// isUpperCode reports whether s is n1 to n2 upper-case ASCII letters (the
// form of UNCL1153 and UNCL7143 codes).
func isUpperCode(s string, n1, n2 int) bool {
	if len(s) < n1 || len(s) > n2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// luhn reports whether the digit string s ends in a valid Luhn check digit.
func luhn(s string) bool {
	if !allDigits(s) {
		return false
	}
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// validSchemeID checks the identifiers whose form Peppol verifies by
// scheme (PEPPOL-COMMON-R040 to R043 and R049). It returns the rule broken,
// or "" when the identifier is fine or its scheme is not checked.
func validSchemeID(scheme, id string) (rule string) {
	switch scheme {
	case "0007": // Swedish organisation number: ten digits, Luhn
		if len(id) != 10 || !luhn(id) {
			return "PEPPOL-COMMON-R049"
		}
	case "0088": // GS1 GLN: digits with a GS1 mod 10 check digit
		if !gln(id) {
			return "PEPPOL-COMMON-R040"
		}
	case "0192": // Norwegian organisation number: nine digits, mod 11
		if len(id) != 9 || !mod11NO(id) {
			return "PEPPOL-COMMON-R041"
		}
	case "0184": // Danish CVR: DK and eight digits
		if len(id) != 10 || !strings.HasPrefix(id, "DK") || !allDigits(id[2:]) {
			return "PEPPOL-COMMON-R042"
		}
	case "0208": // Belgian enterprise number: ten digits, mod 97
		if len(id) != 10 || !allDigits(id) || !mod97BE(id) {
			return "PEPPOL-COMMON-R043"
		}
	}
	return ""
}

// gln checks a GS1 key's check digit (weights 3 and 1 from the right).
func gln(s string) bool {
	if len(s) < 2 || !allDigits(s) {
		return false
	}
	sum := 0
	body := s[:len(s)-1]
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(s[len(s)-1]-'0')
}

// mod11NO checks a Norwegian organisation number (weights 3 2 7 6 5 4 3 2).
func mod11NO(s string) bool {
	if !allDigits(s) || strings.Trim(s, "0") == "" {
		return false
	}
	weights := [8]int{3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	check := (11 - sum%11) % 11
	return check < 10 && check == int(s[8]-'0')
}

// mod97BE checks a Belgian enterprise number: 97 - (first eight mod 97).
func mod97BE(s string) bool {
	n := 0
	for i := 0; i < 8; i++ {
		n = n*10 + int(s[i]-'0')
	}
	check := int(s[8]-'0')*10 + int(s[9]-'0')
	return 97-n%97 == check
}

// vatPrefixOK reports whether a VAT identifier starts with an ISO 3166-1
// alpha-2 code, or EL for Greece (BR-CO-09).
func vatPrefixOK(vat string) bool {
	if len(vat) < 3 {
		return false
	}
	p := vat[:2]
	return p == "EL" || (isUpperCode(p, 2, 2) && isCode(iso3166, p))
}
