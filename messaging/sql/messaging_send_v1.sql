-- The first version of messaging_send (migration 0003), without sender_style: kept only so that
-- migrating messaging back past 0005 restores it. The current version is messaging_send.sql.
-- messaging_send: the PostgreSQL body of messaging.services.message_send, one call instead of
-- seven round trips (user, BEGIN, lock, peer check, insert, update, COMMIT). Its checks mirror
-- messaging.services._store_message_orm, which SQLite runs; tests/messaging/test_send_parity.py
-- runs one table of cases through both on PostgreSQL and compares outcomes and rows.
--
-- Statuses: ok, duplicate (the sender's client_id is taken: message_id is the first message),
-- sender_gone, not_found, blocked, not_friends. Nothing is written unless the status is ok.
--
-- Loaded by migration 0003 (messaging_send_function). A database that has migrated does not see a
-- later change to this file: a change needs a NEW migration that runs this file again
-- (CREATE OR REPLACE; see messaging.migrations.0003's `create_function`). Keep the signature, or
-- have that migration drop the old one.
CREATE OR REPLACE FUNCTION messaging_send(
    p_sender bigint, p_conversation bigint, p_kind text, p_body text, p_client_id text,
    p_data jsonb, p_created_at timestamptz, p_trusted boolean
) RETURNS TABLE (
    status text, message_id bigint, message_seq bigint, member_ids bigint[],
    sender_number bigint, sender_display_name text
) LANGUAGE plpgsql AS $$
DECLARE
    v_active boolean;
    v_number bigint;
    v_name text;
    v_kind text;
    v_last_seq bigint;
    v_members bigint[];
    v_peer bigint;
    v_system boolean := p_trusted AND p_kind = 'system';
    v_id bigint;
    -- Taken first, before waiting for the conversation's lock, as the ORM path's lock query
    -- does; messaging.sync needs a snapshot from before the insert (earlier only widens `late`).
    v_snapshot pg_snapshot := pg_current_snapshot();
BEGIN
    SELECT u.is_active, u.number, u.display_name INTO v_active, v_number, v_name
      FROM accounts_user u WHERE u.id = p_sender;
    IF NOT FOUND OR NOT v_active THEN
        RETURN QUERY SELECT 'sender_gone', NULL::bigint, NULL::bigint, NULL::bigint[], NULL::bigint, NULL::text;
        RETURN;
    END IF;
    -- Sends into one conversation queue on its row: seq stays gapless and, within the
    -- conversation, id order is commit order.
    SELECT c.kind, c.last_seq INTO v_kind, v_last_seq
      FROM messaging_conversation c WHERE c.id = p_conversation FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::bigint, NULL::bigint[], v_number, v_name;
        RETURN;
    END IF;
    v_members := ARRAY(SELECT m.user_id FROM messaging_membership m WHERE m.conversation_id = p_conversation);
    IF NOT (p_sender = ANY (v_members)) AND NOT v_system THEN
        RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::bigint, NULL::bigint[], v_number, v_name;
        RETURN;
    END IF;
    IF v_kind = 'direct' AND NOT v_system THEN
        v_peer := coalesce((SELECT x FROM unnest(v_members) x WHERE x <> p_sender LIMIT 1), p_sender);
        IF EXISTS (SELECT 1 FROM accounts_block b
                    WHERE b.blocker_id IN (p_sender, v_peer) AND b.blocked_id IN (p_sender, v_peer)) THEN
            RETURN QUERY SELECT 'blocked', NULL::bigint, NULL::bigint, NULL::bigint[], v_number, v_name;
            RETURN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM accounts_friendship f WHERE f.user_id = p_sender AND f.friend_id = v_peer) THEN
            RETURN QUERY SELECT 'not_friends', NULL::bigint, NULL::bigint, NULL::bigint[], v_number, v_name;
            RETURN;
        END IF;
    END IF;
    INSERT INTO messaging_message (conversation_id, seq, sender_id, kind, body, client_id, data, created_at,
                                   recalled, txid, snapshot_xmin, snapshot)
    VALUES (p_conversation, v_last_seq + 1, p_sender, p_kind, p_body, p_client_id, p_data, p_created_at,
            false, pg_current_xact_id()::text::bigint,
            pg_snapshot_xmin(v_snapshot)::text::bigint, v_snapshot::text)
    ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT m.id INTO v_id FROM messaging_message m WHERE m.sender_id = p_sender AND m.client_id = p_client_id;
        RETURN QUERY SELECT 'duplicate', v_id, NULL::bigint, NULL::bigint[], v_number, v_name;
        RETURN;
    END IF;
    UPDATE messaging_conversation
       SET last_seq = v_last_seq + 1, last_message_id = v_id, last_activity = p_created_at
     WHERE id = p_conversation;
    RETURN QUERY SELECT 'ok', v_id, v_last_seq + 1, v_members, v_number, v_name;
END
$$;
