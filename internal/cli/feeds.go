package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilhealth/vigil/feeds"
	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/internal/pipeline"
)

func (e *env) feeds(args []string) error {
	if len(args) == 0 {
		return usagef("feeds: want 'list' or 'check [NAME]'")
	}
	srcs, err := feeds.Load(e.cfg.FeedsFile)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		return e.feedsList(srcs)
	case "check":
		return e.feedsCheck(srcs, args[1:])
	}
	return usagef("feeds: unknown subcommand %q", args[0])
}

func (e *env) feedsList(srcs []feeds.Source) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tINTERVAL\tPUBLISHER\tLANG\tSTATE\tURL")
	for _, s := range srcs {
		iv := s.Interval
		if iv == 0 {
			iv = e.cfg.PollInterval
		}
		state := "enabled"
		if s.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, iv, s.Publisher, s.Language, state, s.URL)
	}
	return tw.Flush()
}

func (e *env) ingestOptions() ingest.Options {
	return ingest.Options{Interval: e.cfg.PollInterval, Timeout: e.cfg.HTTPTimeout, MaxBytes: e.cfg.MaxFeedBytes,
		NVDAPIKey: e.cfg.NVDAPIKey, Limiter: pipeline.NewHostLimiter(e.cfg)}
}

func pick(srcs []feeds.Source, name string) ([]feeds.Source, error) {
	if name == "" {
		return feeds.Enabled(srcs), nil
	}
	for _, s := range srcs {
		if s.Name == name {
			return []feeds.Source{s}, nil
		}
	}
	return nil, usagef("feeds: no source named %q (see 'vigil feeds list')", name)
}

// feedsCheck fetches each source once and reports, publishing nothing.
func (e *env) feedsCheck(srcs []feeds.Source, args []string) error {
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	chosen, err := pick(srcs, name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tSTATUS\tITEMS\tPARSE ERRORS\tTIME\tRESULT")
	failed := 0
	for _, s := range chosen {
		c := ingest.NewPoller(s, nil, e.ingestOptions(), e.log).Check(e.ctx)
		result := "ok: " + c.Detail
		if c.Err != nil {
			result = "FAILED: " + c.Err.Error()
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", c.Source, c.Kind, c.Status, c.Items, len(c.ItemErrors), c.Took.Round(time.Millisecond), result)
		for _, ie := range c.ItemErrors {
			fmt.Fprintf(e.stderr, "%s: %v\n", c.Source, ie)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d sources failed", failed, len(chosen))
	}
	return nil
}

// ingestCmd is `vigil ingest backfill --source NAME --since DATE`.
func (e *env) ingestCmd(args []string) error {
	if len(args) == 0 || args[0] != "backfill" {
		return usagef("ingest: want 'backfill --source NAME --since YYYY-MM-DD'")
	}
	fs := newFlags("ingest backfill")
	name := fs.String("source", "", "source name")
	sinceStr := fs.String("since", "", "date (YYYY-MM-DD) or RFC 3339 time")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	since, err := parseSince(*sinceStr)
	if err != nil || *name == "" {
		return usagef("ingest backfill: want --source NAME --since YYYY-MM-DD (%v)", err)
	}
	srcs, err := feeds.Load(e.cfg.FeedsFile)
	if err != nil {
		return err
	}
	chosen, err := pick(srcs, *name)
	if err != nil {
		return err
	}
	b, err := e.openBus()
	if err != nil {
		return err
	}
	defer b.Close()
	o := e.ingestOptions()
	bar := newProgressBar(e.stderr, "backfill "+*name)
	o.Progress = bar.update
	res, err := ingest.NewPoller(chosen[0], b, o, e.log).Backfill(e.ctx, since)
	bar.done()
	fmt.Fprintf(e.stdout, "%s since %s: %d parsed, %d published, %d already known, %d rejected, %d item errors, in %s\n",
		*name, since.Format("2006-01-02"), res.Items, res.Published, res.Unchanged, res.Rejected, len(res.ItemErrors), res.Duration.Round(time.Millisecond))
	return err
}

func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// progressBar draws "label [#####.....] 12/40" on a terminal, and a line per
// 10% elsewhere.
type progressBar struct {
	w        io.Writer
	label    string
	terminal bool
	lastPct  int
	drawn    bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	term := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			term = true
		}
	}
	return &progressBar{w: w, label: label, terminal: term, lastPct: -10}
}

func (p *progressBar) update(done, total int) {
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	if p.terminal {
		n := pct / 5
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", n), strings.Repeat(".", 20-n), done, total)
		p.drawn = true
		return
	}
	if pct >= p.lastPct+10 || (done == total && p.lastPct < 100) {
		p.lastPct = pct
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.label, done, total, pct)
	}
}

func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
