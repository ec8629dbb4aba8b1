-- Practice settings are saved by compare-and-set on their version, so a form that went stale
-- on another instance can't silently undo a newer save.
ALTER TABLE practice_settings ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- When two-factor authentication was last switched off (0: it started off). Sessions begun
-- since then signed in with a password alone, and end when it is switched on again.
ALTER TABLE practice_settings ADD COLUMN two_factor_off_since BIGINT;
UPDATE practice_settings SET two_factor_off_since = 0 WHERE two_factor = 0;

-- The built-in contact was a placeholder that told the operator what to set. A practice that
-- never set one now shows none, and pages say to contact the practice.
UPDATE practice_settings SET support_phone = ''
    WHERE support_phone = '0800 000 000 (set PORTAL_SUPPORT_PHONE)';
UPDATE practice_settings SET support_email = ''
    WHERE support_email = 'support@example.org (set PORTAL_SUPPORT_EMAIL)';
