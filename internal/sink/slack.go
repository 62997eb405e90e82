package sink

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SlackMessage is one chat.postMessage call the Slack sink accepted.
type SlackMessage struct {
	Channel  string
	Text     string
	Blocks   json.RawMessage
	ThreadTS string
	TS       string
	Webhook  string // the incoming webhook's path, for webhook posts
}

// Slack is a Slack Web API server on a loopback port: it answers auth.test
// and chat.postMessage as Slack does, checks the bot token, and records the
// messages. RateLimitNext and channel lists let tests provoke Slack's errors.
type Slack struct {
	URL   string // API base URL, ends with /api/
	Token string

	srv *httptest.Server

	mu          sync.Mutex
	msgs        []SlackMessage
	limitNext   int
	retryAfter  time.Duration
	badChannels map[string]bool
	failNext    int
	failErr     string
	hooks       map[string]bool
	requests    int
	notify      chan struct{}
}

// StartSlack starts the Slack API sink that accepts token.
func StartSlack(token string) *Slack {
	s := &Slack{Token: token, badChannels: map[string]bool{}, hooks: map[string]bool{}, notify: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/auth.test", s.authTest)
	mux.HandleFunc("/api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/services/", s.incomingWebhook)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/"
	return s
}

// Close stops the server.
func (s *Slack) Close() { s.srv.Close() }

// RateLimitNext answers the next n posts with 429 and Retry-After.
func (s *Slack) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	s.limitNext, s.retryAfter = n, retryAfter
	s.mu.Unlock()
}

// FailNext answers the next n posts with the Slack error (e.g.
// "channel_not_found"; an incoming webhook answers 404 for it).
func (s *Slack) FailNext(n int, slackErr string) {
	s.mu.Lock()
	s.failNext, s.failErr = n, slackErr
	s.mu.Unlock()
}

// IncomingWebhook registers an incoming webhook and returns its URL; the
// path stands for the secret Slack puts in real webhook URLs.
func (s *Slack) IncomingWebhook(secret string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := "/services/T0DEMO/B0HOOK/" + secret
	s.hooks[path] = true
	return s.srv.URL + path
}

// incomingWebhook accepts {"text", "blocks"} JSON as Slack's incoming
// webhooks do: 200 "ok", 404 no_service for an unknown URL.
func (s *Slack) incomingWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.rateLimited(w) {
		return
	}
	if !s.hooks[r.URL.Path] || s.failNext > 0 {
		if s.failNext > 0 {
			s.failNext--
		}
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	s.msgs = append(s.msgs, SlackMessage{Text: body.Text, Blocks: body.Blocks, Webhook: r.URL.Path, TS: fmt.Sprintf("%d.%06d", time.Now().Unix(), len(s.msgs)+1)})
	select {
	case s.notify <- struct{}{}:
	default:
	}
	_, _ = w.Write([]byte("ok"))
}

// RejectChannel makes posts to channel fail with channel_not_found.
func (s *Slack) RejectChannel(channel string) {
	s.mu.Lock()
	s.badChannels[channel] = true
	s.mu.Unlock()
}

// Messages returns a copy of the accepted messages.
func (s *Slack) Messages() []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackMessage(nil), s.msgs...)
}

// Requests counts chat.postMessage calls, accepted or not.
func (s *Slack) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Received is signalled (without blocking) after each accepted message.
func (s *Slack) Received() <-chan struct{} { return s.notify }

func (s *Slack) authorised(r *http.Request) bool {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.FormValue("token")
	}
	return tok == s.Token
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Slack) authTest(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(r) {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "team": "Demo Hospital", "user": "vigil", "team_id": "T0DEMO", "user_id": "U0VIGIL"})
}

func (s *Slack) postMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.rateLimited(w) {
		return
	}
	if !s.authorised(r) {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	ch := r.FormValue("channel")
	if s.failNext > 0 {
		s.failNext--
		writeJSON(w, map[string]any{"ok": false, "error": s.failErr})
		return
	}
	if ch == "" || s.badChannels[ch] {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	m := SlackMessage{
		Channel:  ch,
		Text:     r.FormValue("text"),
		ThreadTS: r.FormValue("thread_ts"),
		TS:       fmt.Sprintf("%d.%06d", time.Now().Unix(), len(s.msgs)+1),
	}
	if b := r.FormValue("blocks"); b != "" {
		m.Blocks = json.RawMessage(b)
	}
	s.msgs = append(s.msgs, m)
	select {
	case s.notify <- struct{}{}:
	default:
	}
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS})
}

// rateLimited answers 429 with Retry-After while RateLimitNext asks for it;
// the caller holds s.mu.
func (s *Slack) rateLimited(w http.ResponseWriter) bool {
	if s.limitNext <= 0 {
		return false
	}
	s.limitNext--
	w.Header().Set("Retry-After", strconv.Itoa(int(s.retryAfter.Seconds())))
	w.WriteHeader(http.StatusTooManyRequests)
	return true
}
