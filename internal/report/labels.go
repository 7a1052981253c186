package report

import "fmt"

// labels is the fixed text of a measures report in one language. Every
// word a reader sees that is not a value from Measures (or a seed quote,
// which stays in Swedish) comes from here, so a language is added by
// adding one labels value. The labels test checks that both languages
// fill every field and use the same format verbs.
type labels struct {
	Lang  string // BCP 47 tag for <html lang>
	Title string

	// Intro explains what the report is; Legend how to read its
	// evidence lines; TimesUTC that times are UTC.
	Intro, Legend, TimesUTC string

	// The header.
	Tenant, Slug, TenantID, Installation, Environment string
	Generated, Period, Version                        string
	// NotProduction is the warning shown when the installation is not a
	// production one (ENV-1).
	NotProduction string

	// Evidence lines: "Evidences: ENC-5 (GDPR art. 32(1)(a)) — seed 001
	// “...”". QuoteOpen and QuoteClose surround a seed's words.
	Evidences, Seed, GDPR   string
	QuoteOpen, QuoteClose   string
	ArticleFmt, PointFmt    string // "art. %d(%d)" and "(%s)"; see article
	ArticleOnlyFmt          string // "art. %d", an article with no paragraph
	Yes, No, Never, None    string
	NotSet, Unknown, Empty  string
	OfTotal, OfTotalPercent string // "%s of %s", "%s of %s (%s)"
	DecimalSep, DigitSep    string
	Second, Minute, Hour    string // duration units
	Day                     string
	YearOne, YearMany       string // "%d year", "%d years"
	MonthOne, MonthMany     string

	// Sections are the section headings by section key (the Measures
	// field's JSON name, as in Evidence).
	Sections map[string]string

	// Transport.
	MinVersion, Versions, CipherSuites, HSTS, HSTSNone                string
	CertSubject, CertIssuer, CertNotAfter, CertSelfSigned, CertSHA256 string
	// Encryption.
	Algorithm, Hierarchy, RootProvider, KeyHolders, KeyHoldersFmt string
	RootKeyCreated, TenantKeys, TenantKeyCreated, BlindIndex      string
	// Identity.
	Users, UsersWith2FA, UsersWithPasskey, Admins, AdminsWith2FA string
	Require2FA, IdleTimeout, PasswordHash                        string
	// API keys.
	ActiveKeys, KeysWithAllowlist, KeysWithoutAllowlist, KeysWithExpiry string
	// Backups.
	BackupInterval, BackupKeep, RestoreTestInterval, Targets       string
	Name, Type, Region, LastBackup, LastRestoreTest, RestoreResult string
	LastGoodRestoreTest, Passed, Failed                            string
	// Audit trail.
	Entries, LastVerified, ChainsIntact, Checkpoint, CheckpointSize string
	CheckpointTime, VerifierKey, PayloadHistory, AuditRetention     string
	// Retention.
	LegalArchive, LegalKeep, StandardKeep, Rules, DocumentType string
	Archive, Kept, LegalHolds, LastCull                        string
	// Firewall.
	Mode, RuleSet, Paranoia, InboundThreshold, Detection, Refused string
	RateWindow, AddressLimit, KeyLimit, UserLimit, TenantLimit    string
	PerWindow, NoLimit, AutoBlock                                 string
	// Scanner.
	ScannerEnabled, ScannerReachable, ScannerVersion, ScannerPolicy string
	// Operator access.
	ConsentRequired, AccessesInPeriod, Accesses, ID, Scope, Status string
	BreakGlass, Requested, Expires                                 string
	// Data-subject requests.
	Completed, OpenRequests, Kind, Received, Deadline, Overdue string
	// Residency.
	Pin, NotPinned, Locations, Country, Allowed string

	// The closing note: how to check the report's signature.
	SignatureHeading, Signed, VerifyHow, VerifyCommand string
	// PageNumber is the PDF footer, with maroto's {current} and {total}.
	PageNumber string

	// The values below translate Measures' codes; a code not listed is
	// shown as it is.
	Environments    map[string]string
	RootProviders   map[string]string
	Archives        map[string]string
	FirewallModes   map[string]string
	ScannerPolicies map[string]string
	AccessStates    map[string]string
	RequestKinds    map[string]string
	LocationKinds   map[string]string
	Pins            map[string]string
}

