package main

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// faultKinds are the faults the tool knows; defaultFaults those it
// injects unless told otherwise, in that order.
var (
	faultKinds    = []string{"pause", "kill", "restart", "outage"}
	defaultFaults = []string{"pause", "kill", "restart"}
)

// restartDown is how long Redis stays down during a restart.
const restartDown = 500 * time.Millisecond

// outageDown is how long Redis stays frozen during an outage.
const outageDown = 3 * time.Second

// injectFaults injects each fault of kinds, spread evenly over the load
// that started at start and lasts d.
func (lt *loadtest) injectFaults(ctx context.Context, kinds []string, start time.Time, d time.Duration) error {
	for i, k := range kinds {
		at := start.Add(d * time.Duration(i+1) / time.Duration(len(kinds)+1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(at)):
		}
		var err error
		switch k {
		case "pause":
			err = lt.pause(ctx)
		case "kill":
			err = lt.clientKill(ctx)
		case "restart":
			err = lt.restart(ctx)
		case "outage":
			err = lt.outage(ctx)
		}
		if err != nil {
			return fmt.Errorf("fault %s: %w", k, err)
		}
	}
	return nil
}

// pause suspends every client of Redis for 2 s. The fault ends when Redis
// answers again.
func (lt *loadtest) pause(ctx context.Context) error {
	f := lt.tl.begin("pause", "CLIENT PAUSE 2000 ALL")
	if err := lt.ctl.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		lt.tl.finish(f, "")
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := lt.ctl.Ping(pctx).Err() // held until the pause ends
	lt.tl.finish(f, "")
	return err
}

// clientKill closes every normal client connection (the demo's pool; the
// tool's own control connection is spared by SKIPME).
func (lt *loadtest) clientKill(ctx context.Context) error {
	f := lt.tl.begin("kill", "CLIENT KILL TYPE normal")
	n, err := lt.ctl.ClientKillByFilter(ctx, "TYPE", "normal").Result()
	lt.tl.finish(f, fmt.Sprintf("%d connections closed", n))
	return err
}

// restart kills redis-server (SIGKILL, as a crash), starts it again on the
// same port after restartDown, and creates the users again with the
// demo's CLI: the server keeps nothing on disk, so users and sessions are
// gone. The fault ends when Redis answers; logins wait for the users.
func (lt *loadtest) restart(ctx context.Context) error {
	f := lt.tl.begin("restart", fmt.Sprintf("kill -9 redis-server, start it again after %v", restartDown))
	lt.tl.closeGate()
	lt.redis.Stop()
	time.Sleep(restartDown)
	err := lt.redis.Start()
	lt.tl.finish(f, "")
	if err != nil {
		return err
	}
	t0 := time.Now()
	err = lt.demo.createUsers(ctx, lt.users)
	lt.tl.usersBack(f, fmt.Sprintf("%d users created again with the demo CLI in %v", len(lt.users), time.Since(t0).Round(time.Millisecond)))
	return err
}

// outage freezes redis-server (SIGSTOP) for outageDown, as a host that
// stops answering, and then lets it go on (SIGCONT) with its data. The
// clients' access tokens are taken to have expired meanwhile: every
// worker's next request is a refresh, so they all refresh at once as
// Redis comes back (issue 13). The fault ends when Redis answers.
func (lt *loadtest) outage(ctx context.Context) error {
	f := lt.tl.begin("outage", fmt.Sprintf("SIGSTOP redis-server for %v, then SIGCONT; every client refreshes first", outageDown))
	pid := lt.redis.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		lt.tl.finish(f, "")
		return err
	}
	time.Sleep(outageDown)
	lt.storm.Add(1)
	err := syscall.Kill(pid, syscall.SIGCONT)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = lt.ctl.Ping(pctx).Err()
		cancel()
	}
	lt.tl.finish(f, "")
	return err
}
