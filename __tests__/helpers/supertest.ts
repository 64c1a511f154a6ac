import type supertest from 'supertest';
import type { App } from 'supertest/types';

// The response key covers the Host header with its port (RFC 9111 keys on the target URI), and
// supertest starts a server on a new port for every request it makes to an app, so its default
// `Host: 127.0.0.1:<port>` would make every request another URL. Like a real client of one site,
// every request here names one host, `127.0.0.1`, unless a test sets its own. Jest maps
// `supertest` to this module (jest.config.js), so the test files import supertest as usual.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const real = require('supertest/index.js') as typeof supertest;

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'del', 'options'] as const;

function request(app: App, options?: Parameters<typeof real>[1]): ReturnType<typeof real> {
  const methods = real(app, options);
  for (const method of METHODS) {
    const make = methods[method].bind(methods);
    methods[method] = (url: string) => make(url).set('Host', '127.0.0.1');
  }
  return methods;
}

module.exports = Object.assign(request, { Test: real.Test, agent: real.agent, cookies: (real as unknown as { cookies: unknown }).cookies });
