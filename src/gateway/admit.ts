/**
 * Step 2: admission. Rate limits (global, per client, per end user: requests and tokens over
 * several windows) and the client's budget. A token limit reserves an estimate (the prompt's
 * tokens, plus maxTokens or a default) and settles with the real usage. A budget is a hard cap:
 * it reserves the prompt's estimated cost and an answer ceiling (what the client asked, else the
 * budget's `maxTokens`, lowered to what the room left after other reservations pays for), and
 * that ceiling is the maxTokens sent upstream; it settles with the real cost. So concurrent
 * requests, on any number of replicas, overspend by the prompt estimate's error at most.
 * Because every reservation is settled, the prompt is estimated from its characters
 * (`estimatePromptTokens`, leaning high), not run through the tokenizer on every request.
 * Admission and settlement are flows over maybe-promises (`state/maybe.ts`): with limits and
 * spend in memory they run through at once, with no promise made; over Redis they wait.
 */
import type { ClientInfo } from '../auth.js';
import type { Config, RateLimit } from '../config/schema.js';
import type { Limiter, Reservation } from '../state/limits.js';
import { all, run, wait, type Flow, type MaybePromise } from '../state/maybe.js';
import {
  periodOf,
  type BudgetPeriod,
  type SpendCounters,
  type SpendPeriod,
} from '../state/spend.js';
import { estimatePromptTokens } from '../usage/tokens.js';
import { badInput, ErrorCodes, GatewayError } from './errors.js';
import type { Caller, ChatRequest, Target } from './types.js';

export interface Admission {
  /**
   * The answer's ceiling the budget pays for, to send upstream as maxTokens; undefined when no
   * budget sets one (the request's own maxTokens, if any, goes as it is).
   */
  readonly maxTokens?: number | undefined;
  /**
   * Settles every reservation with what the request really used (zeros when it failed). Never
   * fails: the stores report their own failures.
   */
  settle(actual: { tokens: number; costUsd: number }): MaybePromise<void>;
}

export interface Admitter {
  /** The request's admission, or a GatewayError (RATE_LIMITED, BUDGET_EXCEEDED) thrown. */
  admit(request: ChatRequest, caller: Caller, targets: readonly Target[]): MaybePromise<Admission>;
  /** Spent in the client's current budget period. */
  spent(clientId: string): MaybePromise<number>;
}

export interface BudgetAlert {
  clientId: string;
  threshold: number;
  budgetUsd: number;
  spentUsd: number;
  period: string;
}

export interface AdmitterDeps {
  config: Config;
  clients: (id: string) => ClientInfo | undefined;
  /**
   * The clients known now, whose limiters are made at once: a reload then keeps counting in the
   * windows of limits it left as they were.
   */
  known?: () => readonly ClientInfo[];
  createLimiter: (prefix: string, limits: readonly RateLimit[]) => Limiter;
  spend: SpendCounters;
  /** USD per token (input, output) of a target, for the cost estimate; undefined when unknown. */
  price(target: Target): { input: number; output: number } | undefined;
  onBudgetAlert(alert: BudgetAlert): void;
  /**
   * What a token's user has spent with its client in the current period, from the usage store:
   * without Redis, a user's budget counter starts from it (a restart does not forget it).
   */
  userSpent?(clientId: string, user: string, period: BudgetPeriod): Promise<number>;
}

const noop: Admission = { settle: () => {} };

interface ClientLimits {
  limiter: Limiter;
  /** Its tightest token limit. */
  tokens: RateLimit | undefined;
  countsTokens: boolean;
}

type Budget = NonNullable<NonNullable<ReturnType<AdmitterDeps['clients']>>['budget']>;

/** Per spend-counter store (one per process): the client periods primed (or being primed). */
const priming = new WeakMap<SpendCounters, Map<string, MaybePromise<void>>>();

/** Compared in integer nano-dollars, as the counters count: 80% of $0.05 is reached at $0.04. */
const reached = (spentUsd: number, threshold: number, budgetUsd: number): boolean =>
  Math.round(spentUsd * 1e9) >= Math.round(threshold * budgetUsd * 1e9);

const alertKey = (clientId: string, period: SpendPeriod, threshold: number): string =>
  `alert:${clientId}:${period.key}:${threshold}`;

/** A mark outlives its period by a day. */
const ttl = (period: SpendPeriod): number => period.endsAt - Date.now() + 86_400_000;

/** An answer ceiling below this is no useful answer: a budget that pays for less refuses. */
const minAnswerTokens = 16;

const periodAdjectives = { day: 'daily', week: 'weekly', month: 'monthly' } as const;

