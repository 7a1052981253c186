// Package document is Valv's documents: validation of submitted data
// (VAL-1, VAL-3) now; storage, versions and search build on it.
package document
