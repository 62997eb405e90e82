package store

import (
	"encoding/json"
	"fmt"
	gojson "github.com/goccy/go-json"
	"strings"
	"time"

	"github.com/vigilhealth/vigil/advisory"
	"github.com/vigilhealth/vigil/ingest"
	"github.com/vigilhealth/vigil/internal/bus"
	"github.com/vigilhealth/vigil/match"
	"github.com/vigilhealth/vigil/notify"
)

// Table describes how messages of one subject become rows of one table
// (a message may give several rows, or none).
type Table struct {
	Name    string
	Columns string // the insert column list: 18.16 needs it explicit
	Spec    bus.ConsumerSpec
	Rows    func(data []byte) ([][]any, error)
}

func one(f func([]byte) ([]any, error)) func([]byte) ([][]any, error) {
	return func(data []byte) ([][]any, error) {
		r, err := f(data)
		if err != nil {
			return nil, err
		}
		return [][]any{r}, nil
	}
}

// Tables are the writers the store role runs, one durable consumer each.
func Tables() []Table {
	enriched := func(durable string) bus.ConsumerSpec {
		return bus.ConsumerSpec{Stream: bus.StreamAdvisories, Durable: durable, Stage: "store", Filter: []string{bus.SubjectEnriched + ".>"}}
	}
	alerts := func(durable string) bus.ConsumerSpec {
		return bus.ConsumerSpec{Stream: bus.StreamAlerts, Durable: durable, Stage: "store", Filter: []string{bus.SubjectAlerts + ".>"}}
	}
	return []Table{
		{
			Name:    "advisories",
			Columns: "source, id, revision, title, url, summary, published, updated, fetched_at, enriched_at, tlp, cves, vendors, kev, cvss_score, cvss_vector, vendor_id, categories, relevance, patient_safety, cluster_id",
			Spec:    enriched("store_advisories"),
			Rows:    one(advisoryRow),
		},
		{
			Name:    "advisory_products",
			Columns: "source, id, revision, pos, vendor_id, vendor, product, versions, status, cpe, purl, published",
			Spec:    enriched("store_advisory_products"),
			Rows:    productRows,
		},
		{
			Name:    "clusters",
			Columns: "cluster_id, source, id, revision, cves, vendor_id, published, kev, kev_date_added",
			Spec:    enriched("store_clusters"),
			Rows:    clusterRows,
		},
		{
			Name:    "alerts",
			Columns: "tenant, alert_id, revision, priority, confidence, advisory_source, advisory_id, title, url, cves, kev, assets, asset_reasons, published, fetched_at, created_at, cluster_id, changes, retro, vendor_id, fix_available, watch, digest, opened_at, fixed_at, kev_at",
			Spec:    alerts("store_alerts"),
			Rows:    one(alertRow),
		},
		{
			Name:    "alert_assets",
			Columns: "tenant, alert_id, revision, asset_id, vendor, product, model, version, category, criticality, location, zone, confidence, rule, reasons, priority, created_at",
			Spec:    alerts("store_alert_assets"),
			Rows:    alertAssetRows,
		},
		{
			Name:    "deliveries",
			Columns: "tenant, alert_id, revision, channel, status, error, attempt, priority, at, latency_ms",
			Spec:    bus.ConsumerSpec{Stream: bus.StreamDeliveries, Durable: "store_deliveries", Stage: "store", Filter: []string{bus.SubjectDeliveries + ".>"}},
			Rows:    one(deliveryRow),
		},
		{
			Name:    "ingest_runs",
			Columns: "source, kind, started_at, duration_ms, status, not_modified, items, published, unchanged, rejected, item_errors, error",
			Spec:    bus.ConsumerSpec{Stream: bus.StreamRuns, Durable: "store_ingest_runs", Stage: "store", Filter: []string{bus.SubjectRuns + ".>"}},
			Rows:    one(runRow),
		},
	}
}

func decodeAdvisory(data []byte) (advisory.Advisory, *advisory.Enrichment, error) {
	var a advisory.Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return a, nil, err
	}
	en := a.Enrichment
	if en == nil {
		en = &advisory.Enrichment{}
	}
	return a, en, nil
}

func advisoryRow(data []byte) ([]any, error) {
	a, en, err := decodeAdvisory(data)
	if err != nil {
		return nil, err
	}
	var score *float32
	vector := ""
	if a.Severity != nil {
		s := float32(a.Severity.Score)
		score, vector = &s, a.Severity.Vector
	}
	cats := make([]string, len(en.Categories))
	for i, c := range en.Categories {
		cats[i] = c.ID
	}
	return []any{a.Source, a.ID, a.Revision, a.Title, a.URL, a.Summary, clampTime(a.Published), clampTime(a.Updated),
		clampTime(a.FetchedAt), clampTime(en.EnrichedAt), string(a.TLP), nonNil(a.CVEs), nonNil(a.VendorIDs()), b2u(a.KEV), score, vector,
		en.VendorID, cats, uint8(en.Relevance.Score), b2u(en.PatientSafety), en.ClusterID}, nil
}

