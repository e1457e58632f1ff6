// The operation center's page: draws the lane map and the time–distance
// diagram from /api/map, follows /api/stream, and sends operator actions
// to /api/actions/… with the session's CSRF token. Plain DOM and SVG; every
// text from the server goes in through textContent, never as markup.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const STATES = ['driving', 'idle', 'held', 'paused', 'charging', 'broken', 'link_lost'];
// The width of both drawings in SVG units, and their margins.
const W = 1200;
const PAD_L = 46;
const PAD_R = 16;
// The time–distance diagram shows this much of the past and the future.
const PAST_MS = 20 * 60 * 1000;
const FUTURE_MS = 20 * 60 * 1000;
const MAREY_H = 460;
const MAREY_TOP = 24;
const MAREY_BOTTOM = 10;

let geo = null;
let session = null;
let frames = 0;
const rows = new Map();

function $(id) { return document.getElementById(id); }

function svg(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function html(tag, text, parent) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (parent) parent.appendChild(e);
  return e;
}

function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

// A live orchestrator's clock counts ms since the Unix epoch (shown as a
// date and time here), a simulation's since the start of its run.
const EPOCH_FROM_MS = 946684800000; // 2000-01-01

function fmtTime(ms) {
  if (ms >= EPOCH_FROM_MS) {
    const t = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return t.getFullYear() + '-' + p(t.getMonth() + 1) + '-' + p(t.getDate()) + ' ' +
      p(t.getHours()) + ':' + p(t.getMinutes()) + ':' + p(t.getSeconds());
  }
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor(s / 3600) % 24).padStart(2, '0');
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return (d > 0 ? 'day ' + (d + 1) + ' ' : '') + hh + ':' + mm + ':' + ss;
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s >= 60) return (s / 60).toFixed(1) + ' min';
  if (s >= 1) return s.toFixed(1) + ' s';
  return (s * 1000).toFixed(2) + ' ms';
}

function colour(i, n) {
  return 'hsl(' + Math.round((i * 360) / Math.max(n, 1)) + ', 65%, 42%)';
}

// ---- the map ------------------------------------------------------------

function setupGeometry(map) {
  const lane = map.lane;
  const [ox, oy] = lane.origin;
  const [dx, dy] = lane.direction;
  const zero = -lane.origin_distance_m;
  // u: distance along the lane axis; v: across it, positive to the left of
  // the direction of travel towards CN (so the drawing is the map turned a
  // quarter turn clockwise, not mirrored).
  const u = (x, y) => (x - ox) * dx + (y - oy) * dy - zero;
  const v = (x, y) => -(x - ox) * dy + (y - oy) * dx;
  let vmin = Infinity;
  let vmax = -Infinity;
  const see = (x, y) => { const a = v(x, y); vmin = Math.min(vmin, a); vmax = Math.max(vmax, a); };
  map.nodes.forEach((n) => see(n.x, n.y));
  map.edges.forEach((e) => e.points.forEach(([x, y]) => see(x, y)));
  const umin = lane.min_m;
  const umax = Math.max(lane.max_m, umin + 1);
  const s = (W - PAD_L - PAD_R) / (umax - umin);
  const top = 26;
  const height = Math.max((vmax - vmin) * s, 20) + top + 26;
  return {
    map, u, v, s, umin, umax, vmax, top, height,
    X: (d) => PAD_L + (d - umin) * s,
    Y: (vv) => top + (vmax - vv) * s,
    px: (x, y) => [PAD_L + (u(x, y) - umin) * s, top + (vmax - v(x, y)) * s],
  };
}

