import type { Context } from 'hono';
import type { ScopedDatabase } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError, quotaExceeded } from '../../errors.ts';
import { isTextType, type FileType } from '../../lib/file-types.ts';
import { TEXT_FILE_MAX_BYTES } from '../../lib/limits.ts';
import { projectEvent } from '../../middleware/room-changes.ts';
import { selectStorageState, storageRoom, type FileRow } from '../../services/files.ts';
import { toFile } from './files.schemas.ts';

export const fileNotFound = () => new ApiError('NOT_FOUND', 'File not found.');

/** The 403 of a file the org's storage has no room for (as app_check_storage raises it). */
const storageFull = (limit: number, used: number) => quotaExceeded({ resource: 'storageBytes', limit, used });

/**
 * One round trip before any byte moves: the org's tier, overrides and storage, and the project. `sizeFor` gives
 * the size to admit, given the org's largest file (its tier's or its override; text is capped lower) and throws
 * 413 past it; refused past the quota or for a dead project.
 */
export async function admitFile(tenant: ScopedDatabase, orgId: string, projectId: string | undefined, type: FileType, sizeFor: (maxBytes: number) => number) {
  const [[state]] = await tenant.batch((db) => [selectStorageState(db, orgId, projectId)]);
  if (!state) throw new ApiError('NOT_FOUND', 'Not found.');
  if (!state.projectLive) throw new ApiError('NOT_FOUND', 'Project not found.');
  const room = storageRoom(state);
  const maxUploadBytes = isTextType(type) ? Math.min(room.maxUploadBytes, TEXT_FILE_MAX_BYTES) : room.maxUploadBytes;
  const size = sizeFor(maxUploadBytes);
  if (size > maxUploadBytes) throw new ApiError('PAYLOAD_TOO_LARGE', `The file is larger than this plan allows for its type (${maxUploadBytes} bytes).`, { maxBytes: maxUploadBytes });
  if (room.used + size > room.storageBytes) throw storageFull(room.storageBytes, room.used);
  return { ...room, maxUploadBytes, size };
}

/** A project's file stored or deleted: its `events` room hears `file.stored` / `file.deleted` (after the response). */
export function fileEvent<E extends AppEnv>(c: Context<E>, event: 'file.stored' | 'file.deleted', file: FileRow): void {
  if (file.projectId) projectEvent(c, file.orgId, file.projectId, { event, data: toFile(file) });
}

/** The absolute URL of a file's signed content route. */
export const fileUrl = (requestUrl: string, fileId: string, params: URLSearchParams) => new URL(`/api/v1/files/${fileId}/content?${params.toString()}`, requestUrl).toString();
