package gdpr

import "fmt"

// labels is the fixed text of a register extract report in one language.
// Every word a reader sees that is not a value from the Extract comes from
// here, so a language is added by adding one labels value.
type labels struct {
	Lang  string // BCP 47 tag for <html lang>
	Title string

	Controller, Name, ID                                  string
	Request, RequestKind, Received, Deadline, GeneratedAt string
	Subjects, Kind, Value                                 string

	AboutHeading  string
	About         []string
	RightsHeading string
	Rights        []string

	Documents, Document, Type, Archive, DocumentDate     string
	Created, Updated, RetainUntil, Basis, CurrentVersion string
	Restricted, RestrictedNote                           string
	Data, NoData, NoFile, Metadata, Key, DocSubjects     string
	File, FileName, ContentType, Size, Versions, Version string
	Time, ActorType, ActorID, Changed                    string
	Messages, Direction, Recipients                      string
	PayloadHistory, Action, Resource, RequestID          string
	Access, Outcome, Reason                              string
	None, NoneLower                                      string

	// Truncated ends a PDF's JSON listing that was cut short; %d is the
	// number of lines left out.
	Truncated string
	// PageNumber is the PDF footer, with maroto's {current} and {total}.
	PageNumber string
	// Bytes formats a file size.
	Bytes func(n int64) string

	// The values below translate the Extract's codes; a code not listed
	// is shown as it is.
	Archives   map[string]string
	ActorTypes map[string]string
	Outcomes   map[string]string
	Directions map[string]string
}

// labelsFor returns the fixed text for lang: "sv" or "en".
func labelsFor(lang string) (*labels, error) {
	switch lang {
	case "sv":
		return swedish(), nil
	case "en":
		return english(), nil
	}
	return nil, fmt.Errorf("gdpr: unsupported report language %q (use sv or en)", lang)
}

func swedish() *labels {
	return &labels{
		Lang:  "sv",
		Title: "Registerutdrag",

		Controller:  "Personuppgiftsansvarig",
		Name:        "Namn",
		ID:          "Id",
		Request:     "Begäran",
		RequestKind: "Typ av begäran",
		Received:    "Mottagen",
		Deadline:    "Sista svarsdag",
		GeneratedAt: "Utdraget skapat",
		Subjects:    "Dina identifierare",
		Kind:        "Typ",
		Value:       "Värde",

		AboutHeading: "Om detta utdrag",
		About: []string{
			"Detta är ett registerutdrag enligt artikel 15 i dataskyddsförordningen (GDPR). Det visar de personuppgifter om dig som den personuppgiftsansvariga ovan behandlar: varje dokument som är kopplat till någon av dina identifierare, med nuvarande innehåll och alla tidigare versioner, hur länge det sparas och varför, meddelanden och sparade förfrågningar som rör dig, samt en logg över vem som har läst, ändrat eller exporterat uppgifterna och när.",
			"Alla tider anges i UTC (svensk normaltid är UTC+1, sommartid UTC+2).",
		},
		RightsHeading: "Dina rättigheter",
		Rights: []string{
			"Rättelse (artikel 16): du kan begära att felaktiga uppgifter rättas och att ofullständiga uppgifter kompletteras.",
			"Radering (artikel 17): du kan begära att uppgifter raderas. Uppgifter som lagen kräver att vi sparar, till exempel räkenskapsinformation, raderas först när den lagstadgade tiden har gått ut.",
			"Begränsning (artikel 18): du kan begära att behandlingen begränsas, till exempel medan en invändning prövas. Begränsade dokument är markerade i detta utdrag.",
			"Dataportabilitet (artikel 20): du kan få de uppgifter du själv har lämnat i ett strukturerat, maskinläsbart format.",
			"Klagomål (artikel 77): om du anser att behandlingen strider mot dataskyddsförordningen kan du klaga hos Integritetsskyddsmyndigheten (IMY), www.imy.se.",
			"Vänd dig till den personuppgiftsansvariga ovan för att använda dessa rättigheter.",
		},

		Documents:      "Dokument",
		Document:       "Dokument",
		Type:           "Typ",
		Archive:        "Arkiv",
		DocumentDate:   "Dokumentdatum",
		Created:        "Skapat",
		Updated:        "Senast ändrat",
		RetainUntil:    "Sparas till och med",
		Basis:          "Grund för lagringstiden",
		CurrentVersion: "Nuvarande version",
		Restricted:     "BEGRÄNSAD",
		RestrictedNote: "Behandlingen av detta dokument är begränsad (artikel 18): det används inte längre och sparas bara så länge lagen kräver.",
		Data:           "Innehåll",
		NoData:         "Inget innehåll.",
		NoFile:         "Ingen fil.",
		Metadata:       "Metadata",
		Key:            "Nyckel",
		DocSubjects:    "Personer som dokumentet gäller",
		File:           "Fil",
		FileName:       "Filnamn",
		ContentType:    "Filtyp",
		Size:           "Storlek",
		Versions:       "Versioner",
		Version:        "Version",
		Time:           "Tid",
		ActorType:      "Utförd av",
		ActorID:        "Aktörens id",
		Changed:        "Ändrade fält",
		Messages:       "Meddelanden",
		Direction:      "Riktning",
		Recipients:     "Mottagare",
		PayloadHistory: "Sparade förfrågningar",
		Action:         "Åtgärd",
		Resource:       "Resurs",
		RequestID:      "Förfrågans id",
		Access:         "Åtkomstlogg",
		Outcome:        "Utfall",
		Reason:         "Skäl",
		None:           "Inga.",
		NoneLower:      "inga",

		Truncated:  "… (%d rader till; se JSON-formen av utdraget)",
		PageNumber: "Sida {current} av {total}",
		Bytes:      func(n int64) string { return groupDigits(n, ' ') + " byte" },

		Archives: map[string]string{
			"legal":    "Räkenskapsarkiv (lagkrav)",
			"standard": "Standardarkiv",
			"message":  "Meddelandearkiv",
		},
		ActorTypes: map[string]string{
			"user":      "Användare",
			"operator":  "Operatör",
			"api_key":   "API-nyckel",
			"system":    "Systemet",
			"anonymous": "Okänd (ej inloggad)",
		},
		Outcomes: map[string]string{
			"success": "Genomförd",
			"denied":  "Nekad",
			"failed":  "Misslyckad",
			"error":   "Fel",
		},
		Directions: map[string]string{
			"inbound":  "Inkommande",
			"outbound": "Utgående",
		},
	}
}

