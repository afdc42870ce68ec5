/**
 * The names of the tracing settings, shared by common/tracing.ts (which reads them before the
 * config is parsed: instrumentations load first) and common/config.ts (which checks them, so a
 * typo stops every process at start with the config's message).
 */
export const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
export type TraceSamplerName = (typeof TRACE_SAMPLERS)[number];
export const TRACE_INCOMING = ['ignore', 'follow'] as const;
export const DEFAULT_TRACE_RATIO = 0.05;
