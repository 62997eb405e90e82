package bus

import (
	"fmt"
	"regexp"
)

// Streams and the subjects they hold.
const (
	StreamAdvisories  = "ADVISORIES"
	StreamAlerts      = "ALERTS"
	StreamDeliveries  = "DELIVERIES"
	StreamDeadLetters = "DEADLETTERS"
	StreamRuns        = "RUNS"

	SubjectRaw         = "advisories.raw"
	SubjectEnriched    = "advisories.enriched"
	SubjectAlerts      = "alerts"
	SubjectDeliveries  = "deliveries"
	SubjectDeadLetters = "deadletter"
	SubjectRuns        = "runs.ingest" // one record per poll of a source
)

// KV buckets and the object store.
const (
	BucketCursors    = "vigil_cursors"     // feed ETags, Last-Modified, last poll
	BucketSeen       = "vigil_seen"        // last revision published per advisory
	BucketTenants    = "vigil_tenants"     // tenant definitions
	BucketDeliveries = "vigil_deliveries"  // delivery keys confirmed by a channel
	BucketKEV        = "vigil_kev"         // CVE -> date added to CISA KEV
	BucketClusters   = "vigil_clusters"    // CVE / URL -> vulnerability cluster id
	BucketAdvisories = "vigil_advisories"  // latest raw revision of each advisory
	BucketCVEIndex   = "vigil_cve_index"   // CVE -> advisory keys
	BucketAlerts     = "vigil_alert_state" // tenant.alert -> revision and fingerprint
	BucketThreads    = "vigil_threads"     // channel.tenant.alert -> first message (Slack ts, Message-ID)
	BucketPending    = "vigil_pending"     // alerts waiting for a grouping window or digest
	StoreInventories = "vigil_inventories"
)

// Message headers.
const (
	HeaderTenant   = "Vigil-Tenant"
	HeaderSource   = "Vigil-Source"
	HeaderSchema   = "Vigil-Schema"
	HeaderStage    = "Vigil-Stage"
	HeaderError    = "Vigil-Error"
	HeaderOrigSubj = "Vigil-Original-Subject"
)

var tokenRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidToken reports whether s can be one subject token (a source or tenant
// id): lower-case letters, digits, '-' and '_', at most 64 characters.
func ValidToken(s string) error {
	if !tokenRE.MatchString(s) {
		return fmt.Errorf("%q is not a valid id: use a-z, 0-9, '-' and '_' (at most 64, starting with a letter or digit)", s)
	}
	return nil
}

// Raw is the subject of raw advisories from a source.
func Raw(source string) string { return SubjectRaw + "." + source }

// Enriched is the subject of enriched advisories from a source.
func Enriched(source string) string { return SubjectEnriched + "." + source }

// Alerts is the subject of a tenant's alerts.
func Alerts(tenant string) string { return SubjectAlerts + "." + tenant }

// Deliveries is the subject of a tenant's delivery records.
func Deliveries(tenant string) string { return SubjectDeliveries + "." + tenant }

// DeadLetter is the dead-letter subject of a stage.
func DeadLetter(stage string) string { return SubjectDeadLetters + "." + stage }

// IngestRun is the subject of a source's poll records.
func IngestRun(source string) string { return SubjectRuns + "." + source }
