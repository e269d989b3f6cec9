package redisstore

import (
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Key names. Everything of one user shares the hash tag {u:<username>}.
// Callers validate the username first, so it cannot contain braces.

// Fields of a user hash ([Store.userKey]). They are the stored format:
// renaming one loses every user already stored.
const (
	userFieldHash     = "hash"     // the password hash
	userFieldRoles    = "roles"    // the roles, see encodeRoles
	userFieldDisabled = "disabled" // see enabledValue
	userFieldCreated  = "created"  // creation time, Unix milliseconds
	userFieldGen      = "gen"      // the generation, in decimal
)

// Fields of a sessions hash ([Store.sessionsKey]) that hold no session
// (see isMeta). Like the user fields, they are the stored format.
const (
	sessFieldRoles   = "o" // the user's roles, copied from the user hash
	sessFieldVersion = "v" // the set version, see newVersion
	sessFieldGen     = "g" // the generation of the sessions
	// addrFieldPrefix starts the name of a session's address field
	// (see addrField).
	addrFieldPrefix = "a"
)

func (s *Store) userKey(username string) string {
	return s.prefix + "{u:" + username + "}:user"
}

// sessionsKey names the hash that holds all of a user's sessions, one
// field per session, with the user's roles in field o (sessFieldRoles)
// and the set version in field v (sessFieldVersion).
func (s *Store) sessionsKey(username string) string {
	return s.prefix + "{u:" + username + "}:s"
}

// publisher names where invalidations for [Options.LocalCache] go. Every
// store publishes, whether or not it has a cache itself, since another
// process may have one.
//
// On a single server (or Sentinel) that is one channel, P + "inv", with
// PUBLISH. On Redis Cluster a channel is sharded (SPUBLISH, Redis 7) and
// lives in a slot: each slot has its own channel, P{<tag>}:inv, where
// <tag> is a short string of that slot. A user's invalidations go to the
// channel of the user's slot, so the write script publishes on its own
// node, and a cache subscribes to a fixed set of channels (each master's
// slots) rather than one per user.
type publisher struct {
	cluster bool
	prefix  string
	server  string // serverChannel, named once
}

func newPublisher(client redis.UniversalClient, prefix string) publisher {
	_, cluster := client.(*redis.ClusterClient)
	return publisher{cluster: cluster, prefix: prefix, server: prefix + "inv"}
}

// command is PUBLISH or SPUBLISH.
func (p publisher) command() string {
	if p.cluster {
		return "SPUBLISH"
	}
	return "PUBLISH"
}

// channel returns the channel of username's invalidations.
func (p publisher) channel(username string) string {
	if !p.cluster {
		return p.serverChannel()
	}
	return p.slotChannel(int(crc16("u:"+username) % slots))
}

// serverChannel is the one channel of a single server.
func (p publisher) serverChannel() string { return p.server }

// slotChannel returns the cluster channel of slot.
func (p publisher) slotChannel(slot int) string {
	return p.prefix + "{" + slotTags()[slot] + "}:inv"
}

// args returns the script arguments that publish an invalidation of
// username's sessions: ids, or all of them when ids is empty.
func (p publisher) args(username string, ids ...string) []any {
	return p.appendArgs(make([]any, 0, 3), username, ids...)
}

// appendArgs is args appended to a, for a caller that builds its
// arguments in one slice.
func (p publisher) appendArgs(a []any, username string, ids ...string) []any {
	msg := username
	if len(ids) > 0 {
		msg += " " + strings.Join(ids, " ")
	}
	return append(a, p.command(), p.channel(username), msg)
}

// noPublish is the script arguments that publish nothing.
var noPublish = []any{"", "", ""}

// slots is the number of Redis Cluster hash slots.
const slots = 16384

// slotTags returns, for each slot, the shortest base-36 number whose
// CRC16 falls in that slot, found once by trying them in order.
var slotTags = sync.OnceValue(func() []string {
	tags := make([]string, slots)
	left := slots
	for n := int64(0); left > 0; n++ {
		t := strconv.FormatInt(n, 36)
		if k := crc16(t) % slots; tags[k] == "" {
			tags[k] = t
			left--
		}
	}
	return tags
})

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster uses for slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
