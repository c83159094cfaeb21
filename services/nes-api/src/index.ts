export { KernelPool, type KernelPoolOptions } from './executors/kernel-pool.ts';
export {
  failureFromExit,
  LocalExecutor,
  type LocalExecutorOptions,
} from './executors/local-executor.ts';
export {
  type Clock,
  type RunPublisher,
  Scheduler,
  type SchedulerOptions,
  systemClock,
} from './scheduler/scheduler.ts';
