package storetest

import (
	"time"

	"github.com/gin-authkit/authkit/internal/testclock"
)

// clock is the suite's fake time source, safe for concurrent use because
// stores may read it from several goroutines at once.
type clock = testclock.Clock

// epoch is a fixed, millisecond-aligned instant, far from any real clock so
// that a backend reading time.Now by mistake fails loudly.
var epoch = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

func newClock() *clock { return testclock.New(epoch) }
