import pg from 'pg';

/** Hosts of Neon's serverless endpoints: the Worker reaches those with the driver's defaults, no local proxy. */
export function isNeonHost(host: string): boolean {
  return /\.neon\.(tech|build)$/i.test(host);
}

/** What a role may do that the Worker's role must not: each of these bypasses or owns row-level security. */
export interface RolePowers {
  user: string;
  superuser: boolean;
  bypassRls: boolean;
  /** Owns application tables (RLS does not apply to a table's owner unless forced). */
  owner: boolean;
}

/**
 * Parses and connects to `url` and reads its role's powers. A failure is an Error whose message names
 * the cause (not a URL, refused, unknown host, authentication, missing database, timeout) and the fix.
 * `name` is how the user set it (e.g. "DATABASE_URL").
 */
export async function checkDatabaseUrl(url: string, name = 'DATABASE_URL'): Promise<RolePowers> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${name} is not a URL. Fix: postgres://USER:PASSWORD@HOST:5432/DATABASE (or unset it: npm run dev then starts its own PostgreSQL).`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`${name} must be a postgres:// or postgresql:// URL, not ${parsed.protocol}//…. Fix: postgres://USER:PASSWORD@HOST:5432/DATABASE.`);
  }
  const where = `${parsed.hostname}:${parsed.port || 5432}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ user: string; superuser: boolean; bypass_rls: boolean; owner: boolean }>(
      `select current_user as user, r.rolsuper as superuser, r.rolbypassrls as bypass_rls,
         exists (select 1 from pg_tables t where t.schemaname = 'public' and t.tableowner = current_user) as owner
       from pg_roles r where r.rolname = current_user`,
    );
    const row = rows[0];
    return { user: row?.user ?? parsed.username, superuser: row?.superuser ?? false, bypassRls: row?.bypass_rls ?? false, owner: row?.owner ?? false };
  } catch (error) {
    throw new Error(explain(error, name, where, parsed), { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

function explain(error: unknown, name: string, where: string, url: URL): string {
  const { code, message } = error as { code?: string; message?: string };
  const database = url.pathname.slice(1) || url.username;
  switch (code) {
    case 'ECONNREFUSED':
      return `${name}: connection refused at ${where}: no PostgreSQL listens there. Fix: start it (e.g. \`docker start <container>\`), correct host and port, or unset ${name} to use the local PostgreSQL npm run dev starts.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${name}: unknown host "${url.hostname}" (DNS found no such name). Fix: correct the host in ${name}.`;
    case '28P01':
    case '28000':
      return `${name}: authentication failed for user "${decodeURIComponent(url.username)}" at ${where}. Fix: correct the user name and password in ${name} (special characters in the password must be percent-encoded).`;
    case '3D000':
      return `${name}: database "${decodeURIComponent(database)}" does not exist at ${where}. Fix: create it (\`CREATE DATABASE ${decodeURIComponent(database)};\`) or name an existing one.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${name}: ${where} cannot be reached (${code}). Fix: check the host, the port and any firewall.`;
    default:
      return `${name}: cannot connect to ${where}: ${message ?? String(error)}`;
  }
}

/** A loud warning when the Worker's role bypasses row-level security, or undefined when it does not. */
export function runtimeRoleWarning(powers: RolePowers, name: string): string | undefined {
  const why = [powers.superuser && 'a superuser', powers.bypassRls && 'BYPASSRLS', powers.owner && 'the owner of the tables'].filter(Boolean);
  if (why.length === 0) return undefined;
  return [
    `WARNING: the Worker would connect as "${powers.user}" (${why.join(', ')}): row-level security does NOT apply, so the second wall of tenant isolation is down.`,
    `Fix: create the runtime role once (README, "Database roles": CREATE ROLE app LOGIN PASSWORD '…' IN ROLE app_runtime;) and set ${name} to its URL.`,
  ].join('\n');
}

/**
 * The messages of `error` and of each error it wraps, outermost first. drizzle's "Failed query: <sql>" says
 * only which statement failed; why (PostgreSQL's own message) is in its `cause`.
 */
export function causeChain(error: unknown): string[] {
  const messages: string[] = [];
  for (let current: unknown = error; current !== undefined && messages.length < 10; current = (current as { cause?: unknown }).cause) {
    // A failed query's parameters may hold the data it wrote: the statement is enough to say where.
    messages.push(current instanceof Error ? current.message.replace(/\nparams:[\s\S]*$/, '').trim() : String(current));
    if (!(current instanceof Error)) break;
  }
  return messages;
}

/**
 * Why setting up the database failed (`step`: "the migrations", "the demo seed"; `name`: the variable that gave
 * its URL, if any), PostgreSQL's reason first; `permissionFix` is added when that reason is a permission denied
 * (SQLSTATE 42501).
 */
export function setupFailure(error: unknown, step: string, name?: string, permissionFix?: string): Error {
  const [statement, ...causes] = causeChain(error);
  const reason = causes.at(-1) ?? statement;
  const code = codeInChain(error);
  const where = causes.length > 0 && statement ? ` (in: ${oneLine(statement.replace(/^Failed query: /, ''))})` : '';
  const fix = code === '42501' && permissionFix ? ` Fix: ${permissionFix}` : '';
  return new Error(`${name ? `${name}: ` : ''}${step} failed: ${reason}${code ? ` [SQLSTATE ${code}]` : ''}${where}.${fix}`, { cause: error });
}

/** A statement on one line, without SQL comments, cut at 200 characters (a migration file is one long statement). */
function oneLine(statement: string): string {
  const text = statement.split('\n').filter((line) => !line.trim().startsWith('--')).join(' ').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function codeInChain(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
