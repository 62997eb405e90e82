-- Alerts found by retro-matching history after an inventory changed.
ALTER TABLE alerts ADD COLUMN retro UInt8;
