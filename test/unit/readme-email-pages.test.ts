import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { renderEmail, templateData, type TemplateData, type TemplateName } from '../../src/services/email-templates.ts';

const ORG_ID = '00000000-0000-4000-8000-000000000100';
const ID = '00000000-0000-4000-8000-0000000000aa';

// One sample per template: typed, so a new template does not compile here until it has one (and its page a row).
const samples: { [T in TemplateName]: TemplateData<T> } = {
  'verify-email': { token: 'tok', name: 'Ada' },
  'reset-password': { token: 'tok', name: 'Ada' },
  'signup-attempt': {},
  invitation: { token: 'tok', orgName: 'Demo', role: 'member', inviterName: 'Ada' },
  'webhook-disabled': { orgName: 'Demo', orgId: ORG_ID, endpointId: ID, description: 'CRM' },
  notification: { notificationId: ID, title: 'Hello', body: 'Hi' },
};

/** The pages of README's table, as written there: `/reset-password?token=…`, `/orgs/{orgId}/webhooks/{endpointId}`. */
function readmePages(): string[] {
  const table = readme.split('<!-- email-pages:start -->')[1]?.split('<!-- email-pages:end -->')[0] ?? '';
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => /^\| `([^`]+)`/.exec(line)?.[1] ?? '');
}

/** A rendered link as README writes its page: ids become the path's parameters, a token `?token=…`. */
function asReadmePage(url: string): string {
  const { pathname, searchParams } = new URL(url);
  const path = pathname.replace(`/orgs/${ORG_ID}`, '/orgs/{orgId}').replace(`/webhooks/${ID}`, '/webhooks/{endpointId}');
  return searchParams.has('token') ? `${path}?token=…` : path;
}

describe('README: the pages the frontend provides', () => {
  const config = { APP_URL: 'http://localhost:5173' };
  const linked = (Object.keys(templateData) as TemplateName[]).map((template) => ({
    template,
    page: asReadmePage(renderEmail(config, template, samples[template] as never).url),
  }));

  it('lists the page every email template links to', () => {
    const pages = readmePages();
    for (const { template, page } of linked) expect(pages, `${template} links to ${page}`).toContain(page);
  });

  it('lists no page that no email links to', () => {
    expect(readmePages().sort()).toEqual([...new Set(linked.map(({ page }) => page))].sort());
  });
});
