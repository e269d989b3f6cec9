package authprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gin-authkit/authkit/observe"
)

// SlotSource reports the password-hashing slots: *ginauth.Auth.
type SlotSource interface {
	PasswordSlots() observe.SlotStats
}

// CacheSource reports a local cache: *redisstore.Store (sessions) and
// *sqlstore.Cache (users).
type CacheSource interface {
	CacheStats() observe.CacheStats
}

// WatchPasswordSlots registers gauges of the hashing slots of src, read
// from it at every scrape: authkit_password_slots,
// authkit_password_slots_busy and authkit_password_checks_waiting.
func (m *Metrics) WatchPasswordSlots(src SlotSource) error {
	return m.reg.Register(&slotCollector{src: src,
		size:    desc("password_slots", "Password-hashing slots (Throttle.PasswordConcurrency).", nil),
		busy:    desc("password_slots_busy", "Password-hashing slots held by a comparison now.", nil),
		waiting: desc("password_checks_waiting", "Password checks waiting for a hashing slot now.", nil),
	})
}

// WatchCache registers the metrics of the local cache src, read from it
// at every scrape and labelled cache=name (such as "sessions" for
// redisstore's, "users" for sqlstore's): authkit_cache_entries,
// authkit_cache_hits_total, authkit_cache_misses_total,
// authkit_cache_hit_ratio and authkit_cache_healthy (1 while its
// subscription or LISTEN connection is confirmed).
func (m *Metrics) WatchCache(name string, src CacheSource) error {
	l := prometheus.Labels{"cache": name}
	return m.reg.Register(&cacheCollector{src: src,
		entries: desc("cache_entries", "Entries held by the local cache.", l),
		hits:    desc("cache_hits_total", "Reads the local cache answered from memory.", l),
		misses:  desc("cache_misses_total", "Reads the local cache passed to the backend.", l),
		ratio:   desc("cache_hit_ratio", "Hits over all reads of the local cache since it started (0 before any read).", l),
		healthy: desc("cache_healthy", "1 while the local cache's invalidation channel (Redis subscription, PostgreSQL LISTEN) is confirmed and the cache in use, 0 otherwise.", l),
	})
}

func desc(name, help string, l prometheus.Labels) *prometheus.Desc {
	return prometheus.NewDesc("authkit_"+name, help, nil, l)
}

type slotCollector struct {
	src                 SlotSource
	size, busy, waiting *prometheus.Desc
}

func (c *slotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.busy
	ch <- c.waiting
}

func (c *slotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.PasswordSlots()
	ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(s.Size))
	ch <- prometheus.MustNewConstMetric(c.busy, prometheus.GaugeValue, float64(s.Busy))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Waiting))
}

type cacheCollector struct {
	src                                   CacheSource
	entries, hits, misses, ratio, healthy *prometheus.Desc
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.entries, c.hits, c.misses, c.ratio, c.healthy} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.CacheStats()
	ratio, healthy := 0.0, 0.0
	if n := s.Hits + s.Misses; n > 0 {
		ratio = float64(s.Hits) / float64(n)
	}
	if s.Healthy {
		healthy = 1
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(c.ratio, prometheus.GaugeValue, ratio)
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, healthy)
}
