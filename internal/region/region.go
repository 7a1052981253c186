// Package region places region labels — of the database, backup targets
// and message endpoints — in a country, and decides whether a label is
// inside a tenant's data-residency pin (ENV-2).
//
// A label is either a cloud provider's region name (eu-north-1,
// europe-west4, swedencentral) or a free label that starts with an ISO
// 3166-1 alpha-2 country code (se, se-sto, de-fra-2). A label Valv cannot
// place is treated as outside every pin: deny by default.
package region

import (
	"fmt"
	"strings"
)

// Pins a tenant can be held to.
const (
	// EEA: the European Economic Area (the EU, Iceland, Liechtenstein and
	// Norway). The default.
	EEA = "eu-eea"
	// Sweden: Sweden only.
	Sweden = "se"
	// None: not pinned; the tenant accepts any location.
	None = "none"
)

// Pins lists the valid pins.
var Pins = []string{EEA, Sweden, None}

// ValidPin reports whether pin is one of Pins.
func ValidPin(pin string) bool {
	return pin == EEA || pin == Sweden || pin == None
}

// eea is the European Economic Area by ISO 3166-1 alpha-2 code.
var eea = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
	"IS": true, "LI": true, "NO": true,
}

// others are countries outside the EEA that labels commonly start with;
// with eea they are the codes a free label may start with.
var others = map[string]bool{
	"GB": true, "CH": true, "US": true, "CA": true, "AU": true, "JP": true, "IN": true, "SG": true, "BR": true,
	"ZA": true, "AE": true, "IL": true, "KR": true, "HK": true, "CN": true, "MX": true, "NZ": true, "ID": true,
	"TR": true, "RS": true, "UA": true, "QA": true, "SA": true, "BH": true, "TW": true, "MY": true, "TH": true,
}

// cloud maps the region names of the large cloud providers to the country
// their data centres are in. Providers' names that start with a country
// code ("us-east-1") are only listed where that would be wrong or unclear.
var cloud = map[string]string{
	// Amazon Web Services
	"eu-north-1": "SE", "eu-central-1": "DE", "eu-central-2": "CH", "eu-west-1": "IE", "eu-west-2": "GB",
	"eu-west-3": "FR", "eu-south-1": "IT", "eu-south-2": "ES",
	"us-east-1": "US", "us-east-2": "US", "us-west-1": "US", "us-west-2": "US",
	"ca-central-1": "CA", "ca-west-1": "CA", "sa-east-1": "BR", "me-south-1": "BH", "me-central-1": "AE",
	"il-central-1": "IL", "af-south-1": "ZA", "ap-northeast-1": "JP", "ap-northeast-2": "KR", "ap-northeast-3": "JP",
	"ap-southeast-1": "SG", "ap-southeast-2": "AU", "ap-south-1": "IN", "ap-east-1": "HK",
	// Google Cloud
	"europe-north1": "FI", "europe-north2": "SE", "europe-west1": "BE", "europe-west2": "GB", "europe-west3": "DE",
	"europe-west4": "NL", "europe-west6": "CH", "europe-west8": "IT", "europe-west9": "FR", "europe-west10": "DE",
	"europe-west12": "IT", "europe-central2": "PL", "europe-southwest1": "ES",
	// Microsoft Azure
	"swedencentral": "SE", "swedensouth": "SE", "northeurope": "IE", "westeurope": "NL", "germanywestcentral": "DE",
	"germanynorth": "DE", "francecentral": "FR", "francesouth": "FR", "norwayeast": "NO", "norwaywest": "NO",
	"polandcentral": "PL", "italynorth": "IT", "spaincentral": "ES", "uksouth": "GB", "ukwest": "GB",
	"switzerlandnorth": "CH", "eastus": "US", "eastus2": "US", "westus": "US", "westeurope2": "NL",
}

// Country returns the ISO 3166-1 alpha-2 code of the country a label is
// in, or "" when Valv cannot place it.
func Country(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	if c, ok := cloud[l]; ok {
		return c
	}
	cc, _, _ := strings.Cut(l, "-")
	cc = strings.ToUpper(cc)
	if len(cc) == 2 && (eea[cc] || others[cc]) {
		return cc
	}
	return ""
}

// InEEA reports whether a country code is in the European Economic Area.
func InEEA(country string) bool { return eea[country] }

// Allowed reports whether a location labelled label may hold data of a
// tenant pinned to pin. Unknown labels are outside every pin.
func Allowed(pin, label string) bool {
	switch pin {
	case None:
		return true
	case Sweden:
		return Country(label) == "SE"
	default: // EEA, and any pin not known: the strictest common reading
		return InEEA(Country(label))
	}
}

// Check returns an error that says why label is outside pin, or nil.
func Check(pin, label string) error {
	if Allowed(pin, label) {
		return nil
	}
	if strings.TrimSpace(label) == "" {
		return fmt.Errorf("it has no region label, so it is outside %s", Describe(pin))
	}
	if Country(label) == "" {
		return fmt.Errorf("region %q is not a place Valv knows, so it is outside %s", label, Describe(pin))
	}
	return fmt.Errorf("region %q (%s) is outside %s", label, Country(label), Describe(pin))
}

// Describe names a pin in words.
func Describe(pin string) string {
	switch pin {
	case Sweden:
		return "Sweden (se)"
	case None:
		return "any region (none)"
	default:
		return "the EU/EEA (eu-eea)"
	}
}

// Strictest returns the strictest of several pins: se before eu-eea before
// none. With no pins it returns None.
func Strictest(pins ...string) string {
	best := None
	for _, p := range pins {
		switch {
		case p == Sweden:
			return Sweden
		case p != None:
			best = EEA
		}
	}
	return best
}
