package ginauth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind
// (a store, client or listener not shut down).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
