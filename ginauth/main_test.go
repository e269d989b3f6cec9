package ginauth_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// store, client or listener not shut down), and when any audit event of
// the whole suite carries a password, token, cookie or secret that the
// suite sent or received.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		n, leaks := audited.leaks()
		switch {
		case len(leaks) > 0:
			fmt.Fprintf(os.Stderr, "FAIL: %d audit events carry secrets: %q\n", n, leaks)
			code = 1
		case n == 0 && wholeSuite():
			fmt.Fprintln(os.Stderr, "FAIL: the suite recorded no audit event at all")
			code = 1
		}
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goroutine leak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// wholeSuite reports a plain run of every test, where the audit check
// must have found events to search; -run, -fuzz and -short may select
// tests that make none.
func wholeSuite() bool {
	for _, name := range []string{"test.run", "test.fuzz"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}
