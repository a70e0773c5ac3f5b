import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { roomDirectoryFor, roomFor, roomName } from '../../durable-objects/room/index.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, setProjectRole, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { closedWithin, joinRoom } from '../helpers/room-client.ts';
import { env } from '../helpers/worker.ts';

type Tokens = { accessToken: string; refreshToken: string };

async function logIn(user: TestUser): Promise<Tokens> {
  const response = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
  return (await json<{ data: { tokens: Tokens } }>(response)).data.tokens;
}

const refresh = (refreshToken: string) => api('/api/v1/auth/refresh', { body: { refreshToken } });

describe('project roles decide send rights in project rooms', () => {
  it('a project role replaces the org role of a member or viewer; owners keep theirs; keys go by scope', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const chat = `/api/v1/orgs/${org.id}/projects/${project.id}/rooms/chat`;
    const [memberAsViewer, viewerAsEditor, plainMember, plainViewer] = [
      await createMember(org, 'member'),
      await createMember(org, 'viewer'),
      await createMember(org, 'member'),
      await createMember(org, 'viewer'),
    ];
    await setProjectRole(project, memberAsViewer, 'viewer');
    await setProjectRole(project, viewerAsEditor, 'editor');
    await setProjectRole(project, owner, 'viewer');
    const canSend = async (auth: Parameters<typeof joinRoom>[1], byHeaders = false) => {
      const socket = await joinRoom(chat, auth, { byHeaders });
      socket.ws.close(1000);
      return socket.hello.canSend;
    };
    expect(await canSend(memberAsViewer)).toBe(false);
    expect(await canSend(viewerAsEditor)).toBe(true);
    expect(await canSend(plainMember)).toBe(true);
    expect(await canSend(plainViewer)).toBe(false);
    expect(await canSend(owner)).toBe(true);
    const writer = await createApiKey(org, { scopes: ['projects:read', 'projects:write'] });
    const reader = await createApiKey(org, { scopes: ['projects:read'] });
    expect(await canSend({ apiKey: writer.key }, true)).toBe(true);
    expect(await canSend({ apiKey: reader.key }, true)).toBe(false);
    // The org room is not the project's: there the org role alone decides.
    const orgRoom = await joinRoom(`/api/v1/orgs/${org.id}/rooms/general`, memberAsViewer);
    expect(orgRoom.hello.canSend).toBe(true);
    const readOnly = await joinRoom(chat, memberAsViewer);
    readOnly.send({ v: 1, type: 'broadcast', data: 'no' });
    expect(await readOnly.next('error')).toMatchObject({ code: 'READ_ONLY' });
    readOnly.ws.close(1000);
    orgRoom.ws.close(1000);
  });

  it("setting or removing a project role closes that user's sockets in the project's rooms (4003), not elsewhere", async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const other = await createProject(org);
    const member = await createMember(org, 'member');
    const rooms = (id: string) => `/api/v1/orgs/${org.id}/projects/${id}/rooms`;
    const [inProject, inEvents, inOther, inOrg, ownerSocket] = [
      await joinRoom(`${rooms(project.id)}/chat`, member),
      await joinRoom(`${rooms(project.id)}/events`, member),
      await joinRoom(`${rooms(other.id)}/chat`, member),
      await joinRoom(`/api/v1/orgs/${org.id}/rooms/general`, member),
      await joinRoom(`${rooms(project.id)}/chat`, owner),
    ];
    const put = await api(`/api/v1/orgs/${org.id}/projects/${project.id}/members/${member.id}`, { method: 'PUT', auth: owner, body: { role: 'viewer' } });
    expect(put.status).toBe(200);
    expect(await closedWithin(inProject)).toEqual({ code: 4003, reason: 'Access changed' });
    expect(await closedWithin(inEvents)).toEqual({ code: 4003, reason: 'Access changed' });
    const again = await joinRoom(`${rooms(project.id)}/chat`, member);
    expect(again.hello.canSend).toBe(false);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}/members/${member.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await closedWithin(again)).toMatchObject({ code: 4003 });
    expect((await joinRoom(`${rooms(project.id)}/chat`, member)).hello.canSend).toBe(true);
    for (const open of [inOther, inOrg, ownerSocket]) {
      open.send({ v: 1, type: 'broadcast', data: 'still open' });
      expect(await open.next('broadcast')).toMatchObject({ data: 'still open' });
      open.ws.close(1000);
    }
  });
});

describe('disconnects', () => {
  it('a reused refresh token revokes its session and closes its sockets (4001); other sessions stay', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const user = await createMember(org, 'member');
    const base = `/api/v1/orgs/${org.id}/rooms/general`;
    const stolen = await logIn(user);
    const victim = await joinRoom(base, { token: stolen.accessToken });
    const bystander = await joinRoom(base, user);
    const second = await json<{ data: { tokens: Tokens } }>(await refresh(stolen.refreshToken));
    expect((await refresh(second.data.tokens.refreshToken)).status).toBe(200);
    const reused = await refresh(stolen.refreshToken);
    expect(reused.status).toBe(401);
    expect(await json(reused)).toMatchObject({ error: { details: { reason: 'refresh_token_reused' } } });
    expect(await closedWithin(victim)).toEqual({ code: 4001, reason: 'Credentials revoked' });
    bystander.send({ v: 1, type: 'broadcast', data: 'other session' });
    expect(await bystander.next('broadcast')).toMatchObject({ data: 'other session' });
    bystander.ws.close(1000);
  });

  it("deleting the org closes every socket in every room of the org (4004) and empties its directory", async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const member = await createMember(org, 'member');
    const sockets = [
      await joinRoom(`/api/v1/orgs/${org.id}/rooms/general`, owner),
      await joinRoom(`/api/v1/orgs/${org.id}/rooms/general`, member),
      await joinRoom(`/api/v1/orgs/${org.id}/projects/${project.id}/rooms/chat`, member),
      await joinRoom(`/api/v1/orgs/${org.id}/members/${member.id}/room`, member),
    ];
    const bystanderOrg = await createOrg(owner);
    const bystander = await joinRoom(`/api/v1/orgs/${bystanderOrg.id}/rooms/general`, owner);
    sockets[0]?.send({ v: 1, type: 'broadcast', data: 'forgotten with the org' });
    await sockets[1]?.next('broadcast');
    const general = roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId: 'general' }));
    const history = () => runInDurableObject(general, (_, state) => state.storage.sql.exec('SELECT count(*) AS n FROM history').one().n);
    expect(await history()).toBe(1);
    expect((await api(`/api/v1/orgs/${org.id.toUpperCase()}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    for (const socket of sockets) expect(await closedWithin(socket)).toEqual({ code: 4004, reason: 'Organization deleted' });
    // Everyone goes at once: no socket is told of the others leaving first.
    expect(sockets.flatMap((socket) => socket.frames).filter((frame) => frame.type === 'presence' && frame.event === 'leave')).toEqual([]);
    const listed = await runInDurableObject(roomDirectoryFor(env, org.id), (_, state) => state.storage.sql.exec('SELECT name FROM rooms').toArray());
    expect(listed).toEqual([]);
    expect(await history()).toBe(0);
    expect((await api(`/api/v1/orgs/${org.id}/rooms/general/tickets`, { method: 'POST', auth: owner })).status).toBe(404);
    bystander.send({ v: 1, type: 'broadcast', data: 'unaffected' });
    expect(await bystander.next('broadcast')).toMatchObject({ data: 'unaffected' });
    bystander.ws.close(1000);
  });
});
