/**
 * The dashboard page: one self-contained HTML document (inline style and script under a CSP
 * nonce, nothing from a CDN). The script polls `stats.json` and draws everything itself; the
 * chart is an SVG with one `circle.point` per sample.
 * @internal
 */
export function renderPage(options: { base: string; nonce: string; refreshMs: number; signOut?: boolean }): string {
  const config = JSON.stringify({ base: options.base, refreshMs: options.refreshMs }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cache dashboard</title>
<link rel="icon" href="data:,">
<style nonce="${options.nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>Cache dashboard</h1>
  <span id="store" class="muted"></span>
  <span id="updated" class="muted right"></span>
  ${options.signOut ? `<form method="post" action="${escapeAttr(options.base)}/logout" class="signout"><button type="submit" id="sign-out">Sign out</button></form>` : ''}
</header>
<main>
  <section class="cards" id="totals"></section>
  <section class="card wide">
    <h2>Hit rate over time <span class="muted small">per endpoint, cacheable requests only</span></h2>
    <div id="chart"><p class="muted">Waiting for traffic…</p></div>
    <div id="legend" class="legend"></div>
  </section>
  <section class="card wide">
    <h2>Endpoints</h2>
    <div id="endpoints"></div>
  </section>
  <div class="grid">
    <section class="card"><h2>Why not cached</h2><div id="reasons"></div></section>
    <section class="card"><h2>Store health</h2><div id="health"></div></section>
  </div>
  <div class="grid">
    <section class="card"><h2>Largest entries</h2><div id="largest"></div></section>
    <section class="card"><h2>Most hit</h2><div id="hot"></div></section>
  </div>
  <section class="card wide">
    <h2>Invalidate</h2>
    <form id="invalidate" method="post" action="${escapeAttr(options.base)}/invalidate">
      <select name="kind" id="kind" aria-label="what to invalidate">
        <option value="tag">tag</option>
        <option value="scope">scope</option>
        <option value="pattern">pattern</option>
      </select>
      <input name="value" id="value" required placeholder="team:blue, character, api:status:*" aria-label="tag, scope or pattern">
      <input name="id" id="scope-id" placeholder="id (scope only)" aria-label="scope id">
      <button type="submit">Invalidate</button>
      <span id="result" class="muted" role="status"></span>
    </form>
  </section>
</main>
<script nonce="${options.nonce}">const CONFIG = ${config};
${SCRIPT}</script>
</body>
</html>
`;
}

/**
 * The token sign-in form. It posts to `login` without script (a same-origin form post), and the
 * answer sets the session cookie.
 * @internal
 */
export function renderSignIn(options: { base: string; nonce: string; error?: string }): string {
  return shell(
    options.nonce,
    'Sign in',
    `<form id="sign-in" class="card narrow" method="post" action="${escapeAttr(options.base)}/login">
  <h2>Sign in to the cache dashboard</h2>
  <p class="muted">Paste the token this dashboard was mounted with (<code>cacheDashboard({ token })</code>).</p>
  ${options.error === undefined ? '' : `<p class="error" role="alert">${escapeText(options.error)}</p>`}
  <input type="password" name="token" id="token" required autocomplete="current-password" aria-label="token" placeholder="token">
  <button type="submit">Sign in</button>
</form>`,
  );
}

/**
 * The page of a refused request: why, and how to let people in.
 * @internal
 */
export function renderLocked(options: { reason: 'locked' | 'refused' | 'basic'; nonce: string }): string {
  const body =
    options.reason === 'basic'
      ? '<h2>Sign-in required</h2><p>This dashboard uses HTTP Basic authentication: reload the page and enter the username and password it was mounted with.</p>'
      : options.reason === 'refused'
        ? '<h2>Forbidden</h2><p><code>authorize(req)</code> did not return <code>true</code> for this request. Only exactly <code>true</code> lets a request in.</p>'
        : `<h2>This dashboard is locked</h2>
<p>It lists the URLs your cache holds and can remove entries, so it lets nobody in until it is told who may. Mount it with one of:</p>
<pre>// a token, exchanged for a session cookie at /_cache/login
app.use('/_cache', cacheDashboard({ cache, token: process.env.CACHE_DASHBOARD_TOKEN }));

// HTTP Basic (over HTTPS)
app.use('/_cache', cacheDashboard({ cache, basic: { username: 'ops', password: process.env.CACHE_DASHBOARD_PASSWORD } }));

// your own check: only exactly true lets a request in
app.use('/_cache', cacheDashboard({ cache, authorize: (req) =&gt; req.user?.isAdmin === true }));</pre>`;
  return shell(options.nonce, 'Cache dashboard', `<section class="card narrow">${body}</section>`);
}

function shell(nonce: string, title: string, main: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeText(title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>Cache dashboard</h1></header>
<main>
${main}
</main>
</body>
</html>
`;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

const STYLE = `
:root { --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec; --accent: #2f6fed; --bad: #c8372d; --ok: #23914f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #1d2330; color: #fff; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header .muted { color: #aab2c5; }
.right { margin-left: auto; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin-bottom: 16px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.stat .n { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; min-width: 0; }
.card h2 { font-size: 14px; margin: 0 0 10px; font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 800px) { .grid { grid-template-columns: 1fr; } }
.muted { color: var(--muted); }
.small { font-size: 12px; font-weight: 400; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.key { width: 100%; max-width: 0; overflow: hidden; text-overflow: ellipsis; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.num, th.num { text-align: right; }
.bar { display: inline-block; height: 8px; border-radius: 4px; background: var(--accent); vertical-align: middle; margin-right: 6px; }
.bar.bad { background: #e0913a; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.ok { background: #e3f4ea; color: var(--ok); }
.pill.bad { background: #fbe5e3; color: var(--bad); }
.pill.none { background: #eceef2; color: var(--muted); }
svg { display: block; width: 100%; height: auto; }
svg .grid line { stroke: var(--line); }
svg text { fill: var(--muted); font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 6px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; background: var(--c); vertical-align: -1px; }
form { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
input, select, button { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
input#value { min-width: 280px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button:hover { filter: brightness(1.08); }
.narrow { max-width: 640px; margin: 40px auto; }
.narrow input { min-width: 280px; }
.error { color: var(--bad); font-weight: 600; }
pre { background: #f0f2f5; padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
header form.signout { margin-left: 12px; }
header form.signout button { background: transparent; border-color: #aab2c5; color: #fff; padding: 3px 10px; }
`;

// Plain browser script (no build step): it builds every node with textContent, never innerHTML,
// since keys and reasons come from requests.
const SCRIPT = `
const COLORS = ['#2f6fed', '#23914f', '#e0913a', '#9b51e0', '#c8372d', '#1aa3b8', '#7a8799', '#d45d9e'];
const $ = (id) => document.getElementById(id);
const NS = 'http://www.w3.org/2000/svg';
function el(tag, attrs, ...children) {
  const node = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    // Styles go through the CSSOM: the page's CSP refuses style attributes.
    if (k === 'text') node.textContent = String(v);
    else if (k === 'style') for (const decl of String(v).split(';')) { const at = decl.indexOf(':'); if (at > 0) node.style.setProperty(decl.slice(0, at).trim(), decl.slice(at + 1).trim()); }
    else node.setAttribute(k, String(v));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}
const pct = (x) => (x === null || x === undefined ? '–' : (x * 100).toFixed(1) + '%');
const num = (n) => Number(n).toLocaleString('en-US');
function bytes(n) { return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(1) + ' MB'; }
function ttl(ms) { if (ms < 0) return 'none'; const s = Math.round(ms / 1000); return s < 60 ? s + 's' : s < 3600 ? Math.round(s / 60) + 'm' : Math.round(s / 3600) + 'h'; }
function table(head, rows, numeric) {
  if (rows.length === 0) return el('p', { class: 'muted', text: 'Nothing yet.' });
  const tr = (cells, tag) => el('tr', {}, ...cells.map((c, i) => (c instanceof Node ? el(tag, { class: numeric.includes(i) ? 'num' : i === 0 && tag === 'td' ? 'key' : undefined }, c) : el(tag, { class: numeric.includes(i) ? 'num' : i === 0 && tag === 'td' ? 'key' : undefined, text: c, title: i === 0 ? c : undefined }))));
  return el('table', {}, el('thead', {}, tr(head, 'th')), el('tbody', {}, ...rows.map((r) => tr(r, 'td'))));
}
function replace(id, node) { const box = $(id); box.replaceChildren(node); }

function drawChart(history, order) {
  const names = order.filter((n) => (history[n] || []).some((p) => p.hitRate !== null)).slice(0, COLORS.length);
  if (names.length === 0) { replace('chart', el('p', { class: 'muted', text: 'Waiting for traffic…' })); $('legend').replaceChildren(); return; }
  const W = 1100, H = 260, L = 44, R = 12, T = 10, B = 26;
  const all = names.flatMap((n) => history[n].map((p) => p.t));
  const t0 = Math.min(...all), t1 = Math.max(...all, t0 + 1);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (r) => T + (1 - r) * (H - T - B);
  const svg = el('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'hit rate over time per endpoint' });
  const grid = el('svg:g', { class: 'grid' });
  for (const r of [0, 0.25, 0.5, 0.75, 1]) {
    grid.append(el('svg:line', { x1: L, x2: W - R, y1: y(r), y2: y(r) }));
    grid.append(el('svg:text', { x: L - 8, y: y(r) + 4, 'text-anchor': 'end', text: r * 100 + '%' }));
  }
  [['start', t0], ['middle', (t0 + t1) / 2], ['end', t1]].forEach(([anchor, t]) => grid.append(el('svg:text', { x: x(t), y: H - 6, 'text-anchor': anchor, text: new Date(t).toLocaleTimeString('en-GB') })));
  svg.append(grid);
  const legend = [];
  names.forEach((name, i) => {
    const color = COLORS[i];
    const points = history[name].filter((p) => p.hitRate !== null);
    svg.append(el('svg:polyline', { points: points.map((p) => x(p.t).toFixed(1) + ',' + y(p.hitRate).toFixed(1)).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
    for (const p of points) {
      svg.append(el('svg:circle', { class: 'point', 'data-endpoint': name, cx: x(p.t).toFixed(1), cy: y(p.hitRate).toFixed(1), r: 3, fill: color }, el('svg:title', { text: name + ': ' + pct(p.hitRate) + ' of ' + (p.hits + p.misses) + ' at ' + new Date(p.t).toLocaleTimeString('en-GB') })));
    }
    legend.push(el('span', { style: '--c: ' + color, text: name }));
  });
  replace('chart', svg);
  $('legend').replaceChildren(...legend);
}

function render(data) {
  const s = data.stats;
  const stat = (n, l) => el('div', { class: 'stat' }, el('div', { class: 'n', text: n }), el('div', { class: 'l', text: l }));
  $('totals').replaceChildren(stat(pct(s.hitRate), 'hit rate'), stat(num(s.hits), 'hits'), stat(num(s.misses), 'misses'), stat(num(s.stale), 'stale'), stat(num(s.uncacheable), 'uncacheable'), stat(num(s.bypassed), 'bypassed'), stat(num(s.errors), 'errors'));
  const eps = Object.entries(s.endpoints).sort((a, b) => (b[1].hits + b[1].misses + b[1].uncacheable + b[1].bypassed) - (a[1].hits + a[1].misses + a[1].uncacheable + a[1].bypassed));
  const reasonsOf = (row) => Object.entries(Object.assign({}, row.uncacheableReasons, row.bypassReasons)).map(([k, v]) => k + ' ' + v).join(', ');
  replace('endpoints', table(['endpoint', 'hits', 'misses', 'stale', 'uncacheable', 'bypassed', '304', 'hit rate', 'reasons'], eps.map(([name, r]) => [name, num(r.hits), num(r.misses), num(r.stale), num(r.uncacheable), num(r.bypassed), num(r.notModified), pct(r.hitRate), reasonsOf(r) || '–']), [1, 2, 3, 4, 5, 6, 7]));
  drawChart(data.history, eps.map(([name]) => name));
  const reasons = [...Object.entries(s.uncacheableReasons).map(([k, v]) => ['uncacheable', k, v]), ...Object.entries(s.bypassReasons).map(([k, v]) => ['bypass', k, v])].sort((a, b) => b[2] - a[2]);
  const most = Math.max(1, ...reasons.map((r) => r[2]));
  replace('reasons', table(['reason', 'outcome', 'requests'], reasons.map(([o, k, v]) => [k, o, el('span', {}, el('span', { class: 'bar' + (o === 'bypass' ? ' bad' : ''), style: 'width:' + Math.max(4, (v / most) * 120) + 'px' }), num(v))]), [2]));
  const st = data.store;
  const pill = el('span', { class: 'pill ' + (st.breaker === 'open' ? 'bad' : st.breaker === 'closed' ? 'ok' : 'none'), text: st.breaker === 'open' ? 'breaker open' : st.breaker === 'closed' ? 'healthy' : 'no breaker' });
  const rows = [['store', st.name], ['breaker', pill], ['errors', num(s.errors)], ['last error', st.lastError ? st.lastError.operation + ': ' + st.lastError.message + ' (' + new Date(st.lastError.at).toLocaleTimeString('en-GB') + ')' : 'none']];
  if (st.degradedSince) rows.push(['degraded since', new Date(st.degradedSince).toLocaleTimeString('en-GB')]);
  replace('health', el('table', {}, el('tbody', {}, ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), v instanceof Node ? el('td', {}, v) : el('td', { text: v }))))));
  $('store').textContent = 'store: ' + st.name;
  // The URL a response answers says more than its hashed key; the key stays in the tooltip.
  const label = (e) => el('span', { text: e.url || e.key, title: e.key, 'data-key': e.key });
  replace('largest', data.entries.largest === null ? el('p', { class: 'muted', text: 'This store cannot list its entries.' }) : table(['entry', 'endpoint', 'size', 'ttl', 'hits'], data.entries.largest.map((e) => [label(e), e.endpoint, bytes(e.bytes), ttl(e.ttlMs), num(e.hits)]), [2, 3, 4]));
  replace('hot', table(['entry', 'hits'], data.entries.mostHit.map((e) => [label(e), num(e.hits)]), [1]));
  $('updated').textContent = 'updated ' + new Date(data.at).toLocaleTimeString('en-GB');
}

async function refresh() {
  try {
    const res = await fetch(CONFIG.base + '/stats.json', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    // A session that expired: back to the sign-in page rather than a page that silently stops.
    if (res.status === 401) { location.assign(CONFIG.base + '/login'); return; }
    if (!res.ok) throw new Error('stats.json answered ' + res.status);
    render(await res.json());
  } catch (error) {
    $('updated').textContent = String(error.message || error);
  }
}

$('invalidate').addEventListener('submit', async (event) => {
  event.preventDefault();
  const payload = JSON.stringify(Object.fromEntries(new FormData(event.target)));
  $('result').textContent = '…';
  try {
    const res = await fetch(CONFIG.base + '/invalidate', { method: 'POST', body: payload, headers: { 'content-type': 'application/json', accept: 'application/json' }, credentials: 'same-origin' });
    const body = await res.json();
    $('result').textContent = res.ok ? 'removed ' + body.count + ' entr' + (body.count === 1 ? 'y' : 'ies') + (body.pending ? ' (the store is down: applied when it is back)' : '') : 'failed: ' + body.error;
  } catch (error) {
    $('result').textContent = 'failed: ' + String(error.message || error);
  }
  refresh();
});
$('kind').addEventListener('change', () => { $('scope-id').style.display = $('kind').value === 'scope' ? '' : 'none'; });
$('scope-id').style.display = 'none';
refresh();
setInterval(refresh, CONFIG.refreshMs);
`;
