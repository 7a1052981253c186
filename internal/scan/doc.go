// Package scan checks uploaded files for malware with ClamAV's clamd, before
// they are stored (requirement DOC-2).
//
// A Clamd client streams a file to clamd over its unix or TCP socket with the
// INSTREAM command (the NUL-terminated "zINSTREAM" form: chunks of at most
// 64 KiB, each after its length as 4 bytes big-endian, then a zero length)
// and reads one verdict: "stream: OK", "stream: <signature> FOUND" or
// "<message> ERROR". Each command uses a connection of its own.
//
// Scan gives the verdict; Check applies the Policy and returns the errors a
// client may see (package problem): 422 malware_detected for an infected
// file, 413 file_too_large_to_scan, 503 scanner_unavailable with Retry-After.
//
// Invariants:
//   - A stream is reported clean only after every byte of it was sent and
//     clamd answered "stream: OK" to the whole of it. Any other outcome
//     (a reply cut short, a connection lost mid-stream, an ERROR reply, a
//     timeout) is an error, never a clean result.
//   - Memory per scan is bounded: one pooled chunk buffer (64 KiB + 4 bytes)
//     whatever the size of the file. The file is never held whole.
//   - A stream larger than Config.MaxStreamSize, or than clamd's
//     StreamMaxLength, fails with an error matching ErrTooLarge.
//   - When clamd cannot be reached or gives no verdict, the error matches
//     ErrUnavailable. Check fails closed by default (FailClosed, the zero
//     Policy). Under FailOpen, Check still returns the 503 error, but it also
//     matches ErrNotScanned, and only when clamd could not even be connected
//     to: a connection that breaks after streaming began (which a crafted file
//     could provoke) never fails open. Callers that accept an ErrNotScanned
//     file MUST audit that it was stored unscanned.
//   - Client-facing messages never contain the file's name or content; the
//     signature name is included only when it is made of plain characters.
//   - Cancelling the context, or its deadline passing, closes the connection
//     at once; the error then matches the context's error. Scan cannot
//     interrupt a Read of the caller's reader that blocks.
//
// clamd configuration this package relies on: MaxFileSize and MaxScanSize
// MUST be at least StreamMaxLength (or AlertExceedsMax on), because clamd
// reports a stream above those limits as "stream: OK" without scanning it.
// Config.MaxStreamSize should equal clamd's StreamMaxLength, so too-large
// files are refused here before they are sent.
package scan