// labelsFor returns the fixed text for lang: "sv" or "en".
func labelsFor(lang string) (*labels, error) {
	switch lang {
	case "sv":
		return swedish(), nil
	case "en":
		return english(), nil
	}
	return nil, fmt.Errorf("report: unsupported report language %q (use sv or en)", lang)
}

func swedish() *labels {
	return &labels{
		Lang:  "sv",
		Title: "Tekniska och organisatoriska åtgärder",

		Intro:    "Denna rapport beskriver de tekniska och organisatoriska säkerhetsåtgärder som skyddar den personuppgiftsansvariges data i Valv (artikel 28.3 h och 32 i dataskyddsförordningen). Varje uppgift är läst ur den körande installationen när rapporten skapades, inte inskriven för hand.",
		Legend:   "Under varje avsnitt anges vilka krav i Valvs specifikation (till exempel ENC-5) och vilka artiklar i dataskyddsförordningen uppgifterna styrker, samt vilket löfte på de säkerhetssidor (förlagor 000–004) som Valv bygger på de visar att Valv håller, citerat ordagrant.",
		TimesUTC: "Alla tider anges i UTC (svensk normaltid är UTC+1, sommartid UTC+2).",

		Tenant:        "Kund",
		Slug:          "Kortnamn",
		TenantID:      "Kundens id",
		Installation:  "Installation",
		Environment:   "Miljö",
		Generated:     "Rapporten skapad",
		Period:        "Period",
		Version:       "Valv-version",
		NotProduction: "Inte en produktionsinstallation: test- eller utvecklingsdata",

		Evidences:      "Styrker",
		Seed:           "förlaga",
		GDPR:           "GDPR",
		QuoteOpen:      "”",
		QuoteClose:     "”",
		ArticleFmt:     "art. %d.%d",
		PointFmt:       " %s",
		ArticleOnlyFmt: "art. %d",
		Yes:            "ja",
		No:             "nej",
		Never:          "aldrig",
		None:           "inga",
		NotSet:         "inte inställt",
		Unknown:        "okänt",
		Empty:          "–",
		OfTotal:        "%s av %s",
		OfTotalPercent: "%s av %s (%s)",
		DecimalSep:     ",",
		DigitSep:       " ",
		Second:         "s",
		Minute:         "min",
		Hour:           "tim",
		Day:            "dygn",
		YearOne:        "%d år",
		YearMany:       "%d år",
		MonthOne:       "%d månad",
		MonthMany:      "%d månader",

		Sections: map[string]string{
			"transport":             "Transport och TLS",
			"encryption":            "Kryptering och nycklar",
			"identity":              "Inloggning och tvåstegsverifiering",
			"api_keys":              "API-nycklar",
			"backups":               "Säkerhetskopior",
			"audit":                 "Granskningslogg",
			"retention":             "Lagringstider och gallring",
			"firewall":              "Brandvägg och begränsning av anrop",
			"scanner":               "Skanning efter skadlig kod",
			"operator_access":       "Operatörers åtkomst",
			"data_subject_requests": "De registrerades begäranden",
			"residency":             "Var data finns",
		},

		MinVersion:     "Lägsta TLS-version",
		Versions:       "Godtagna TLS-versioner",
		CipherSuites:   "Chiffersviter",
		HSTS:           "HSTS-huvud",
		HSTSNone:       "skickas inte",
		CertSubject:    "Certifikatets innehavare",
		CertIssuer:     "Certifikatets utfärdare",
		CertNotAfter:   "Certifikatet giltigt till",
		CertSelfSigned: "Självsignerat certifikat",
		CertSHA256:     "Certifikatets SHA-256",

		Algorithm:        "Kryptering av lagrade värden",
		Hierarchy:        "Nyckelhierarki",
		RootProvider:     "Rotnyckeln förvaras",
		KeyHolders:       "Nyckelinnehavare",
		KeyHoldersFmt:    "%d av %d krävs för att låsa upp",
		RootKeyCreated:   "Rotnyckeln skapad (senaste byte)",
		TenantKeys:       "Nycklar i kundens nyckeluppsättning",
		TenantKeyCreated: "Kundens primärnyckel skapad (senaste byte)",
		BlindIndex:       "Sökbarhet utan klartext",

		Users:            "Användare",
		UsersWith2FA:     "Användare med app-kod eller passkey",
		UsersWithPasskey: "Användare med passkey",
		Admins:           "Administratörer",
		AdminsWith2FA:    "Administratörer med app-kod eller passkey",
		Require2FA:       "Tvåstegsverifiering krävs av alla",
		IdleTimeout:      "Utloggning efter inaktivitet",
		PasswordHash:     "Lagring av lösenord",

		ActiveKeys:           "Aktiva API-nycklar",
		KeysWithAllowlist:    "Med lista över tillåtna IP-adresser",
		KeysWithoutAllowlist: "Utan lista över tillåtna IP-adresser",
		KeysWithExpiry:       "Med sista giltighetsdag",

		BackupInterval:      "Säkerhetskopiering var",
		BackupKeep:          "Säkerhetskopior sparas",
		RestoreTestInterval: "Återställningstest var",
		Targets:             "Lagringsplatser för säkerhetskopior",
		Name:                "Namn",
		Type:                "Typ",
		Region:              "Region",
		LastBackup:          "Senaste säkerhetskopia",
		LastRestoreTest:     "Senaste återställningstest",
		RestoreResult:       "Testets utfall",
		LastGoodRestoreTest: "Senaste godkända test",
		Passed:              "godkänt",
		Failed:              "underkänt",

		Entries:        "Poster i kundens logg",
		LastVerified:   "Senaste kontroll av alla loggkedjor",
		ChainsIntact:   "Kedjorna obrutna",
		Checkpoint:     "Senaste signerade kontrollpunkt",
		CheckpointSize: "Poster som kontrollpunkten omfattar",
		CheckpointTime: "Kontrollpunkten skapad",
		VerifierKey:    "Verifieringsnyckel",
		PayloadHistory: "Innehållet i anrop sparas",
		AuditRetention: "Loggposter sparas",

		LegalArchive: "Avtal om räkenskapsarkiv",
		LegalKeep:    "Räkenskapsarkivet sparar",
		StandardKeep: "Standardarkivet sparar",
		Rules:        "Regler per dokumenttyp",
		DocumentType: "Dokumenttyp",
		Archive:      "Arkiv",
		Kept:         "Sparas",
		LegalHolds:   "Dokument under bevarandebeslut",
		LastCull:     "Senaste gallring",

		Mode:             "Läge",
		RuleSet:          "Regeluppsättning",
		Paranoia:         "Paranoianivå",
		InboundThreshold: "Tröskel för inkommande anomalipoäng",
		Detection:        "Upptäckta attacker i CRS regressionstester, jämfört med standardreglerna",
		Refused:          "Avvisade anrop under perioden (hela installationen)",
		RateWindow:       "Tidsfönster för anropsgränser",
		AddressLimit:     "Gräns per IP-adress",
		KeyLimit:         "Gräns per API-nyckel",
		UserLimit:        "Gräns per användare",
		TenantLimit:      "Gräns per kund",
		PerWindow:        "%s anrop per fönster",
		NoLimit:          "ingen gräns",
		AutoBlock:        "Automatisk tillfällig blockering",

		ScannerEnabled:   "Skanning påslagen",
		ScannerReachable: "Skannern svarade",
		ScannerVersion:   "Skannerns version",
		ScannerPolicy:    "När skannern inte svarar",

		ConsentRequired:  "Kundens samtycke krävs före åtkomst",
		AccessesInPeriod: "Åtkomstbegäranden under perioden",
		Accesses:         "Åtkomstbegäranden",
		ID:               "Id",
		Scope:            "Omfattning",
		Status:           "Status",
		BreakGlass:       "Nödåtkomst",
		Requested:        "Begärd",
		Expires:          "Upphör",

		Completed:    "Avslutade under perioden",
		OpenRequests: "Pågående begäranden",
		Kind:         "Typ",
		Received:     "Mottagen",
		Deadline:     "Sista svarsdag",
		Overdue:      "Försenad",

		Pin:       "Data får bara finnas i",
		NotPinned: "ingen begränsning",
		Locations: "Platser där kundens data lagras eller skickas",
		Country:   "Land",
		Allowed:   "Tillåten",

		SignatureHeading: "Signatur",
		Signed:           "Rapporten är signerad med installationens granskningsnyckel. Så kontrollerar du signaturen:",
		VerifyHow:        "Kommandot avslutas med fel om rapporten har ändrats efter att den signerades.",
		VerifyCommand:    "valv report verify --key <verifieringsnyckel> --signature <fil>.sig <fil>",
		PageNumber:       "Sida {current} av {total}",

		Environments: map[string]string{
			"production":  "produktion",
			"test":        "test",
			"development": "utveckling",
		},
		RootProviders: map[string]string{
			"file":   "nyckelfil",
			"shamir": "delad mellan nyckelinnehavare (Shamir)",
			"pkcs11": "hårdvarumodul (PKCS#11)",
		},
		Archives: map[string]string{
			"legal":    "räkenskapsarkiv",
			"standard": "standardarkiv",
			"message":  "meddelandearkiv",
		},
		FirewallModes: map[string]string{
			"blocking":  "blockerar",
			"detection": "upptäcker bara",
		},
		ScannerPolicies: map[string]string{
			"fail-closed": "filen avvisas",
			"fail-open":   "filen sparas oskannad, märkt och loggad",
		},
		AccessStates: map[string]string{
			"pending":          "väntar på beslut",
			"awaiting_consent": "väntar på samtycke",
			"active":           "aktiv",
			"denied":           "nekad",
			"refused":          "samtycke nekat",
			"revoked":          "återkallad",
			"expired":          "utgången",
			"lapsed":           "förfallen",
		},
		RequestKinds: map[string]string{
			"access":        "registerutdrag",
			"portability":   "dataportabilitet",
			"erasure":       "radering",
			"anonymisation": "anonymisering",
			"restriction":   "begränsning",
			"rectification": "rättelse",
		},
		LocationKinds: map[string]string{
			"storage":  "lagring",
			"backup":   "säkerhetskopia",
			"endpoint": "mottagare",
		},
		Pins: map[string]string{
			"eu-eea": "EU/EES",
		},
	}
}

