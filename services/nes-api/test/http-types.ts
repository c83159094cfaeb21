/**
 * The HTTP types have one declaration, @nes/client's; the server's TypeBox schemas validate and
 * document the same shapes. This file fails the type-check (part of `npm test`) as soon as a
 * schema and its type differ: a field added, dropped, renamed, made optional or nullable on one
 * side only. Nothing here runs.
 */
import type * as Http from '@nes/client';
import type { Static } from 'typebox';
import type { ListingSchema } from '../src/routes/browse.ts';
import type { HistorySchema } from '../src/routes/history.ts';
import type { InspectResultSchema } from '../src/routes/inspect.ts';
import type { NotebookRootsSchema } from '../src/routes/notebooks.ts';
import type {
  CreatedSubscriptionSchema,
  CreateBody as CreateSubscriptionBody,
  DeliverySchema,
  SubscriptionSchema,
} from '../src/routes/notifications.ts';
import type { RunResultsSchema } from '../src/routes/run-results.ts';
import type { CreatedTokenSchema, CreateTokenBody, TokenSchema } from '../src/routes/tokens.ts';
import type {
  RerunBodySchema,
  RunListSchema,
  RunSchema,
  SubmitBodySchema,
} from '../src/schemas/run.ts';
import type {
  BackfillBodySchema,
  BackfillSchema,
  ScheduleBodySchema,
  ScheduleDateSchema,
  ScheduleDatesSchema,
  SchedulePatchSchema,
  ScheduleSchema,
} from '../src/schemas/schedule.ts';
import type { SweepBodySchema, SweepSchema } from '../src/schemas/sweep.ts';

/** `true` only when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** What the server answers is what the client reads (a looser client type). */
type Reads<Served, Read> = [Served] extends [Read] ? true : false;

type Check<T extends true> = T;

export type HttpTypesMatchTheSchemas = [
  Check<Same<Static<typeof RunSchema>, Http.Run>>,
  Check<Same<Static<typeof RunListSchema>, Http.RunPage>>,
  Check<Same<Static<typeof SubmitBodySchema>, Http.SubmitRunRequest>>,
  Check<Same<Static<typeof RerunBodySchema>, Http.RerunRequest>>,
  Check<Same<Static<typeof RunResultsSchema>, Http.RunResults>>,
  Check<Same<Static<typeof InspectResultSchema>, Http.InspectResult>>,
  Check<Same<Static<typeof ListingSchema>, Http.BrowseListing>>,
  Check<Same<Static<typeof NotebookRootsSchema>, Http.NotebookRoots>>,
  Check<Same<Static<typeof HistorySchema>, Http.NotebookHistory>>,
  Check<Same<Static<typeof ScheduleSchema>, Http.Schedule>>,
  Check<Same<Static<typeof ScheduleBodySchema>, Http.ScheduleRequest>>,
  Check<Same<Static<typeof SchedulePatchSchema>, Partial<Http.ScheduleRequest>>>,
  Check<Same<Static<typeof ScheduleDateSchema>, Http.ScheduleDate>>,
  Check<Same<Static<typeof ScheduleDatesSchema>, Http.ScheduleDates>>,
  Check<Same<Static<typeof BackfillBodySchema>, Http.BackfillRequest>>,
  Check<Same<Static<typeof BackfillSchema>, Http.Backfill>>,
  Check<Same<Static<typeof SweepBodySchema>, Http.SubmitSweepRequest>>,
  // Counts by status: the schema allows any key, the client names the statuses it knows.
  Check<Reads<Static<typeof SweepSchema>, Http.Sweep>>,
  Check<Same<Static<typeof TokenSchema>, Http.ApiToken>>,
  Check<Same<Static<typeof CreatedTokenSchema>, Http.CreatedToken>>,
  Check<Same<Static<typeof CreateTokenBody>, Http.CreateTokenRequest>>,
  Check<Same<Static<typeof SubscriptionSchema>, Http.Subscription>>,
  Check<Same<Static<typeof CreatedSubscriptionSchema>, Http.CreatedSubscription>>,
  Check<Same<Static<typeof CreateSubscriptionBody>, Http.CreateSubscriptionRequest>>,
  Check<Same<Static<typeof DeliverySchema>, Http.Delivery>>,
];
