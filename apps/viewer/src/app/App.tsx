/**
 * The viewer's shell: header with navigation, and the pages by URL. Pages other than the runs
 * list load on first visit (they bring the notebook renderer), so the first paint stays small.
 */
import {
  Component,
  lazy,
  type ErrorInfo as ReactErrorInfo,
  type ReactNode,
  Suspense,
  useState,
} from 'react';
import { Link, Route, Router, type RouterProps, Switch, useLocation, useRoute } from 'wouter';
import { type Api, ApiProvider, useApi, useLoad } from './api.tsx';
import { ErrorView, Loading } from './components.tsx';
import { RunsPage } from './pages/RunsPage.tsx';

const RunPage = lazy(() => import('./pages/RunPage.tsx'));
const BrowsePage = lazy(() => import('./pages/BrowsePage.tsx'));
const NotebookPage = lazy(() => import('./pages/NotebookPage.tsx'));
const ComparePage = lazy(() => import('./pages/ComparePage.tsx'));
const TokensPage = lazy(() => import('./pages/TokensPage.tsx'));
const NotificationsPage = lazy(() => import('./pages/NotificationsPage.tsx'));
const HistoryPage = lazy(() => import('./pages/HistoryPage.tsx'));
const SchedulesPage = lazy(() => import('./pages/SchedulesPage.tsx'));
const SchedulePage = lazy(() =>
  import('./pages/SchedulesPage.tsx').then((m) => ({ default: m.SchedulePage })),
);

export function App(props: { api: Api; router?: Omit<RouterProps, 'children'> }) {
  return (
    <ApiProvider api={props.api}>
      <Router {...props.router}>
        <Shell />
      </Router>
    </ApiProvider>
  );
}

function Shell() {
  // A page that failed to render is forgotten when the reader goes elsewhere.
  const [location] = useLocation();
  return (
    <>
      <Header />
      <main className="main" id="main">
        <PageBoundary key={location}>
          <Suspense fallback={<Loading what="page" />}>
            <Switch>
              <Route path="/" component={RunsPage} />
              <Route path="/runs/:id">{(params) => <RunPage id={params.id} />}</Route>
              <Route path="/browse">{() => <BrowsePage path="" />}</Route>
              <Route path="/browse/*">{(params) => <BrowsePage path={params['*'] ?? ''} />}</Route>
              <Route path="/notebook" component={NotebookPage} />
              <Route path="/compare" component={ComparePage} />
              <Route path="/history" component={HistoryPage} />
              <Route path="/schedules" component={SchedulesPage} />
              <Route path="/schedules/:id">{(params) => <SchedulePage id={params.id} />}</Route>
              <Route path="/tokens" component={TokensPage} />
              <Route path="/notifications" component={NotificationsPage} />
              <Route>
                <NotFound />
              </Route>
            </Switch>
          </Suspense>
        </PageBoundary>
      </main>
    </>
  );
}

function Header() {
  const { client } = useApi();
  // Whether this session may manage tokens (the API says; no answer hides the link).
  const me = useLoad('whoami', (signal) => client.whoami({ signal }));
  const admin = me.data?.scopes.includes('admin') ?? false;
  return (
    <header className="app-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link href="/" className="brand" aria-label="NES home">
        <span className="brand-mark" aria-hidden="true">
          N
        </span>
        NES
      </Link>
      {/*
        The places of the viewer, most used first; schedules sit between Runs and Output store.
        Per-notebook history is reached from a run's page (its notebook's runs).
      */}
      <nav aria-label="Main" className="nav">
        <NavLink href="/" exact>
          Runs
        </NavLink>
        <NavLink href="/schedules">Schedules</NavLink>
        <NavLink href="/browse">Output store</NavLink>
        <NavLink href="/compare">Compare</NavLink>
        {admin ? <NavLink href="/notifications">Notifications</NavLink> : null}
        {admin ? <NavLink href="/tokens">Tokens</NavLink> : null}
      </nav>
      <span className="header-spacer" />
      <a
        className="nav-link subtle"
        href="/docs"
        target="_blank"
        rel="noreferrer"
        title="The HTTP API's reference (OpenAPI; the raw document is /openapi.json)"
      >
        API docs
      </a>
      <SignOut />
    </header>
  );
}

/**
 * The browser forgets its session cookie (`POST /sign-out`); the runs page then asks for the
 * token URL again. A full page load, so nothing read while signed in stays on screen.
 */
function SignOut() {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const signOut = async () => {
    setBusy(true);
    try {
      await api.fetch('/sign-out', { method: 'POST' });
    } catch {
      // Unreachable service: the reload below shows whether the session is still there.
    }
    api.navigate('/');
  };
  return (
    <button type="button" className="nav-link subtle" onClick={signOut} disabled={busy}>
      Sign out
    </button>
  );
}

function NavLink(props: { href: string; exact?: boolean; children: ReactNode }) {
  const [match] = useRoute(props.exact ? props.href : `${props.href}/*?`);
  const [runMatch] = useRoute('/runs/*');
  const active = match || (props.href === '/' && runMatch);
  return (
    <Link
      href={props.href}
      className={`nav-link${active ? ' active' : ''}`}
      aria-current={active ? 'page' : undefined}
    >
      {props.children}
    </Link>
  );
}

function NotFound() {
  return (
    <div className="error-box" role="alert">
      <h2>Page not found</h2>
      <p>
        There is no page at this address. <Link href="/">Back to the runs</Link>.
      </p>
    </div>
  );
}

/** A rendering bug in one page shows as an error there, not as a blank window. */
class PageBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override componentDidCatch(error: unknown, info: ReactErrorInfo) {
    console.error('page failed to render', error, info.componentStack);
  }
  override render() {
    if (this.state.error) {
      return (
        <ErrorView
          error={this.state.error}
          what="this page could not be shown"
          retry={() => this.setState({ error: null })}
        />
      );
    }
    return this.props.children;
  }
}
