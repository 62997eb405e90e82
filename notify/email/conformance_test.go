package email

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/notify/notifytest"
)

// readable is the subject and every text part of a mail, decoded.
func readable(t *testing.T, m sink.Mail) (notifytest.Message, *mail.Message) {
	t.Helper()
	msg, err := m.Parsed()
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	text := subj + "\n"
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			r = quotedprintable.NewReader(p)
		}
		b, _ := io.ReadAll(r)
		text += string(b) + "\n"
	}
	return notifytest.Message{Text: text, ID: msg.Header.Get("Message-Id"), Thread: msg.Header.Get("In-Reply-To")}, msg
}

func TestConformance(t *testing.T) {
	notifytest.Conformance(t, func(t *testing.T) notifytest.Harness {
		s := testenv.SMTP(t, sink.SMTPOptions{User: "vigil", Password: password, RequireTLS: true})
		n, err := New(Config{Host: s.Host, Port: s.Port, TLS: "starttls", User: "vigil", Password: password,
			From: "Vigil <vigil@example-hospital.org>", RootCAs: s.RootCAs, Threads: &notifytest.MemThreads{}}, testenv.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		return notifytest.Harness{
			Notifier: n, Tenant: notifytest.Tenant(), Threads: true, Secrets: []string{password},
			Messages: func() []notifytest.Message {
				var out []notifytest.Message
				for _, m := range s.Mails() {
					msg, _ := readable(t, m)
					out = append(out, msg)
				}
				return out
			},
			FailNext: func(k int, heals bool) {
				if heals {
					s.FailNextWith(k, 451)
				} else {
					s.FailNextWith(k, 550)
				}
			},
			CheckHostile: func(t *testing.T, m notifytest.Message) {
				mails := s.Mails()
				head := strings.SplitN(string(mails[len(mails)-1].Data), "\r\n\r\n", 2)[0]
				if strings.Contains(head, "\r\nBcc:") {
					t.Errorf("header injected:\n%s", head)
				}
				if strings.Contains(m.Text, "<https://evil.example|click here>") && !strings.Contains(m.Text, "&lt;https://evil.example") {
					t.Errorf("html part carries raw markup:\n%s", m.Text)
				}
			},
		}
	})
}
