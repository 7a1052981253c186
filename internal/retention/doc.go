// Package retention keeps documents exactly as long as law and the tenant
// say (RET-1..5): it computes each document's retention from the archive
// rules, keeps legal holds, lists due reviews, and culls what is past
// retention, in batches that survive a crash.
package retention
