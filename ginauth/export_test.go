package ginauth

// The defaults, for the package's tests: applications read them in the
// doc comments of Config, Throttle, SessionConfig and RefreshConfig.
const (
	DefaultPairLimit          = defaultPairLimit
	DefaultAccountLimit       = defaultAccountLimit
	DefaultAddressConcurrency = defaultAddressConcurrency
	DefaultBaseLock           = defaultBaseLock
	DefaultThrottleWindow     = defaultThrottleWindow
	DefaultDeviceLifetime     = defaultDeviceLifetime
	DefaultSessionLifetime    = defaultSessionLifetime
	DefaultExpiredTokenWindow = defaultExpiredTokenWindow
	DefaultRefreshGrace       = defaultRefreshGrace
)
