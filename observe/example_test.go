package observe_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gin-authkit/authkit/observe"
)

// slowOps is an Observer that reports operations slower than a limit.
type slowOps struct{ limit time.Duration }

func (s slowOps) Begin(ctx context.Context, op observe.Op) (context.Context, observe.End) {
	start := time.Now()
	return ctx, func(r observe.Result) {
		if d := time.Since(start); d > s.limit {
			fmt.Printf("%s took %v (status %d, code %q)\n", op, d.Round(time.Second), r.Status, r.Code)
		}
	}
}

// Example shows the contract an Observer implements: ginauth calls
// Begin when an operation starts, continues in the context it returns,
// and calls the End once with the result.
func Example() {
	var o observe.Observer = observe.Join(slowOps{limit: 0}, nil)
	_, end := o.Begin(context.Background(), observe.Login)
	end(observe.Result{Status: 401, Code: "invalid_credentials"})
	// Output:
	// login took 0s (status 401, code "invalid_credentials")
}
