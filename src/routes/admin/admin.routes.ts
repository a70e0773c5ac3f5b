import { bodyErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { platformRoute } from '../route-kinds.ts';
import {
  adminOrgDetailSchema,
  adminOrgParams,
  adminOrgSchema,
  listAdminOrgsQuery,
  listPlatformAuditQuery,
  platformAuditEntrySchema,
  updateAdminOrgBody,
} from './admin.schemas.ts';

const tags = ['Platform administration'];
const onlyAdmins = 'Platform admins only; for anyone else this route does not exist (404).';

export const listAdminOrgs = platformRoute({
  method: 'get',
  path: '/admin/orgs',
  tags,
  summary: 'List organizations (platform)',
  description: `Every live organization, newest first, optionally of one tier or matching a search. ${onlyAdmins}`,
  request: { query: listAdminOrgsQuery },
  responses: { 200: jsonContent(listEnvelope(adminOrgSchema), 'A page of organizations.') },
});

export const getAdminOrg = platformRoute({
  method: 'get',
  path: '/admin/orgs/{orgId}',
  tags,
  summary: 'Get an organization’s tier, limits and usage (platform)',
  description: onlyAdmins,
  request: { params: adminOrgParams },
  responses: { 200: jsonContent(dataEnvelope(adminOrgDetailSchema), 'The organization.') },
});

export const updateAdminOrg = platformRoute({
  method: 'patch',
  path: '/admin/orgs/{orgId}',
  tags,
  summary: 'Change an organization’s tier or limit overrides (platform)',
  description: `Takes effect at once, without a redeploy, and is recorded in the platform audit log (and the org’s own). \`limitOverrides\` replaces the org’s overrides as a whole (\`{}\` clears them); each figure overrides one of its tier’s (\`callerRateLimits\`, the requests per minute of one caller — a user, an API key — inside the org; \`files.maxUploadBytes\`, the largest single file, at most 52,428,800,000 bytes (about 48.8 GiB): the most any configuration carries in parts; \`files.storageBytes\`, the bytes the org may store). ${onlyAdmins}`,
  request: { params: adminOrgParams, body: jsonBody(updateAdminOrgBody, 'The fields to change; the others are kept.') },
  responses: { 200: jsonContent(dataEnvelope(adminOrgDetailSchema), 'The organization after the change.'), ...bodyErrorResponses },
});

export const listPlatformAudit = platformRoute({
  method: 'get',
  path: '/admin/audit-log',
  tags,
  summary: 'List the platform audit log',
  description: `What platform admins did, newest first. ${onlyAdmins}`,
  request: { query: listPlatformAuditQuery },
  responses: { 200: jsonContent(listEnvelope(platformAuditEntrySchema), 'A page of entries.') },
});
