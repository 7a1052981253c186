package scan

import (
	"mime"
	"net/http"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// SniffLen is how many leading bytes ContentType looks at.
const SniffLen = 512

// CodeContentTypeMismatch is the problem code of a file whose content is not
// of the type it was declared as.
const CodeContentTypeMismatch = "content_type_mismatch"

// magic are the types whose content is recognisable (net/http's sniffing
// table): a file declared as one must sniff as it, and a file that sniffs
// as one must be declared as it (or as a type of the same family).
var magic = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"image/bmp": true, "image/x-icon": true, "application/zip": true, "application/x-gzip": true,
	"application/x-rar-compressed": true, "application/vnd.ms-fontobject": true, "application/wasm": true,
	"audio/mpeg": true, "audio/wave": true, "audio/aiff": true, "audio/midi": true, "audio/basic": true,
	"video/mp4": true, "video/webm": true, "video/avi": true, "application/ogg": true, "font/ttf": true,
	"font/otf": true, "font/woff": true, "font/woff2": true, "application/postscript": true,
}

// zipFamily are formats that are zip files inside.
var zipFamily = map[string]bool{
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.oasis.opendocument.text":                                   true,
	"application/vnd.oasis.opendocument.spreadsheet":                            true,
	"application/vnd.oasis.opendocument.presentation":                           true,
	"application/epub+zip":     true,
	"application/java-archive": true,
}

// active are types a browser runs: a file that sniffs as one is accepted
// only when it is declared as one (and is always served as a download).
var active = map[string]bool{"text/html": true, "text/xml": true, "application/xml": true}

// ContentType decides a file's content type from the type it was declared
// as and its first bytes (head, at least SniffLen of them unless the file
// is shorter). It returns the type to store, or a 415 problem when the
// content is not what was declared: a PDF that is not a PDF, an HTML page
// declared as an image.
func ContentType(declared string, head []byte) (string, error) {
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	decl := ""
	if declared != "" {
		mt, params, err := mime.ParseMediaType(declared)
		if err != nil || !strings.Contains(mt, "/") {
			return "", mismatch("The declared content type is not a valid media type.")
		}
		decl = mt
		if cs := params["charset"]; cs != "" && strings.HasPrefix(mt, "text/") {
			declared = mime.FormatMediaType(mt, map[string]string{"charset": cs})
		} else {
			declared = mt
		}
	}
	switch {
	case decl == "" || decl == "application/octet-stream":
		return sniffedType(sniffed, head), nil
	case decl == sniffed:
		return declared, nil
	case magic[decl]:
		return "", mismatch("The file is declared as " + decl + " but its content is not.")
	case sniffed == "application/zip" && zipFamily[decl]:
		return declared, nil
	case sniffed == "text/xml" && decl == "application/xml":
		// The two names of XML (RFC 7303); both are served as downloads.
		return declared, nil
	case magic[sniffed] || active[sniffed]:
		return "", mismatch("The file's content is " + sniffed + ", not " + decl + " as declared.")
	}
	// Text or unrecognised content under a type that has no signature
	// (text/csv, application/json, application/xml, ...): the declaration
	// stands.
	return declared, nil
}

// sniffedType is the stored type of an undeclared file.
func sniffedType(sniffed string, head []byte) string {
	if sniffed == "text/plain" {
		return http.DetectContentType(head) // with its charset
	}
	return sniffed
}

func mismatch(msg string) *problem.Error {
	return problem.New(problem.KindUnsupportedMedia, CodeContentTypeMismatch, msg)
}
