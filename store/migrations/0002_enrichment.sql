-- Enrichment and alert lifecycle: vendor, relevance, categories, patient
-- safety and cluster on advisories; cluster and change summary on alerts.
ALTER TABLE advisories ADD COLUMN vendor_id String;
ALTER TABLE advisories ADD COLUMN categories Array(String);
ALTER TABLE advisories ADD COLUMN relevance UInt8;
ALTER TABLE advisories ADD COLUMN patient_safety UInt8;
ALTER TABLE advisories ADD COLUMN cluster_id String;
ALTER TABLE alerts ADD COLUMN cluster_id String;
ALTER TABLE alerts ADD COLUMN changes Array(String);