/** The smallest token limit of a set: a request whose estimate passes it can never pass. */
function tightestTokens(limits: readonly RateLimit[]): RateLimit | undefined {
  let tightest: RateLimit | undefined;
  for (const limit of limits) {
    if (limit.tokens !== undefined && !(tightest && tightest.tokens! <= limit.tokens))
      tightest = limit;
  }
  return tightest;
}

/** The most a target of the route may charge per token: a fallback must be paid for too. */
function highestPrice(
  targets: readonly Target[],
  price: AdmitterDeps['price'],
): { input: number; output: number } | undefined {
  let highest: { input: number; output: number } | undefined;
  for (const target of targets) {
    const p = price(target);
    if (!p) continue;
    highest = highest
      ? { input: Math.max(highest.input, p.input), output: Math.max(highest.output, p.output) }
      : p;
  }
  return highest;
}

/** A token user's own budget: its spend counter's id, its period (the client's) and amount. */
interface UserBudget {
  id: string;
  kind: BudgetPeriod;
  period: SpendPeriod;
  usd: number;
}

/** The spend counter of a token's user: apart from the client's, and from any client id. */
export const userSpendId = (clientId: string, user: string): string => `user\n${clientId}\n${user}`;

function userBudgetOf(caller: Caller, budget: Budget | undefined): UserBudget | undefined {
  const usd = caller.grant?.budgetUsd;
  if (usd === undefined || caller.user === undefined) return undefined;
  const kind = budget?.period ?? 'month';
  return { id: userSpendId(caller.clientId, caller.user), kind, period: periodOf(kind), usd };
}

