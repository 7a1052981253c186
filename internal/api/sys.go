package api

import (
	"context"
	"net/http"

	"github.com/valvhq/valv/internal/problem"
)

// SealStatus is the seal state shown by /api/v1/sys/seal-status.
type SealStatus struct {
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Provider    string `json:"provider"`
	Threshold   int    `json:"threshold"`
	Shares      int    `json:"shares"`
	Progress    int    `json:"progress"`
}

// SealControl is what the API needs of the keyring.
type SealControl interface {
	SealStatus(ctx context.Context) (SealStatus, error)
	// Unseal counts one share (reset first forgets the shares given so far).
	Unseal(ctx context.Context, share string, reset bool) (SealStatus, error)
	// Seal drops the keys from memory; share proves a key holder asks.
	Seal(ctx context.Context, share string) error
}

func (a *API) sysRoutes() []Route {
	return []Route{
		a.route("GET", "/api/v1/openapi.json", "api.openapi.read", Public, 200, "This OpenAPI document", a.openAPI).allowSealed().tag("sys"),
		a.route("GET", "/api/v1/sys/seal-status", "sys.seal.status", Public, 200, "Whether Valv is sealed, and unseal progress", a.sealStatus).
			allowSealed().tag("sys").returns(SealStatus{}),
		a.route("POST", "/api/v1/sys/unseal", "sys.unseal", Public, 200, "Give one key holder's unseal share (never logged); a bad share is refused and not counted", a.unseal).
			allowSealed().tag("sys").body(unsealRequest{}).returns(SealStatus{}),
		a.route("POST", "/api/v1/sys/seal", "sys.seal", Public, 204, "Seal now: drop every key from memory; one valid share proves a key holder asks", a.sealNow).
			allowSealed().tag("sys").body(sealRequest{}),
	}
}

// maxShareLength bounds a share in a request (they are about 80 characters).
const maxShareLength = 200

func (a *API) sealStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := a.seal.SealStatus(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

type unsealRequest struct {
	Share string `json:"share"`
	Reset bool   `json:"reset"`
}

func (a *API) unseal(w http.ResponseWriter, r *http.Request) error {
	var req unsealRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Share) > maxShareLength {
		return problem.Invalid("invalid_share", "The share is too long.", problem.Field("/share", "too_long", "A share is about 80 characters."))
	}
	if req.Share == "" && !req.Reset {
		return problem.Invalid("invalid_share", "Give a share.", problem.Field("/share", "required", "Paste one unseal share."))
	}
	st, err := a.seal.Unseal(r.Context(), req.Share, req.Reset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

type sealRequest struct {
	Share string `json:"share"`
}

func (a *API) sealNow(w http.ResponseWriter, r *http.Request) error {
	var req sealRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Share == "" || len(req.Share) > maxShareLength {
		return problem.Invalid("invalid_share", "Sealing needs one valid unseal share.", problem.Field("/share", "required", "Paste one unseal share."))
	}
	if err := a.seal.Seal(r.Context(), req.Share); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
