// Package principalhook lets ginauthtest put a principal in a context
// without ginauth exporting a way to do it: an exported WithPrincipal
// would let any code forge the caller of a request.
package principalhook

import "context"

// With is set by package ginauth to its unexported withPrincipal; p is a
// *ginauth.Principal (this package cannot name the type without an import
// cycle).
var With func(ctx context.Context, p any) context.Context
