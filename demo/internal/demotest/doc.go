// Package demotest builds the demo and runs it as a separate process. It
// serves the demo's own end-to-end test and the integration module
// (demo/integration, with the browser and compose tests), which has a
// go.mod of its own so that the library's users do not inherit their
// dependencies, and which cannot import package main.
package demotest
