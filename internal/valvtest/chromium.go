package valvtest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumBin finds Debian's Chromium (or another Chrome) on PATH.
func ChromiumBin() (string, error) {
	var err error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		var p string
		if p, err = exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", err
}

// Browser returns an allocator for headless Chromium: each
// chromedp.NewContext made from it is a separate browser (its own
// cookies). It trusts any certificate, since the test servers use
// self-signed ones. Without Chromium the test is skipped (or fails under
// VALV_REQUIRE_INTEGRATION=1).
func Browser(t testing.TB) context.Context {
	t.Helper()
	bin, err := ChromiumBin()
	if err != nil {
		Missing(t, "chromium", "no chromium on PATH (apt-get install chromium): "+err.Error())
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return ctx
}