// productRows is one row per product of the advisory, with the vendor id
// enrich resolved for it.
func productRows(data []byte) ([][]any, error) {
	a, en, err := decodeAdvisory(data)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, 0, len(a.Products))
	for i, p := range a.Products {
		if i > 65535 {
			break
		}
		vendorID := ""
		if len(en.Vendors) == 1 || p.Vendor == "" {
			vendorID = en.VendorID
		}
		for _, v := range en.Vendors {
			if p.Vendor != "" && (strings.EqualFold(v.MatchedAs, p.Vendor) || strings.EqualFold(v.Name, p.Vendor)) {
				vendorID = v.ID
			}
		}
		rows = append(rows, []any{a.Source, a.ID, a.Revision, uint16(i), vendorID, p.Vendor, p.Name, nonNil(p.Versions), p.Status, p.CPE, p.PURL, clampTime(a.Published)})
	}
	return rows, nil
}

// clusterRows places the advisory revision in its vulnerability cluster.
func clusterRows(data []byte) ([][]any, error) {
	a, en, err := decodeAdvisory(data)
	if err != nil {
		return nil, err
	}
	if en.ClusterID == "" {
		return nil, nil
	}
	var kevAdded *time.Time
	if en.KEVDateAdded != "" {
		if t, err := time.Parse("2006-01-02", en.KEVDateAdded); err == nil {
			kevAdded = &t
		}
	}
	return [][]any{{en.ClusterID, a.Source, a.ID, a.Revision, nonNil(a.CVEs), en.VendorID, clampTime(a.Published), b2u(a.KEV), kevAdded}}, nil
}

// alertMsg is what the alerts table reads of an alert message: decoding
// only these fields keeps the writer fast.
type alertMsg struct {
	Tenant     string   `json:"tenant"`
	ID         string   `json:"id"`
	Revision   string   `json:"revision"`
	ClusterID  string   `json:"cluster_id"`
	Changes    []string `json:"changes"`
	Priority   string   `json:"priority"`
	Confidence string   `json:"confidence"`
	Advisory   struct {
		Source    string    `json:"source"`
		ID        string    `json:"id"`
		Title     string    `json:"title"`
		URL       string    `json:"url"`
		Published time.Time `json:"published"`
		FetchedAt time.Time `json:"fetched_at"`
		CVEs      []string  `json:"cves"`
		KEV       bool      `json:"kev"`
		VendorID  string    `json:"vendor_id"`
	} `json:"advisory"`
	Assets []struct {
		Asset *struct {
			ID string `json:"id"`
		} `json:"asset"`
		Confidence string   `json:"confidence"`
		Reasons    []string `json:"reasons"`
	} `json:"assets"`
	Watch        bool      `json:"watch"`
	Retro        bool      `json:"retro"`
	Digest       bool      `json:"digest"`
	FixAvailable bool      `json:"fix_available"`
	CreatedAt    time.Time `json:"created_at"`
	OpenedAt     time.Time `json:"opened_at"`
	FixedAt      time.Time `json:"fixed_at"`
	KEVAt        time.Time `json:"kev_at"`
}

func alertRow(data []byte) ([]any, error) {
	var a alertMsg
	if err := gojson.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	ids := make([]string, len(a.Assets))
	reasons := make([]string, len(a.Assets))
	for i, m := range a.Assets {
		if m.Asset == nil {
			return nil, fmt.Errorf("alert %s: field assets[%d].asset: missing", a.ID, i)
		}
		ids[i] = m.Asset.ID
		reasons[i] = m.Confidence + ": " + joinReasons(m.Reasons)
	}
	return []any{a.Tenant, a.ID, a.Revision, a.Priority, a.Confidence, a.Advisory.Source, a.Advisory.ID, a.Advisory.Title,
		a.Advisory.URL, nonNil(a.Advisory.CVEs), b2u(a.Advisory.KEV), ids, reasons,
		clampTime(a.Advisory.Published), clampTime(a.Advisory.FetchedAt), clampTime(a.CreatedAt), a.ClusterID, nonNil(a.Changes), b2u(a.Retro),
		a.Advisory.VendorID, b2u(a.FixAvailable), b2u(a.Watch), b2u(a.Digest), clampTime(a.OpenedAt), clampTime(a.FixedAt), clampTime(a.KEVAt)}, nil
}

// alertAssetRows is one row per matched asset of an alert revision.
func alertAssetRows(data []byte) ([][]any, error) {
	a, err := match.DecodeAlert(data)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, 0, len(a.Assets))
	for _, m := range a.Assets {
		as := m.Asset
		rows = append(rows, []any{a.Tenant, a.ID, a.Revision, as.ID, as.Vendor, as.Product, as.Model, as.Version, as.Category, as.Criticality,
			as.Location, as.Zone, m.Confidence, m.Rule, nonNil(m.Reasons), a.Priority, clampTime(a.CreatedAt)})
	}
	return rows, nil
}

func deliveryRow(data []byte) ([]any, error) {
	var d notify.Delivery
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	return []any{d.Tenant, d.AlertID, d.Revision, d.Channel, d.Status, d.Error, uint16(min(d.Attempt, 65535)), d.Priority, clampTime(d.At), d.LatencyMS}, nil
}

func runRow(data []byte) ([]any, error) {
	var r ingest.PollRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	u32 := func(n int) uint32 { return uint32(max(n, 0)) }
	return []any{r.Source, r.Kind, clampTime(r.StartedAt), u32(int(r.DurationMS)), uint16(max(r.Status, 0)), b2u(r.NotModified),
		u32(r.Items), u32(r.Published), u32(r.Unchanged), u32(r.Rejected), u32(r.ItemErrors), r.Error}, nil
}
