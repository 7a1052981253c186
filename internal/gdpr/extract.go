package gdpr

import (
	"encoding/json"
	"time"
)

// ExtractSchema names the version of the extract's JSON form (and of the
// portability package's subject.json). It changes only with a new schema;
// docs/gdpr.md documents every field.
const ExtractSchema = "valv.subject-extract/v1"

// Extract is a register extract (GDPR art. 15): everything Valv holds about
// one data subject in one tenant. It is the JSON form, the source of the
// HTML and PDF reports, and subject.json in a portability package.
type Extract struct {
	Schema      string      `json:"schema"`
	GeneratedAt time.Time   `json:"generated_at"`
	Tenant      TenantInfo  `json:"tenant"`
	Request     RequestInfo `json:"request"`
	// Subjects are the identifiers the request named, normalised.
	Subjects []Identifier `json:"subjects"`
	// Documents are every document linked to any of the identifiers,
	// oldest first, restricted ones included (marked).
	Documents []Document `json:"documents"`
	// Messages are the messages about the subject, with the other party:
	// the recipient of an outbound message, the sender of an inbound one
	// (and the organisation's own endpoint it was pushed to).
	Messages []Message `json:"messages"`
	// PayloadHistory is every kept request payload about those documents.
	PayloadHistory []Payload `json:"payload_history"`
	// Access is the audit trail of who read, changed or exported those
	// documents, and when, oldest first.
	Access []Access `json:"access"`
}

// TenantInfo names the organisation (the controller) the extract is from.
type TenantInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RequestInfo is the request the extract answers.
type RequestInfo struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	ReceivedAt time.Time `json:"received_at"`
	// Deadline is the day the answer is due (YYYY-MM-DD): one month from
	// receipt.
	Deadline string `json:"deadline"`
}

// Identifier is one of the subject's identifiers: a kind (personnummer,
// email, ...) and its normalised value.
type Identifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Document is one document about the subject.
type Document struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Archive      string    `json:"archive"`
	DocumentDate string    `json:"document_date"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// RetainUntil is the last day it is kept, and Basis what decided it.
	RetainUntil string `json:"retain_until"`
	Basis       string `json:"retention_basis"`
	// Restricted is set when processing is restricted (art. 18): the
	// document is hidden from every normal use and kept only as long as
	// the law requires.
	Restricted bool `json:"restricted"`
	// Version is the current version; the fields below are its content.
	Version  int64             `json:"version"`
	Data     json.RawMessage   `json:"data,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Subjects []Identifier      `json:"subjects"`
	File     *File             `json:"file,omitempty"`
	// Versions are every version, oldest first, each with its whole
	// content as it was.
	Versions []Version `json:"versions"`
}

// File describes a document's file. In a portability package the file
// itself is at Path.
type File struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// Path is the file's place in a portability package ("" elsewhere).
	Path string `json:"path,omitempty"`
}

// Version is one version of a document.
type Version struct {
	Version   int64             `json:"version"`
	Time      time.Time         `json:"time"`
	ActorType string            `json:"actor_type"`
	ActorID   string            `json:"actor_id,omitempty"`
	Changed   []string          `json:"changed"`
	Data      json.RawMessage   `json:"data,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Subjects  []Identifier      `json:"subjects"`
	File      *File             `json:"file,omitempty"`
}

// Message is a message about the subject with its recipients.
type Message struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Direction  string    `json:"direction"`
	Recipients []string  `json:"recipients"`
}

// Payload is a kept request payload about one of the documents.
type Payload struct {
	Time         time.Time       `json:"time"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	RequestID    string          `json:"request_id,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	// PayloadBase64 holds a payload that was not JSON.
	PayloadBase64 []byte `json:"payload_base64,omitempty"`
}

// Access is one audited use of the subject's data: who (actor type and
// id: a user, an API key, an operator or Valv itself), what, when, and
// whether it was allowed.
type Access struct {
	Time         time.Time `json:"time"`
	ActorType    string    `json:"actor_type"`
	ActorID      string    `json:"actor_id,omitempty"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	// Reason is an operator's stated reason, when access was under a grant.
	Reason string `json:"reason,omitempty"`
}
