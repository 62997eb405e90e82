// Package config holds Vigil's one configuration struct, read from VIGIL_*
// environment variables with defaults that work on one machine.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/vigilhealth/vigil/notify"
)

// Prefix is the environment variable prefix.
const Prefix = "VIGIL"

// Config is the effective configuration. Fields tagged secret:"true" are
// never printed or logged.
type Config struct {
	DataDir  string `envconfig:"DATA_DIR" default:"./data" desc:"directory for the embedded NATS store and local ClickHouse"`
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	NATSURL      string        `envconfig:"NATS_URL" desc:"external NATS server or cluster; empty starts an embedded server"`
	NATSListen   string        `envconfig:"NATS_LISTEN" default:"127.0.0.1:4222" desc:"where the embedded NATS server listens"`
	StreamMaxAge time.Duration `envconfig:"STREAM_MAX_AGE" default:"720h" desc:"how long the streams keep messages"`
	AckWait      time.Duration `envconfig:"ACK_WAIT" default:"30s" desc:"redelivery delay of an unacknowledged message"`
	MaxDeliver   int           `envconfig:"MAX_DELIVER" default:"10" desc:"deliveries of one message before it goes to the dead letters"`

	FeedsFile    string        `envconfig:"FEEDS_FILE" desc:"YAML file of feed sources; empty uses the built-in catalogue"`
	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"5m" desc:"default feed poll interval"`
	HTTPTimeout  time.Duration `envconfig:"HTTP_TIMEOUT" default:"30s" desc:"timeout of one feed request"`
	MaxFeedBytes int64         `envconfig:"MAX_FEED_BYTES" default:"20971520" desc:"largest feed body accepted"`
	HostInterval time.Duration `envconfig:"HOST_INTERVAL" default:"1s" desc:"least time between two requests to one host"`
	NVDAPIKey    string        `envconfig:"NVD_API_KEY" secret:"true" desc:"NVD API key (higher rate limit)"`
	MetricsAddr  string        `envconfig:"METRICS_ADDR" default:"127.0.0.1:9464" desc:"Prometheus /metrics listen address; empty disables"`

	ClickHouseAddr     string        `envconfig:"CLICKHOUSE_ADDR" default:"127.0.0.1:9000" desc:"ClickHouse native protocol address"`
	ClickHouseDatabase string        `envconfig:"CLICKHOUSE_DATABASE" default:"vigil" desc:"ClickHouse database"`
	ClickHouseUser     string        `envconfig:"CLICKHOUSE_USER" default:"default" desc:"ClickHouse user"`
	ClickHousePassword string        `envconfig:"CLICKHOUSE_PASSWORD" secret:"true" desc:"ClickHouse password"`
	RetroWindow        time.Duration `envconfig:"RETRO_WINDOW" default:"17520h" desc:"how far back a new or changed inventory is matched (0 turns retro-matching off)"`
	StoreBatchSize     int           `envconfig:"STORE_BATCH_SIZE" default:"25000" desc:"messages per ClickHouse insert (or 32 MB of them)"`
	StoreFlushInterval time.Duration `envconfig:"STORE_FLUSH_INTERVAL" default:"1s" desc:"longest wait before a partial batch is written"`
	Retention          time.Duration `envconfig:"RETENTION" default:"0s" desc:"history kept in ClickHouse, e.g. 17520h (2 years); 0 keeps everything"`

	SlackToken  string `envconfig:"SLACK_TOKEN" secret:"true" desc:"Slack bot token (xoxb-...); empty disables Slack"`
	SlackAPIURL string `envconfig:"SLACK_API_URL" default:"https://slack.com/api/" desc:"Slack Web API base URL"`

	SMTPHost     string `envconfig:"SMTP_HOST" default:"localhost" desc:"SMTP server host"`
	SMTPPort     int    `envconfig:"SMTP_PORT" default:"25" desc:"SMTP server port"`
	SMTPTLS      string `envconfig:"SMTP_TLS" default:"opportunistic" desc:"starttls (required), opportunistic, tls (implicit) or none"`
	SMTPUser     string `envconfig:"SMTP_USER" desc:"SMTP user; empty sends without authentication"`
	SMTPPassword string `envconfig:"SMTP_PASSWORD" secret:"true" desc:"SMTP password"`
	SMTPFrom     string `envconfig:"SMTP_FROM" default:"vigil@localhost" desc:"sender address of alert emails"`

	ChannelRates   string        `envconfig:"CHANNEL_RATES" default:"slack=1/s:5,email=30/m:10,webhook=50/s:100" desc:"messages per tenant and channel: CHANNEL=N/s|m|h:BURST; more wait and go together in the next message"`
	WebhookTimeout time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s" desc:"timeout of one webhook request"`
}

// Load reads the configuration from the environment and validates it.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Validate checks values that envconfig cannot, naming the variable at fault.
func (c Config) Validate() error {
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s_%s: %s", Prefix, name, fmt.Sprintf(format, args...)))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	switch c.SMTPTLS {
	case "starttls", "opportunistic", "tls", "none":
	default:
		bad("SMTP_TLS", "%q is not one of starttls, opportunistic, tls, none", c.SMTPTLS)
	}
	if c.SMTPPort <= 0 || c.SMTPPort > 65535 {
		bad("SMTP_PORT", "%d is not a port", c.SMTPPort)
	}
	if c.PollInterval < time.Second {
		bad("POLL_INTERVAL", "%s is below 1s", c.PollInterval)
	}
	if c.MaxFeedBytes < 1024 {
		bad("MAX_FEED_BYTES", "%d is below 1024", c.MaxFeedBytes)
	}
	if c.HostInterval < 0 {
		bad("HOST_INTERVAL", "%s is negative", c.HostInterval)
	}
	if _, err := notify.ParseRates(c.ChannelRates); err != nil {
		bad("CHANNEL_RATES", "%v", err)
	}
	if c.WebhookTimeout < time.Second {
		bad("WEBHOOK_TIMEOUT", "%s is below 1s", c.WebhookTimeout)
	}
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < 24*time.Hour) {
		bad("RETENTION", "%s: want 0 (keep everything) or at least 24h", c.Retention)
	}
	if c.StoreBatchSize < 1 {
		bad("STORE_BATCH_SIZE", "%d is below 1", c.StoreBatchSize)
	}
	if c.MaxDeliver < 1 {
		bad("MAX_DELIVER", "%d is below 1", c.MaxDeliver)
	}
	if c.DataDir == "" {
		bad("DATA_DIR", "is empty")
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ParseLevel turns a level name into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not a log level", s)
	}
	return l, nil
}

// Redacted is what a secret's value is printed as.
const Redacted = "[redacted]"

// Print writes the effective configuration as a table, secrets redacted.
func (c Config) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tDESCRIPTION")
	v := reflect.ValueOf(c)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		val := fmt.Sprint(v.Field(i).Interface())
		if f.Tag.Get("secret") == "true" && val != "" {
			val = Redacted
		}
		if val == "" {
			val = "(unset)"
		}
		fmt.Fprintf(tw, "%s_%s\t%s\t%s\n", Prefix, f.Tag.Get("envconfig"), val, f.Tag.Get("desc"))
	}
	return tw.Flush()
}

// Secrets lists the secret values that are set, for redacting logs and errors.
func (c Config) Secrets() []string {
	var out []string
	v := reflect.ValueOf(c)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("secret") == "true" {
			if s := v.Field(i).String(); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Logger builds the process logger at the configured level.
func (c Config) Logger(w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level, _ := ParseLevel(c.LogLevel)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
