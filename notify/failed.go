package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/match"
)

// Failed is an alert a channel refused for good, from the dead letters.
type Failed struct {
	At       time.Time `json:"at"`
	Tenant   string    `json:"tenant"`
	Channel  string    `json:"channel"`
	AlertID  string    `json:"alert_id"`
	Revision string    `json:"revision"`
	Priority string    `json:"priority"`
	Title    string    `json:"title"`
	Reason   string    `json:"reason"`
}

// FailedDeliveries lists the notify dead letters since a time, oldest
// first, optionally for one tenant.
func FailedDeliveries(ctx context.Context, b *bus.Bus, since time.Time, tenant string) ([]Failed, error) {
	st, err := b.JS.Stream(ctx, bus.StreamDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.DeadLetter("notify")}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since}
	c, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var out []Failed
	for {
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		if info.NumPending == 0 {
			return out, nil
		}
		batch, err := c.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			f := Failed{Tenant: m.Headers().Get(bus.HeaderTenant), Channel: m.Headers().Get(HeaderChannel), Reason: m.Headers().Get(bus.HeaderError)}
			if md, err := m.Metadata(); err == nil {
				f.At = md.Timestamp.UTC()
			}
			if a, err := match.DecodeAlert(m.Data()); err == nil {
				f.AlertID, f.Revision, f.Priority, f.Title = a.ID, a.Revision, a.Priority, a.Advisory.Title
				if f.Tenant == "" {
					f.Tenant = a.Tenant
				}
			}
			if tenant == "" || f.Tenant == tenant {
				out = append(out, f)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		if n == 0 {
			return out, nil
		}
	}
}

// PrintFailed writes failed deliveries as a table.
func PrintFailed(w io.Writer, fs []Failed) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no failed deliveries")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tTENANT\tCHANNEL\tALERT\tREV\tPRIO\tTITLE\tREASON")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.At.Format(time.RFC3339), f.Tenant, dash(f.Channel), f.AlertID, f.Revision, f.Priority,
			SanitizeLine(f.Title, 50), SanitizeLine(f.Reason, 120))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
