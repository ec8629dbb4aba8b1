-- SQLite stores sessions and codes in the order of their keys from this version on (see its
-- migration of the same number). PostgreSQL finds them through their primary keys' indexes as
-- it did, so it has nothing to change; the versions stay the same on both engines.
SELECT 1;
