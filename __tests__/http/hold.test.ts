import compression from 'compression';
import type { Request, Response } from 'express';
import request from 'supertest';
import { holdResponse } from '../../lib/http/hold';
import { EXPRESS_VERSIONS } from './helpers';

describe.each(EXPRESS_VERSIONS)('holdResponse ($name)', ({ express }) => {
  function appWith(atHead: (status: number, log: string[]) => Promise<unknown> | undefined, handler: (req: Request, res: Response) => void, log: string[], timeoutMs = 5_000) {
    const app = express();
    app.use((_req, res, next) => {
      holdResponse(res, (status) => atHead(status, log), timeoutMs);
      next();
    });
    app.all('/x', handler);
    return app;
  }

  it('sends nothing before the work settles, then the whole answer', async () => {
    const log: string[] = [];
    let finish!: () => void;
    const app = appWith(
      (status) => {
        log.push(`head ${status}`);
        return new Promise<void>((resolve) => {
          finish = () => {
            log.push('work done');
            resolve();
          };
          setTimeout(finish, 30);
        });
      },
      (_req, res) => {
        res.status(201).json({ ok: true });
      },
      log,
    );
    const res = await request(app).put('/x');
    log.push('client has it');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ok: true });
    expect(log).toEqual(['head 201', 'work done', 'client has it']);
  });

  it('replays streamed writes in order after the work', async () => {
    const log: string[] = [];
    const app = appWith(
      () => new Promise<void>((resolve) => setTimeout(() => {
        log.push('work done');
        resolve();
      }, 20)),
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        res.write('b');
        res.end('c');
      },
      log,
    );
    const res = await request(app).post('/x');
    expect(res.text).toBe('abc');
    expect(log).toEqual(['work done']);
  });

  it('answers anyway when the work fails or outlives the timeout', async () => {
    const failing = appWith(() => Promise.reject(new Error('store down')), (_req, res) => void res.send('done'), []);
    expect((await request(failing).delete('/x')).text).toBe('done');
    const never = appWith(() => new Promise(() => undefined), (_req, res) => void res.send('late'), [], 50);
    expect((await request(never).delete('/x')).text).toBe('late');
  });

  it('leaves the response alone when there is no work for its status', async () => {
    const log: string[] = [];
    const app = appWith((status) => {
      log.push(`head ${status}`);
      return undefined;
    }, (_req, res) => void res.status(404).send('nope'), log);
    const res = await request(app).put('/x');
    expect(res.status).toBe(404);
    expect(log).toEqual(['head 404']);
  });

  it('keeps a compression layer mounted after it working', async () => {
    const app = express();
    app.use((_req, res, next) => {
      holdResponse(res, () => new Promise((resolve) => setTimeout(resolve, 10)), 5_000);
      next();
    });
    app.use(compression({ threshold: 0 }));
    app.get('/x', (_req, res) => void res.send('x'.repeat(2_000)));
    const res = await request(app).get('/x').set('Accept-Encoding', 'gzip');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.text).toBe('x'.repeat(2_000));
  });
});
