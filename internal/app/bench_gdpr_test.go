package app

import (
	"context"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/gdpr"
)

// BenchmarkSubjectRights builds the register extract (JSON) of, and then
// erases, a data subject with 1,000 documents among many
// (VALV_BENCH_DOCUMENTS, default 1,000,000; targets: extract under 200 ms,
// erasure under 1 s). Each iteration loads the subject's 1,000 documents
// afresh, untimed.
//
//	go test -run '^$' -bench SubjectRights -benchtime 3x -timeout 60m ./internal/app/
func BenchmarkSubjectRights(b *testing.B) {
	n := benchDocuments(b)
	a, owner, _ := benchDocApp(b)
	ctx := context.Background()
	start := time.Now()
	for done := 0; done < n; done += document.MaxImportBatch {
		batch := make([]document.Input, min(document.MaxImportBatch, n-done))
		for i := range batch {
			batch[i] = benchDoc(done + i)
		}
		if _, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d documents in %v", n, time.Since(start).Round(time.Second))
	subject := document.Subject{Kind: "email", Value: "anna.bench@example.se"}
	var extract, erase time.Duration
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		b.StopTimer()
		batch := make([]document.Input, 1000)
		for i := range batch {
			batch[i] = benchDoc(n + i)
			batch[i].Subjects = append(batch[i].Subjects, subject)
		}
		if _, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, batch, nil); err != nil {
			b.Fatal(err)
		}
		norm, tok, err := a.Documents.SubjectToken(ctx, owner.TenantID, subject)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		ex, err := a.GDPR.BuildExtract(ctx, owner.TenantID, gdpr.RequestInfo{ID: "bench", Kind: "access"},
			[]gdpr.Identifier{{Kind: norm.Kind, Value: norm.Value}}, [][]byte{tok})
		extract += time.Since(t0)
		if err != nil || len(ex.Documents) != 1000 {
			b.Fatalf("extract: %d documents, %v", len(ex.Documents), err)
		}
		t0 = time.Now()
		v, err := a.GDPR.Create(withAuditRecord(ctx, "gdpr.request.create"), owner, gdpr.RequestInput{Kind: gdpr.KindErasure,
			Subjects: []gdpr.Identifier{{Kind: subject.Kind, Value: subject.Value}}})
		erase += time.Since(t0)
		if err != nil || v.Status != gdpr.StatusCompleted || len(v.Progress.Erased) != 1000 {
			b.Fatalf("erasure: %s, %d erased, %v", v.Status, len(v.Progress.Erased), err)
		}
	}
	b.ReportMetric(float64(extract.Microseconds())/1000/float64(b.N), "extract-ms")
	b.ReportMetric(float64(erase.Microseconds())/1000/float64(b.N), "erase-ms")
}
