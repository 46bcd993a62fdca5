-- coins_ledger_post: the PostgreSQL body of coins.ledger.ledger_post, one call instead of the ORM
-- path's seven to ten round trips (BEGIN, key lookup, savepoint, insert, release, lock, entries,
-- balances, COMMIT). Its steps and their order mirror coins.ledger._post_orm, which SQLite runs;
-- tests/coins/test_ledger_parity.py runs one table of cases through both on PostgreSQL and
-- compares outcomes, rows, balances and hashes.
--
-- The legs arrive validated (two or more, positive whole amounts, debits = credits: Python's
-- _check_legs). Steps:
--   1. an idempotency key already used answers `replayed` (same kind) or `key_reused`, and a
--      transaction already reversed answers `already_reversed`, before any lock is taken;
--   2. the touched accounts are locked in one query in id order (FOR NO KEY UPDATE: entries'
--      foreign-key checks on them still proceed); a missing one answers `unknown_account`;
--   3. the legs are applied in order to the locked balances; a wallet below zero answers
--      `insufficient_funds` (or, if a concurrent post with the same key or reversal committed
--      while we waited for the locks, what step 1 would have answered);
--   4. the transaction row is inserted (a unique conflict that raced step 1 answers as step 1
--      would), then the entries with balance-after, sequence and the per-account SHA-256 chain of
--      coins.hashing.entry_hash, then the accounts' cached balance, entry count and last hash.
-- Nothing is written unless the status is `ok`, and no status raises, so a caller's transaction
-- stays usable without a savepoint. The database's own guards (migration 0002: deferred balance
-- triggers, append-only triggers, the wallet_not_negative check) still run on what this writes.
--
-- Loaded by migrations 0005 (ledger_post_function) and 0006 (ledger_post_speed). A database that has migrated does not see a
-- later change to this file: a change needs a NEW migration that runs this file again (CREATE OR
-- REPLACE). Keep the signature, or have that migration drop the old one.
CREATE OR REPLACE FUNCTION coins_ledger_post(
    p_kind text, p_memo text, p_metadata jsonb, p_idempotency_key text, p_actor bigint,
    p_cause text, p_reverses bigint, p_created_at timestamptz,
    p_accounts bigint[], p_sides text[], p_amounts bigint[]
) RETURNS TABLE (
    status text, transaction_id bigint, entry_ids bigint[], balances_after bigint[],
    sequences bigint[], prev_hashes text[], hashes text[], wallet_users bigint[]
) LANGUAGE plpgsql
-- Generic plans: with custom plans (the default for the first five calls, and for good when the
-- planner rates the generic plan no better) every statement below was planned again on every call,
-- a fifth of the function's CPU. The plans are the same either way (primary-key and unique-index
-- lookups, inserts).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_n integer := cardinality(p_accounts);
    -- the locked accounts (aligned arrays)
    v_ids bigint[];
    v_kinds text[];
    v_normal text[];
    v_users bigint[];
    v_balance bigint[];
    v_count bigint[];
    v_hash text[];
    -- per leg, in leg order
    v_slot integer[] := '{}';
    v_after bigint[] := '{}';
    v_seq bigint[] := '{}';
    v_prev text[] := '{}';
    v_hashes text[] := '{}';
    v_leg_users bigint[] := '{}';
    v_txid bigint;
    v_kind text;
    v_stamp text;
    i integer;
    j integer;
