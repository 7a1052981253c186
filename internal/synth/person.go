package synth

import (
	"strconv"
	"time"
)

// Person is a synthetic private person.
type Person struct {
	GivenName    string    `json:"given_name"`
	FamilyName   string    `json:"family_name"`
	Personnummer string    `json:"personnummer"` // YYYYMMDD-NNNC, a Skatteverket test number
	BirthDate    time.Time `json:"birth_date"`   // midnight UTC
	Email        string    `json:"email"`        // at a reserved example domain
	Phone        string    `json:"phone"`        // PTS fiction series, "070-174 06 NN"
	Address      Address   `json:"address"`
}

// Address is a Swedish postal address.
type Address struct {
	Street     string `json:"street"`      // street name and number
	PostalCode string `json:"postal_code"` // "NNN NN"
	City       string `json:"city"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2, always "SE"
}

// The block of Skatteverket's test personnummer that synth uses: both birth
// numbers on every day from testFirst to testLast (see the package doc for
// where this comes from and how it was checked). Birth number 238 is a
// woman's, 239 a man's.
var (
	testFirst = time.Date(1990, time.January, 10, 0, 0, 0, 0, time.UTC)
	testLast  = time.Date(1993, time.December, 31, 0, 0, 0, 0, time.UTC)
)

const (
	testSerialFemale = "238"
	testSerialMale   = "239"
)

// testPoolSize is the number of personnummer in the block: two a day.
var testPoolSize = 2 * (int(testLast.Sub(testFirst).Hours()/24) + 1)

// testPersonnummer returns the i-th number of the block, 0 <= i <
// testPoolSize, as YYYYMMDD-NNNC, with its date of birth and whether it is
// a woman's.
func testPersonnummer(i int) (pnr string, born time.Time, female bool) {
	born = testFirst.AddDate(0, 0, i/2)
	serial := testSerialFemale
	if i%2 == 1 {
		serial = testSerialMale
	}
	ymd := born.Format("20060102")
	payload := ymd[2:] + serial // the 9 digits the check digit covers
	return ymd + "-" + serial + string(luhnDigit(payload)), born, i%2 == 0
}

// IsTestPersonnummer reports whether s is a personnummer from the block of
// Skatteverket test numbers that this package generates (package doc):
// written YYYYMMDD-NNNC or YYYYMMDDNNNC, born 1990-01-10 to 1993-12-31,
// birth number 238 or 239, with the right check digit. It recognises
// nothing else, so false does not mean that s belongs to a real person:
// other published test numbers, and 10-digit forms (whose century is
// ambiguous), also give false. It never panics.
func IsTestPersonnummer(s string) bool {
	if len(s) == 13 {
		if s[8] != '-' {
			return false
		}
	} else if len(s) != 12 {
		return false
	}
	var n [12]byte // the 12-digit form, without the hyphen
	j := 0
	for i := 0; i < len(s); i++ {
		if i == 8 && len(s) == 13 {
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n[j] = s[i]
		j++
	}
	year := atoi(n[0:4])
	month := atoi(n[4:6])
	day := atoi(n[6:8])
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return false
	}
	born := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if born.Day() != day || born.Before(testFirst) || born.After(testLast) {
		return false // the date does not exist, or is outside the block
	}
	if serial := string(n[8:11]); serial != testSerialFemale && serial != testSerialMale {
		return false
	}
	return luhnValid(string(n[2:]))
}

// atoi converts ASCII digits the caller has checked.
func atoi(digits []byte) int {
	v := 0
	for _, c := range digits {
		v = v*10 + int(c-'0')
	}
	return v
}

// Person returns a new synthetic person. The first testPoolSize people of
// a Generator have distinct personnummer, and all have distinct email
// addresses.
func (g *Generator) Person() Person {
	if g.pnrNext == len(g.pnr) {
		g.pnr = g.r.Perm(testPoolSize)
		g.pnrNext = 0
	}
	pnr, born, female := testPersonnummer(g.pnr[g.pnrNext])
	g.pnrNext++

	given := pick(g, maleNames)
	if female {
		given = pick(g, femaleNames)
	}
	family := pick(g, familyNames)
	return Person{
		GivenName:    given,
		FamilyName:   family,
		Personnummer: pnr,
		BirthDate:    born,
		Email:        g.personEmail(given, family, born),
		Phone:        g.mobile(),
		Address:      g.address(),
	}
}

// personDomains are where people's mail goes: only names reserved for
// documentation (RFC 2606), so nothing is ever delivered.
var personDomains = []string{"example.com", "example.org", "example.net"}

// personEmail returns an address not yet given by g, in one of the forms
// people use: anna.lind, anna.lind90, alind.
func (g *Generator) personEmail(given, family string, born time.Time) string {
	gv, fm := asciiFold(given, '-'), asciiFold(family, '-')
	var local string
	switch g.intn(4) {
	case 0:
		local = gv + fm
	case 1:
		local = gv + "." + fm + strconv.Itoa(born.Year()%100)
	case 2:
		local = gv[:1] + fm
	default:
		local = gv + "." + fm
	}
	domain := pick(g, personDomains)
	addr := local + "@" + domain
	for n := 2; g.emails[addr]; n++ {
		addr = local + strconv.Itoa(n) + "@" + domain
	}
	g.emails[addr] = true
	return addr
}

// The series PTS reserves for mobiles in fiction (package doc):
// 070-174 06 05 to 070-174 06 99.
const (
	mobileFirst = 605
	mobileLast  = 699
)

// mobile returns a number from the PTS fiction series for mobiles, written
// as Swedes do: "070-174 06 42".
func (g *Generator) mobile() string {
	n := strconv.Itoa(g.between(mobileFirst, mobileLast)) // 605..699
	return "070-174 0" + n[:1] + " " + n[1:]
}

// landlines are the PTS fiction series for fixed lines, by city, printed
// without their last two digits: each series is the hundred numbers that
// end in 00 to 99.
var landlines = map[string]string{
	"Stockholm": "08-465 004 ", // 08-465 004 00 .. 99
	"Göteborg":  "031-390 06 ", // 031-390 06 00 .. 99
	"Malmö":     "040-628 04 ", // 040-628 04 00 .. 99
}

// companyPhone returns a landline from the fiction series of city, or a
// mobile from the fiction series if city has none.
func (g *Generator) companyPhone(city string) string {
	if prefix, ok := landlines[city]; ok {
		n := strconv.Itoa(100 + g.intn(100)) // "1NN", so a leading zero is kept
		return prefix + n[1:]
	}
	return g.mobile()
}

// city is a Swedish city with the range of the first three digits of its
// postcodes.
type city struct {
	name   string
	lo, hi int
}

var cities = []city{
	{"Stockholm", 111, 129}, {"Göteborg", 411, 426}, {"Malmö", 211, 218},
	{"Uppsala", 752, 757}, {"Västerås", 721, 725}, {"Örebro", 702, 703},
	{"Linköping", 582, 587}, {"Helsingborg", 252, 256}, {"Jönköping", 553, 556},
	{"Norrköping", 602, 603}, {"Lund", 222, 227}, {"Umeå", 903, 907},
	{"Gävle", 802, 806}, {"Borås", 503, 507}, {"Sundsvall", 852, 857},
	{"Luleå", 972, 977}, {"Karlstad", 652, 656}, {"Växjö", 352, 355},
	{"Halmstad", 302, 305}, {"Östersund", 831, 832}, {"Kalmar", 392, 393},
	{"Falun", 791, 791}, {"Visby", 621, 622}, {"Kiruna", 981, 981},
}

var streets = []string{
	"Storgatan", "Kyrkogatan", "Drottninggatan", "Kungsgatan", "Skolgatan",
	"Järnvägsgatan", "Trädgårdsgatan", "Nygatan", "Östra Långgatan", "Västra vägen",
	"Björkvägen", "Ekvägen", "Lindvägen", "Granvägen", "Tallvägen",
	"Rönnvägen", "Sjövägen", "Strandvägen", "Parkvägen", "Ringvägen",
	"Skogsvägen", "Ängsvägen", "Bergsgatan", "Hamngatan", "Torggatan",
	"Smedjegatan", "Möllevägen", "Kvarngatan", "Solvägen", "Vallgatan",
}

// address returns a street address in a random city.
func (g *Generator) address() Address {
	return g.addressIn(pick(g, cities))
}

func (g *Generator) addressIn(c city) Address {
	street := pick(g, streets) + " " + strconv.Itoa(g.between(1, 120))
	if g.intn(6) == 0 {
		i := g.intn(4)
		street += "ABCD"[i : i+1]
	}
	return Address{
		Street:     street,
		PostalCode: strconv.Itoa(g.between(c.lo, c.hi)) + " " + g.digits(2),
		City:       c.name,
		Country:    "SE",
	}
}

var femaleNames = []string{
	"Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Kristina", "Elin",
	"Ida", "Johanna", "Linnéa", "Malin", "Sofia", "Hanna", "Ingrid", "Åsa",
	"Märta", "Astrid", "Elsa", "Maja", "Ebba", "Wilma", "Alice", "Julia",
	"Frida", "Klara", "Lisa", "Helena", "Camilla", "Cecilia", "Louise", "Agnes",
	"Tove", "Jenny",
}

var maleNames = []string{
	"Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Mikael", "Jan",
	"Hans", "Peter", "Olof", "Gustav", "Fredrik", "Daniel", "Magnus", "Henrik",
	"Oskar", "Axel", "Viktor", "Emil", "Anton", "Filip", "Hugo", "Ludvig",
	"Björn", "Sven", "Mats", "Jonas", "Stefan", "Martin", "Tobias", "Simon",
	"Albin", "Elias",
}

var familyNames = []string{
	"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
	"Olsson", "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson",
	"Jansson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson",
	"Magnusson", "Olofsson", "Lindström", "Lindqvist", "Lindgren", "Berg",
	"Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist",
	"Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg",
	"Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson", "Lundin",
	"Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström",
	"Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg",
	"Arvidsson", "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson",
}
