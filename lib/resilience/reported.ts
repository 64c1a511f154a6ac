/** Errors already reported through the resilience hooks, so the cache does not report them twice. @internal */
export const REPORTED = new WeakSet<Error>();