export function createAdmitter(deps: AdmitterDeps): Admitter {
  const { config, spend } = deps;
  const defaultMaxTokens = config.rateLimits.defaultMaxTokens;
  const global =
    config.rateLimits.global.length > 0
      ? deps.createLimiter('conduit:rl:global', config.rateLimits.global)
      : undefined;
  const perUser =
    config.rateLimits.perUser.length > 0
      ? deps.createLimiter('conduit:rl:user', config.rateLimits.perUser)
      : undefined;
  const sharedCountsTokens = [config.rateLimits.global, config.rateLimits.perUser].some((limits) =>
    limits.some((l) => l.tokens !== undefined),
  );
  const globalTokens = tightestTokens(config.rateLimits.global);
  const perUserTokens = tightestTokens(config.rateLimits.perUser);

  /**
   * A client's own limits, read through `deps.clients` (config and runtime clients alike) and
   * made once per ClientInfo: a runtime client's update is a new ClientInfo, so new limits apply
   * at its next request (a limiter with the same limits keeps counting in the same windows).
   */
  const perClient = new WeakMap<ClientInfo, ClientLimits>();
  function limitsOf(client: ClientInfo): ClientLimits {
    let own = perClient.get(client);
    if (!own) {
      own = {
        limiter: deps.createLimiter(`conduit:rl:client:${client.id}`, client.rateLimits),
        tokens: tightestTokens(client.rateLimits),
        countsTokens: client.rateLimits.some((l) => l.tokens !== undefined),
      };
      perClient.set(client, own);
    }
    return own;
  }
  for (const client of deps.known?.() ?? []) if (client.rateLimits.length > 0) limitsOf(client);

  /**
   * In-memory marks die with the process, but the spend is seeded from the usage store at start:
   * before a client's first reservation in a period, the thresholds its seeded spend had already
   * reached are marked, so a restart does not alert them again. (Redis keeps its marks.) Once
   * per client and period for the process, shared across reloads.
   */
  function primed(clientId: string, period: SpendPeriod, budget: Budget): MaybePromise<void> {
    let done = priming.get(spend);
    if (!done) priming.set(spend, (done = new Map()));
    const key = `${clientId}:${period.key}`;
    if (!done.has(key)) done.set(key, run(prime(clientId, period, budget)));
    return done.get(key);
  }

  function* prime(clientId: string, period: SpendPeriod, budget: Budget): Flow<void> {
    const spentUsd = yield* wait(spend.spent(clientId, period));
    for (const threshold of budget.alertAt) {
      if (reached(spentUsd, threshold, budget.usd))
        yield spend.markOnce(alertKey(clientId, period, threshold), ttl(period));
    }
  }

  /**
   * A token user's counter in memory starts from what the usage store holds for the user this
   * period, before its first reservation (once per user and period for the process). A failed
   * read leaves the counter as it is and is tried again at the user's next request.
   */
  function userPrimed(clientId: string, user: string, budget: UserBudget): MaybePromise<void> {
    const userSpent = deps.userSpent;
    if (!userSpent) return;
    let done = priming.get(spend);
    if (!done) priming.set(spend, (done = new Map()));
    const key = `${budget.id}\n${budget.period.key}`;
    let seeding = done.get(key);
    if (seeding === undefined) {
      const marks = done;
      seeding = userSpent(clientId, user, budget.kind).then(
        async (usd) => void (await spend.seed(budget.id, budget.period, usd)),
        () => void marks.delete(key),
      );
      done.set(key, seeding);
    }
    return seeding;
  }

  /** The tightest token limit that applies to the request, if any. */
  function tokenLimitOf(
    request: ChatRequest,
    own: ClientLimits | undefined,
  ): RateLimit | undefined {
    let tightest = own?.tokens;
    for (const limit of [request.user ? perUserTokens : undefined, globalTokens]) {
      if (limit && !(tightest && tightest.tokens! <= limit.tokens!)) tightest = limit;
    }
    return tightest;
  }

  /**
   * A request no token window can ever hold is the caller's mistake, not a wait: a 400 naming
   * what to lower, never a 429 that no retry gets past.
   */
  function refuseImpossible(request: ChatRequest, promptTokens: number, limit: RateLimit): void {
    const most = `the limit of ${limit.tokens} tokens per ${limit.perSeconds} s ever admits`;
    if (request.maxTokens !== undefined && promptTokens + request.maxTokens > limit.tokens!) {
      throw badInput(
        'maxTokens',
        `maxTokens ${request.maxTokens} with a prompt of about ${promptTokens} tokens is more than ${most}`,
      );
    }
    if (promptTokens >= limit.tokens!) {
      throw badInput('messages', `the prompt (about ${promptTokens} tokens) is more than ${most}`);
    }
  }

  /** Into every limiter that applies, or into none. */
  function* limit(
    request: ChatRequest,
    caller: Caller,
    own: ClientLimits | undefined,
    countsTokens: boolean,
    promptTokens: number,
    answerTokens: number,
  ): Flow<[Limiter, Reservation][]> {
    const checks: [Limiter, string][] = [];
    if (own) checks.push([own.limiter, caller.clientId]);
    if (perUser && request.user) checks.push([perUser, `${caller.clientId}:${request.user}`]);
    if (global) checks.push([global, 'all']);
    const held: [Limiter, Reservation][] = [];
    const tokens = countsTokens ? promptTokens + answerTokens : 0;
    for (const [limiter, key] of checks) {
      const decision = yield* wait(limiter.check(key, { requests: 1, tokens }));
      if (!decision.ok) {
        yield release(held);
        const seconds = Math.ceil(decision.retryAfterMs / 1000);
        const what =
          decision.limit.requests !== undefined
            ? `${decision.limit.requests} requests`
            : `${decision.limit.tokens} tokens`;
        throw new GatewayError(
          ErrorCodes.RATE_LIMITED,
          `rate limit reached (${what} per ${decision.limit.perSeconds} s); retry in ${seconds} s`,
          {
            retryAfterSeconds: seconds,
          },
        );
      }
      held.push([limiter, decision.reservation]);
    }
    return held;
  }

  const release = (held: readonly [Limiter, Reservation][]) =>
    all(held.map(([limiter, reservation]) => limiter.release(reservation)));

  function* admit(
    request: ChatRequest,
    caller: Caller,
    targets: readonly Target[],
    budget: Budget | undefined,
    own: ClientLimits | undefined,
  ): Flow<Admission> {
    const countsTokens = sharedCountsTokens || (own?.countsTokens ?? false);
    const promptTokens =
      countsTokens || budget ? estimatePromptTokens(request.messages, request.tools) : 0;
    const tokenLimit = countsTokens ? tokenLimitOf(request, own) : undefined;
    if (tokenLimit) refuseImpossible(request, promptTokens, tokenLimit);
    const room = tokenLimit ? tokenLimit.tokens! - promptTokens : Infinity;
    // A budget pays for an answer's ceiling only when answer tokens cost something.
    const price = budget ? highestPrice(targets, deps.price) : undefined;
    const capped = budget !== undefined && price !== undefined && price.output > 0;
    const answerTokens = Math.min(
      request.maxTokens ?? (capped ? budget.maxTokens : defaultMaxTokens),
      room,
    );
    const held = yield* limit(request, caller, own, countsTokens, promptTokens, answerTokens);

    let period: SpendPeriod | undefined;
    let reservedUsd = 0;
    let maxTokens: number | undefined;
    if (budget) {
      period = periodOf(budget.period);
      if (!config.redis) yield primed(caller.clientId, period, budget);
      const decision = yield* wait(
        spend.reserveTokens(
          caller.clientId,
          period,
          {
            promptUsd: price ? promptTokens * price.input : 0,
            tokenUsd: capped ? price.output : 0,
            maxTokens: capped ? answerTokens : 0,
            minTokens: capped ? Math.min(minAnswerTokens, answerTokens) : 0,
          },
          budget.usd,
        ),
      );
      if (!decision.ok) {
        yield release(held);
        const left = budget.usd - decision.spentUsd;
        const least = capped
          ? ` and an answer of ${Math.min(minAnswerTokens, answerTokens)} tokens`
          : '';
        const why =
          left > 0
            ? `has $${Number(left.toFixed(6))} left, too little for this prompt${least}`
            : 'is spent';
        throw new GatewayError(
          ErrorCodes.BUDGET_EXCEEDED,
          `the ${periodAdjectives[budget.period]} budget of client "${caller.clientId}" ($${budget.usd}) ${why}`,
          { budgetUsd: budget.usd, spentUsd: decision.spentUsd },
        );
      }
      reservedUsd = decision.reservedUsd;
      if (capped) maxTokens = decision.tokens;
    }

    // A token's user budget: reserved the same way, after the client's, within what it left.
    const user = userBudgetOf(caller, budget);
    let userReservedUsd = 0;
    if (user) {
      if (!config.redis) yield userPrimed(caller.clientId, caller.user!, user);
      const userPrice = price ?? highestPrice(targets, deps.price);
      const userCapped = userPrice !== undefined && userPrice.output > 0;
      const ceiling = maxTokens ?? answerTokens;
      const decision = yield* wait(
        spend.reserveTokens(
          user.id,
          user.period,
          {
            promptUsd: userPrice ? promptTokens * userPrice.input : 0,
            tokenUsd: userCapped ? userPrice.output : 0,
            maxTokens: userCapped ? ceiling : 0,
            minTokens: userCapped ? Math.min(minAnswerTokens, ceiling) : 0,
          },
          user.usd,
        ),
      );
      if (!decision.ok) {
        yield release(held);
        if (budget && period) yield spend.settle(caller.clientId, period, reservedUsd, 0);
        const left = user.usd - decision.spentUsd;
        throw new GatewayError(
          ErrorCodes.BUDGET_EXCEEDED,
          `the budget of user "${caller.user}" of client "${caller.clientId}" ($${user.usd}) ${
            left > 0
              ? `has $${Number(left.toFixed(6))} left, too little for this request`
              : 'is spent'
          }`,
          { budgetUsd: user.usd, spentUsd: decision.spentUsd },
        );
      }
      userReservedUsd = decision.reservedUsd;
      if (userCapped) maxTokens = decision.tokens;
    }
    return {
      maxTokens,
      settle: (actual) =>
        run(
          settle(caller.clientId, held, budget, period, reservedUsd, actual, user, userReservedUsd),
        ),
    };
  }

  function* settle(
    clientId: string,
    held: readonly [Limiter, Reservation][],
    budget: Budget | undefined,
    period: SpendPeriod | undefined,
    reservedUsd: number,
    { tokens, costUsd }: { tokens: number; costUsd: number },
    user?: UserBudget,
    userReservedUsd = 0,
  ): Flow<void> {
    yield all(held.map(([limiter, reservation]) => limiter.settle(reservation, tokens)));
    if (user) yield spend.settle(user.id, user.period, userReservedUsd, costUsd);
    if (!budget || !period) return;
    yield spend.settle(clientId, period, reservedUsd, costUsd);
    const spentUsd = yield* wait(spend.spent(clientId, period));
    for (const threshold of budget.alertAt) {
      if (!reached(spentUsd, threshold, budget.usd)) continue;
      if (yield* wait(spend.markOnce(alertKey(clientId, period, threshold), ttl(period)))) {
        deps.onBudgetAlert({
          clientId,
          threshold,
          budgetUsd: budget.usd,
          spentUsd,
          period: period.key,
        });
      }
    }
  }

  return {
    admit(request, caller, targets) {
      const client = deps.clients(caller.clientId);
      const own = client && client.rateLimits.length > 0 ? limitsOf(client) : undefined;
      if (!global && !perUser && !own && !client?.budget && caller.grant?.budgetUsd === undefined)
        return noop;
      return run(admit(request, caller, targets, client?.budget, own));
    },

    spent(clientId) {
      const budget = deps.clients(clientId)?.budget;
      return spend.spent(clientId, periodOf(budget?.period ?? 'month'));
    },
  };
}
