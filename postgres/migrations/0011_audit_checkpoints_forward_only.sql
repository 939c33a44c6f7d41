-- A retention checkpoint only moves forward: an update must raise its seq, and no row is
-- deleted. The audit trigger lets a role delete the records that a checkpoint covers, so
-- a node role that could lower or delete a checkpoint could write one over the newest
-- records, delete them, and then put the signed checkpoint back or remove its own. The
-- chain would still verify, because it cannot show records missing from its end. With
-- this trigger such a checkpoint stays, and "iogate audit verify" reports its signature.
-- The owner of the table can still drop the trigger, like the one on audit_records.
CREATE FUNCTION audit_checkpoints_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.account_id = OLD.account_id AND NEW.seq > OLD.seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit checkpoints only move forward';
END;
$$;
CREATE TRIGGER audit_checkpoints_forward_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_forward_only();
