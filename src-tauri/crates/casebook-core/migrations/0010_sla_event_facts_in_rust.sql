-- The compact SLA facts of 0009 are now written by the store itself, beside each event it appends
-- (`sla::facts::record_event`, called from the one function that inserts events): the trigger
-- parsed every event's JSON five times inside SQLite, which made importing history markedly slower.
DROP TRIGGER events_sla_facts;
