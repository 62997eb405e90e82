// Package ingest polls advisory feeds and publishes each new advisory
// revision once to advisories.raw.<source>.
package ingest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Version names this build in the User-Agent.
var Version = "dev"

// UserAgent is sent with every feed request so publishers know who polls.
func UserAgent() string {
	return "Vigil/" + Version + " (+https://github.com/vigilhealth/vigil; hospital advisory monitor)"
}

// ErrBlockedAddress means a request would reach a loopback, private or
// link-local address from a source not marked internal.
var ErrBlockedAddress = errors.New("address is loopback, private or link-local")

// NewClient is the HTTP client for feeds: a timeout, a User-Agent, at most 3
// redirects, and (unless internal) no connection to a loopback, private or
// link-local address, checked on the address actually dialled.
func NewClient(timeout time.Duration, internal bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !internal {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || blocked(ip) {
				return fmt.Errorf("%s: %w", host, ErrBlockedAddress)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Timeout:   timeout,
		Transport: userAgent{tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			if !internal {
				return redirectAllowed(req)
			}
			return nil
		},
	}
}

type userAgent struct{ next http.RoundTripper }

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", UserAgent())
	return u.next.RoundTrip(r)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func blocked(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()
}

// redirectAllowed refuses a redirect whose host is, or resolves to, a
// blocked address; the dialer checks again what is actually dialled.
func redirectAllowed(req *http.Request) error {
	host := req.URL.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if blocked(ip) {
			return fmt.Errorf("redirect to %s: %w", host, ErrBlockedAddress)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(req.Context(), host)
	if err != nil {
		return fmt.Errorf("redirect to %s: %w", host, err)
	}
	for _, a := range addrs {
		if blocked(a.IP) {
			return fmt.Errorf("redirect to %s (%s): %w", host, a.IP, ErrBlockedAddress)
		}
	}
	return nil
}
