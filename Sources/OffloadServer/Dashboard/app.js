/* Offload dashboard. Plain ES2020, no dependencies, CSP-safe (no inline code or styles). */
'use strict';

(() => {
  const TOKEN_KEY = 'offload.token';
  const MAX_SAMPLES = 300;
  const WINDOW_MS = 5 * 60 * 1000;
  const GAP_MS = 5000;          // a longer gap between samples breaks the chart line
  const RATE_WINDOW = 5;        // throughput is averaged over this many samples
  const PAGE_SIZE = 50;
  const MAX_ROWS = 1000;        // live insertions beyond this drop the oldest rows
  const STREAM_IDLE_MS = 15000; // no bytes for this long: the stream is considered dead
  const PRIORITIES = ['critical', 'high', 'normal', 'low'];
  const ACTIVE = new Set(['waiting', 'queued', 'scheduled', 'running']);
  const RETRYABLE = new Set(['failed', 'cancelled']);
  const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
  const PRESETS = {
    'debug.sleep': { ms: 3000 },
    'debug.spin': { ms: 1000 },
    'debug.fail': { times: 1 },
    'debug.alloc': { mb: 64 },
    'debug.echo': { hello: 'world' },
  };

  // ---------------------------------------------------------------- helpers

  const $ = (sel, root = document) => root.querySelector(sel);

  /** el('td', {class: 'x', title: 'y', dataset: {a: 1}}, child, 'text') */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'dataset') Object.assign(node.dataset, v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  const nf = new Intl.NumberFormat(undefined);
  const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const hmFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const fmtInt = (v) => (isNum(v) ? nf.format(v) : '–');

  function fmtBytes(v) {
    if (!isNum(v)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 100 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtMs(v) {
    if (!isNum(v)) return '—';
    if (v < 0) v = 0;
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 10) return v.toFixed(1) + ' ms';
    if (v < 1000) return Math.round(v) + ' ms';
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
    const s = Math.round(v / 1000);
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  }

  function fmtRate(v) {
    if (!isNum(v)) return '—';
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(v < 1 ? 2 : 1);
    return nf.format(Math.round(v));
  }

  function fmtAxis(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
    if (a === 0) return '0';
    if (a < 0.01) return v.toExponential(0);
    return String(+v.toFixed(a < 1 ? 2 : 1));
  }

  const parseTime = (iso) => {
    if (!iso) return null;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  };

  function fmtClock(iso) {
    const t = parseTime(iso);
    if (t === null) return '—';
    const d = new Date(t);
    const now = new Date();
    const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
    return sameDay ? clockFmt.format(d) : dayFmt.format(d) + ' ' + clockFmt.format(d);
  }

  function shortId(id) {
    const s = String(id);
    // ids are time-ordered (UUIDv7-like): the tail is the part that tells them apart
    return s.length > 12 ? '…' + s.slice(-8) : s;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function getToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }
  function storeToken(t) {
    try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (_) { /* storage unavailable */ }
  }

  // ---------------------------------------------------------------- state

  const state = {
    overview: null,
    samples: [],
    clockOffset: 0,        // server time − client time, ms
    hoverT: null,
    auth: { needed: false, waiters: [] },
    jobs: new Map(),       // id -> job (jobs in the current list, plus the selected one)
    list: { tab: 'recent', kind: '', stateFilter: '', tag: '', text: '', ids: [], next: null, loading: false, loaded: false, gen: 0, early: [], truncated: false },
    rows: new Map(),       // id -> <tr>
    selected: null,
    pendingJobs: new Map(),
    flushQueued: false,
    kinds: [],
    lastAutoPayload: '{}',
  };

  const serverNow = () => Date.now() + state.clockOffset;

  // ---------------------------------------------------------------- API

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, data: null, text: '', headers: new Headers(), networkError: true };
    }
    const text = await res.text().catch(() => '');
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (res.status === 401) requireToken();
    return { ok: res.ok, status: res.status, data, text, headers: res.headers };
  }

  function errorText(r) {
    if (r.networkError) return 'Server unreachable';
    const e = r.data && r.data.error;
    if (e && typeof e === 'object' && e.message) return e.message;
    if (typeof e === 'string') return e;
    if (r.status === 401) return 'Token required';
    if (r.status === 429) {
      const after = r.headers.get('Retry-After');
      return 'Too many requests' + (after ? `; retry in ${after} s` : '');
    }
    return `HTTP ${r.status}` + (r.text && r.text.length < 200 ? ': ' + r.text : '');
  }

  // ---------------------------------------------------------------- token

  const tokenForm = $('#token-form');
  const tokenInput = tokenForm.elements.namedItem('token');
  const tokenMessage = $('#token-message');

  function requireToken() {
    if (!state.auth.needed) {
      state.auth.needed = true;
      tokenMessage.textContent = getToken()
        ? 'The server rejected the saved token. Enter another one.'
        : 'The server asks for a bearer token. It is kept in this browser only.';
      setConnection('unauthorized');
      updateListChrome();
    }
    showTokenForm();
  }

  function showTokenForm() {
    if (!tokenForm.hidden) return;
    tokenForm.hidden = false;
    tokenInput.value = getToken();
    tokenInput.focus();
  }

  function waitForToken() {
    if (!state.auth.needed) return Promise.resolve();
    return new Promise((resolve) => state.auth.waiters.push(resolve));
  }

  /** A new token (or none): probe with one request first, so a bad token costs a single 401. */
  async function tokenChanged() {
    state.auth.needed = false;
    setConnection('connecting');
    await checkAccess();
    if (state.auth.needed) return;
    const ok = await loadOverview();
    if (!ok && state.auth.needed) return;
    const waiters = state.auth.waiters.splice(0);
    waiters.forEach((w) => w());
    stream.restart();
    loadJobs(true);
  }

  tokenForm.addEventListener('submit', (e) => {
    e.preventDefault();
    storeToken(tokenInput.value.trim());
    tokenForm.hidden = true;
    tokenChanged();
  });
  $('#token-forget').addEventListener('click', () => {
    storeToken('');
    tokenInput.value = '';
    tokenForm.hidden = true;
    tokenChanged();
  });
  $('#token-close').addEventListener('click', () => { tokenForm.hidden = true; });
  $('#token-button').addEventListener('click', () => {
    if (tokenForm.hidden) showTokenForm(); else tokenForm.hidden = true;
  });

  // ---------------------------------------------------------------- connection status

  const connWrap = $('#conn');
  const connText = $('#connection');
  function setConnection(status) {
    if (state.auth.needed && status !== 'unauthorized') status = 'unauthorized';
    connWrap.dataset.status = status;
    connText.textContent = status;
  }

  // ---------------------------------------------------------------- SSE over fetch

  class SSEParser {
    constructor(onEvent) {
      this.onEvent = onEvent;
      this.buf = '';
      this.event = '';
      this.data = [];
      this.retry = null;
    }
    push(chunk) {
      this.buf += chunk;
      const buf = this.buf;
      let pos = 0;
      for (;;) {
        let i = pos;
        while (i < buf.length && buf[i] !== '\n' && buf[i] !== '\r') i++;
        if (i >= buf.length) break;
        if (buf[i] === '\r' && i === buf.length - 1) break; // maybe CRLF split across chunks
        this.line(buf.slice(pos, i));
        pos = i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1);
      }
      this.buf = buf.slice(pos);
    }
    line(line) {
      if (line === '') {
        if (this.data.length) this.onEvent(this.event || 'message', this.data.join('\n'));
        this.event = '';
        this.data = [];
        return;
      }
      if (line[0] === ':') return;
      const c = line.indexOf(':');
      const field = c === -1 ? line : line.slice(0, c);
      let value = c === -1 ? '' : line.slice(c + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
  }

  const stream = {
    ctrl: null,
    attempt: 0,
    wake: null,
    restart() {
      this.attempt = 0;
      if (this.ctrl) this.ctrl.abort();
      if (this.wake) this.wake();
    },
    async run() {
      for (;;) {
        await waitForToken();
        setConnection(this.attempt === 0 ? 'connecting' : 'reconnecting');
        const ctrl = new AbortController();
        this.ctrl = ctrl;
        let retryHint = null;
        try {
          const headers = { Accept: 'text/event-stream' };
          const token = getToken();
          if (token) headers.Authorization = 'Bearer ' + token;
          const res = await fetch('v1/stream', { headers, cache: 'no-store', signal: ctrl.signal });
          if (res.status === 401) {
            requireToken();
            res.body && res.body.cancel().catch(() => {});
            continue;
          }
          if (!res.ok || !res.body) throw new Error('stream HTTP ' + res.status);
          setConnection('live');
          if (this.attempt > 0) onReconnected();
          this.attempt = 0;
          const parser = new SSEParser(onStreamEvent);
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let idle = null;
          const arm = () => {
            clearTimeout(idle);
            idle = setTimeout(() => ctrl.abort(), STREAM_IDLE_MS);
          };
          arm();
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              arm();
              parser.push(decoder.decode(value, { stream: true }));
            }
          } finally {
            clearTimeout(idle);
            retryHint = parser.retry;
          }
        } catch (_) {
          // network error, abort or idle timeout: fall through to back-off
        }
        if (this.ctrl === ctrl) this.ctrl = null;
        if (state.auth.needed) continue;
        this.attempt++;
        setConnection('reconnecting');
        const base = retryHint !== null ? retryHint : Math.min(15000, 500 * 2 ** Math.min(this.attempt - 1, 5));
        const delay = this.attempt === 1 ? Math.min(base, 500) : base * (0.75 + Math.random() * 0.5);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => { clearTimeout(t); resolve(); };
        });
        this.wake = null;
      }
    },
  };

  /** Job events were missed while the stream was down: resync the list unless the user paged deep into it. */
  function onReconnected() {
    const L = state.list;
    if (L.error || !L.loaded || L.ids.length <= PAGE_SIZE) loadJobs(true);
  }

  function onStreamEvent(type, data) {
    let obj;
    try { obj = JSON.parse(data); } catch (_) { return; }
    if (!obj || typeof obj !== 'object') return;
    if (type === 'overview') applyOverview(obj, true);
    else if (type === 'job') queueJobUpdate(obj);
  }

  // ---------------------------------------------------------------- overview

  async function loadOverview() {
    const r = await api('GET', 'v1/overview');
    if (r.ok && r.data) applyOverview(r.data, false);
    return r.ok;
  }

  function setText(id, text) {
    const n = document.getElementById(id);
    if (n && n.textContent !== text) n.textContent = text;
  }

  // ---------------------------------------------------------------- kinds and schedules

  const panels = { loadedAt: 0, loading: false };

  async function loadPanels(force) {
    if (panels.loading || (!force && Date.now() - panels.loadedAt < 5000)) return;
    panels.loading = true;
    try {
      const [kinds, schedules] = await Promise.all([api('GET', 'v1/kinds'), api('GET', 'v1/schedules')]);
      if (kinds.ok && kinds.data) renderKinds(kinds.data.kinds || []);
      if (schedules.ok && schedules.data) renderSchedules(schedules.data.schedules || []);
      panels.loadedAt = Date.now();
    } finally {
      panels.loading = false;
    }
  }

  function renderKinds(kinds) {
    const body = $('#kinds tbody');
    body.replaceChildren(...kinds.map((k) => {
      const rate = k.rate ? `${fmtInt(k.rate.jobs)} / ${fmtMs(k.rate.perMs)}` : '—';
      const button = el('button', { type: 'button', class: 'btn small ' + (k.paused ? 'resume' : 'pause') }, k.paused ? 'Resume' : 'Pause');
      button.addEventListener('click', async () => {
        button.disabled = true;
        const r = await api('POST', `v1/kinds/${encodeURIComponent(k.kind)}/${k.paused ? 'resume' : 'pause'}`);
        if (!r.ok) toast('Could not change the kind: ' + errorText(r), 'bad');
        else toast(`${k.kind} ${k.paused ? 'resumed' : 'paused'}`, 'ok');
        loadPanels(true);
      });
      return el('tr', { 'data-kind': k.kind },
        el('td', { class: 'mono' }, k.kind),
        el('td', { class: 'num' }, k.maxConcurrent ? fmtInt(k.maxConcurrent) : '—'),
        el('td', { class: 'nowrap' }, rate),
        el('td', null, el('span', { class: 'badge ' + (k.paused ? 's-cancelled' : 's-completed') }, k.paused ? 'paused' : 'active')),
        el('td', { class: 'actions-col' }, button));
    }));
  }

  function renderSchedules(schedules) {
    const body = $('#schedules tbody');
    $('#schedules-empty').hidden = schedules.length > 0;
    setText('schedules-summary', schedules.length ? `${fmtInt(schedules.length)} schedule${schedules.length === 1 ? '' : 's'}` : '');
    body.replaceChildren(...schedules.map((sc) => {
      const outcome = el('td', { class: 'last-outcome nowrap' }, '—');
      if (sc.lastJob) {
        const link = el('a', { href: '#', class: 'small', title: `${sc.lastRun || ''}: job ${sc.lastJob}` }, fmtClock(sc.lastRun));
        link.addEventListener('click', (e) => { e.preventDefault(); selectJob(String(sc.lastJob)); });
        outcome.replaceChildren(link);
        // The schedule's newest job, by its tag (a tick's job the store has not recorded yet is
        // simply not listed, where asking for it by id would be a 404).
        api('GET', 'v1/jobs?limit=1&tag=' + encodeURIComponent('schedule:' + sc.name)).then((r) => {
          const job = r.ok && r.data && Array.isArray(r.data.jobs) ? r.data.jobs[0] : null;
          if (job) { state.jobs.set(String(job.id), job); outcome.append(' ', stateBadge(job)); }
        });
      }
      const toggle = el('button', { type: 'button', class: 'btn small ' + (sc.paused ? 'resume' : 'pause') }, sc.paused ? 'Resume' : 'Pause');
      toggle.addEventListener('click', async () => {
        toggle.disabled = true;
        const r = await api('POST', `v1/schedules/${encodeURIComponent(sc.name)}/${sc.paused ? 'resume' : 'pause'}`);
        if (!r.ok) toast('Could not change the schedule: ' + errorText(r), 'bad');
        loadPanels(true);
      });
      const remove = el('button', { type: 'button', class: 'btn small ghost remove', title: 'Remove this schedule' }, 'Remove');
      remove.addEventListener('click', async () => {
        if (!window.confirm(`Remove the schedule ${sc.name}?`)) return;
        const r = await api('DELETE', 'v1/schedules/' + encodeURIComponent(sc.name));
        if (!r.ok) toast('Could not remove the schedule: ' + errorText(r), 'bad');
        loadPanels(true);
      });
      return el('tr', { 'data-schedule': sc.name },
        el('td', null, el('div', { class: 'mono' }, sc.name),
          el('div', { class: 'mono small muted', title: 'cron expression and time zone' }, `${sc.cron} · ${sc.timeZone === 'GMT' ? 'UTC' : sc.timeZone}`)),
        el('td', { class: 'nowrap next-run', title: sc.nextRun || '' }, sc.paused ? 'paused' : fmtClock(sc.nextRun)),
        outcome,
        el('td', { class: 'actions-col nowrap' }, toggle, ' ', remove));
    }));
  }

  function applyOverview(ov, fromStream) {
    loadPanels(false);
    state.overview = ov;
    const t = parseTime(ov.time);
    if (t !== null) state.clockOffset = t - Date.now();

    // header
    setText('service-name', ov.service ? ov.service.charAt(0).toUpperCase() + ov.service.slice(1) : 'Offload');
    setText('version', ov.version ? 'v' + String(ov.version).replace(/^v/, '') : '');
    const mode = $('#mode');
    mode.hidden = !ov.mode;
    mode.textContent = ov.mode || '';
    mode.dataset.mode = ov.mode || '';
    setText('updated', t !== null ? clockFmt.format(new Date(t)) : '');

    // tiles
    const q = ov.queued || {};
    let queued = 0;
    for (const p of PRIORITIES) {
      const v = isNum(q[p]) ? q[p] : 0;
      queued += v;
      setText('t-q-' + p, fmtInt(v));
    }
    setText('t-queued', fmtInt(queued));
    setText('t-running', fmtInt(ov.running || 0));
    setText('t-delayed', fmtInt(ov.delayed || 0));
    const tot = ov.totals || {};
    setText('t-completed', fmtInt(tot.completed || 0));
    setText('t-failed', fmtInt(tot.failed || 0));
    setText('t-cancelled', fmtInt(tot.cancelled || 0));
    setText('t-submitted', isNum(tot.submitted) ? fmtInt(tot.submitted) + ' submitted' : '\u00a0');
    $('#t-failed').classList.toggle('accent-failed', (tot.failed || 0) > 0);
    const finished = (tot.completed || 0) + (tot.failed || 0);
    setText('t-failed-sub', finished > 0 ? ((100 * (tot.failed || 0)) / finished).toFixed(1) + '% of finished' : '\u00a0');
    const lat = ov.latency || {};
    setText('t-running-sub', isNum(lat.runP50Ms) && lat.runP50Ms > 0 ? 'run p50 ' + fmtMs(lat.runP50Ms) : '\u00a0');

    const workers = Array.isArray(ov.workers) ? ov.workers : [];
    const busy = workers.filter((w) => w.state === 'busy').length;
    setText('t-busy', fmtInt(busy));
    setText('t-workers', fmtInt(workers.length));
    $('#t-busy-meter').style.width = workers.length ? (100 * busy) / workers.length + '%' : '0%';

    renderWorkers(workers);
    setKinds(Array.isArray(ov.kinds) ? ov.kinds.map(String) : []);

    document.title = `${fmtInt(ov.running || 0)} running · ${fmtInt(queued)} queued — Offload`;

    if (fromStream) {
      addSample(ov);
      charts.schedule();
    }
  }

  // ---------------------------------------------------------------- workers

  const workersBody = $('#workers tbody');
  function renderWorkers(workers) {
    const seen = new Set();
    const sorted = workers.slice().sort((a, b) => String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
    let prev = null;
    for (const w of sorted) {
      const id = String(w.id);
      seen.add(id);
      let tr = workersBody.querySelector(`tr[data-worker-id="${CSS.escape(id)}"]`);
      if (!tr) tr = el('tr', { dataset: { workerId: id } });
      const stateName = String(w.state || 'unknown');
      tr.dataset.state = stateName;
      tr.replaceChildren(
        el('td', { class: 'mono' }, id),
        el('td', null, el('span', { class: 'badge w-' + stateName }, stateName)),
        el('td', { class: 'num mono' }, isNum(w.pid) ? String(w.pid) : '—'),
        el('td', { class: 'num' }, fmtBytes(w.residentBytes)),
        el('td', { class: 'num' }, isNum(w.cpuPercent) ? w.cpuPercent.toFixed(1) + ' %' : '—'),
        el('td', { class: 'num' }, fmtInt(w.jobsCompleted || 0)),
        el('td', { class: w.runningKind ? 'mono' : 'muted' }, w.runningKind || '—'),
      );
      const want = prev ? prev.nextSibling : workersBody.firstChild;
      if (want !== tr) workersBody.insertBefore(tr, want);
      prev = tr;
    }
    for (const tr of Array.from(workersBody.children)) {
      if (!seen.has(tr.dataset.workerId)) tr.remove();
    }
    $('#workers-empty').hidden = workers.length > 0;
    const counts = {};
    for (const w of workers) counts[w.state] = (counts[w.state] || 0) + 1;
    setText('workers-summary', Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(' · '));
  }

  // ---------------------------------------------------------------- kinds (submit form + filter)

  const form = $('#submit-form');
  const kindSelect = form.elements.namedItem('kind');
  const kindFilter = $('#kind-filter');
  const payloadArea = form.elements.namedItem('payload');

  function setKinds(kinds) {
    const same = kinds.length === state.kinds.length && kinds.every((k, i) => k === state.kinds[i]);
    if (same && kindSelect.options.length) return;
    state.kinds = kinds.slice();
    const current = kindSelect.value;
    kindSelect.replaceChildren(...kinds.map((k) => el('option', { value: k }, k)));
    if (!kinds.length) {
      kindSelect.append(el('option', { value: '', disabled: true }, 'no kinds'));
      kindSelect.selectedIndex = 0;
    }
    if (kinds.includes(current)) kindSelect.value = current;
    else if (kinds.length) { kindSelect.value = kinds[0]; applyPreset(); }
    form.querySelector('button[type=submit]').disabled = !kinds.length;

    const f = kindFilter.value;
    kindFilter.replaceChildren(el('option', { value: '' }, 'all kinds'), ...kinds.map((k) => el('option', { value: k }, k)));
    if (f && !kinds.includes(f)) kindFilter.append(el('option', { value: f }, f));
    kindFilter.value = f;
  }

  function applyPreset() {
    const cur = payloadArea.value.trim();
    if (cur !== '' && cur !== state.lastAutoPayload.trim()) return; // the user typed something: keep it
    const preset = PRESETS[kindSelect.value];
    const text = preset ? JSON.stringify(preset, null, 2) : '{}';
    payloadArea.value = text;
    state.lastAutoPayload = text;
    validatePayload();
  }

  // ---------------------------------------------------------------- submit form

  const payloadStatus = $('#payload-status');
  const submitResult = $('#submit-result');

  function validatePayload() {
    const text = payloadArea.value;
    if (text.trim() === '') {
      payloadStatus.textContent = 'empty payload is sent as {}';
      payloadStatus.className = 'small muted';
      payloadArea.classList.remove('invalid');
      return { ok: true, value: {} };
    }
    try {
      const value = JSON.parse(text);
      payloadStatus.textContent = 'valid JSON';
      payloadStatus.className = 'small ok';
      payloadArea.classList.remove('invalid');
      return { ok: true, value };
    } catch (err) {
      payloadStatus.textContent = 'invalid JSON: ' + String(err.message || err).replace(/^JSON\.parse: /, '');
      payloadStatus.className = 'small bad';
      payloadArea.classList.add('invalid');
      return { ok: false };
    }
  }

  function showSubmitResult(kind, nodes) {
    submitResult.hidden = false;
    submitResult.className = 'form-msg small ' + kind;
    submitResult.replaceChildren(...nodes);
  }

  function clearFieldErrors() {
    for (const n of form.querySelectorAll('.invalid')) n.classList.remove('invalid');
  }

  let payloadTimer = null;
  payloadArea.addEventListener('input', () => {
    clearTimeout(payloadTimer);
    payloadTimer = setTimeout(validatePayload, 150);
  });
  payloadArea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });
  kindSelect.addEventListener('change', applyPreset);
  $('#payload-format').addEventListener('click', () => {
    const v = validatePayload();
    if (v.ok && payloadArea.value.trim()) payloadArea.value = JSON.stringify(v.value, null, 2);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors();
    const v = validatePayload();
    if (!v.ok) {
      showSubmitResult('bad', ['Payload is not valid JSON.']);
      payloadArea.focus();
      return;
    }
    const kind = kindSelect.value;
    if (!kind) { showSubmitResult('bad', ['Choose a kind.']); return; }
    const body = { kind, priority: form.elements.namedItem('priority').value, payload: v.value };
    const timeoutInput = form.elements.namedItem('timeoutMs');
    const tRaw = timeoutInput.value.trim();
    if (tRaw !== '') {
      const t = Number(tRaw);
      if (!Number.isInteger(t) || t <= 0) {
        timeoutInput.classList.add('invalid');
        showSubmitResult('bad', ['Timeout must be a positive whole number of milliseconds.']);
        timeoutInput.focus();
        return;
      }
      body.timeoutMs = t;
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    showSubmitResult('muted', ['Submitting…']);
    const r = await api('POST', 'v1/jobs', body);
    btn.disabled = !state.kinds.length;
    if (r.ok) {
      const ids = (r.data && Array.isArray(r.data.ids)) ? r.data.ids.map(String) : [];
      const created = new Date(serverNow()).toISOString();
      for (const id of ids) {
        if (!state.jobs.has(id)) {
          applyJob({
            id, kind, priority: body.priority, state: 'queued', attempts: 0, progress: null,
            createdAt: created, startedAt: null, finishedAt: null, payload: body.payload, result: null, error: null,
          }, { source: 'local', flash: true });
        }
      }
      const nodes = ['Queued '];
      ids.forEach((id, i) => {
        if (i) nodes.push(', ');
        const a = el('button', { type: 'button', class: 'link mono', title: id }, shortId(id));
        a.addEventListener('click', () => selectJob(id));
        nodes.push(a);
      });
      showSubmitResult('ok', nodes);
      return;
    }
    if (r.status === 400 && r.data && r.data.error && r.data.error.field) {
      const f = String(r.data.error.field);
      const target = f.startsWith('payload') ? payloadArea : form.elements.namedItem(f.split('.')[0]);
      if (target && target.classList) target.classList.add('invalid');
    }
    const code = r.data && r.data.error && r.data.error.code;
    showSubmitResult('bad', [code ? el('code', null, code) : null, code ? ' ' : null, errorText(r)].filter(Boolean));
  });

  // ---------------------------------------------------------------- jobs list

  const jobsBody = $('#jobs tbody');
  const loadMoreBtn = $('#load-more');

  function stateRank(s) { return TERMINAL.has(s) ? 2 : s === 'running' ? 1 : 0; }

  /** Should `incoming` (a snapshot from GET /v1/jobs) replace `known`? Stream events always win. */
  function snapshotIsNewer(known, incoming) {
    const ka = known.attempts || 0, ia = incoming.attempts || 0;
    if (ia !== ka) return ia > ka;
    return stateRank(incoming.state) >= stateRank(known.state);
  }

  /** Whether a job belongs in the list; `found`: the server listed it for the list's query. */
  function matchesList(job, found = false) {
    const L = state.list;
    if (L.kind && job.kind !== L.kind) return false;
    if (L.stateFilter && job.state !== L.stateFilter) return false;
    if (L.tag && !(Array.isArray(job.tags) && job.tags.includes(L.tag))) return false;
    // A summary from the stream has no payload: a searched list takes the jobs the search finds.
    if (L.text && !found && !String(job.id).toLowerCase().startsWith(L.text.toLowerCase())) return false;
    if (L.tab === 'failed') return job.state === 'failed';
    return true;
  }

  function queueJobUpdate(job) {
    if (!job || job.id === undefined || job.id === null) return;
    job.id = String(job.id);
    state.pendingJobs.set(job.id, Object.assign(state.pendingJobs.get(job.id) || {}, job));
    if (!state.flushQueued) {
      state.flushQueued = true;
      requestAnimationFrame(() => {
        state.flushQueued = false;
        const batch = Array.from(state.pendingJobs.values());
        state.pendingJobs.clear();
        for (const j of batch) applyJob(j, { source: 'stream', flash: true });
        updateListChrome();
      });
    }
  }

  /** Merge a job into the cache and the visible list. source: 'stream' | 'snapshot' | 'local'. */
  function applyJob(job, opts) {
    const { source, flash } = opts;
    const id = String(job.id);
    const known = state.jobs.get(id);
    const L = state.list;
    if (known && source === 'snapshot' && !snapshotIsNewer(known, job)) return;
    const merged = known ? Object.assign({}, known, job) : job;
    const row = state.rows.get(id);
    if (row) {
      state.jobs.set(id, merged);
      renderJobRow(row, merged);
    } else if (matchesList(merged)) {
      if (source !== 'snapshot' && !L.loaded) {
        // the first page is still loading; keep it for after
        if (L.early.length < 500) L.early.push(merged);
      } else if (insertRow(merged, source === 'snapshot' ? 'append' : 'live', flash)) {
        state.jobs.set(id, merged);
      }
    } else if (state.selected === id) {
      state.jobs.set(id, merged);
    }
    if (state.selected === id) {
      renderDetail();
      // The stream tells of changes without payload and result: the open job is read whole once it ends.
      if (source === 'stream' && TERMINAL.has(merged.state)) loadJobDetail(id);
    }
  }

  /** Reads a job whole (payload and result) for the detail panel. */
  async function loadJobDetail(id) {
    const r = await api('GET', 'v1/jobs/' + encodeURIComponent(id));
    if (r.ok && r.data && state.selected === id) applyJob(r.data, { source: 'detail' });
  }

  function insertRow(job, how, flash) {
    const L = state.list;
    const tr = el('tr', { tabindex: '0', dataset: { jobId: job.id } });
    renderJobRow(tr, job);
    if (how === 'append') {
      jobsBody.append(tr);
      L.ids.push(job.id);
    } else {
      let before = null;
      if (L.tab === 'recent') {
        // keep newest-first order by creation time
        const t = parseTime(job.createdAt);
        if (t !== null) {
          for (const other of jobsBody.children) {
            const ot = parseTime((state.jobs.get(other.dataset.jobId) || {}).createdAt);
            if (ot !== null && ot < t) { before = other; break; }
          }
          // older than every loaded row while more pages exist: it belongs to a page not loaded yet
          if (!before && jobsBody.children.length && L.next) return false;
        } else {
          before = jobsBody.firstChild;
        }
      } else {
        before = jobsBody.firstChild;
      }
      jobsBody.insertBefore(tr, before);
      const idx = before ? L.ids.indexOf(before.dataset.jobId) : -1;
      if (idx === -1) L.ids.push(job.id); else L.ids.splice(idx, 0, job.id);
      if (flash) {
        tr.classList.add('flash');
        tr.addEventListener('animationend', () => tr.classList.remove('flash'), { once: true });
      }
    }
    state.rows.set(job.id, tr);
    if (L.ids.length > MAX_ROWS) trimRows();
    return true;
  }

  function trimRows() {
    const L = state.list;
    while (L.ids.length > MAX_ROWS) {
      const id = L.ids.pop();
      const tr = state.rows.get(id);
      if (tr) tr.remove();
      state.rows.delete(id);
      if (id !== state.selected) state.jobs.delete(id);
    }
    // the server's cursor is opaque, so paging cannot resume after the rows we dropped
    L.next = null;
    L.truncated = true;
  }

  function durationOf(job) {
    const s = parseTime(job.startedAt);
    if (s === null) return null;
    const f = parseTime(job.finishedAt);
    if (f !== null) return f - s;
    if (job.state === 'running') return Math.max(0, serverNow() - s);
    return null;
  }

  function stateBadge(job) {
    const s = String(job.state || 'unknown');
    const wrap = el('span', { class: 'state-cell' }, el('span', { class: 'badge s-' + s }, s));
    if (s === 'running' && isNum(job.progress)) {
      const pct = Math.max(0, Math.min(1, job.progress));
      const fill = el('span', { class: 'progress-fill' });
      fill.style.width = (pct * 100).toFixed(1) + '%';
      wrap.append(el('span', { class: 'progress', title: Math.round(pct * 100) + '%' }, fill), el('span', { class: 'small muted' }, Math.round(pct * 100) + '%'));
    }
    return wrap;
  }

  function actionButton(job) {
    if (ACTIVE.has(job.state)) return el('button', { type: 'button', class: 'btn small cancel', title: 'Cancel this job' }, 'Cancel');
    if (RETRYABLE.has(job.state)) return el('button', { type: 'button', class: 'btn small retry', title: 'Run this job again' }, 'Retry');
    return null;
  }

  function renderJobRow(tr, job) {
    tr.dataset.state = String(job.state || 'unknown');
    tr.classList.toggle('selected', state.selected === job.id);
    const d = durationOf(job);
    const err = job.error && typeof job.error === 'object' ? job.error : null;
    const prio = String(job.priority || 'normal');
    tr.replaceChildren(
      el('td', { class: 'mono id', title: job.id }, shortId(job.id)),
      el('td', { class: 'mono' }, job.kind || '—'),
      el('td', null, el('span', { class: 'prio prio-' + prio }, el('i'), prio)),
      el('td', null, stateBadge(job)),
      el('td', { class: 'num' }, isNum(job.attempts) ? String(job.attempts) : '—'),
      el('td', { class: 'nowrap', title: job.createdAt || '' }, fmtClock(job.createdAt)),
      el('td', { class: 'num nowrap duration' }, d === null ? '—' : fmtMs(d)),
      el('td', { class: 'error-cell', title: err ? `${err.code || ''} ${err.message || ''}`.trim() : null },
        err ? el('code', { class: 'err-code' }, err.code || 'error') : null,
        err && err.message ? el('span', { class: 'err-msg' }, ' ' + err.message) : null),
      el('td', { class: 'actions-col' }, actionButton(job)),
    );
  }

  function updateListChrome() {
    const L = state.list;
    const n = L.ids.length;
    const empty = $('#jobs-empty');
    if (state.auth.needed && !L.loaded) {
      empty.hidden = false;
      empty.textContent = 'A bearer token is needed to list jobs.';
    } else {
      empty.hidden = n > 0 || !L.loaded;
      empty.textContent = L.error ? 'No jobs loaded.' : L.tab === 'failed' ? 'No failed jobs.' : 'No jobs yet. Submit one above.';
    }
    setText('jobs-count', L.loaded ? `${fmtInt(n)} shown` : '');
    loadMoreBtn.hidden = !L.next;
    loadMoreBtn.disabled = L.loading;
    loadMoreBtn.textContent = L.loading ? 'Loading…' : 'Load more';
    const note = $('#jobs-note');
    if (L.error) note.textContent = L.error;
    else if (L.truncated) note.textContent = `Showing the newest ${MAX_ROWS}; Refresh to page through older jobs.`;
    else note.textContent = L.loaded && !L.next && n ? 'End of list.' : '';
    note.parentElement.hidden = loadMoreBtn.hidden && !note.textContent;
  }

  async function loadJobs(reset) {
    const L = state.list;
    if (reset) {
      L.gen++;
      L.ids = [];
      L.next = null;
      L.loaded = false;
      L.early = [];
      L.truncated = false;
      state.rows.clear();
      for (const id of Array.from(state.jobs.keys())) if (id !== state.selected) state.jobs.delete(id);
      jobsBody.replaceChildren();
    } else if (L.loading || !L.next) {
      return;
    }
    const gen = L.gen;
    const q = new URLSearchParams();
    for (const [name, value] of Object.entries(listFilter())) q.set(name, value);
    q.set('limit', String(PAGE_SIZE));
    if (!reset && L.next) q.set('after', L.next);
    L.loading = true;
    L.error = '';
    updateListChrome();
    const r = await api('GET', 'v1/jobs?' + q.toString());
    if (gen !== L.gen) return; // tab or filter changed meanwhile
    L.loading = false;
    if (r.ok && r.data) {
      const jobs = Array.isArray(r.data.jobs) ? r.data.jobs : [];
      for (const j of jobs) {
        if (!j || j.id === undefined) continue;
        j.id = String(j.id);
        if (state.rows.has(j.id)) applyJob(j, { source: 'snapshot' });
        else if (matchesList(j, true)) { state.jobs.set(j.id, j); insertRow(j, 'append', false); }
      }
      L.next = r.data.next ? String(r.data.next) : null;
    } else if (r.status !== 401) {
      L.error = 'Could not load jobs: ' + errorText(r);
    }
    if (!L.loaded) {
      L.loaded = true;
      const early = L.early.splice(0);
      for (const j of early) applyJob(j, { source: 'stream', flash: true });
    }
    updateListChrome();
  }

  for (const tab of document.querySelectorAll('#jobs .tab')) {
    tab.addEventListener('click', () => {
      const name = tab.dataset.tab;
      if (state.list.tab === name) return;
      state.list.tab = name;
      for (const t of document.querySelectorAll('#jobs .tab')) t.setAttribute('aria-selected', String(t === tab));
      loadJobs(true);
    });
  }
  kindFilter.addEventListener('change', () => { state.list.kind = kindFilter.value; loadJobs(true); });
  $('#state-filter').addEventListener('change', (e) => { state.list.stateFilter = e.target.value; loadJobs(true); });
  // Typed filters apply once typing pauses.
  for (const [id, key] of [['#tag-filter', 'tag'], ['#text-filter', 'text']]) {
    const input = $(id);
    let timer = null;
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.list[key] = input.value.trim(); loadJobs(true); }, 300);
    });
  }

  /** The list's filter as GET /v1/jobs and POST /v1/jobs/bulk take it. */
  function listFilter() {
    const L = state.list;
    const filter = {};
    const st = L.tab === 'failed' ? 'failed' : L.stateFilter;
    if (st) filter.state = st;
    if (L.kind) filter.kind = L.kind;
    if (L.tag) filter.tag = L.tag;
    if (L.text) filter.q = L.text;
    return filter;
  }

  /** Cancels or retries every job the filter matches, a thousand a request, after asking. */
  async function bulk(action, btn) {
    const filter = listFilter();
    const what = Object.entries(filter).map(([k, v]) => `${k} ${v}`).join(', ') || 'every job';
    if (!window.confirm(`${action === 'cancel' ? 'Cancel' : 'Retry'} the jobs matching: ${what}?`)) return;
    btn.disabled = true;
    const totals = {};
    let after = null;
    let requests = 0;
    try {
      do {
        const body = { action, filter };
        if (after) body.after = after;
        const r = await api('POST', 'v1/jobs/bulk', body);
        if (!r.ok) { toast(`Bulk ${action} failed: ` + errorText(r), 'bad'); return; }
        for (const [k, v] of Object.entries(r.data.results || {})) totals[k] = (totals[k] || 0) + v;
        after = r.data.more ? r.data.next : null;
        requests++;
      } while (after && requests < 100);
    } finally {
      btn.disabled = false;
    }
    const done = action === 'cancel' ? (totals.cancelled || 0) + (totals.requested || 0) : totals.retried || 0;
    toast(`${action === 'cancel' ? 'Cancelled' : 'Retried'} ${fmtInt(done)} job${done === 1 ? '' : 's'}`, 'ok');
    loadJobs(true);
  }
  $('#bulk-cancel').addEventListener('click', (e) => bulk('cancel', e.currentTarget));
  $('#bulk-retry').addEventListener('click', (e) => bulk('retry', e.currentTarget));
  $('#jobs-refresh').addEventListener('click', () => loadJobs(true));
  loadMoreBtn.addEventListener('click', () => loadJobs(false));

  jobsBody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-job-id]');
    if (!tr) return;
    const id = tr.dataset.jobId;
    if (e.target.closest('button.cancel')) { cancelJob(id, e.target.closest('button')); return; }
    if (e.target.closest('button.retry')) { retryJob(id, e.target.closest('button')); return; }
    if (e.target.closest('button, a')) return;
    if (window.getSelection && String(window.getSelection()).length) return; // selecting text, not clicking
    selectJob(state.selected === id ? null : id);
  });
  jobsBody.addEventListener('keydown', (e) => {
    const tr = e.target.closest && e.target.closest('tr[data-job-id]');
    if (!tr || e.target !== tr) return;
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); selectJob(tr.dataset.jobId); }
    else if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    else if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });

  // ---------------------------------------------------------------- actions

  const toasts = $('#toasts');
  function toast(message, kind = 'info') {
    const t = el('div', { class: 'toast ' + kind, role: kind === 'bad' ? 'alert' : 'status' }, message);
    toasts.append(t);
    while (toasts.children.length > 4) toasts.firstChild.remove();
    setTimeout(() => { t.classList.add('leaving'); setTimeout(() => t.remove(), 300); }, kind === 'bad' ? 6000 : 3500);
  }

  async function cancelJob(id, btn) {
    if (btn) btn.disabled = true;
    const r = await api('DELETE', 'v1/jobs/' + encodeURIComponent(id));
    if (btn) btn.disabled = false;
    if (!r.ok) { toast('Cancel failed: ' + errorText(r), 'bad'); return; }
    const outcome = r.data && r.data.cancel;
    const known = state.jobs.get(id);
    if (outcome === 'cancelled') {
      if (known && ACTIVE.has(known.state)) {
        applyJob({ id, state: 'cancelled', finishedAt: known.finishedAt || new Date(serverNow()).toISOString() }, { source: 'local' });
      }
      toast(`Cancelled ${shortId(id)}`, 'ok');
    } else if (outcome === 'requested') {
      toast(`Cancellation of ${shortId(id)} requested`, 'info');
    } else if (outcome === 'alreadyFinished') {
      toast(`${shortId(id)} had already finished`, 'info');
    } else {
      toast(`Cancel sent for ${shortId(id)}`, 'info');
    }
  }

  async function retryJob(id, btn) {
    if (btn) btn.disabled = true;
    const r = await api('POST', 'v1/jobs/' + encodeURIComponent(id) + '/retry');
    if (btn) btn.disabled = false;
    if (!r.ok) { toast('Retry failed: ' + errorText(r), 'bad'); return; }
    const newId = r.data && r.data.id !== undefined ? String(r.data.id) : id;
    const known = state.jobs.get(id);
    if (newId === id) {
      if (known && RETRYABLE.has(known.state)) {
        applyJob({ id, state: 'queued', startedAt: null, finishedAt: null, result: null, error: null, progress: null }, { source: 'local' });
      }
      toast(`Retrying ${shortId(id)}`, 'ok');
    } else {
      if (known && !state.jobs.has(newId)) {
        applyJob({
          id: newId, kind: known.kind, priority: known.priority, state: 'queued', attempts: 0, progress: null,
          createdAt: new Date(serverNow()).toISOString(), startedAt: null, finishedAt: null,
          payload: known.payload, result: null, error: null,
        }, { source: 'local', flash: true });
      }
      toast(`Retrying ${shortId(id)} as ${shortId(newId)}`, 'ok');
    }
    updateListChrome();
  }

  // ---------------------------------------------------------------- detail panel

  const detail = $('#job-detail');
  const detailKeys = { action: '', section: '' };
  const jobsBodyWrap = $('#jobs-body');

  function selectJob(id) {
    const prev = state.selected;
    state.selected = id;
    if (prev && state.rows.has(prev)) state.rows.get(prev).classList.remove('selected');
    if (prev && prev !== id && !state.rows.has(prev)) state.jobs.delete(prev);
    if (id && state.rows.has(id)) state.rows.get(id).classList.add('selected');
    renderDetail();
    // A list or the stream gives a job without its dependents (and the stream without its
    // payload and result): the open job is read whole; a linked job not in the list, too.
    const known = id ? state.jobs.get(id) : null;
    if (id && (!known || !('dependents' in known))) loadJobDetail(id);
  }

  function jsonNode(value) {
    let text;
    try { text = JSON.stringify(value, null, 2); } catch (_) { text = String(value); }
    if (text === undefined) text = 'undefined';
    const LIMIT = 200000;
    const truncated = text.length > LIMIT;
    if (truncated) text = text.slice(0, LIMIT);
    const pre = el('pre', { class: 'json' });
    const re = /("(?:\\u[0-9a-fA-F]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
    let last = 0;
    let m;
    const frag = document.createDocumentFragment();
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) frag.append(text.slice(last, m.index));
      if (m[1] !== undefined) {
        frag.append(el('span', { class: m[2] ? 'j-key' : 'j-str' }, m[1]));
        if (m[2]) frag.append(m[2]);
      } else if (m[3] !== undefined) {
        frag.append(el('span', { class: 'j-lit' }, m[3]));
      } else {
        frag.append(el('span', { class: 'j-num' }, m[4]));
      }
      last = re.lastIndex;
    }
    if (last < text.length) frag.append(text.slice(last));
    if (truncated) frag.append(el('span', { class: 'muted' }, '\n… truncated'));
    pre.append(frag);
    return pre;
  }

  function renderDetail() {
    const id = state.selected;
    const job = id ? state.jobs.get(id) : null;
    if (!job) {
      detailKeys.action = detailKeys.section = '';
      detail.hidden = true;
      jobsBodyWrap.classList.remove('has-detail');
      return;
    }
    detail.hidden = false;
    jobsBodyWrap.classList.add('has-detail');
    $('#detail-kind').textContent = job.kind || 'job';
    $('#detail-state').replaceChildren(stateBadge(job));
    renderDetailFields(job);

    // rebuild the buttons and the JSON blocks only when they change, so text selection survives updates
    const actionKey = job.id + '|' + job.state;
    if (detailKeys.action !== actionKey) {
      detailKeys.action = actionKey;
      renderDetailActions(job);
    }
    let sectionKey;
    try { sectionKey = job.id + '|' + JSON.stringify([job.error, job.result, job.payload, job.dependencies, job.dependents]); } catch (_) { sectionKey = null; }
    if (sectionKey === null || detailKeys.section !== sectionKey) {
      detailKeys.section = sectionKey;
      renderDetailSections(job);
    }
  }

  function renderDetailFields(job) {
    const created = parseTime(job.createdAt), started = parseTime(job.startedAt), finished = parseTime(job.finishedAt);
    const rows = [
      ['ID', el('span', { class: 'mono selectable' }, job.id)],
      ['Priority', el('span', { class: 'prio prio-' + (job.priority || 'normal') }, el('i'), job.priority || 'normal')],
      ['Attempts', isNum(job.attempts) ? String(job.attempts) : '—'],
      ['Created', el('span', { title: job.createdAt || '' }, fmtClock(job.createdAt))],
      ['Started', el('span', { title: job.startedAt || '' }, fmtClock(job.startedAt))],
      ['Finished', el('span', { title: job.finishedAt || '' }, fmtClock(job.finishedAt))],
      ['Waited', created !== null && started !== null ? fmtMs(started - created) : created !== null && ACTIVE.has(job.state) && job.state !== 'running' ? fmtMs(serverNow() - created) + ' so far' : '—'],
      ['Ran', started !== null ? fmtMs((finished !== null ? finished : serverNow()) - started) + (finished === null && job.state === 'running' ? ' so far' : '') : '—'],
    ];
    if (isNum(job.progress)) rows.push(['Progress', Math.round(Math.max(0, Math.min(1, job.progress)) * 100) + '%']);
    $('#detail-fields').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  function renderDetailActions(job) {
    const actions = $('#detail-actions');
    const btn = actionButton(job);
    const items = [];
    if (btn) {
      btn.addEventListener('click', () => (btn.classList.contains('cancel') ? cancelJob(job.id, btn) : retryJob(job.id, btn)));
      items.push(btn);
    }
    const tmpl = el('button', { type: 'button', class: 'btn small ghost', title: 'Copy kind, priority and payload into the submit form' }, 'Use as template');
    tmpl.addEventListener('click', () => useAsTemplate(job));
    items.push(tmpl);
    if (navigator.clipboard && window.isSecureContext) {
      const copy = el('button', { type: 'button', class: 'btn small ghost' }, 'Copy ID');
      copy.addEventListener('click', () => navigator.clipboard.writeText(job.id).then(() => toast('ID copied', 'ok'), () => toast('Could not copy', 'bad')));
      items.push(copy);
    }
    actions.replaceChildren(...items);
  }

  /** Jobs a job is linked to (what it waits for, what waits for it): each opens on a click. */
  function linkList(links, label) {
    const list = el('ul', { class: 'links', 'aria-label': label });
    for (const link of links) {
      const open = el('button', { type: 'button', class: 'link-job', title: 'Open ' + link.id },
        el('span', { class: 'mono' }, String(link.id).slice(0, 13)), ' ', el('span', { class: 'muted small' }, link.kind || 'forgotten'));
      open.addEventListener('click', () => selectJob(String(link.id)));
      list.append(el('li', null, open, ' ', link.state ? stateBadge(link) : el('span', { class: 'muted small' }, '—')));
    }
    return list;
  }

  function renderDetailSections(job) {
    const sections = [];
    if (Array.isArray(job.dependencies) && job.dependencies.length > 0) {
      const policy = job.onDependencyFailure === 'run' ? 'runs even if one fails' : 'cancelled if one fails';
      sections.push(el('h4', null, 'Waits for ', el('span', { class: 'muted small' }, '(' + policy + ')')), linkList(job.dependencies, 'Jobs it waits for'));
    }
    if (Array.isArray(job.dependents) && job.dependents.length > 0) {
      sections.push(el('h4', null, 'Waited for by'), linkList(job.dependents, 'Jobs that wait for it'));
    }
    if (job.error) sections.push(el('h4', null, 'Error'), jsonNode(job.error));
    if (job.result !== null && job.result !== undefined) sections.push(el('h4', null, 'Result'), jsonNode(job.result));
    sections.push(el('h4', null, 'Payload'), job.payload === undefined ? el('p', { class: 'muted small' }, 'not included') : jsonNode(job.payload));
    $('#detail-sections').replaceChildren(...sections);
  }

  function useAsTemplate(job) {
    if (job.kind && !state.kinds.includes(job.kind)) {
      kindSelect.append(el('option', { value: job.kind }, job.kind));
    }
    if (job.kind) kindSelect.value = job.kind;
    if (PRIORITIES.includes(job.priority)) form.elements.namedItem('priority').value = job.priority;
    payloadArea.value = JSON.stringify(job.payload === undefined ? {} : job.payload, null, 2);
    state.lastAutoPayload = '';
    validatePayload();
    $('#submit').scrollIntoView({ behavior: 'smooth', block: 'center' });
    payloadArea.focus({ preventScroll: true });
  }

  $('#detail-close').addEventListener('click', () => selectJob(null));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.selected && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement)) selectJob(null);
  });

  // running durations tick every second
  setInterval(() => {
    for (const [id, tr] of state.rows) {
      if (tr.dataset.state !== 'running') continue;
      const job = state.jobs.get(id);
      const cell = tr.querySelector('.duration');
      const d = job && durationOf(job);
      if (cell && d !== null && d !== undefined) cell.textContent = fmtMs(d);
    }
    if (state.selected) {
      const j = state.jobs.get(state.selected);
      if (j && ACTIVE.has(j.state)) renderDetailFields(j);
    }
  }, 1000);

  // ---------------------------------------------------------------- samples

  function addSample(ov) {
    const S = state.samples;
    let t = parseTime(ov.time);
    if (t === null) t = serverNow();
    const prev = S[S.length - 1];
    if (prev && t <= prev.t) {
      if (prev.t - t < 60000) return; // duplicate or out of order
      S.length = 0;                   // clock jumped back: start over
    }
    const tot = ov.totals || {};
    const lat = ov.latency || {};
    const completed = isNum(tot.completed) ? tot.completed : null;
    const failed = isNum(tot.failed) ? tot.failed : null;
    // rate over a sliding window of up to RATE_WINDOW samples (like rate(x[5s])): one sample per event, but readable
    let cRate = null, fRate = null;
    let base = null;
    for (let i = S.length - 1, newer = t; i >= 0 && S.length - i <= RATE_WINDOW; i--) {
      if (newer - S[i].t > GAP_MS || t - S[i].t > 30000) break;
      base = S[i];
      newer = S[i].t;
    }
    if (base) {
      const dt = (t - base.t) / 1000;
      if (completed !== null && base.completed !== null && completed >= base.completed) cRate = (completed - base.completed) / dt;
      if (failed !== null && base.failed !== null && failed >= base.failed) fRate = (failed - base.failed) / dt;
    }
    S.push({
      t, completed, failed, cRate, fRate,
      waitP50: isNum(lat.waitP50Ms) ? lat.waitP50Ms : null,
      waitP99: isNum(lat.waitP99Ms) ? lat.waitP99Ms : null,
      runP50: isNum(lat.runP50Ms) ? lat.runP50Ms : null,
      runP99: isNum(lat.runP99Ms) ? lat.runP99Ms : null,
    });
    while (S.length > MAX_SAMPLES) S.shift();
  }

  // ---------------------------------------------------------------- charts

  function niceStep(range, target) {
    const raw = range / Math.max(1, target);
    const mag = 10 ** Math.floor(Math.log10(raw));
    const n = raw / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
  }

  class Chart {
    constructor(canvas, legend, series, opts) {
      this.canvas = canvas;
      this.ctx = canvas.getContext('2d');
      this.legend = legend;
      this.series = series;
      this.opts = opts;
      this.values = [];
      legend.replaceChildren(...series.map((s) => {
        const val = el('b', { class: 'legend-value' }, '—');
        s.valueEl = val;
        return el('span', { class: 'legend-item' }, el('i', { class: 'swatch ' + s.swatch + (s.dash ? ' dashed' : '') }), s.label + ' ', val);
      }));
      this.timeEl = el('span', { class: 'legend-time muted' });
      legend.append(this.timeEl);
      canvas.addEventListener('mousemove', (e) => {
        const r = canvas.getBoundingClientRect();
        const x = e.clientX - r.left;
        if (!this.plot || x < this.plot.x0 || x > this.plot.x1) { charts.hover(null); return; }
        charts.hover(this.plot.t0 + ((x - this.plot.x0) / (this.plot.x1 - this.plot.x0)) * WINDOW_MS);
      });
      canvas.addEventListener('mouseleave', () => charts.hover(null));
    }

    draw(samples, colors, hoverT) {
      const canvas = this.canvas;
      const dpr = window.devicePixelRatio || 1;
      const W = canvas.clientWidth, H = canvas.clientHeight;
      if (!W || !H) return;
      const pw = Math.round(W * dpr), ph = Math.round(H * dpr);
      if (canvas.width !== pw || canvas.height !== ph) { canvas.width = pw; canvas.height = ph; }
      const ctx = this.ctx;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, W, H);
      ctx.font = `11px ${colors.font}`;
      ctx.textBaseline = 'middle';

      const t1 = samples.length ? samples[samples.length - 1].t : serverNow();
      const t0 = t1 - WINDOW_MS;
      const vis = samples.filter((s) => s.t >= t0);
      const log = !!this.opts.log();

      // y domain
      let max = 0, minPos = Infinity;
      for (const s of vis) for (const se of this.series) {
        const v = s[se.key];
        if (isNum(v)) { if (v > max) max = v; if (v > 0 && v < minPos) minPos = v; }
      }
      let ticks, yOf;
      const top = 10, bottom = H - 20;
      if (log) {
        const lo = minPos === Infinity ? 0.1 : 10 ** Math.floor(Math.log10(minPos));
        const hi = Math.max(lo * 10, 10 ** Math.ceil(Math.log10(Math.max(max, lo * 10))));
        const a = Math.log10(lo), b = Math.log10(hi);
        ticks = [];
        for (let e = a; e <= b + 1e-9; e++) ticks.push(10 ** e);
        yOf = (v) => bottom - ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * (bottom - top);
      } else {
        const floorMax = this.opts.minMax;
        const step = niceStep(Math.max(max, floorMax), 4);
        const hi = Math.max(step, Math.ceil(Math.max(max, floorMax) / step) * step);
        ticks = [];
        for (let v = 0; v <= hi + step / 1e6; v += step) ticks.push(+v.toPrecision(12));
        yOf = (v) => bottom - (v / hi) * (bottom - top);
      }
      const labels = ticks.map(fmtAxis);
      const labelW = Math.max(...labels.map((l) => ctx.measureText(l).width));
      const x0 = 18 + labelW + 8, x1 = W - 10;
      const xOf = (t) => x0 + ((t - t0) / WINDOW_MS) * (x1 - x0);
      this.plot = { x0, x1, t0 };

      // grid and y labels
      ctx.strokeStyle = colors.grid;
      ctx.lineWidth = 1;
      ctx.fillStyle = colors.muted;
      ctx.textAlign = 'right';
      ticks.forEach((v, i) => {
        const y = Math.round(yOf(v)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
        ctx.fillText(labels[i], x0 - 6, y);
      });
      // y axis title
      ctx.save();
      ctx.translate(9, (top + bottom) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'center';
      ctx.fillText(this.opts.unit, 0, 0);
      ctx.restore();

      // x ticks: every minute (every 2 when narrow)
      const everyMin = (x1 - x0) < 260 ? 2 : 1;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      for (let t = Math.ceil(t0 / 60000) * 60000; t <= t1; t += 60000) {
        const d = new Date(t);
        if (Math.round(t / 60000) % everyMin) continue;
        const x = Math.round(xOf(t)) + 0.5;
        ctx.strokeStyle = colors.grid;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom + 3); ctx.stroke();
        const lbl = hmFmt.format(d);
        const w = ctx.measureText(lbl).width / 2;
        if (x - w >= x0 - 4 && x + w <= W) ctx.fillText(lbl, x, bottom + 5);
      }
      ctx.strokeStyle = colors.axis;
      ctx.beginPath(); ctx.moveTo(x0, Math.round(bottom) + 0.5); ctx.lineTo(x1, Math.round(bottom) + 0.5); ctx.stroke();

      // series
      ctx.save();
      ctx.beginPath(); ctx.rect(x0, top - 2, x1 - x0, bottom - top + 3); ctx.clip();
      for (const se of this.series) {
        const color = colors[se.color];
        const segs = [];
        let seg = null, prevT = null;
        for (const s of vis) {
          const raw = s[se.key];
          const v = log && raw <= 0 ? null : raw; // zero has no place on a log axis: leave a gap
          if (!isNum(v) || (prevT !== null && s.t - prevT > GAP_MS)) { seg = null; }
          if (isNum(v)) {
            if (!seg) { seg = []; segs.push(seg); }
            seg.push([xOf(s.t), yOf(v)]);
          }
          prevT = s.t;
        }
        if (se.fill) {
          ctx.fillStyle = color;
          ctx.globalAlpha = 0.12;
          for (const sg of segs) {
            if (sg.length < 2) continue;
            ctx.beginPath();
            ctx.moveTo(sg[0][0], bottom);
            for (const [x, y] of sg) ctx.lineTo(x, y);
            ctx.lineTo(sg[sg.length - 1][0], bottom);
            ctx.closePath();
            ctx.fill();
          }
          ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.6;
        ctx.lineJoin = 'round';
        ctx.setLineDash(se.dash ? [5, 3] : []);
        for (const sg of segs) {
          ctx.beginPath();
          sg.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          if (sg.length === 1) { ctx.arc(sg[0][0], sg[0][1], 1.5, 0, Math.PI * 2); }
          ctx.stroke();
        }
        ctx.setLineDash([]);
      }
      ctx.restore();

      // hover
      let shown = vis.length ? vis[vis.length - 1] : null;
      if (hoverT !== null && vis.length) {
        let best = null, bd = Infinity;
        for (const s of vis) { const d = Math.abs(s.t - hoverT); if (d < bd) { bd = d; best = s; } }
        if (best && bd < 10000) {
          shown = best;
          const x = Math.round(xOf(best.t)) + 0.5;
          ctx.strokeStyle = colors.axis;
          ctx.setLineDash([2, 2]);
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
          ctx.setLineDash([]);
          for (const se of this.series) {
            const v = best[se.key];
            if (!isNum(v) || (log && v <= 0)) continue;
            ctx.fillStyle = colors[se.color];
            ctx.beginPath(); ctx.arc(x, yOf(v), 3, 0, Math.PI * 2); ctx.fill();
          }
        }
      }

      if (vis.length < 2) {
        ctx.fillStyle = colors.muted;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.font = `12px ${colors.font}`;
        ctx.fillText(samples.length ? 'Collecting samples…' : 'Waiting for the event stream…', (x0 + x1) / 2, (top + bottom) / 2);
      }

      // legend values
      for (const se of this.series) {
        const v = shown ? shown[se.key] : null;
        se.valueEl.textContent = this.opts.format(v);
      }
      this.timeEl.textContent = shown && hoverT !== null ? clockFmt.format(new Date(shown.t)) : '';
    }
  }

  const charts = {
    list: [],
    queued: false,
    hoverT: null,
    colors: null,
    init() {
      const logBox = $('#latency-log');
      // latencies span orders of magnitude (sub-ms waits, multi-second runs): log scale unless the user chose linear
      try { logBox.checked = localStorage.getItem('offload.latencyLog') !== '0'; } catch (_) { logBox.checked = true; }
      logBox.addEventListener('change', () => {
        try { localStorage.setItem('offload.latencyLog', logBox.checked ? '1' : '0'); } catch (_) { /* ignore */ }
        this.schedule();
      });
      this.list.push(new Chart($('#throughput'), $('#legend-throughput'), [
        { key: 'cRate', label: 'completed', color: 'completed', swatch: 'sw-completed', fill: true },
        { key: 'fRate', label: 'failed', color: 'failed', swatch: 'sw-failed' },
      ], { unit: 'jobs / s', minMax: 1, log: () => false, format: (v) => (isNum(v) ? fmtRate(v) + '/s' : '—') }));
      this.list.push(new Chart($('#latency'), $('#legend-latency'), [
        { key: 'waitP50', label: 'wait p50', color: 'wait', swatch: 'sw-wait' },
        { key: 'waitP99', label: 'wait p99', color: 'wait', swatch: 'sw-wait', dash: true },
        { key: 'runP50', label: 'run p50', color: 'run', swatch: 'sw-run' },
        { key: 'runP99', label: 'run p99', color: 'run', swatch: 'sw-run', dash: true },
      ], { unit: 'ms', minMax: 1, log: () => logBox.checked, format: fmtMs }));

      if (window.ResizeObserver) {
        const ro = new ResizeObserver(() => this.schedule());
        for (const c of this.list) ro.observe(c.canvas);
      }
      window.addEventListener('resize', () => this.schedule());
      if (window.matchMedia) {
        const mq = window.matchMedia('(prefers-color-scheme: dark)');
        const onChange = () => { this.colors = null; this.schedule(); };
        if (mq.addEventListener) mq.addEventListener('change', onChange);
        const mqr = window.matchMedia('(resolution: 1dppx)');
        // devicePixelRatio changes (zoom, moving between screens)
        if (mqr.addEventListener) mqr.addEventListener('change', () => this.schedule());
      }
      this.schedule();
    },
    readColors() {
      const cs = getComputedStyle(document.documentElement);
      const v = (n) => cs.getPropertyValue(n).trim();
      return {
        grid: v('--chart-grid'), axis: v('--chart-axis'), muted: v('--muted'),
        completed: v('--c-completed'), failed: v('--c-failed'), wait: v('--c-wait'), run: v('--c-run'),
        font: getComputedStyle(document.body).fontFamily || 'sans-serif',
      };
    },
    hover(t) {
      if (t === this.hoverT) return;
      this.hoverT = t;
      this.schedule();
    },
    schedule() {
      if (this.queued) return;
      this.queued = true;
      requestAnimationFrame(() => {
        this.queued = false;
        if (!this.colors) this.colors = this.readColors();
        for (const c of this.list) c.draw(state.samples, this.colors, this.hoverT);
      });
    },
  };

  // ---------------------------------------------------------------- start

  /** `#token=…` in the address (as `offload serve` prints it): kept, then taken out of the address. */
  function adoptTokenFromAddress() {
    const match = /^#token=([^&]+)/.exec(location.hash);
    if (!match) return;
    storeToken(decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  /** Asks the public GET v1/auth whether the saved token will do, so that a page without one
   *  never sends a request the server refuses (the browser would log each 401). */
  async function checkAccess() {
    const r = await api('GET', 'v1/auth');
    if (!r.ok || !r.data) return;
    const needed = r.data.tokenRequired && !r.data.publicReads && !r.data.authenticated;
    if (needed) requireToken();
  }

  async function start() {
    charts.init();
    validatePayload();
    updateListChrome();
    adoptTokenFromAddress();
    await checkAccess();
    await waitForToken();
    // one request first: if the server wants a token, nothing else is sent until it has one
    await loadOverview();
    await waitForToken();
    loadJobs(true);
    stream.run();
  }
  start();
})();
