-- Alert state: one row per alert (tenant × vulnerability cluster) holding
-- its latest revision and its lifecycle (opened, fixed, known exploited).
-- The questions asked per alert ("open P1 by vendor", "how long exposed")
-- read it (through the view alert_current) instead of grouping every
-- revision of the history.
-- Alert messages carry opened_at, fixed_at and kev_at from the matcher's
-- lifecycle state; a materialized view keeps alert_state in step with
-- every insert into alerts. ClickHouse 18.16 and current releases.

ALTER TABLE alerts ADD COLUMN opened_at DateTime;
ALTER TABLE alerts ADD COLUMN fixed_at DateTime;
ALTER TABLE alerts ADD COLUMN kev_at DateTime;

-- alert_key is sipHash64(tenant, alert_id): merging on one number keeps
-- FINAL fast. The highest revision wins.
CREATE TABLE IF NOT EXISTS alert_state (
    alert_key       UInt64,
    tenant          String,
    alert_id        String,
    revision        UInt32,
    priority        String,
    confidence      String,
    advisory_source String,
    advisory_id     String,
    vendor_id       String,
    cluster_id      String,
    cves            Array(String),
    asset_count     UInt32,
    kev             UInt8,
    fix_available   UInt8,
    watch           UInt8,
    retro           UInt8,
    digest          UInt8,
    opened_at       DateTime,
    fixed_at        DateTime,
    kev_at          DateTime,
    updated_at      DateTime
) ENGINE = ReplacingMergeTree(revision)
ORDER BY alert_key;

-- Rows written before alerts carried their lifecycle (opened_at 0) fall
-- back to the revision's own time.
CREATE MATERIALIZED VIEW IF NOT EXISTS alert_state_mv TO alert_state AS
SELECT sipHash64(tenant, alert_id) AS alert_key, tenant, alert_id, toUInt32OrZero(revision) AS revision,
       priority, confidence, advisory_source, advisory_id, vendor_id, cluster_id, cves,
       toUInt32(length(assets)) AS asset_count, kev, fix_available, watch, retro, digest,
       if(opened_at = toDateTime(0), created_at, opened_at) AS opened_at,
       if(fixed_at = toDateTime(0) AND fix_available = 1, created_at, fixed_at) AS fixed_at,
       if(kev_at = toDateTime(0) AND kev = 1, created_at, kev_at) AS kev_at,
       created_at AS updated_at
FROM alerts;

-- alert_current: every alert's latest revision, without FINAL to remember.
-- 18.16 runs FINAL in one thread; two halves of the key range run on two
-- cores (current releases run FINAL in parallel and gain nothing, lose
-- nothing). Filters on the view apply after FINAL, so an older revision
-- never shows through. A migration that adds columns to alert_state must
-- create this view again.
CREATE VIEW IF NOT EXISTS alert_current AS
SELECT * FROM alert_state FINAL WHERE alert_key < 9223372036854775808
UNION ALL
SELECT * FROM alert_state FINAL WHERE alert_key >= 9223372036854775808;

-- The history already written, one row per alert (grouped on disk past
-- 1 GB, so a large history migrates within the default memory limit).
INSERT INTO alert_state
SELECT sipHash64(tenant, alert_id) AS key, any(tenant), any(alert_id), max(toUInt32OrZero(revision)),
       argMax(priority, toUInt32OrZero(revision)), argMax(confidence, toUInt32OrZero(revision)),
       argMax(advisory_source, toUInt32OrZero(revision)), argMax(advisory_id, toUInt32OrZero(revision)),
       argMax(vendor_id, toUInt32OrZero(revision)), argMax(cluster_id, toUInt32OrZero(revision)),
       argMax(cves, toUInt32OrZero(revision)), toUInt32(argMax(length(assets), toUInt32OrZero(revision))),
       max(kev), argMax(fix_available, toUInt32OrZero(revision)), max(watch), max(retro), max(digest),
       min(created_at),
       if(max(fix_available) = 1, minIf(created_at, fix_available = 1), toDateTime(0)),
       if(max(kev) = 1, minIf(created_at, kev = 1), toDateTime(0)),
       max(created_at)
FROM alerts
GROUP BY key
SETTINGS max_bytes_before_external_group_by = 1000000000;
