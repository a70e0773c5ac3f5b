-- Personal data is masked and secrets never enter the audit log. The same rules as src/lib/mask.ts
-- (maskEmail, redact) — test/integration/masking.test.ts feeds both the same cases:
--   * a value under a secret-looking key becomes "[redacted]", whatever it is;
--   * a string that is an email keeps up to 3 leading characters and the domain: joh***@example.com.
--     The domain follows the last "@" (a quoted local part may hold one); no whitespace anywhere.
--   * arrays and objects are masked element by element (array elements have no key).

-- `ws` is exactly what JavaScript's \s matches: PostgreSQL's own \s depends on the locale (no-break
-- space, for one, is not a space under glibc), and the two sides must agree on every input.
CREATE OR REPLACE FUNCTION mask_email(p_value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(p_value, format('^([^@%1$s]{1,3})[^%1$s]*(@[^@%1$s]+)$', ws), '\1***\2')
  FROM (VALUES ('\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff')) AS t(ws)
$$;

CREATE OR REPLACE FUNCTION audit_mask(p_key text, p_value jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_key ~* 'pass(word)?|secret|token|authorization|cookie|api[-_]?key|key[-_]?hash|dsn|signature|^url$|link' THEN
    RETURN to_jsonb('[redacted]'::text);
  END IF;
  CASE jsonb_typeof(p_value)
    WHEN 'string' THEN
      RETURN to_jsonb(mask_email(p_value #>> '{}'));
    WHEN 'array' THEN
      RETURN (SELECT coalesce(jsonb_agg(audit_mask('', e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_value) WITH ORDINALITY AS e(value, n));
    WHEN 'object' THEN
      RETURN (SELECT coalesce(jsonb_object_agg(e.key, audit_mask(e.key, e.value)), '{}'::jsonb) FROM jsonb_each(p_value) AS e);
    ELSE
      RETURN p_value;
  END CASE;
END $$;
