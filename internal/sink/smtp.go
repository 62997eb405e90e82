// Package sink holds local stand-ins for the services Vigil delivers to: an
// SMTP server and a Slack Web API server. `vigil demo` and the tests use them;
// both speak the real protocols.
package sink

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the SMTP sink accepted.
type Mail struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool // the message arrived over a TLS connection
	Authed string
}

// Parsed returns the message parsed as RFC 5322.
func (m Mail) Parsed() (*mail.Message, error) { return mail.ReadMessage(bytes.NewReader(m.Data)) }

// SMTP is an SMTP server on a loopback port offering STARTTLS with a
// self-signed certificate, and AUTH PLAIN when a user is set.
type SMTP struct {
	Addr     string
	Host     string
	Port     int
	RootCAs  *x509.CertPool // trusts the sink's certificate
	User     string
	Password string

	srv *smtp.Server

	mu       sync.Mutex
	mails    []Mail
	notify   chan struct{}
	failNext int
	failCode int
}

// SMTPOptions configure the sink.
type SMTPOptions struct {
	User, Password string
	RequireTLS     bool // refuse MAIL before STARTTLS
}

// StartSMTP starts the sink on 127.0.0.1 on a free port.
func StartSMTP(o SMTPOptions) (*SMTP, error) {
	cert, pool, err := selfSigned("localhost")
	if err != nil {
		return nil, err
	}
	s := &SMTP{RootCAs: pool, User: o.User, Password: o.Password, notify: make(chan struct{}, 1)}
	srv := smtp.NewServer(&backend{s: s, requireTLS: o.RequireTLS})
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp sink: %w", err)
	}
	s.srv = srv
	s.Addr = l.Addr().String()
	s.Host = "localhost"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	return s, nil
}

// Close stops the server.
func (s *SMTP) Close() error { return s.srv.Close() }

// FailNext makes the next n transactions fail with a temporary 451 error.
func (s *SMTP) FailNext(n int) { s.FailNextWith(n, 451) }

// FailNextWith makes the next n transactions fail with code: 4xx is
// temporary, 5xx permanent (e.g. 550 mailbox unavailable).
func (s *SMTP) FailNextWith(n, code int) {
	s.mu.Lock()
	s.failNext, s.failCode = n, code
	s.mu.Unlock()
}

// Mails returns a copy of what has been received so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Received is signalled (without blocking) after each accepted message.
func (s *SMTP) Received() <-chan struct{} { return s.notify }

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
func (discardLogger) Println(...interface{})        {}

type backend struct {
	s          *SMTP
	requireTLS bool
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

type session struct {
	b      *backend
	conn   *smtp.Conn
	cur    Mail
	authed string
}

func (s *session) AuthMechanisms() []string {
	if s.b.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.s.User || pass != s.b.s.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authed = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	_, isTLS := s.conn.TLSConnectionState()
	if s.b.requireTLS && !isTLS {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if s.b.s.User != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.b.s.mu.Lock()
	fail, code := s.b.s.failNext > 0, s.b.s.failCode
	if fail {
		s.b.s.failNext--
	}
	s.b.s.mu.Unlock()
	if fail && code >= 500 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	if fail {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary failure, try again"}
	}
	s.cur = Mail{From: from, TLS: isTLS, Authed: s.authed}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.b.s.mu.Lock()
	s.b.s.mails = append(s.b.s.mails, s.cur)
	s.b.s.mu.Unlock()
	select {
	case s.b.s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *session) Reset()        { s.cur = Mail{} }
func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for host and a pool that trusts it.
func selfSigned(host string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: host, Organization: []string{"Vigil local sink"}},
		DNSNames:              []string{host},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