function drawMap() {
  const g = geo;
  const root = $('map');
  clear(root);
  root.setAttribute('viewBox', '0 0 ' + W + ' ' + g.height.toFixed(1));
  const lane = g.map.lane;
  if (lane.bridge_start_m !== null && lane.bridge_end_m !== null) {
    svg('rect', {
      class: 'bridge-band', x: g.X(lane.bridge_start_m), y: 0,
      width: Math.max(g.X(lane.bridge_end_m) - g.X(lane.bridge_start_m), 1), height: g.height,
    }, root);
    svg('text', { class: 'label', x: (g.X(lane.bridge_start_m) + g.X(lane.bridge_end_m)) / 2, y: 12, 'text-anchor': 'middle' }, root)
      .textContent = 'Bac Luan II bridge';
  }
  for (const z of g.map.zones) {
    if (z.outline.length < 3) continue;
    svg('polygon', { class: 'zone', points: z.outline.map(([x, y]) => g.px(x, y).map((c) => c.toFixed(1)).join(',')).join(' ') }, root);
  }
  for (const e of g.map.edges) {
    svg('polyline', {
      class: 'edge ' + e.kind, 'data-edge': e.id,
      points: e.points.map(([x, y]) => g.px(x, y).map((c) => c.toFixed(1)).join(',')).join(' '),
    }, root);
  }
  for (const n of g.map.nodes) {
    if (n.kind === 'waypoint') continue;
    const [x, y] = g.px(n.x, n.y);
    const node = svg('circle', { class: 'node', cx: x.toFixed(1), cy: y.toFixed(1), r: 1.6, 'data-node': n.id }, root);
    svg('title', {}, node).textContent = n.id + ' (' + n.kind + ')';
  }
  if (lane.border_m !== null) {
    const x = g.X(lane.border_m);
    svg('line', { class: 'border-line', x1: x, x2: x, y1: 16, y2: g.height - 4 }, root);
    svg('text', { class: 'label border', x: x + 3, y: g.height - 6 }, root).textContent = 'border';
  }
  svg('text', { class: 'label', x: PAD_L, y: 12 }, root).textContent = 'VN yard';
  svg('text', { class: 'label', x: W - PAD_R, y: 12, 'text-anchor': 'end' }, root).textContent = 'CN yard';
  // A 500 m scale bar.
  const bar = 500 * g.s;
  svg('line', { x1: W - PAD_R - bar, x2: W - PAD_R, y1: g.height - 8, y2: g.height - 8, stroke: '#6b7585', 'stroke-width': 2 }, root);
  svg('text', { class: 'label', x: W - PAD_R - bar / 2, y: g.height - 12, 'text-anchor': 'middle' }, root).textContent = '500 m';
  svg('g', { id: 'vehicle-layer' }, root);
  const list = $('nodes');
  clear(list);
  for (const n of g.map.nodes) {
    if (n.kind === 'waypoint') continue;
    const o = document.createElement('option');
    o.value = n.id;
    list.appendChild(o);
  }
  const legend = $('legend');
  clear(legend);
  for (const s of STATES) html('li', s.replace('_', ' '), legend).className = 'state-' + s;
  html('li', 'dark ring: loaded', legend).className = 'state-idle';
}

function drawVehicles(view) {
  const layer = $('vehicle-layer');
  if (!layer) return;
  clear(layer);
  for (const v of view.vehicles) {
    const [x, y] = geo.px(v.x, v.y);
    const g = svg('g', {
      class: 'vehicle state-' + v.state + (v.loaded ? ' loaded' : ''),
      transform: 'translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')',
      'data-vehicle': v.vehicle, 'data-state': v.state,
      'data-x': v.x.toFixed(2), 'data-y': v.y.toFixed(2), 'data-distance': v.distance_m.toFixed(2),
    }, layer);
    svg('title', {}, g).textContent = v.vehicle + ': ' + v.state + ' at ' + v.node + ', battery ' +
      v.battery_pct.toFixed(0) + ' %' + (v.loaded ? ', loaded' : '') + (v.job ? ', ' + v.job : '');
    svg('circle', { r: 6, class: 'state-' + v.state }, g);
    svg('rect', { class: 'battery-bg', x: -7, y: 8, width: 14, height: 3 }, g);
    svg('rect', {
      class: 'battery' + (v.battery_pct < 25 ? ' low' : ''), x: -7, y: 8,
      width: (14 * Math.max(0, Math.min(100, v.battery_pct)) / 100).toFixed(1), height: 3,
    }, g);
    svg('text', { x: 0, y: -9, 'text-anchor': 'middle' }, g).textContent = v.vehicle.replace(/^igv-0*/, '');
  }
}

// ---- the time–distance diagram ------------------------------------------------

