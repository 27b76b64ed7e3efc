import type { ReviewApi } from "./api.ts";
import type { Auth } from "./auth.ts";
import RunsPage from "./components/RunsPage.vue";
import DatasetsPage from "./pages/DatasetsPage.vue";
import DatasetVersionPage from "./pages/DatasetVersionPage.vue";
import EvalPage from "./pages/EvalPage.vue";
import EvalRunPage from "./pages/EvalRunPage.vue";
import EvalRunsPage from "./pages/EvalRunsPage.vue";
import EvalSessionPage from "./pages/EvalSessionPage.vue";
import EvalSetsPage from "./pages/EvalSetsPage.vue";
import EvalTrendPage from "./pages/EvalTrendPage.vue";
import ExportJobPage from "./pages/ExportJobPage.vue";
import ExportNewPage from "./pages/ExportNewPage.vue";
import ExportsPage from "./pages/ExportsPage.vue";
import ProvenancePage from "./pages/ProvenancePage.vue";
import QuarantinePage from "./pages/QuarantinePage.vue";
import QueuePage from "./pages/QueuePage.vue";
import ReviewersPage from "./pages/ReviewersPage.vue";
import SettingsPage from "./pages/SettingsPage.vue";
import type { ReviewSession } from "./review-session.ts";
import type { RouteDef } from "./router.ts";

/** What every page may be handed: the signed-in API client, the review session, the shell's state. */
export interface Services {
  readonly api: ReviewApi;
  readonly session: ReviewSession;
  readonly auth: Auth | null;
  readonly helpOpen: boolean;
  readonly setHelpOpen: (open: boolean) => void;
}

/** The navigation bar, in order; `section` names a route's entry. */
export const NAV: readonly { readonly section: string; readonly label: string; readonly href: string }[] = [
  { section: "queue", label: "Queue", href: "#/queue" },
  { section: "runs", label: "Runs", href: "#/runs" },
  { section: "exports", label: "Exports", href: "#/exports" },
  { section: "datasets", label: "Datasets", href: "#/datasets" },
  { section: "eval", label: "Eval", href: "#/eval" },
  { section: "provenance", label: "Provenance", href: "#/provenance" },
  { section: "reviewers", label: "Reviewers", href: "#/reviewers" },
  { section: "settings", label: "Settings", href: "#/settings" },
];

// A page registers here: { path: "/thing/:id", component, props: ({ services, params, query }) => ({…}), title, section } (first match wins; `section` is a NAV entry).
export const ROUTES: readonly RouteDef<Services>[] = [
  {
    path: "/",
    component: QueuePage,
    title: "Review queue",
    section: "queue",
    props: ({ services, query }) => queueProps(services, query),
  },
  {
    path: "/queue",
    component: QueuePage,
    title: "Review queue",
    section: "queue",
    props: ({ services, query }) => queueProps(services, query),
  },
  {
    path: "/runs",
    component: RunsPage,
    title: "Runs",
    section: "runs",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/runs/:run_id/quarantine",
    component: QuarantinePage,
    title: "Run quarantine",
    section: "runs",
    props: ({ services, params, query }) => ({ api: services.api, runId: params.run_id, query }),
  },
  {
    path: "/ingest/quarantine",
    component: QuarantinePage,
    title: "Ingest quarantine",
    section: "runs",
    props: ({ services, query }) => ({ api: services.api, query }),
  },
  {
    path: "/exports",
    component: ExportsPage,
    title: "Exports",
    section: "exports",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/exports/new",
    component: ExportNewPage,
    title: "New export",
    section: "exports",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/exports/:id",
    component: ExportJobPage,
    title: "Export",
    section: "exports",
    props: ({ services, params }) => ({ api: services.api, id: params.id }),
  },
  {
    path: "/datasets",
    component: DatasetsPage,
    title: "Datasets",
    section: "datasets",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/datasets/:name/versions/:version",
    component: DatasetVersionPage,
    title: "Dataset version",
    section: "datasets",
    props: ({ services, params }) => ({ api: services.api, name: params.name, version: params.version }),
  },
  {
    path: "/evalsets",
    component: EvalSetsPage,
    title: "Eval sets",
    section: "datasets",
    props: ({ services }) => ({ api: services.api, auth: services.auth }),
  },
  {
    path: "/eval",
    component: EvalPage,
    title: "Chat sessions",
    section: "eval",
    props: ({ services, query }) => ({ api: services.api, query }),
  },
  {
    path: "/eval/sessions/:id",
    component: EvalSessionPage,
    title: "Chat session",
    section: "eval",
    props: ({ services, params }) => ({ api: services.api, id: params.id }),
  },
  {
    path: "/eval/runs",
    component: EvalRunsPage,
    title: "Judge runs",
    section: "eval",
    props: ({ services, query }) => ({ api: services.api, query }),
  },
  {
    path: "/eval/runs/:id",
    component: EvalRunPage,
    title: "Judge run",
    section: "eval",
    props: ({ services, params }) => ({ api: services.api, id: params.id }),
  },
  {
    path: "/eval/trend",
    component: EvalTrendPage,
    title: "Eval trend",
    section: "eval",
    props: ({ services, query }) => ({ api: services.api, query }),
  },
  {
    path: "/provenance",
    component: ProvenancePage,
    title: "Provenance",
    section: "provenance",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/reviewers",
    component: ReviewersPage,
    title: "Reviewers",
    section: "reviewers",
    props: ({ services }) => ({ api: services.api }),
  },
  {
    path: "/settings",
    component: SettingsPage,
    title: "Settings",
    section: "settings",
    props: ({ services }) => ({ api: services.api }),
  },
];

function queueProps(services: Services, query: Readonly<Record<string, string>>) {
  return {
    session: services.session,
    api: services.api,
    query,
    helpOpen: services.helpOpen,
    "onUpdate:helpOpen": services.setHelpOpen,
  };
}
