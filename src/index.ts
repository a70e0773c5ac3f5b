import { createQueueHandler } from '../workers/queue.ts';
import { createScheduledHandler } from '../workers/scheduled.ts';
import { createApp } from './app.ts';

export { OrgAuthority } from '../durable-objects/org-authority/org-authority.ts';
export { RateLimiter } from '../durable-objects/rate-limiter/rate-limiter.ts';
export { Room } from '../durable-objects/room/room.ts';
export { UserAuthority } from '../durable-objects/user-authority/user-authority.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  queue: createQueueHandler(),
  scheduled: createScheduledHandler(),
} satisfies ExportedHandler<Env>;
