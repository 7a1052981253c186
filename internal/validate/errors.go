package validate

import "github.com/valvhq/valv/internal/problem"

// Codes of the problems this package returns. They are stable: clients
// switch on them, so a code is never renamed or reused for something else.
const (
	CodeInvalidCharacters = "invalid_characters" // control, format (bidi, zero-width) or non-printing characters
	CodeInvalidLuhn       = "invalid_luhn"       // the check digit does not match (Luhn, modulus 10)

	CodeIBANFormat    = "invalid_iban_format"
	CodeIBANCountry   = "invalid_iban_country"
	CodeIBANLength    = "invalid_iban_length"
	CodeIBANStructure = "invalid_iban_structure"
	CodeIBANChecksum  = "invalid_iban_checksum"

	CodeBICFormat = "invalid_bic_format"

	CodePersonnummerFormat      = "invalid_personnummer_format"
	CodePersonnummerDate        = "invalid_personnummer_date"
	CodeSamordningsnummerFormat = "invalid_samordningsnummer_format"
	CodeSamordningsnummerDate   = "invalid_samordningsnummer_date"
	CodeOrganisationsnummer     = "invalid_organisationsnummer_format"
	CodeBankgiroFormat          = "invalid_bankgiro_format"
	CodePlusgiroFormat          = "invalid_plusgiro_format"

	CodeEmailFormat  = "invalid_email_format"
	CodeEmailLength  = "invalid_email_length"
	CodeEmailDomain  = "invalid_email_domain"
	CodePhoneFormat  = "invalid_phone_format"
	CodePhoneLength  = "invalid_phone_length"
	CodeCustomerNum  = "invalid_customer_number"
	CodeUnknownKind  = "unknown_identifier_kind"
	CodeInvalidValue = "invalid_value" // the fallback for an error that is not a problem

	CodeInvalidSchema      = "invalid_schema"
	CodeSchemaTooLarge     = "schema_too_large"
	CodeSchemaRemoteRef    = "schema_remote_reference"
	CodeSchemaTooComplex   = "schema_too_complex"
	CodeDocumentInvalid    = "document_invalid"
	CodeDocumentTooDeep    = "document_too_deep"
	CodeTooManyFieldErrors = "too_many_errors"
)

// invalid returns the problem every validator in this package returns.
// Messages are written for the person who typed the value and MUST NOT
// contain the value itself: it may be personal data, and problems end up in
// responses and logs.
func invalid(code, message string) error {
	return problem.New(problem.KindInvalid, code, message)
}

// Field returns err as a field error at field, a JSON pointer into the input
// ("/subjects/0/value"), so that a caller can report several bad fields in one
// problem:
//
//	problem.Invalid("invalid_input", "Some fields are not valid.", validate.Field("/iban", err))
//
// An error that is not a *problem.Error (which no validator here returns)
// becomes a generic invalid_value, so its text cannot reach a client.
func Field(field string, err error) problem.FieldError {
	if p, ok := problem.As(err); ok {
		return problem.Field(field, p.Code, p.Message)
	}
	return problem.Field(field, CodeInvalidValue, "The value is not valid.")
}
