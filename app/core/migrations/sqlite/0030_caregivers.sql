-- Caregivers: a grant links a caregiver's own account to a patient they act for, within limits.
-- A grant is live while it has not ended, its end date is ahead, neither account is held and the
-- practice's "Caregiver access" is on; every request while acting checks exactly that.
CREATE TABLE caregiver_grants (
    id            INTEGER PRIMARY KEY,
    caregiver_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    patient_id    BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'parent' (a parent or guardian of a child), 'adult' (invited by the patient) or
    -- 'legal_authority' (an enduring power of attorney or a guardianship order).
    relationship  TEXT   NOT NULL,
    -- What it lets the caregiver do: 'home_and_profile' for now.
    allows        TEXT   NOT NULL,
    began_at      BIGINT NOT NULL,
    -- A child's birthday at the practice's age, or an adult grant's months; none for a legal
    -- authority, which lasts until it is removed.
    ends_at       BIGINT,
    -- The document support noted for a legal authority.
    document      TEXT,
    made_by_staff BIGINT REFERENCES staff (id) ON DELETE SET NULL,
    -- When the caregiver was told the grant ends soon.
    reminded_at   BIGINT,
    ended_at      BIGINT,
    -- 'patient', 'caregiver', 'practice', 'end_date' or 'age'.
    ended_by      TEXT
);
-- One live grant for a caregiver and a patient.
CREATE UNIQUE INDEX caregiver_grants_live ON caregiver_grants (caregiver_id, patient_id)
    WHERE ended_at IS NULL;
CREATE INDEX caregiver_grants_of_patient ON caregiver_grants (patient_id);
CREATE INDEX caregiver_grants_ending ON caregiver_grants (ends_at) WHERE ended_at IS NULL;

-- 0: a record support added (a child) that can't sign in until the practice sets its sign-in up.
ALTER TABLE accounts ADD COLUMN signs_in BIGINT NOT NULL DEFAULT 1;

ALTER TABLE practice_settings ADD COLUMN caregiver_access BIGINT NOT NULL DEFAULT 1;
ALTER TABLE practice_settings ADD COLUMN children_sign_in_age BIGINT NOT NULL DEFAULT 14;
ALTER TABLE practice_settings ADD COLUMN adult_caregiver_months BIGINT NOT NULL DEFAULT 12;

-- "Invite a caregiver": a code the patient hands over in person or by their own message. The
-- caregiver, signed in as themselves, gives it with the patient's date of birth.
CREATE TABLE caregiver_invitations (
    id           INTEGER PRIMARY KEY,
    patient_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The code's MAC under the server key, to find it by; and the code sealed, for the patient's
    -- own page while it is open.
    code_mac     TEXT   NOT NULL UNIQUE,
    sealed_code  TEXT   NOT NULL,
    made_at      BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- Wrong dates of birth given with the code: the fifth voids it.
    wrong_tries  BIGINT NOT NULL DEFAULT 0,
    -- "Someone is pressuring me to do this": waiting for the practice.
    pressured_at BIGINT,
    -- The caregiver who last gave the code.
    caregiver_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    ended_at     BIGINT,
    -- 'accepted', 'declined', 'void' (five wrong tries), 'cancelled' (by the patient) or
    -- 'closed' (by the practice).
    ended_as     TEXT
);
CREATE INDEX caregiver_invitations_of_patient ON caregiver_invitations (patient_id);
