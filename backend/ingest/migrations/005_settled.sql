-- 005: per-record fate, and what a batch's oldest_held claim is checked
-- against.
--
-- A record the backend refuses becomes a dead letter with its seq; the seq
-- is settled (entered in pending_seqs in the same transaction), so the
-- watermark passes it and the bus frees it. Dead letters of a whole message
-- keep seq NULL.
ALTER TABLE dead_letters ADD COLUMN seq bigint;

-- The bus's own account of its numbering, from its last online status: a
-- batch's oldest_held_seq may move the watermark over a gap only as far as
-- the seqs the bus says it has issued (next_seq), so a forged far-ahead
-- batch cannot acknowledge records the database never saw.
ALTER TABLE vehicle_status ADD COLUMN next_seq bigint;
ALTER TABLE vehicle_status ADD COLUMN acked_seq bigint;