BEGIN
    -- 1. Settled before any lock: a replay never queues behind a hot account.
    IF p_idempotency_key IS NOT NULL THEN
        SELECT t.id, t.kind INTO v_txid, v_kind FROM coins_transaction t WHERE t.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            status := CASE WHEN v_kind = p_kind THEN 'replayed' ELSE 'key_reused' END;
            transaction_id := v_txid;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    IF p_reverses IS NOT NULL AND EXISTS (SELECT 1 FROM coins_transaction t WHERE t.reverses_id = p_reverses) THEN
        status := 'already_reversed';
        RETURN NEXT;
        RETURN;
    END IF;

    -- 2. One query, id order: no two postings wait for each other in a cycle. (The rows are locked
    -- in the subquery's order; the aggregates only collect them, into aligned arrays.)
    SELECT array_agg(a.id), array_agg(a.kind), array_agg(a.normal_side), array_agg(a.user_id),
           array_agg(a.balance), array_agg(a.entry_count), array_agg(a.last_hash)
      INTO v_ids, v_kinds, v_normal, v_users, v_balance, v_count, v_hash
      FROM (SELECT c.id, c.kind::text AS kind, c.normal_side::text AS normal_side, c.user_id, c.balance,
                   c.entry_count, c.last_hash::text AS last_hash
              FROM coins_account c WHERE c.id = ANY (p_accounts) ORDER BY c.id FOR NO KEY UPDATE) a;

    -- 3. Apply the legs in order; every step of a wallet must stay at or above zero.
    FOR i IN 1 .. v_n LOOP
        j := array_position(v_ids, p_accounts[i]);
        IF j IS NULL THEN
            status := 'unknown_account';
            RETURN NEXT;
            RETURN;
        END IF;
        IF p_sides[i] = v_normal[j] THEN
            v_balance[j] := v_balance[j] + p_amounts[i];
        ELSE
            v_balance[j] := v_balance[j] - p_amounts[i];
        END IF;
        IF v_kinds[j] = 'wallet' AND v_balance[j] < 0 THEN
            -- A post with the same key (or reversal) may have committed while we waited for the
            -- locks: answer as step 1 would now (the ORM path finds it at its insert).
            IF p_idempotency_key IS NOT NULL THEN
                SELECT t.id, t.kind INTO v_txid, v_kind FROM coins_transaction t WHERE t.idempotency_key = p_idempotency_key;
                IF FOUND THEN
                    status := CASE WHEN v_kind = p_kind THEN 'replayed' ELSE 'key_reused' END;
                    transaction_id := v_txid;
                    RETURN NEXT;
                    RETURN;
                END IF;
            END IF;
            IF p_reverses IS NOT NULL AND EXISTS (SELECT 1 FROM coins_transaction t WHERE t.reverses_id = p_reverses) THEN
                status := 'already_reversed';
                RETURN NEXT;
                RETURN;
            END IF;
            status := 'insufficient_funds';
            RETURN NEXT;
            RETURN;
        END IF;
        v_count[j] := v_count[j] + 1;
        v_slot[i] := j;
        v_after[i] := v_balance[j];
        v_seq[i] := v_count[j];
        v_leg_users[i] := CASE WHEN v_kinds[j] = 'wallet' THEN v_users[j] END;
    END LOOP;

    -- 4. Write. The unique indexes (idempotency key, reverses) settle a race that step 1 missed.
    INSERT INTO coins_transaction (kind, memo, metadata, idempotency_key, actor_id, cause, reverses_id, created_at)
    VALUES (p_kind, p_memo, p_metadata, p_idempotency_key, p_actor, p_cause, p_reverses, p_created_at)
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_txid;
    IF v_txid IS NULL THEN
        IF p_idempotency_key IS NOT NULL THEN
            SELECT t.id, t.kind INTO v_txid, v_kind FROM coins_transaction t WHERE t.idempotency_key = p_idempotency_key;
            IF FOUND THEN
                status := CASE WHEN v_kind = p_kind THEN 'replayed' ELSE 'key_reused' END;
                transaction_id := v_txid;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
        status := 'already_reversed';
        RETURN NEXT;
        RETURN;
    END IF;

    -- The hash chain (coins.hashing.entry_hash): prev_hash|account|sequence|transaction|side|
    -- amount|balance_after|created_at (UTC, ISO 8601 with microseconds).
    v_stamp := to_char(p_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00';
    FOR i IN 1 .. v_n LOOP
        j := v_slot[i];
        v_prev[i] := v_hash[j];
        v_hash[j] := encode(sha256(convert_to(concat_ws('|',
            v_hash[j], p_accounts[i]::text, v_seq[i]::text, v_txid::text, p_sides[i], p_amounts[i]::text,
            v_after[i]::text, v_stamp), 'UTF8')), 'hex');
        v_hashes[i] := v_hash[j];
    END LOOP;

    -- The entries (ids in leg order) and the accounts' cached state, in one statement.
    WITH inserted AS (
        INSERT INTO coins_entry (transaction_id, account_id, side, amount, balance_after, sequence,
                                 prev_hash, hash, created_at)
        SELECT v_txid, leg.account_id, leg.side, leg.amount, leg.balance_after, leg.sequence,
               leg.prev_hash, leg.hash, p_created_at
          FROM unnest(p_accounts, p_sides, p_amounts, v_after, v_seq, v_prev, v_hashes)
               WITH ORDINALITY AS leg(account_id, side, amount, balance_after, sequence, prev_hash, hash, n)
         ORDER BY leg.n
        RETURNING id
    ), updated AS (
        UPDATE coins_account AS a
           SET balance = s.balance, entry_count = s.entry_count, last_hash = s.last_hash
          FROM unnest(v_ids, v_balance, v_count, v_hash) AS s(id, balance, entry_count, last_hash)
         WHERE a.id = s.id
    )
    SELECT array_agg(inserted.id ORDER BY inserted.id) INTO entry_ids FROM inserted;

    status := 'ok';
    transaction_id := v_txid;
    balances_after := v_after;
    sequences := v_seq;
    prev_hashes := v_prev;
    hashes := v_hashes;
    wallet_users := v_leg_users;
    RETURN NEXT;
END;
$$;