func english() *labels {
	return &labels{
		Lang:  "en",
		Title: "Register extract",

		Controller:  "Controller",
		Name:        "Name",
		ID:          "ID",
		Request:     "Request",
		RequestKind: "Kind of request",
		Received:    "Received",
		Deadline:    "Answer due",
		GeneratedAt: "Extract generated",
		Subjects:    "Your identifiers",
		Kind:        "Kind",
		Value:       "Value",

		AboutHeading: "About this extract",
		About: []string{
			"This is a register extract under Article 15 of the General Data Protection Regulation (GDPR). It shows the personal data about you that the controller named above processes: every document linked to any of your identifiers, with its current content and every earlier version, how long it is kept and why, the messages and kept requests about you, and a log of who read, changed or exported the data, and when.",
			"All times are in UTC.",
		},
		RightsHeading: "Your rights",
		Rights: []string{
			"Rectification (Article 16): you can ask for inaccurate data to be corrected and incomplete data to be completed.",
			"Erasure (Article 17): you can ask for data to be erased. Data the law requires us to keep, such as accounting records, is erased only when the period required by law has passed.",
			"Restriction (Article 18): you can ask for processing to be restricted, for example while an objection is examined. Restricted documents are marked in this extract.",
			"Portability (Article 20): you can receive the data you provided yourself in a structured, machine-readable format.",
			"Complaint (Article 77): if you believe the processing breaks the GDPR, you can complain to the Swedish supervisory authority, Integritetsskyddsmyndigheten (IMY), www.imy.se.",
			"To use these rights, contact the controller named above.",
		},

		Documents:      "Documents",
		Document:       "Document",
		Type:           "Type",
		Archive:        "Archive",
		DocumentDate:   "Document date",
		Created:        "Created",
		Updated:        "Last changed",
		RetainUntil:    "Kept until",
		Basis:          "Basis for keeping it",
		CurrentVersion: "Current version",
		Restricted:     "RESTRICTED",
		RestrictedNote: "Processing of this document is restricted (Article 18): it is no longer used and is kept only as long as the law requires.",
		Data:           "Content",
		NoData:         "No content.",
		NoFile:         "No file.",
		Metadata:       "Metadata",
		Key:            "Key",
		DocSubjects:    "People the document is about",
		File:           "File",
		FileName:       "File name",
		ContentType:    "File type",
		Size:           "Size",
		Versions:       "Versions",
		Version:        "Version",
		Time:           "Time",
		ActorType:      "Done by",
		ActorID:        "Actor ID",
		Changed:        "Changed fields",
		Messages:       "Messages",
		Direction:      "Direction",
		Recipients:     "Recipients",
		PayloadHistory: "Kept requests",
		Action:         "Action",
		Resource:       "Resource",
		RequestID:      "Request ID",
		Access:         "Access log",
		Outcome:        "Outcome",
		Reason:         "Reason",
		None:           "None.",
		NoneLower:      "none",

		Truncated:  "… (%d more lines; see the JSON form of the extract)",
		PageNumber: "Page {current} of {total}",
		Bytes: func(n int64) string {
			if n == 1 {
				return "1 byte"
			}
			return groupDigits(n, ',') + " bytes"
		},

		Archives: map[string]string{
			"legal":    "Legal archive (required by law)",
			"standard": "Standard archive",
			"message":  "Message archive",
		},
		ActorTypes: map[string]string{
			"user":      "User",
			"operator":  "Operator",
			"api_key":   "API key",
			"system":    "The system",
			"anonymous": "Unknown (not signed in)",
		},
		Outcomes: map[string]string{
			"success": "Done",
			"denied":  "Denied",
			"failed":  "Failed",
			"error":   "Error",
		},
		Directions: map[string]string{
			"inbound":  "Incoming",
			"outbound": "Outgoing",
		},
	}
}

// groupDigits writes n with sep between groups of three digits.
func groupDigits(n int64, sep rune) string {
	s := fmt.Sprint(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	var out []rune
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, sep)
		}
		out = append(out, c)
	}
	return neg + string(out)
}
