import { TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace-base';

/**
 * The SDK's ParentBasedSampler with its default delegates: a span whose parent is sampled is
 * sampled, one whose parent is not is not, a root span is as `root` says. A parent here is
 * always valid (`w3c.ts` checks a remote one, the SDK makes the others), so the sampler does not
 * check its ids again, as the SDK's does on every span.
 */
export function parentBased(root: Sampler): Sampler {
  return {
    shouldSample(context, traceId, name, kind, attributes, links) {
      const parent = trace.getSpanContext(context);
      if (parent === undefined)
        return root.shouldSample(context, traceId, name, kind, attributes, links);
      return {
        decision:
          parent.traceFlags & TraceFlags.SAMPLED
            ? SamplingDecision.RECORD_AND_SAMPLED
            : SamplingDecision.NOT_RECORD,
      };
    },
    toString: () => `ParentBased{root=${root.toString()}}`,
  };
}
