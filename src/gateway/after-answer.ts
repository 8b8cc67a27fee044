/**
 * Runs what a finished request still owes nobody waiting on it (its usage record, log line and
 * metrics) once its answer is out: the jobs queued while answers are being made run together in
 * the event loop's check phase, after the socket writes of the same turn; shutdown waits for
 * the records (`Accountant.owe`) before it closes the usage store. Off the answer's path, they
 * no longer add to its latency.
 */
export type AfterAnswer = (job: () => void) => void;

/** @param onError a job threw (it is not retried) */
export function createAfterAnswer(onError = (error: unknown): void => void error): AfterAnswer {
  let jobs: (() => void)[] = [];
  const run = () => {
    const batch = jobs;
    jobs = [];
    for (const job of batch) {
      try {
        job();
      } catch (error) {
        onError(error);
      }
    }
  };
  return (job) => {
    if (jobs.push(job) === 1) setImmediate(run);
  };
}
