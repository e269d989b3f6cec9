package authotel

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
)

// ScopeName is the instrumentation scope of the tracer.
const ScopeName = "github.com/gin-authkit/authkit"

// Span attributes. None carries a secret, a username or an address.
const (
	// AttrOutcome is "ok" or "error" (the answer is not 2xx, or a store
	// call failed or found nothing).
	AttrOutcome = attribute.Key("authkit.outcome")
	// AttrStatus is the HTTP status the outcome is answered with.
	AttrStatus = attribute.Key("authkit.status")
	// AttrCode is the error code answered (invalid_token, …), or for a
	// store call not_found or error.
	AttrCode = attribute.Key("authkit.code")
	// AttrReason refines the code (reused, store, …).
	AttrReason = attribute.Key("authkit.reason")
	// AttrOperation names the store method of a store span.
	AttrOperation = attribute.Key("db.operation.name")
)

// Tracer traces authkit's operations. It is an observe.EventObserver: set
// it as ginauth.Config.Observer.
type Tracer struct {
	tracer trace.Tracer
}

var _ observe.EventObserver = (*Tracer)(nil)

// New returns a Tracer whose spans tp makes; nil means the global
// provider (otel.GetTracerProvider), read now.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(ScopeName)}
}

// Begin implements observe.Observer: it starts the span
// "authkit."+op, as a child of the span in ctx (the request's).
func (t *Tracer) Begin(ctx context.Context, op observe.Op) (context.Context, observe.End) {
	kind, opts := trace.SpanKindInternal, []trace.SpanStartOption(nil)
	if method, ok := strings.CutPrefix(string(op), observe.StorePrefix); ok {
		kind = trace.SpanKindClient
		opts = append(opts, trace.WithAttributes(AttrOperation.String(method)))
	}
	ctx, span := t.tracer.Start(ctx, "authkit."+string(op), append(opts, trace.WithSpanKind(kind))...)
	return ctx, func(r observe.Result) {
		outcome := "ok"
		if r.Code != "" || r.Status >= 300 {
			outcome = "error"
		}
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs, AttrOutcome.String(outcome))
		if r.Status != 0 {
			attrs = append(attrs, AttrStatus.Int(r.Status))
		}
		if r.Code != "" {
			attrs = append(attrs, AttrCode.String(r.Code))
		}
		if r.Reason != "" {
			attrs = append(attrs, AttrReason.String(r.Reason))
		}
		span.SetAttributes(attrs...)
		// Only a failure to decide is an error of the span: a 401 is the
		// library doing its work.
		if r.Status >= 500 || r.Code == "error" || r.Code == "busy" {
			span.SetStatus(codes.Error, r.Code)
		}
		span.End()
	}
}

// Event implements observe.EventObserver: it adds the audit event to the
// span in ctx, when one records, as an event "authkit."+kind with its code
// and reason; the username, addresses and session are left out.
func (t *Tracer) Event(ctx context.Context, e audit.Event) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 2)
	if e.Code != "" {
		attrs = append(attrs, AttrCode.String(e.Code))
	}
	if e.Reason != "" {
		attrs = append(attrs, AttrReason.String(e.Reason))
	}
	span.AddEvent("authkit."+string(e.Kind), trace.WithAttributes(attrs...))
}
