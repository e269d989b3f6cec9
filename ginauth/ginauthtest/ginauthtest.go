// Package ginauthtest holds test helpers for applications that use
// ginauth.
package ginauthtest

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
)

// AssertRoutesAnnotated fails the test when a route of e carries no
// authkit annotation (open routes must say ginauth.Public()) or a
// contradictory one, so that no route is unprotected by accident.
func AssertRoutesAnnotated(t testing.TB, e *gin.Engine) {
	t.Helper()
	if err := ginauth.CheckRoutes(e); err != nil {
		t.Error(err)
	}
}
