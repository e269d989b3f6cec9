// Package observed wraps the store interfaces ginauth calls so that an
// observe.Observer times each call. ginauth wraps each capability it
// found on Config.Store apart, after its type assertions, so no optional
// interface is hidden; without an Observer nothing is wrapped.
package observed

import (
	"context"
	"time"

	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

// Store operations, named after their methods.
const (
	opCreateSession = observe.StorePrefix + "CreateSession"
	opSession       = observe.StorePrefix + "Session"
	opPeekSession   = observe.StorePrefix + "PeekSession"
	opRevokeSession = observe.StorePrefix + "RevokeSession"
	opRevokeAll     = observe.StorePrefix + "RevokeAll"
	opRotateRefresh = observe.StorePrefix + "RotateRefresh"
	opAttempts      = observe.StorePrefix + "Attempts"
	opBeginAttempt  = observe.StorePrefix + "BeginAttempt"
	opEndAttempt    = observe.StorePrefix + "EndAttempt"
	opResetAttempts = observe.StorePrefix + "ResetAttempts"
	opAddDevice     = observe.StorePrefix + "AddDevice"
	opDevice        = observe.StorePrefix + "Device"
	opRevokeDevice  = observe.StorePrefix + "RevokeDevice"
	opRevokeDevices = observe.StorePrefix + "RevokeDevices"
	opUser          = observe.StorePrefix + "User"
)

// call runs f as operation op of o.
func call[T any](ctx context.Context, o observe.Observer, op observe.Op, f func(context.Context) (T, error)) (T, error) {
	ctx, end := o.Begin(ctx, op)
	v, err := f(ctx)
	end(observe.StoreResult(err))
	return v, err
}

func call0(ctx context.Context, o observe.Observer, op observe.Op, f func(context.Context) error) error {
	ctx, end := o.Begin(ctx, op)
	err := f(ctx)
	end(observe.StoreResult(err))
	return err
}

// Sessions wraps b.
func Sessions(b store.SessionBackend, o observe.Observer) store.SessionBackend {
	return &sessions{b, o}
}

type sessions struct {
	b store.SessionBackend
	o observe.Observer
}

var _ store.SessionBackend = (*sessions)(nil)

func (s *sessions) CreateSession(ctx context.Context, spec store.SessionSpec) ([]store.Digest, error) {
	return call(ctx, s.o, opCreateSession, func(ctx context.Context) ([]store.Digest, error) { return s.b.CreateSession(ctx, spec) })
}

func (s *sessions) Session(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	return call(ctx, s.o, opSession, func(ctx context.Context) (store.Session, error) { return s.b.Session(ctx, username, id) })
}

func (s *sessions) PeekSession(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	return call(ctx, s.o, opPeekSession, func(ctx context.Context) (store.Session, error) { return s.b.PeekSession(ctx, username, id) })
}

func (s *sessions) RevokeSession(ctx context.Context, username string, id store.Digest) error {
	return call0(ctx, s.o, opRevokeSession, func(ctx context.Context) error { return s.b.RevokeSession(ctx, username, id) })
}

func (s *sessions) RevokeAll(ctx context.Context, username string) error {
	return call0(ctx, s.o, opRevokeAll, func(ctx context.Context) error { return s.b.RevokeAll(ctx, username) })
}

func (s *sessions) RotateRefresh(ctx context.Context, username string, id store.Digest, r store.Rotation) (store.Session, error) {
	return call(ctx, s.o, opRotateRefresh, func(ctx context.Context) (store.Session, error) { return s.b.RotateRefresh(ctx, username, id, r) })
}

func (s *sessions) Attempts(ctx context.Context, keys ...string) ([]store.Attempt, error) {
	return call(ctx, s.o, opAttempts, func(ctx context.Context) ([]store.Attempt, error) { return s.b.Attempts(ctx, keys...) })
}

func (s *sessions) BeginAttempt(ctx context.Context, id string, deadline time.Time, keys ...string) ([]store.Attempt, error) {
	return call(ctx, s.o, opBeginAttempt, func(ctx context.Context) ([]store.Attempt, error) {
		return s.b.BeginAttempt(ctx, id, deadline, keys...)
	})
}

func (s *sessions) EndAttempt(ctx context.Context, id string, failed bool, ttl time.Duration, keys ...string) ([]store.Attempt, error) {
	return call(ctx, s.o, opEndAttempt, func(ctx context.Context) ([]store.Attempt, error) {
		return s.b.EndAttempt(ctx, id, failed, ttl, keys...)
	})
}

func (s *sessions) ResetAttempts(ctx context.Context, keys ...string) error {
	return call0(ctx, s.o, opResetAttempts, func(ctx context.Context) error { return s.b.ResetAttempts(ctx, keys...) })
}

// Devices wraps d.
func Devices(d store.DeviceStore, o observe.Observer) store.DeviceStore { return &devices{d, o} }

type devices struct {
	d store.DeviceStore
	o observe.Observer
}

var _ store.DeviceStore = (*devices)(nil)

func (s *devices) AddDevice(ctx context.Context, username string, d store.Device, max int) error {
	return call0(ctx, s.o, opAddDevice, func(ctx context.Context) error { return s.d.AddDevice(ctx, username, d, max) })
}

func (s *devices) Device(ctx context.Context, username string, id store.Digest) (store.Device, error) {
	return call(ctx, s.o, opDevice, func(ctx context.Context) (store.Device, error) { return s.d.Device(ctx, username, id) })
}

func (s *devices) RevokeDevice(ctx context.Context, username string, id store.Digest) error {
	return call0(ctx, s.o, opRevokeDevice, func(ctx context.Context) error { return s.d.RevokeDevice(ctx, username, id) })
}

func (s *devices) RevokeDevices(ctx context.Context, username string) error {
	return call0(ctx, s.o, opRevokeDevices, func(ctx context.Context) error { return s.d.RevokeDevices(ctx, username) })
}

// Users wraps u.
func Users(u store.UserSource, o observe.Observer) store.UserSource { return &users{u, o} }

type users struct {
	u store.UserSource
	o observe.Observer
}

func (s *users) User(ctx context.Context, username string) (store.User, error) {
	return call(ctx, s.o, opUser, func(ctx context.Context) (store.User, error) { return s.u.User(ctx, username) })
}
