-- The audit log filtered by patient, staff member or event reads one index each, newest first,
-- however many lines the log holds: the patient or staff member is found by name first, and
-- their lines by id.
CREATE INDEX audit_events_by_account_id ON audit_events (account_id, id);
CREATE INDEX audit_events_by_staff ON audit_events (staff_id, id);
CREATE INDEX audit_events_by_event ON audit_events (event, id);
-- Refused logins for a name no account has keep the name as typed.
CREATE INDEX audit_events_by_typed_username ON audit_events (lower(username), id);
