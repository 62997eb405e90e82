// Package cli implements vigil's subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/internal/config"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

const usage = `vigil: early-warning security alerts for hospitals

usage: vigil <command> [flags]

  run [--roles=ingest,enrich,match,notify,store]   run the pipeline (default: every role)
  demo [--once]                  self-contained demo: local feed, hospital, Slack, SMTP, ClickHouse
  config                         print the effective configuration (secrets redacted)
  migrate                        create or update the ClickHouse schema
  tenant apply -f FILE           create or update a tenant from YAML
  tenant list                    list tenants
  inventory validate FILE        check an inventory CSV, row by row
  inventory apply --tenant ID FILE   store a tenant's inventory (running matchers pick it up)
  feeds list                     list the feed sources
  feeds check [NAME]             fetch each source once: status, items, parse errors, timing
  ingest backfill --source NAME --since YYYY-MM-DD
                                 publish what a source holds since a date (first install)
  parse [--format auto|rss|csaf|kev|cve5|nvd] [--source NAME] [--enrich] FILE|- ...
                                 print advisories (with --enrich: enriched) as JSON lines
  match --inventory FILE [--tenant-file tenant.yaml] ADVISORY_FILE...
                                 offline: match advisories against an inventory, alerts as JSON lines
  alerts [--tenant ID] [--since 24h] [--priority P1,P2] [--format table|json|csv]
                                 alert history from ClickHouse, with delivery state
  alerts mark --tenant ID --verdict false-positive|confirmed|fixed|accepted-risk [--note TEXT] ALERT_ID
                                 record an analyst's verdict (read by the analytics)
  query [--tenant ID] [--format table|json|csv] 'SQL'
                                 one read-only statement against the history (docs/analytics.md);
                                 --tenant confines it to that tenant's data
  deliveries failed [--tenant ID] [--since 168h] [--format table|json]
                                 alerts a channel refused for good, with the reason
  bench [--tenants 1000 --assets 1000 --rate 0 --duration 30s --poll-interval 5m --match-share 0.05 --store --json]
                                 the real pipeline under synthetic load, against the bare JetStream baseline
  bench store [--alerts 10000000 --json]
                                 the ClickHouse writer and the documented queries over generated history
  version                        print the version

'vigil COMMAND -h' lists a command's flags. Configuration is read from
VIGIL_* environment variables: see 'vigil config'.
`

type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	cfg    config.Config
	log    *slog.Logger
}

// Main runs one command and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ingest.Version = Version
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, "vigil", Version)
		return 0
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		return 2
	}
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, cfg: cfg, log: cfg.Logger(stderr)}
	if limit, from, err := config.SetMemoryLimit(config.CgroupRoot); err != nil {
		e.log.Warn("container memory limit unreadable; no soft memory limit set (GOMEMLIMIT sets one)", "err", err)
	} else if limit > 0 {
		e.log.Debug("soft memory limit", "bytes", limit, "from", from)
	}
	cmds := map[string]func([]string) error{
		"run":  e.run,
		"demo": e.demo,
		"config": func(args []string) error {
			if len(args) > 0 {
				return usagef("config: takes no arguments")
			}
			return cfg.Print(stdout)
		},
		"migrate":    e.migrate,
		"tenant":     e.tenant,
		"inventory":  e.inventory,
		"feeds":      e.feeds,
		"alerts":     e.alerts,
		"deliveries": e.deliveries,
		"query":      e.query,
		"bench":      e.benchCmd,
		"parse":      e.parse,
		"ingest":     e.ingestCmd,
		"match":      e.matchCmd,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vigil: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(args[1:]); err != nil {
		var help helpText
		if errors.As(err, &help) {
			fmt.Fprint(stdout, help)
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			if slices.Contains(args[1:], "-h") || slices.Contains(args[1:], "--help") {
				// A command, or a subcommand, without flags refused "-h".
				fmt.Fprint(stdout, commandUsage(args[0]))
				return 0
			}
			// Usage messages name their command themselves ("tenant: want ...").
			fmt.Fprintf(stderr, "vigil %s\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "vigil %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// commandUsage is the usage's lines about one command.
func commandUsage(name string) string {
	var b strings.Builder
	b.WriteString("usage:\n\n")
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+name+" ") || line == "  "+name:
			in = true
		case !strings.HasPrefix(line, "    "):
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\n'vigil COMMAND SUBCOMMAND -h' lists a subcommand's flags.\n")
	return b.String()
}

// helpText is a command's flags, asked for with -h or --help: printed on
// standard output, exit status 0.
type helpText string

func (h helpText) Error() string { return string(h) }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		var b strings.Builder
		fmt.Fprintf(&b, "usage: vigil %s [flags]\n\nflags:\n", fs.Name())
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return helpText(b.String())
	case err != nil:
		return usagef("%s: %v ('vigil %s -h' lists its flags)", fs.Name(), err, fs.Name())
	}
	return nil
}

// openBus reaches the bus for an admin command: VIGIL_NATS_URL; else a
// running `vigil run` on VIGIL_NATS_LISTEN; else the embedded server started
// here on the data directory, so the change is there when vigil next runs.
func (e *env) openBus() (*bus.Bus, error) {
	o := bus.Options{URL: e.cfg.NATSURL, DataDir: e.cfg.DataDir, Listen: "127.0.0.1:-1",
		MaxAge: e.cfg.StreamMaxAge, AckWait: e.cfg.AckWait, MaxDeliver: e.cfg.MaxDeliver}
	if o.URL == "" {
		local := "nats://" + e.cfg.NATSListen
		if nc, err := nats.Connect(local, nats.Timeout(500*time.Millisecond), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			o.URL = local
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	return bus.Open(ctx, o, e.log)
}

func (e *env) busOptions() bus.Options {
	return bus.Options{URL: e.cfg.NATSURL, DataDir: e.cfg.DataDir, Listen: e.cfg.NATSListen,
		MaxAge: e.cfg.StreamMaxAge, AckWait: e.cfg.AckWait, MaxDeliver: e.cfg.MaxDeliver}
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(word, "s"))
}
