import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

/** The emulators (DynamoDB Local, S3 + SQS) for the tests that talk to them. */
const EMULATORS = "tests/support/global-setup.ts";
/** The web UI built once: the browser test serves it and the stack's synthesis copies it. */
const WEB_BUILD = "tests/support/web-build-setup.ts";

// Tests are grouped by capability (tests/<slice>/{unit,integration}) and run as projects by kind:
// `npm run test:unit`, `test:integration`, `test:e2e` run one kind; `npm test` runs them all.
export default defineConfig({
  // The web UI's component tests (tests/web) import its single-file components.
  plugins: [vue()],
  test: {
    setupFiles: ["tests/support/matchers.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: {
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_REGION: "us-east-1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["tests/*/unit/**/*.test.ts", "tests/web/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["tests/*/integration/**/*.test.ts"],
          globalSetup: [EMULATORS],
        },
      },
      {
        extends: true,
        test: { name: "infra", include: ["tests/infra/**/*.test.ts"], globalSetup: [WEB_BUILD] },
      },
      {
        extends: true,
        test: { name: "e2e", include: ["tests/e2e/**/*.test.ts"], globalSetup: [EMULATORS, WEB_BUILD] },
      },
    ],
  },
});
