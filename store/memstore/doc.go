// Package memstore is an in-memory [store.Store] for tests, examples and
// single-process demos.
//
// State lives in maps behind one mutex and is lost when the process exits;
// several processes do not share it. Use
// [github.com/gin-authkit/authkit/store/redisstore] for anything that runs
// more than one replica.
//
// It follows the same rules as redisstore: a user has a generation that
// changes with the password, on disable and on "revoke all", and ends the
// sessions of the old one; each session keeps a constant amount of
// refresh-rotation state (the current and previous digest, a sequence
// number and the time of the last rotation).
//
// Beyond [store.Store] it has the optional capabilities
// [store.FactorBackend] (second factors and recovery codes),
// [store.ChallengeStore], [store.APIKeyStore] and [store.ClientStore]
// (OAuth clients for the client_credentials grant), and passes their
// suites (storetest.RunFactors, storetest.RunChallenges,
// storetest.RunAPIKeys, or with ExternalUsers
// storetest.RunExternalAPIKeys: keys of any valid username, and
// UseAPIKey leaves the owner to the caller; and storetest.RunClients).
// Expired API keys are dropped at the next AddAPIKey of their owner.
//
// The store starts no goroutines. Sessions that are no longer live are
// removed when they are next touched, and every [Store.CreateSession] also
// checks a few others in turn, so memory stays proportional to the live
// sessions plus the rate at which sessions are created.
package memstore
