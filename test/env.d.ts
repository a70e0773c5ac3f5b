declare namespace Cloudflare {
  interface Env {
    /** Base URL of test/helpers/fake-services.ts; only bound in the test pool. */
    FAKE_SERVICES_URL: string;
    /** The schema owner's connection string, for fixtures and tamper tests; only bound in the test pool. */
    OWNER_DATABASE_URL: string;
  }
}