function drawMarey(view) {
  const root = $('marey');
  clear(root);
  root.setAttribute('viewBox', '0 0 ' + W + ' ' + MAREY_H);
  const g = geo;
  const now = view.now_ms;
  const t0 = now - PAST_MS;
  const span = PAST_MS + FUTURE_MS;
  const T = (t) => MAREY_TOP + ((t - t0) / span) * (MAREY_H - MAREY_TOP - MAREY_BOTTOM);
  const lane = g.map.lane;
  const defs = svg('defs', {}, root);
  const clip = svg('clipPath', { id: 'marey-clip' }, defs);
  svg('rect', { x: PAD_L, y: MAREY_TOP, width: W - PAD_L - PAD_R, height: MAREY_H - MAREY_TOP - MAREY_BOTTOM }, clip);
  if (lane.bridge_start_m !== null && lane.bridge_end_m !== null) {
    svg('rect', {
      class: 'bridge-band', x: g.X(lane.bridge_start_m), y: MAREY_TOP,
      width: Math.max(g.X(lane.bridge_end_m) - g.X(lane.bridge_start_m), 1), height: MAREY_H - MAREY_TOP - MAREY_BOTTOM,
    }, root);
    svg('text', { class: 'marey-axis', x: (g.X(lane.bridge_start_m) + g.X(lane.bridge_end_m)) / 2, y: 10, 'text-anchor': 'middle' }, root)
      .textContent = 'bridge';
  }
  // Every 5 minutes, a line and its time.
  const step = 5 * 60 * 1000;
  for (let t = Math.ceil(t0 / step) * step; t <= t0 + span; t += step) {
    const y = T(t);
    svg('line', { class: 'marey-grid', x1: PAD_L, x2: W - PAD_R, y1: y, y2: y }, root);
    svg('text', { class: 'marey-axis', x: PAD_L - 4, y: y + 3, 'text-anchor': 'end' }, root).textContent = fmtTime(t).slice(-8, -3);
  }
  // Every 500 m, a distance.
  for (let d = Math.ceil(g.umin / 500) * 500; d <= g.umax; d += 500) {
    svg('line', { class: 'marey-grid', x1: g.X(d), x2: g.X(d), y1: MAREY_TOP, y2: MAREY_H - MAREY_BOTTOM }, root);
    svg('text', { class: 'marey-axis', x: g.X(d), y: 20, 'text-anchor': 'middle' }, root).textContent = (d / 1000).toFixed(1) + ' km';
  }
  if (lane.border_m !== null) {
    const x = g.X(lane.border_m);
    svg('line', { class: 'border-line', x1: x, x2: x, y1: MAREY_TOP, y2: MAREY_H - MAREY_BOTTOM }, root);
    svg('text', { class: 'marey-axis', x: x + 3, y: MAREY_H - 14, fill: '#d0312d' }, root).textContent = 'border';
  }
  const plot = svg('g', { 'clip-path': 'url(#marey-clip)' }, root);
  const n = view.plans.length;
  const dist = new Map(view.vehicles.map((v) => [v.vehicle, v.distance_m]));
  view.plans.forEach((p, i) => {
    const c = colour(i, n);
    const pts = [];
    const here = dist.has(p.vehicle) ? dist.get(p.vehicle) : 0;
    for (const s of p.steps) {
      if (s.from_distance_m !== null && s.from_distance_m !== undefined) pts.push([s.enter_ms, s.from_distance_m]);
      if (s.arrive_ms === null || s.arrive_ms === undefined) {
        // Held on the arc: it stands where it is.
        pts.push([now, here], [t0 + span + 60000, here]);
        continue;
      }
      pts.push([s.arrive_ms, s.distance_m]);
      pts.push([s.depart_ms === null || s.depart_ms === undefined ? t0 + span + 60000 : s.depart_ms, s.distance_m]);
    }
    if (pts.length > 1) {
      svg('polyline', {
        class: 'plan', stroke: c, 'data-vehicle': p.vehicle,
        points: pts.map(([t, d]) => g.X(d).toFixed(1) + ',' + T(t).toFixed(1)).join(' '),
      }, plot);
    }
    if (p.track.length > 0) {
      const tr = p.track.map((q) => [q.t_ms, q.distance_m]);
      if (tr.length === 1) tr.push([now, tr[0][1]]);
      const last = p.track[p.track.length - 1];
      svg('polyline', {
        class: 'track', stroke: c, 'data-vehicle': p.vehicle, 'data-last': last.t_ms + ',' + last.distance_m.toFixed(1),
        points: tr.map(([t, d]) => g.X(d).toFixed(1) + ',' + T(t).toFixed(1)).join(' '),
      }, plot);
    }
  });
  const y = T(now);
  svg('line', { class: 'now-line', x1: PAD_L, x2: W - PAD_R, y1: y, y2: y }, root);
  svg('text', { class: 'marey-axis', x: W - PAD_R, y: y - 3, 'text-anchor': 'end' }, root).textContent = 'now ' + fmtTime(now);
}

// ---- tables and lists ---------------------------------------------------------

