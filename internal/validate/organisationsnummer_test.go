package validate

import "testing"

func TestOrganisationsnummer(t *testing.T) {
	checkVectors(t, Organisationsnummer, []vector{
		{in: "556036-0793", want: "5560360793"},
		{in: "5560360793", want: "5560360793"},
		{in: "16556036-0793", want: "5560360793"},
		{in: "165560360793", want: "5560360793"},
		{in: "556016-0680", want: "5560160680"}, // Telefonaktiebolaget LM Ericsson
		{in: "202100-5448", want: "2021005448"}, // Skatteverket

		{in: "556036-0794", code: CodeInvalidLuhn},
		{in: "811218-9876", code: CodeOrganisationsnummer}, // a personnummer: third digit 1
		{in: "17556036-0793", code: CodeOrganisationsnummer},
		{in: "556036 0793", code: CodeOrganisationsnummer},
		{in: "55603-60793", code: CodeOrganisationsnummer},
		{in: "556036-079", code: CodeOrganisationsnummer},
		{in: "", code: CodeOrganisationsnummer},
	})
}
