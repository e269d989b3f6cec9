package main

import (
	"context"
	"fmt"
	"time"
)

// faultKinds are the faults the tool knows, in the order it injects them.
var faultKinds = []string{"pause", "kill", "restart"}

// restartDown is how long Redis stays down during a restart.
const restartDown = 500 * time.Millisecond

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
