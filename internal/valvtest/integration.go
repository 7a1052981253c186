package valvtest

import (
	"os"
	"testing"
)

// RequireIntegration is the environment variable that turns skips into
// failures.
const RequireIntegration = "VALV_REQUIRE_INTEGRATION"

// Missing reports that a component an integration test needs is not here:
// the test is skipped with the reason, or fails when integration tests are
// required.
func Missing(t testing.TB, component, reason string) {
	t.Helper()
	if os.Getenv(RequireIntegration) == "1" {
		t.Fatalf("integration component %s is required (%s=1) but unavailable: %s", component, RequireIntegration, reason)
	}
	t.Skipf("skipping: %s unavailable: %s (set %s=1 to make this a failure)", component, reason, RequireIntegration)
}
