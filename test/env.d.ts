declare namespace Cloudflare {
  interface Env {
    /** Base URL of test/helpers/fake-services.ts; only bound in the test pool. */
    FAKE_SERVICES_URL: string;
  }
}
