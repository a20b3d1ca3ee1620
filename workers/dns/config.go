package dns

import (
	"errors"
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// ErrConfig classifies an invalid Config.
var ErrConfig = errors.New("dns: invalid config")

// Config configures the Handler.
type Config struct {
	// Zone is the cluster domain; "cluster.local" when empty.
	Zone string
	// TTL of every answer from the zone, in seconds; 5 when zero.
	TTL uint32
	// Upstreams ("host:port") receive names outside the zone, tried in
	// order. None: such queries are REFUSED.
	Upstreams []string
	// ForwardTimeout bounds one upstream exchange; 2s when zero.
	ForwardTimeout time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Zone == "" {
		c.Zone = "cluster.local"
	}
	c.Zone = strings.ToLower(mdns.Fqdn(c.Zone))
	if _, ok := mdns.IsDomainName(c.Zone); !ok {
		return c, fmt.Errorf("%w: zone %q is not a domain name", ErrConfig, c.Zone)
	}
	if c.TTL == 0 {
		c.TTL = 5
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	return c, nil
}
