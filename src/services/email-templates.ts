import { z } from 'zod';
import type { Config } from '../config.ts';
import { ORG_ROLES } from '../lib/permissions.ts';

/** What each template needs. The `email.send` job validates its payload against these. */
export const templateData = {
  'verify-email': z.object({ token: z.string().min(1), name: z.string() }),
  'reset-password': z.object({ token: z.string().min(1), name: z.string() }),
  /** To the owner of an address someone tried to sign up with again (uniform signup); nothing to carry. */
  'signup-attempt': z.object({}),
  invitation: z.object({
    token: z.string().min(1),
    /** The accept link; used only when it points at APP_URL's origin, otherwise rebuilt from the token. */
    url: z.url().optional(),
    orgName: z.string(),
    role: z.enum(ORG_ROLES),
    inviterName: z.string(),
  }),
  /** To an org's owners and admins when a webhook endpoint failed for 5 days and was disabled. */
  'webhook-disabled': z.object({ orgName: z.string(), orgId: z.uuid(), endpointId: z.uuid(), description: z.string() }),
  /** An in-app notification the recipient also wants by email (services/notification-delivery.ts). */
  notification: z.object({ notificationId: z.uuid(), title: z.string().min(1).max(200), body: z.string().max(2000) }),
} as const;

export type TemplateName = keyof typeof templateData;
export type TemplateData<T extends TemplateName> = z.infer<(typeof templateData)[T]>;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  /** The link the email asks its reader to open (a frontend route on APP_URL). */
  url: string;
}

type LinkConfig = Pick<Config, 'APP_URL'>;

/** A link into the app carrying a token: always on APP_URL, never on a host taken from input. */
export function appLink(config: LinkConfig, path: string, token: string): string {
  const url = new URL(path, config.APP_URL);
  url.searchParams.set('token', token);
  return url.toString();
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** A plain, single-column HTML body: one paragraph per line of `lines`, then a button to `link`. */
function layout(lines: string[], action: string, link: string): string {
  const paragraphs = lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n');
  return [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif;line-height:1.5">',
    paragraphs,
    `<p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p>`,
    `<p style="color:#666;font-size:12px">If the button does not work, paste this link into your browser: ${escapeHtml(link)}</p>`,
    '</body></html>',
  ].join('\n');
}

const text = (lines: string[], link: string) => [...lines, '', link, ''].join('\n');

const greeting = (name: string) => (name.trim() ? `Hi ${name.trim()},` : 'Hi,');

function render(lines: string[], action: string, link: string, subject: string): RenderedEmail {
  // Names and org names reach the subject: a line break there could smuggle in extra headers downstream.
  return { subject: subject.replace(/[\r\n]+/g, ' '), text: text(lines, link), html: layout(lines, action, link), url: link };
}

function invitationLink(config: LinkConfig, data: TemplateData<'invitation'>): string {
  if (data.url && new URL(data.url).origin === new URL(config.APP_URL).origin) return data.url;
  return appLink(config, '/invitations/accept', data.token);
}

const renderers: { [T in TemplateName]: (config: LinkConfig, data: TemplateData<T>) => RenderedEmail } = {
  'verify-email': (config, data) =>
    render(
      [greeting(data.name), 'Please confirm your email address. The link is valid for 24 hours.'],
      'Confirm email address',
      appLink(config, '/verify-email', data.token),
      'Confirm your email address',
    ),
  'reset-password': (config, data) =>
    render(
      [
        greeting(data.name),
        'Someone asked to reset the password of your account. The link is valid for one hour and works once.',
        'If it was not you, ignore this email: your password stays as it is.',
      ],
      'Choose a new password',
      appLink(config, '/reset-password', data.token),
      'Reset your password',
    ),
  'signup-attempt': (config) =>
    render(
      [
        'Hi,',
        'Someone just tried to create an account with this email address, but you already have one.',
        'If it was you, sign in instead, or reset your password if you have forgotten it. If it was not you, ignore this email: nothing has changed.',
      ],
      'Reset your password',
      new URL('/forgot-password', config.APP_URL).toString(),
      'Someone tried to sign up with your email address',
    ),
  invitation: (config, data) =>
    render(
      [`${data.inviterName} invited you to join ${data.orgName} as ${data.role}.`, 'Accept the invitation with the link below.'],
      'Accept invitation',
      invitationLink(config, data),
      `${data.inviterName} invited you to ${data.orgName}`,
    ),
  'webhook-disabled': (config, data) =>
    render(
      [
        'Hi,',
        `A webhook endpoint of ${data.orgName} (${data.description || data.endpointId}) has failed every delivery for 5 days, so we disabled it.`,
        'Fix the receiver, enable the endpoint again, and replay the events it missed (POST …/webhooks/{id}/replay).',
      ],
      'Open the endpoint',
      new URL(`/orgs/${data.orgId}/webhooks/${data.endpointId}`, config.APP_URL).toString(),
      `A webhook endpoint of ${data.orgName} was disabled`,
    ),
  notification: (config, data) =>
    render(
      [data.body, 'You can choose which notifications reach you by email in your notification settings.'],
      'Open your notifications',
      new URL('/notifications', config.APP_URL).toString(),
      data.title,
    ),
};

/** Renders `template` with `data` (all interpolated values HTML-escaped in `html`). */
export function renderEmail<T extends TemplateName>(config: LinkConfig, template: T, data: TemplateData<T>): RenderedEmail {
  const renderer: (config: LinkConfig, data: TemplateData<T>) => RenderedEmail = renderers[template];
  return renderer(config, data);
}
