package api

import (
	"bytes"
	"io"
	"net/http"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
)

func (a *API) validateRoutes() []Route {
	return []Route{
		a.route("POST", "/api/v1/validate", "data.validate", Session, 200,
			"Check values (IBAN, BIC, personnummer, samordningsnummer, organisationsnummer, bankgiro, plusgiro, e-mail, phone, customer number) and store nothing, unless your organisation keeps payload history",
			a.validate).tag("validation").body(document.Request{}).returns(document.Result{}),
	}
}

func (a *API) validate(w http.ResponseWriter, r *http.Request) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonProblem(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var req document.Request
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	res, err := a.docs.Validate(r.Context(), authz.PrincipalFrom(r.Context()), req, raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}
