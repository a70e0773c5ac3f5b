// npm run admin:grant -- <email> | npm run admin:revoke -- <email> — makes a user a platform admin (or no
// longer one), in $DATABASE_URL, which must be the database OWNER's URL (as for npm run db:seed): the app
// itself can never write platform_admins. Platform admins use the /api/v1/admin/… routes (README).
import { changePlatformAdmin, type AdminChange } from './lib/platform-admins.ts';

const [change, rawEmail, ...rest] = process.argv.slice(2);
const email = rawEmail?.trim();
if ((change !== 'grant' && change !== 'revoke') || !email || rest.length > 0) {
  console.error('usage: npm run admin:grant -- <email>   or   npm run admin:revoke -- <email>');
  process.exit(2);
}
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set: set it to the database owner’s URL (locally postgres://postgres:postgres@127.0.0.1:54329/app, see README).');
  process.exit(1);
}

const messages: Record<AdminChange, string> = {
  granted: `${email} is now a platform admin.`,
  'already-admin': `${email} was already a platform admin; nothing changed.`,
  revoked: `${email} is no longer a platform admin.`,
  'not-admin': `${email} was not a platform admin; nothing changed.`,
  'unknown-user': `No account has the email ${email}. The user must sign up first.`,
};

try {
  const result = await changePlatformAdmin(url, email, change);
  console.log(messages[result]);
  process.exit(result === 'unknown-user' ? 1 : 0);
} catch (error) {
  // The driver's own error (drizzle wraps it in `cause`) names host and port at most, never the password.
  let root: unknown = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  const reason = root instanceof Error ? root.message : String(root);
  console.error(`Could not ${change} platform admin rights: ${reason}`);
  if (/does not exist|ECONNREFUSED|ENOTFOUND/.test(reason)) console.error('Is the database running and migrated (npm run dev, npm run db:migrate)?');
  process.exit(1);
}
