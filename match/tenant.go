package match

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/internal/bus"
)

// Tenant is a hospital (or a CSIRT's constituent) that receives alerts.
type Tenant struct {
	ID           string       `yaml:"id" json:"id"`
	Name         string       `yaml:"name" json:"name"`
	Country      string       `yaml:"country,omitempty" json:"country,omitempty"`
	TLPClearance advisory.TLP `yaml:"tlp_clearance,omitempty" json:"tlp_clearance,omitempty"`
	Channels     Channels     `yaml:"channels" json:"channels"`
	// Subscriptions choose which alerts the tenant gets; none means all.
	Subscriptions []Subscription `yaml:"subscriptions,omitempty" json:"subscriptions,omitempty"`
	// Delivery groups and paces what the channels send (see DeliveryPolicy).
	Delivery DeliveryPolicy `yaml:"delivery,omitempty" json:"delivery,omitempty"`
}

// Channels say where a tenant's alerts go.
type Channels struct {
	Slack   *SlackChannel   `yaml:"slack,omitempty" json:"slack,omitempty"`
	Email   *EmailChannel   `yaml:"email,omitempty" json:"email,omitempty"`
	Webhook *WebhookChannel `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

// SlackChannel is a Slack channel (name or id) the bot posts to, or an
// incoming webhook URL (the simpler option: no bot token, no threads).
type SlackChannel struct {
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"`
	// WebhookURL is secret (it carries Slack's token): never logged.
	WebhookURL string `yaml:"webhook_url,omitempty" json:"webhook_url,omitempty"`
}

var tlpRank = map[advisory.TLP]int{
	"": 0, advisory.TLPClear: 0, "WHITE": 0, advisory.TLPGreen: 1, advisory.TLPAmber: 2, advisory.TLPAmberStrict: 3, advisory.TLPRed: 4,
}

// ParseTenant reads a tenant YAML document and validates it.
func ParseTenant(file string, data []byte) (Tenant, error) {
	var t Tenant
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return Tenant{}, fmt.Errorf("%s: %w", file, err)
	}
	if err := t.Validate(); err != nil {
		return Tenant{}, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// Validate checks the tenant, naming the field at fault.
func (t *Tenant) Validate() error {
	if err := bus.ValidToken(t.ID); err != nil {
		return fmt.Errorf("field id: %w", err)
	}
	if strings.TrimSpace(t.Name) == "" {
		return errors.New("field name: is required")
	}
	t.TLPClearance = advisory.TLP(strings.ToUpper(string(t.TLPClearance)))
	if t.TLPClearance == "" {
		t.TLPClearance = advisory.TLPGreen
	}
	if _, ok := tlpRank[t.TLPClearance]; !ok {
		return fmt.Errorf("field tlp_clearance: %q is not a TLP marking (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)", t.TLPClearance)
	}
	for i := range t.Subscriptions {
		if err := t.Subscriptions[i].validate(); err != nil {
			return fmt.Errorf("field subscriptions[%d]: %w", i, err)
		}
	}
	if err := t.Channels.validate(); err != nil {
		return err
	}
	for i := range t.Subscriptions {
		for j, c := range t.Subscriptions[i].Channels {
			if !t.Channels.Has(c) {
				return fmt.Errorf("field subscriptions[%d].channels[%d]: %q is not one of the tenant's channels (%s)", i, j, c, strings.Join(t.Channels.Names(), ", "))
			}
		}
	}
	if err := t.Delivery.validate(); err != nil {
		return fmt.Errorf("field delivery.%w", err)
	}
	return nil
}

// Cleared reports whether the tenant may receive an advisory marked tlp.
func (t *Tenant) Cleared(tlp advisory.TLP) bool {
	r, ok := tlpRank[advisory.TLP(strings.ToUpper(string(tlp)))]
	if !ok {
		return false // unknown markings are treated as the most restrictive
	}
	return r <= tlpRank[t.TLPClearance]
}

// PutTenant stores a tenant in the tenants bucket; running matchers and
// notifiers pick it up.
func PutTenant(ctx context.Context, b *bus.Bus, t Tenant) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return bus.PutJSON(ctx, b.Tenants, t.ID, t)
}

// GetTenant reads one tenant.
func GetTenant(ctx context.Context, b *bus.Bus, id string) (Tenant, error) {
	var t Tenant
	err := bus.GetJSON(ctx, b.Tenants, id, &t)
	return t, err
}

// ListTenants reads every tenant.
func ListTenants(ctx context.Context, b *bus.Bus) ([]Tenant, error) {
	lister, err := b.Tenants.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Tenant
	for k := range lister.Keys() {
		t, err := GetTenant(ctx, b, k)
		if errors.Is(err, bus.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", k, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// PutInventory stores a tenant's assets (replacing the previous inventory).
func PutInventory(ctx context.Context, b *bus.Bus, tenant string, assets []Asset) error {
	return PutInventoryProgress(ctx, b, tenant, assets, nil)
}

// PutInventoryProgress is PutInventory telling progress (bytes stored of
// total) as the object store chunks the upload.
func PutInventoryProgress(ctx context.Context, b *bus.Bus, tenant string, assets []Asset, progress func(done, total int)) error {
	data, err := json.Marshal(assets)
	if err != nil {
		return err
	}
	var r io.Reader = bytes.NewReader(data)
	if progress != nil {
		r = &countingReader{r: r, total: len(data), f: progress}
	}
	_, err = b.Inventories.Put(ctx, jetstream.ObjectMeta{Name: tenant}, r)
	return err
}

type countingReader struct {
	r     io.Reader
	n     int
	total int
	f     func(done, total int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	c.f(c.n, c.total)
	return n, err
}

// GetInventory reads a tenant's assets; a tenant without one has none.
func GetInventory(ctx context.Context, b *bus.Bus, tenant string) ([]Asset, error) {
	data, err := b.Inventories.GetBytes(ctx, tenant)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", tenant, err)
	}
	var assets []Asset
	if err := json.Unmarshal(data, &assets); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", tenant, err)
	}
	return slices.Clone(assets), nil // decoding grew it up to twice its size
}

// Interner shares the strings that repeat across assets and hospitals
// (vendors, products, models, versions, locations): an index of millions
// of assets holds each once.
type Interner map[string]string

// Assets interns the assets' repeated fields in place.
func (in Interner) Assets(assets []Asset) {
	s := func(p *string) {
		if *p == "" {
			return
		}
		if v, ok := in[*p]; ok {
			*p = v
			return
		}
		in[*p] = *p
	}
	for i := range assets {
		a := &assets[i]
		s(&a.Vendor)
		s(&a.Product)
		s(&a.Model)
		s(&a.Version)
		s(&a.Category)
		s(&a.Criticality)
		s(&a.Location)
		s(&a.Zone)
		s(&a.Owner)
	}
}
