package tokens_test

import (
	"sync"
	"testing"
)

// TestConcurrentUse runs Issue and Verify from many goroutines, for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	k := newTestKeys(t)
	v := mustVerifier(t, k.all())
	var wg sync.WaitGroup
	for _, key := range k.all() {
		iss := mustIssuer(t, key)
		for range 4 {
			wg.Go(func() {
				for range 20 {
					tok, _, err := iss.Issue("user-1", "sess-1", []string{"a"})
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := v.Verify(tok); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
