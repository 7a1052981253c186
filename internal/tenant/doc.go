// Package tenant manages tenants — the customer organisations of a Valv
// installation — and their settings.
//
// Invariants:
//   - A tenant's name is unique, compared after Unicode normalisation and
//     case folding.
//   - Settings are validated as a whole before they are stored, and hold no
//     personal data in clear (personal settings such as the security contact
//     are sealed).
package tenant
