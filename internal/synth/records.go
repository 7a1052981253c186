package synth

import (
	"strconv"
	"strings"
	"time"
)

// MemberRecord is an entry in a membership and share register, such as an
// economic association keeps (medlems- och andelsförteckning).
type MemberRecord struct {
	MemberNumber string    `json:"member_number"`
	Person       Person    `json:"person"`
	JoinedAt     time.Time `json:"joined_at"` // midnight UTC
	Shares       int       `json:"shares"`    // number of shares held, at least 1
}

// Member returns a register entry for a new person, who joined within the
// five years before now. Member numbers count up from 1001 per Generator.
func (g *Generator) Member(now time.Time) MemberRecord {
	p := g.Person()
	g.memberSeq++
	shares := 1
	if g.intn(3) == 0 {
		shares = g.between(2, 50)
	}
	return MemberRecord{
		MemberNumber: strconv.Itoa(1000 + g.memberSeq),
		Person:       p,
		JoinedAt:     g.dateWithin(now, 0),
		Shares:       shares,
	}
}

// Message is a short business message in Swedish from a person to a
// company. The only names in it are generated ones.
type Message struct {
	Sender    Person    `json:"sender"`
	Recipient Company   `json:"recipient"`
	SentAt    time.Time `json:"sent_at"` // office hours, UTC, at least two days before now
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
}

// Message returns a message from a new person to a new company, sent
// within the five years before now.
func (g *Generator) Message(now time.Time) Message {
	m := Message{
		Sender:    g.Person(),
		Recipient: g.Company(),
		// Two days back at the latest, so that office hours in UTC are
		// before now in any time zone.
		SentAt: g.dateWithin(now, 2).Add(time.Duration(g.between(7*60, 18*60)) * time.Minute),
	}
	ref := strconv.Itoa(m.SentAt.Year()) + "-" + strconv.Itoa(g.between(10000, 99999))
	t := pick(g, messageTemplates)
	r := strings.NewReplacer(
		"{given}", m.Sender.GivenName,
		"{name}", m.Sender.GivenName+" "+m.Sender.FamilyName,
		"{company}", m.Recipient.Name,
		"{ref}", ref,
		"{date}", m.SentAt.AddDate(0, 0, g.between(3, 21)).Format("2006-01-02"),
		"{pnr}", m.Sender.Personnummer,
		"{address}", m.Sender.Address.Street+", "+m.Sender.Address.PostalCode+" "+m.Sender.Address.City,
		"{phone}", m.Sender.Phone,
	)
	m.Subject, m.Body = r.Replace(t.subject), r.Replace(t.body)
	return m
}

type messageTemplate struct{ subject, body string }

var messageTemplates = []messageTemplate{
	{
		"Fråga om faktura {ref}",
		"Hej!\n\nJag har en fråga om faktura {ref} från {company}. Beloppet stämmer inte med offerten vi fick. " +
			"Kan ni se över den och återkomma?\n\nMed vänliga hälsningar\n{name}\n{phone}",
	},
	{
		"Begäran om registerutdrag",
		"Hej,\n\nJag vill enligt artikel 15 i dataskyddsförordningen få veta vilka personuppgifter {company} " +
			"behandlar om mig. Mitt personnummer är {pnr}.\n\nVänliga hälsningar\n{name}",
	},
	{
		"Ny adress",
		"Hej!\n\nJag har flyttat. Min nya adress är {address}. Skicka gärna kommande fakturor dit.\n\nTack på förhand!\n{given}",
	},
	{
		"Bokning av möte",
		"Hej,\n\nKan vi ses den {date} för att gå igenom avtalet? Förmiddagen passar mig bäst. " +
			"Återkom gärna med en tid som fungerar för er.\n\nHälsningar\n{name}",
	},
	{
		"Uppsägning av avtal {ref}",
		"Hej!\n\nJag säger härmed upp avtal {ref} med {company}. Bekräfta gärna uppsägningen och sista " +
			"giltighetsdag skriftligt.\n\nMed vänlig hälsning\n{name}",
	},
	{
		"Begäran om radering",
		"Hej,\n\nJag vill att ni raderar de personuppgifter ni har om mig (artikel 17 i dataskyddsförordningen). " +
			"Jag är inte längre kund hos {company}.\n\nVänliga hälsningar\n{name}\n{pnr}",
	},
	{
		"Tack för leveransen",
		"Hej!\n\nVarorna på order {ref} kom fram i dag och allt såg bra ut. Tack för snabb hantering!\n\n/{given}",
	},
}
