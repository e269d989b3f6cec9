package ginauth

import (
	"fmt"
	"reflect"
	"sort"
	"unsafe"

	"github.com/gin-gonic/gin"
)

// This file is the only code that reads gin's unexported router state.
// Gin exposes a route's path and last handler (Engine.Routes) but not its
// middleware chain, which is where annotations sit, so the chain is read
// from the router's trees by reflection, and each handler with one unsafe
// read of the unexported field. Every step checks the layout it expects
// and fails with ErrRoutesUnreadable rather than guess; TestRoutesReadsGin
// fails loudly when a gin upgrade changes the layout. Nothing here runs
// while requests are served.

// Routes lists every route of e with the requirement its authkit
// annotations add up to, sorted by path then method. Gin does not expose
// a route's middleware chain, so Routes reads it from the router with
// reflection; it fails with [ErrRoutesUnreadable] rather than guess when
// the router's layout is not the one it knows.
func Routes(e *gin.Engine) ([]Route, error) {
	trees := reflect.ValueOf(e).Elem().FieldByName("trees")
	if !trees.IsValid() || trees.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%w: no trees field", ErrRoutesUnreadable)
	}
	var out []Route
	for i := 0; i < trees.Len(); i++ {
		t := trees.Index(i)
		method, root := t.FieldByName("method"), t.FieldByName("root")
		if method.Kind() != reflect.String || root.Kind() != reflect.Pointer {
			return nil, fmt.Errorf("%w: unexpected method tree", ErrRoutesUnreadable)
		}
		if err := walk(root, method.String(), &out); err != nil {
			return nil, err
		}
	}
	if len(out) != len(e.Routes()) {
		return nil, fmt.Errorf("%w: found %d routes, gin reports %d", ErrRoutesUnreadable, len(out), len(e.Routes()))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

func walk(n reflect.Value, method string, out *[]Route) error {
	if n.IsNil() {
		return nil
	}
	n = n.Elem()
	handlers, path, children := n.FieldByName("handlers"), n.FieldByName("fullPath"), n.FieldByName("children")
	if handlers.Kind() != reflect.Slice || path.Kind() != reflect.String || children.Kind() != reflect.Slice {
		return fmt.Errorf("%w: unexpected node", ErrRoutesUnreadable)
	}
	if handlers.Len() > 0 {
		r := Route{Method: method, Path: path.String()}
		last := handlers.Len() - 1
		for i := 0; i <= last; i++ {
			// The field is unexported, so reflect will not hand out the
			// func; read it from its own address with its own type.
			h := *(*gin.HandlerFunc)(unsafe.Pointer(handlers.Index(i).UnsafeAddr()))
			if req, ok := requirementOf(h); ok {
				r.merge(req)
				if i == last && !req.Endpoint {
					r.Problem = "annotation placed after the handler, which runs unprotected"
				}
			}
		}
		*out = append(*out, r)
	}
	for i := 0; i < children.Len(); i++ {
		if err := walk(children.Index(i), method, out); err != nil {
			return err
		}
	}
	return nil
}
