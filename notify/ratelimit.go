package notify

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a channel's pace per tenant: Burst messages at once, then one
// every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

// DefaultRates follow the services' own guidance: Slack asks for at most
// one message per second per channel; mail relays throttle bursts.
const DefaultRates = "slack=1/s:5,email=30/m:10,webhook=50/s:100"

// ParseRates reads "slack=1/s:5,email=30/m:10": per channel, messages per
// second, minute or hour, and the burst.
func ParseRates(s string) (map[string]Rate, error) {
	out := map[string]Rate{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ch, spec, ok := strings.Cut(part, "=")
		n, unit, ok2 := strings.Cut(spec, "/")
		unit, burst, ok3 := strings.Cut(unit, ":")
		count, err := strconv.Atoi(n)
		b, err2 := strconv.Atoi(burst)
		per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
		if !ok || !ok2 || !ok3 || err != nil || err2 != nil || count <= 0 || b <= 0 || per == 0 {
			return nil, fmt.Errorf("rate %q: want CHANNEL=N/s|m|h:BURST, e.g. slack=1/s:5", part)
		}
		out[ch] = Rate{Every: per / time.Duration(count), Burst: b}
	}
	return out, nil
}

// limiter is a token bucket per tenant and channel.
type limiter struct {
	mu      sync.Mutex
	rates   map[string]Rate
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rates map[string]Rate) *limiter {
	return &limiter{rates: rates, buckets: map[string]*bucket{}}
}

// allow takes a token if one is there.
func (l *limiter) allow(tenant, channel string, now time.Time) bool {
	r, ok := l.rates[channel]
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := tenant + "\x00" + channel
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: float64(r.Burst), at: now}
		l.buckets[k] = b
	}
	b.tokens = min(float64(r.Burst), b.tokens+float64(now.Sub(b.at))/float64(r.Every))
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
