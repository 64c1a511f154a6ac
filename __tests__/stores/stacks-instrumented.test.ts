import { runStackContracts } from './stacks';

jest.setTimeout(60_000);

// The store contract on every stack createCache assembles, with instrumentation on: the
// Prometheus exporter timing every store call and a tracer on the store channel.
runStackContracts(true);
