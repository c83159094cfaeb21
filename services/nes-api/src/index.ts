export { type App, type BuildAppOptions, buildApp, redactUrl } from './app.ts';
export type { AppServices, RunScheduler, SourceResolver } from './app-services.ts';
export { hasScope, type Scope } from './auth/auth.ts';
export {
  ConfigError,
  type ConfigFlags,
  type ExecutorKind,
  loadConfig,
  type NesConfig,
} from './config.ts';
export { ApiError, type ErrorBody, mapError } from './errors.ts';
export { type BusListener, type BusMessage, RunEventBus } from './events-bus.ts';
export { LocalExecutor, type LocalExecutorOptions } from './executors/local-executor.ts';
export { RunSandbox } from './executors/sandbox/run-sandbox.ts';
export type { SandboxStatus } from './executors/sandbox/sandbox-plan.ts';
export { SandboxPool, type SandboxPoolOptions } from './executors/sandbox/sandbox-pool.ts';
export { type ApiMetrics, createMetrics } from './metrics.ts';
export { type ApiRun, toApiRun } from './routes/context.ts';
export {
  type Clock,
  type RunPublisher,
  Scheduler,
  type SchedulerOptions,
  systemClock,
} from './scheduler/scheduler.ts';
export {
  type StartedService,
  type StartServiceOptions,
  startService,
} from './service.ts';
