package email

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/vigilhealth/vigil/internal/sink"
	"github.com/vigilhealth/vigil/internal/testenv"
	"github.com/vigilhealth/vigil/notify/notifytest"
)

const password = "smtp-pa55word-secret"

func notifier(t *testing.T, s *sink.SMTP, pass string) *Notifier {
	n, err := New(Config{Host: s.Host, Port: s.Port, TLS: "starttls", User: "vigil", Password: pass, From: "vigil@example-hospital.org", RootCAs: s.RootCAs}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSendsMultipartOverSTARTTLSWithAuth(t *testing.T) {
	s := testenv.SMTP(t, sink.SMTPOptions{User: "vigil", Password: password, RequireTLS: true})
	n := notifier(t, s, password)
	retry, err := n.Notify(context.Background(), notifytest.Tenant(), notifytest.Alert(notifytest.HostileTitle))
	if err != nil || retry {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	mails := s.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m := mails[0]
	if !m.TLS || m.Authed != "vigil" || len(m.To) != 1 || m.To[0] != "secops@example-hospital.org" {
		t.Fatalf("envelope: tls=%v authed=%q to=%v", m.TLS, m.Authed, m.To)
	}
	msg, err := m.Parsed()
	if err != nil {
		t.Fatal(err)
	}
	// The hostile title's CRLF must not have produced a Bcc header.
	if msg.Header.Get("Bcc") != "" || strings.Contains(strings.SplitN(string(m.Data), "\r\n\r\n", 2)[0], "\r\nBcc:") {
		t.Fatalf("header injection: %q", msg.Header)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.HasPrefix(subj, "[Vigil P1] Infusion pump flaw") {
		t.Fatalf("subject %q (%v)", subj, err)
	}
	if msg.Header.Get("Message-Id") != "<A-0123456789abcdef.1@vigil>" {
		t.Fatalf("message id %q", msg.Header.Get("Message-Id"))
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q %v", mt, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		b, _ := io.ReadAll(p)
		bodies = append(bodies, string(b))
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Fatalf("parts %v", types)
	}
	if !strings.Contains(bodies[0], "MON-ICU-01") && !strings.Contains(decodeQP(bodies[0]), "MON-ICU-01") {
		t.Fatalf("text part does not name the asset: %s", bodies[0])
	}
	if strings.Contains(decodeQP(bodies[1]), "<!channel>") || strings.Contains(decodeQP(bodies[1]), "<https://evil") {
		t.Fatalf("html part not escaped: %s", bodies[1])
	}
}

func TestAuthFailureIsPermanentAndHidesPassword(t *testing.T) {
	s := testenv.SMTP(t, sink.SMTPOptions{User: "vigil", Password: password, RequireTLS: true})
	n := notifier(t, s, "wrong-"+password)
	retry, err := n.Notify(context.Background(), notifytest.Tenant(), notifytest.Alert("x"))
	if err == nil || retry {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestServerDownIsRetryable(t *testing.T) {
	s := testenv.SMTP(t, sink.SMTPOptions{})
	n := notifier(t, s, "")
	_ = s.Close()
	retry, err := n.Notify(context.Background(), notifytest.Tenant(), notifytest.Alert("x"))
	if err == nil || !retry {
		t.Fatalf("server down: retry=%v err=%v", retry, err)
	}
}

func decodeQP(s string) string {
	r := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=", "=20", " ")
	return r.Replace(s)
}
