
CREATE FUNCTION projections.expect_rows(changed bigint, expected bigint, owner text, statement integer, fence boolean)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  IF changed = expected THEN
    RETURN true;
  END IF;
  IF fence THEN
    RAISE EXCEPTION '%: the checkpoint moved under this runner (% of % checkpoints were where it left them)', owner, changed, expected
      USING ERRCODE = 'LD002', DETAIL = statement::text;
  END IF;
  RAISE EXCEPTION '%: expected % row(s), changed %', owner, expected, changed
    USING ERRCODE = 'LD001', DETAIL = statement::text;
END
$fn$;