function drawVehicleTable(view) {
  const body = $('vehicles').tBodies[0];
  const seen = new Set();
  for (const v of view.vehicles) {
    seen.add(v.vehicle);
    let r = rows.get(v.vehicle);
    if (!r) {
      const tr = html('tr', undefined, body);
      tr.dataset.vehicle = v.vehicle;
      const cells = ['vehicle', 'state', 'node', 'battery', 'load', 'job', 'actions'].map((k) => {
        const td = html('td', undefined, tr);
        td.className = k;
        return td;
      });
      for (const [label, action] of [['pause', 'pause_vehicle'], ['resume', 'resume_vehicle'], ['charge', 'send_to_charger'], ['park', 'send_to_parking']]) {
        const b = html('button', label, cells[6]);
        b.type = 'button';
        b.dataset.action = action;
        b.addEventListener('click', () => act(action, { vehicle: v.vehicle }));
      }
      r = { tr, cells };
      rows.set(v.vehicle, r);
    }
    r.cells[0].textContent = v.vehicle;
    r.cells[1].textContent = v.state.replace('_', ' ');
    r.cells[1].className = 'state state-' + v.state;
    r.cells[2].textContent = v.edge ? v.edge : v.node;
    r.cells[3].textContent = v.battery_pct.toFixed(0) + ' %';
    r.cells[4].textContent = v.loaded ? 'loaded' : '–';
    r.cells[5].textContent = v.job || '–';
  }
  for (const [k, r] of rows) {
    if (!seen.has(k)) { r.tr.remove(); rows.delete(k); }
  }
}

function fillList(id, items, text) {
  const ul = $(id);
  clear(ul);
  for (const it of items.slice(0, 50)) html('li', text(it), ul);
}

function drawPanels(frame) {
  const view = frame.view;
  const k = view.kpis;
  const kpis = $('kpis');
  clear(kpis);
  const figures = [
    ['jobs_queued', k.jobs_queued],
    ['jobs_active', k.jobs_active],
    ['jobs_done_total', k.jobs_done_total],
    ['crossings_total VN→CN', k.crossings_total.vn_to_cn],
    ['crossings_total CN→VN', k.crossings_total.cn_to_vn],
    ['crossing_seconds p50', fmtSeconds(k.crossing_seconds_p50)],
    ['crossing_seconds p95', fmtSeconds(k.crossing_seconds_p95)],
    ['plan_latency_seconds p50', fmtSeconds(k.plan_latency_seconds_p50)],
    ['plan_latency_seconds p95', fmtSeconds(k.plan_latency_seconds_p95)],
    ['reservations', k.reservations],
  ];
  for (const s of STATES) figures.push(['vehicles ' + s.replace('_', ' '), k.vehicles[s] || 0]);
  for (const [name, value] of figures) {
    html('dt', name, kpis);
    html('dd', value, kpis);
  }
  $('jobs-waiting').textContent = view.jobs.waiting_count;
  $('jobs-active').textContent = view.jobs.active_count;
  $('jobs-done').textContent = view.jobs.done_count;
  $('xph-vn').textContent = view.crossings_per_hour.vn_to_cn;
  $('xph-cn').textContent = view.crossings_per_hour.cn_to_vn;
  fillList('list-waiting', view.jobs.waiting, (j) => j.job + ' ' + j.direction + ' from ' + j.pickup);
  fillList('list-active', view.jobs.active, (j) => j.job + ' ' + j.direction + ' on ' + j.vehicle + ' (' + j.stops_done + '/' + j.stops + ')');
  fillList('list-done', view.jobs.done, (j) => j.job + ' ' + j.direction + ' in ' + fmtSeconds(j.crossing_s));
  const qb = $('queues').tBodies[0];
  clear(qb);
  for (const q of view.queues) {
    const tr = html('tr', undefined, qb);
    html('td', q.zone, tr);
    html('td', q.vehicles.length + ' / ' + q.capacity, tr);
    html('td', q.vehicles.join(', ') || '–', tr);
  }
  fillList('handoffs', view.handoffs, (h) => h.vehicle + ' ' + h.from_side + '→' + h.to_side + ': ' + h.state + ' since ' + fmtTime(h.since_ms));
  if (view.handoffs.length === 0) html('li', 'none', $('handoffs'));
  const al = $('alarms');
  clear(al);
  for (const a of frame.alarms.slice().reverse().slice(0, 50)) {
    const li = html('li', fmtTime(a.at_ms) + '  ' + a.message, al);
    li.className = a.severity;
  }
  if (frame.alarms.length === 0) html('li', 'none', al);
}

function render(frame) {
  frames += 1;
  document.body.dataset.frames = String(frames);
  if (frame.side) $('side').textContent = frame.side;
  const view = frame.view;
  if (!view || !geo) return;
  $('now').textContent = fmtTime(view.now_ms);
  const status = $('lane-status');
  status.textContent = view.lane_paused ? 'lane paused' : 'lane running';
  status.className = 'badge ' + (view.lane_paused ? 'paused' : 'running');
  drawVehicles(view);
  drawMarey(view);
  drawVehicleTable(view);
  drawPanels(frame);
}