func english() *labels {
	return &labels{
		Lang:  "en",
		Title: "Technical and organisational measures",

		Intro:    "This report describes the technical and organisational security measures that protect the controller's data in Valv (GDPR Articles 28(3)(h) and 32). Every figure was read from the running installation when the report was made, not typed in.",
		Legend:   "Each section names the requirements of Valv's specification (such as ENC-5) and the GDPR articles its figures give evidence for, and which promise of the security pages Valv is built on (seeds 000–004) they show Valv keeps, quoted word for word in Swedish.",
		TimesUTC: "All times are in UTC.",

		Tenant:        "Customer",
		Slug:          "Short name",
		TenantID:      "Customer ID",
		Installation:  "Installation",
		Environment:   "Environment",
		Generated:     "Report generated",
		Period:        "Period",
		Version:       "Valv version",
		NotProduction: "Not a production installation: test/development data",

		Evidences:      "Evidences",
		Seed:           "seed",
		GDPR:           "GDPR",
		QuoteOpen:      "“",
		QuoteClose:     "”",
		ArticleFmt:     "art. %d(%d)",
		PointFmt:       "(%s)",
		ArticleOnlyFmt: "art. %d",
		Yes:            "yes",
		No:             "no",
		Never:          "never",
		None:           "none",
		NotSet:         "not set",
		Unknown:        "unknown",
		Empty:          "–",
		OfTotal:        "%s of %s",
		OfTotalPercent: "%s of %s (%s)",
		DecimalSep:     ".",
		DigitSep:       ",",
		Second:         "s",
		Minute:         "min",
		Hour:           "h",
		Day:            "d",
		YearOne:        "%d year",
		YearMany:       "%d years",
		MonthOne:       "%d month",
		MonthMany:      "%d months",

		Sections: map[string]string{
			"transport":             "Transport and TLS",
			"encryption":            "Encryption and keys",
			"identity":              "Sign-in and two-factor authentication",
			"api_keys":              "API keys",
			"backups":               "Backups",
			"audit":                 "Audit trail",
			"retention":             "Retention and culling",
			"firewall":              "Firewall and rate limits",
			"scanner":               "Malware scanner",
			"operator_access":       "Operator access",
			"data_subject_requests": "Data-subject requests",
			"residency":             "Data residency",
		},

		MinVersion:     "Lowest TLS version",
		Versions:       "TLS versions accepted",
		CipherSuites:   "Cipher suites",
		HSTS:           "HSTS header",
		HSTSNone:       "not sent",
		CertSubject:    "Certificate subject",
		CertIssuer:     "Certificate issuer",
		CertNotAfter:   "Certificate valid until",
		CertSelfSigned: "Self-signed certificate",
		CertSHA256:     "Certificate SHA-256",

		Algorithm:        "Encryption of stored values",
		Hierarchy:        "Key hierarchy",
		RootProvider:     "Root key held in",
		KeyHolders:       "Key holders",
		KeyHoldersFmt:    "%d of %d needed to unseal",
		RootKeyCreated:   "Root key created (last rotation)",
		TenantKeys:       "Keys in the customer's keyset",
		TenantKeyCreated: "Customer's primary key created (last rotation)",
		BlindIndex:       "Searchable without plaintext",

		Users:            "Users",
		UsersWith2FA:     "Users with an authenticator app or passkey",
		UsersWithPasskey: "Users with a passkey",
		Admins:           "Administrators",
		AdminsWith2FA:    "Administrators with an authenticator app or passkey",
		Require2FA:       "Two-factor authentication required of all",
		IdleTimeout:      "Signed out after inactivity",
		PasswordHash:     "Password storage",

		ActiveKeys:           "Active API keys",
		KeysWithAllowlist:    "With an IP address allowlist",
		KeysWithoutAllowlist: "Without an IP address allowlist",
		KeysWithExpiry:       "With an expiry date",

		BackupInterval:      "Backup every",
		BackupKeep:          "Backups kept for",
		RestoreTestInterval: "Restore test every",
		Targets:             "Backup locations",
		Name:                "Name",
		Type:                "Type",
		Region:              "Region",
		LastBackup:          "Last backup",
		LastRestoreTest:     "Last restore test",
		RestoreResult:       "Test result",
		LastGoodRestoreTest: "Last passed test",
		Passed:              "passed",
		Failed:              "failed",

		Entries:        "Entries in the customer's trail",
		LastVerified:   "Last verification of every chain",
		ChainsIntact:   "Chains intact",
		Checkpoint:     "Latest signed checkpoint",
		CheckpointSize: "Entries the checkpoint covers",
		CheckpointTime: "Checkpoint made",
		VerifierKey:    "Verifier key",
		PayloadHistory: "Request payloads kept",
		AuditRetention: "Audit entries kept for",

		LegalArchive: "Legal archive contract",
		LegalKeep:    "Legal archive keeps",
		StandardKeep: "Standard archive keeps",
		Rules:        "Rules by document type",
		DocumentType: "Document type",
		Archive:      "Archive",
		Kept:         "Kept for",
		LegalHolds:   "Documents under legal hold",
		LastCull:     "Last culling",

		Mode:             "Mode",
		RuleSet:          "Rule set",
		Paranoia:         "Paranoia level",
		InboundThreshold: "Inbound anomaly score threshold",
		Detection:        "Attacks detected in the CRS regression tests, relative to the stock rules",
		Refused:          "Requests refused in the period (whole installation)",
		RateWindow:       "Rate limit window",
		AddressLimit:     "Limit per IP address",
		KeyLimit:         "Limit per API key",
		UserLimit:        "Limit per user",
		TenantLimit:      "Limit per customer",
		PerWindow:        "%s requests per window",
		NoLimit:          "no limit",
		AutoBlock:        "Automatic temporary blocking",

		ScannerEnabled:   "Scanning enabled",
		ScannerReachable: "Scanner answered",
		ScannerVersion:   "Scanner version",
		ScannerPolicy:    "When the scanner does not answer",

		ConsentRequired:  "Customer's consent required before access",
		AccessesInPeriod: "Access requests in the period",
		Accesses:         "Access requests",
		ID:               "ID",
		Scope:            "Scope",
		Status:           "Status",
		BreakGlass:       "Emergency access",
		Requested:        "Requested",
		Expires:          "Expires",

		Completed:    "Completed in the period",
		OpenRequests: "Open requests",
		Kind:         "Kind",
		Received:     "Received",
		Deadline:     "Answer due",
		Overdue:      "Overdue",

		Pin:       "Data may only be in",
		NotPinned: "no restriction",
		Locations: "Places the customer's data is stored or sent",
		Country:   "Country",
		Allowed:   "Allowed",

		SignatureHeading: "Signature",
		Signed:           "This report is signed with the installation's audit key. To check the signature:",
		VerifyHow:        "The command fails if the report was changed after it was signed.",
		VerifyCommand:    "valv report verify --key <verifier key> --signature <file>.sig <file>",
		PageNumber:       "Page {current} of {total}",

		Environments: map[string]string{
			"production":  "production",
			"test":        "test",
			"development": "development",
		},
		RootProviders: map[string]string{
			"file":   "a key file",
			"shamir": "shares among key holders (Shamir)",
			"pkcs11": "a hardware security module (PKCS#11)",
		},
		Archives: map[string]string{
			"legal":    "legal archive",
			"standard": "standard archive",
			"message":  "message archive",
		},
		FirewallModes: map[string]string{
			"blocking":  "blocking",
			"detection": "detection only",
		},
		ScannerPolicies: map[string]string{
			"fail-closed": "the file is refused",
			"fail-open":   "the file is stored unscanned, marked and audited",
		},
		AccessStates: map[string]string{
			"pending":          "awaiting decision",
			"awaiting_consent": "awaiting consent",
			"active":           "active",
			"denied":           "denied",
			"refused":          "consent refused",
			"revoked":          "revoked",
			"expired":          "expired",
			"lapsed":           "lapsed",
		},
		RequestKinds: map[string]string{
			"access":        "register extract",
			"portability":   "portability",
			"erasure":       "erasure",
			"anonymisation": "anonymisation",
			"restriction":   "restriction",
			"rectification": "rectification",
		},
		LocationKinds: map[string]string{
			"storage":  "storage",
			"backup":   "backup",
			"endpoint": "recipient",
		},
		Pins: map[string]string{
			"eu-eea": "EU/EEA",
		},
	}
}
