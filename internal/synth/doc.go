// Package synth generates realistic but synthetic Swedish data, people,
// companies, invoices, membership-register entries and messages, to fill
// test and development installations (SPEC ENV-1: they never hold data
// from production). Output is deterministic: New(seed) followed by the
// same sequence of calls gives the same values, so a test installation can
// be rebuilt identically. That is promised for one version of this package
// on one Go release only: the values depend on math/rand/v2's algorithms
// (IntN, Perm) as well as on the seed.
//
// The package is pure: no I/O, no clock (callers pass now), no global
// state. A Generator is not safe for concurrent use.
//
// # Where the identifiers come from
//
// Personnummer come only from Skatteverket's published test numbers
// ("testpersonnummer"). Skatteverket publishes them as open data, at
// https://skatteverket.entryscape.net/catalog/9/datasets/147 and described
// at skatteverket.se under "Allt du behöver veta om testpersonnummer". They
// are reserved and are never given to a real person. The list is an
// enumeration, not a rule: for most birth years it holds one number a day,
// chosen without a pattern we could find (births before 1990 mostly have
// the birth number 980 to 989; births from 1990 on mostly have 238 or 239).
// The numbers synth uses are the block where the list is complete: every
// day from 1990-01-10 to 1993-12-31 with birth number 238 (a woman) and
// with 239 (a man), 2,904 numbers in all. That block was checked by
// reading it day by day in two copies of the list: the January 2017 edition
// (Testpersonnummer_170117.csv in github.com/byrokrat/id,
// tests/skatteverket/testdata/personal) and an older one (github.com/rOpenGov/sweidnumbr,
// data-raw/test_pin_skatteverket.csv). In both copies every day in the block
// has both numbers. IsTestPersonnummer recognises exactly this block. A
// published test number outside it (199401012399, say) is a test number,
// but IsTestPersonnummer reports false for it.
//
// Mobile phone numbers come from the series 070-174 06 05 to 070-174 06 99
// that the Swedish Post and Telecom Authority (PTS) reserves for fiction:
// books, films and TV ("Telefonnummer för användning i böcker och filmer
// etc.", pts.se, 2020). Company landlines come from the series PTS reserves
// alongside it: 08-465 004 00 to 499, 031-390 06 00 to 699 and 040-628 04 00
// to 499. No subscriber is ever given these numbers. There are only 95
// mobile numbers, so people share them.
//
// Email addresses are only at example.com, example.net and example.org, or
// at a subdomain of one. These names are reserved for documentation (RFC
// 2606, RFC 6761), so mail sent to them reaches no one. example.se is not
// reserved by any RFC and is not used.
//
// Organisationsnummer are valid: group number 5 (aktiebolag), third digit
// 2 or more, Luhn check digit. Their first two digits are 50 to 54, away
// from the 556 to 559 that Bolagsverket gives aktiebolag today, so a
// collision with a real company is unlikely. It is not ruled out. A
// company's number is not personal data. Bankgiro numbers, bank accounts and
// OCR references have valid check digits and are otherwise random. Bank
// accounts follow the rules of Bankgirot's "Bankernas kontonummeruppbyggnad"
// for SEB, Nordea, Swedbank and Handelsbanken. Their IBANs use the 3-digit
// IBAN bank code of that bank and come with its BIC.
//
// Names are common Swedish given and family names, and company names are
// made of common Swedish words. Streets and cities are real, and postcodes
// come from each city's range. Any of these may match something real, but
// only in combination with the synthetic identifiers above.
//
// # Invariants
//
//   - Every personnummer is one of the block described above, and
//     IsTestPersonnummer holds for it. The first 2,904 people a Generator
//     makes have distinct personnummer. After that the block is reshuffled
//     and numbers repeat.
//   - Every email address is at a reserved example domain, and the email
//     addresses of one Generator's people are distinct.
//   - Every identifier passes Valv's own validator (internal/validate) in
//     the form it is generated in, and that form is its normalised form.
//     Personnummer (YYYYMMDD-NNNC) and phone numbers (070-174 06 42) are
//     the exceptions: they are written as people write them.
//   - Money is exact, in integer öre. An invoice's totals add up, its VAT is
//     computed per rate and rounded half away from zero, and the Peppol
//     invoice made from it passes einvoice's strict validation.
//   - Every date falls in the five years up to the date of the now passed
//     in, and invoices are due no later than that date. Birth dates are the
//     exception: the personnummer fixes them.
package synth