// ---- session and actions ------------------------------------------------------

function setSession(s) {
  session = s;
  $('login-form').hidden = !!s;
  $('who').hidden = !s;
  $('audit-panel').hidden = !s;
  document.body.dataset.role = s ? s.role : '';
  if (s) {
    if (!geo) loadMap();
    $('user').textContent = s.user;
    $('role').textContent = s.role;
    refreshAudit();
  }
}

function message(id, text, ok, status) {
  const m = $(id);
  m.hidden = false;
  m.textContent = text;
  m.className = 'msg ' + (ok ? 'ok' : 'err');
  m.dataset.status = String(status);
}

async function refreshSession() {
  try {
    const r = await fetch('/api/session', { credentials: 'same-origin' });
    setSession(r.ok ? await r.json() : null);
  } catch (_) {
    setSession(null);
  }
}

async function login(ev) {
  ev.preventDefault();
  const body = { name: $('login-name').value, password: $('login-password').value };
  const r = await fetch('/api/login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  let j = {};
  try { j = await r.json(); } catch (_) { /* An empty body says nothing more. */ }
  $('login-password').value = '';
  if (r.ok) {
    $('login-msg').hidden = true;
    setSession(j);
  } else {
    message('login-msg', 'Sign-in refused: ' + (j.error || r.statusText), false, r.status);
  }
}

async function logout() {
  await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
  setSession(null);
}

async function act(action, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (session) headers['X-CSRF-Token'] = session.csrf_token;
  let r;
  try {
    r = await fetch('/api/actions/' + action, {
      method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body || {}),
    });
  } catch (e) {
    message('action-msg', action + ' failed: ' + e, false, 0);
    return;
  }
  let j = {};
  try { j = await r.json(); } catch (_) { /* An empty body says nothing more. */ }
  if (r.ok) {
    message('action-msg', action.replace(/_/g, ' ') + ' accepted (#' + j.id + ')', true, r.status);
  } else {
    message('action-msg', action.replace(/_/g, ' ') + ' refused: ' + (j.error || r.statusText), false, r.status);
  }
  refreshAudit();
}

async function refreshAudit() {
  if (!session) return;
  const r = await fetch('/api/audit', { credentials: 'same-origin' });
  if (!r.ok) return;
  const entries = await r.json();
  const body = $('audit').tBodies[0];
  clear(body);
  for (const e of entries.slice().reverse().slice(0, 40)) {
    const tr = html('tr', undefined, body);
    html('td', e.seq, tr);
    html('td', fmtTime(e.at_ms), tr);
    html('td', e.user, tr);
    html('td', e.action + (e.detail && e.detail.node ? ' ' + e.detail.node : '') +
      (e.detail && e.detail.vehicle ? ' ' + e.detail.vehicle : '') + (e.detail && e.detail.job ? ' ' + e.detail.job : ''), tr);
    const res = html('td', e.accepted ? 'accepted' : 'refused: ' + (e.reason || ''), tr);
    res.className = e.accepted ? 'accepted' : 'refused';
  }
}

async function loadMap() {
  const r = await fetch('/api/map', { credentials: 'same-origin' });
  if (r.ok) {
    geo = setupGeometry(await r.json());
    drawMap();
  } else {
    $('conn').textContent = 'sign in to see the lane';
  }
}

function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('open', () => { $('conn').textContent = 'live'; });
  es.addEventListener('error', () => { $('conn').textContent = 'reconnecting…'; });
  es.addEventListener('frame', (e) => {
    try {
      render(JSON.parse(e.data));
    } catch (err) {
      $('conn').textContent = 'bad frame: ' + err;
    }
  });
}

async function start() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('pause-lane').addEventListener('click', () => act('pause_lane', {}));
  $('resume-lane').addEventListener('click', () => act('resume_lane', {}));
  $('place-form').addEventListener('submit', (e) => { e.preventDefault(); act('block_place', { node: $('place-node').value }); });
  $('unblock-place').addEventListener('click', () => act('unblock_place', { node: $('place-node').value }));
  $('job-form').addEventListener('submit', (e) => {
    e.preventDefault();
    act('reprioritise', { job: $('job-id').value, priority: Number($('job-priority').value) });
  });
  $('cancel-job').addEventListener('click', () => act('cancel_job', { job: $('job-id').value }));
  await loadMap();
  await refreshSession();
  connect();
  setInterval(refreshAudit, 5000);
}

document.addEventListener('DOMContentLoaded', start);
