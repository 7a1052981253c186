// Package validate checks the data clients submit (VAL-1, VAL-2): the
// built-in identifiers and account numbers (IBAN, BIC, Swedish personnummer,
// samordningsnummer, organisationsnummer, bankgiro, plusgiro, email, phone)
// and the JSON Schemas tenants register per document type.
//
// Each validator takes what a person typed and returns its normalised form,
// or an error. Subject identifiers are validated by Kind through Identifier;
// their normalised form is what the blind index of seal is computed over.
//
// Invariants:
//   - Every error a validator returns is a *problem.Error of kind invalid
//     with a stable snake_case code (the Code constants), and its message
//     never contains the value: values may be personal data, and problems
//     reach responses and logs. Schema field errors likewise never contain
//     a document's values (their paths do contain its object keys).
//   - Normalising is idempotent: a normalised value validates and normalises
//     to itself. Every way of writing one identifier normalises to one
//     string ("811218-9876" and "19811218-9876" alike).
//   - Validators never panic, whatever the input, and take time linear in
//     its length.
//   - Text identifiers refuse invisible and control characters (bidi
//     overrides, zero-width characters), so two values that look the same
//     are the same.
//   - Compiling a schema never reads a file or the network; a schema that
//     refers outside itself is refused. Schemas are bounded in size, nesting
//     and the work one document can cause.
//   - The package is a leaf: of Valv it imports only problem.
package validate
