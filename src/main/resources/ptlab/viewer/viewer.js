// ptlab viewer: a thin view over the JSON endpoints of ptlab serve (report/Viewer.java).
// Plain DOM, no libraries, nothing fetched from anywhere but this server.
'use strict';

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function getJson(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

// ---- tabs ----------------------------------------------------------------------------------
for (const t of document.querySelectorAll('.tab')) {
  t.addEventListener('click', () => {
    for (const o of document.querySelectorAll('.tab')) o.classList.toggle('active', o === t);
    for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== t.dataset.panel;
    if (t.dataset.panel === 'panel-report' && !$('report-frame').src) $('report-frame').src = '/report';
    if (t.dataset.panel === 'panel-schedule') loadScheduleList();
  });
}

// entry bits as little labels: "P RW US A" -> [P][RW][US][A]
function bits(text) {
  const span = el('span', {class: 'bits'});
  for (const b of text.split(' ')) span.append(el('span', {class: b === 'np' ? 'np' : ''}, b));
  return span;
}

// ---- translation explorer ------------------------------------------------------------------
let modes = [];

async function loadModes() {
  modes = (await getJson('/api/modes')).modes;
  for (const m of modes) $('mode').append(el('option', {value: m.mode}, m.mode));
  $('mode').value = 'x86-64';
  showMappings();
}

function showMappings() {
  const m = modes.find((x) => x.mode === $('mode').value);
  const div = $('mappings');
  div.replaceChildren('mapped: ');
  for (const mp of m.mappings) {
    const a = el('a', {title: mp.what}, mp.va);
    a.addEventListener('click', () => { $('va').value = mp.va; translate(); });
    div.append(a, ' (' + mp.what + ', ' + (mp.size / 1024) + ' KiB)  ');
  }
  div.append('; everything else faults.');
}

async function translate(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams({mode: $('mode').value, va: $('va').value, access: $('access').value,
    user: $('user').checked ? '1' : '0'});
  $('translate-error').hidden = true;
  try {
    const r = await getJson('/api/translate?' + q);
    showTranslation(r);
  } catch (e) {
    $('translation').hidden = true;
    $('translate-error').textContent = e.message;
    $('translate-error').hidden = false;
  }
}

function showTranslation(r) {
  const out = $('outcome');
  out.replaceChildren();
  out.append((r.tlb_hit ? 'TLB hit: ' : 'TLB miss, walked: ') + r.access + ' of ' + r.va + ' in ' +
    (r.user ? 'user' : 'supervisor') + ' mode -> ');
  if (r.fault) {
    out.append(el('span', {class: 'fault', id: 'fault'}, r.exception + ' error code ',
      el('span', {id: 'error-code'}, r.error_code_hex), ' (' + r.error + ')'));
  } else {
    out.append(el('span', {class: 'ok', id: 'pa'}, 'pa ' + r.pa), ' (' + (r.page_size / 1024) + ' KiB page)');
  }
  const tb = $('levels').tBodies[0];
  tb.replaceChildren();
  for (const l of r.levels) {
    tb.append(el('tr', {'data-level': l.name},
      el('td', {}, l.name + ' (' + l.hardware_name + ')'),
      el('td', {class: 'mono index'}, String(l.index)),
      el('td', {class: 'mono'}, l.entry_address),
      el('td', {class: 'mono'}, l.entry),
      el('td', {}, bits(l.bits), l.leaf ? ' leaf' : '')));
  }
  $('tlb-summary').textContent = r.tlb.hits + ' hits, ' + r.tlb.misses + ' misses, ' + r.tlb.walks +
    ' walks so far; entries held for the pages translated:';
  const tt = $('tlb').tBodies[0];
  tt.replaceChildren();
  for (const t of r.tlb.entries) {
    tt.append(el('tr', {}, el('td', {class: 'mono'}, t.page), el('td', {}, (t.page_size / 1024) + ' KiB'),
      el('td', {class: 'mono'}, t.frame), el('td', {}, t.dirty ? 'D' : '-'), el('td', {}, t.global ? 'G' : '-')));
  }
  $('translation').hidden = false;
}

$('translate-form').addEventListener('submit', translate);
$('mode').addEventListener('change', showMappings);
$('reload-cr3').addEventListener('click', async () => {
  await getJson('/api/tlb?' + new URLSearchParams({mode: $('mode').value, op: 'cr3'}));
  translate();
});

// ---- schedule viewer -----------------------------------------------------------------------
let sched = null;
let pos = 0;   // steps shown: 0..sched.steps.length

async function loadScheduleList() {
  const sel = $('schedule-list');
  const keep = sel.value;
  try {
    const r = await getJson('/api/schedules');
    sel.replaceChildren();
    for (const s of r.schedules) {
      sel.append(el('option', {value: s.name}, s.name + ' (' + s.scenario + ', ' + s.variant + ')'));
    }
    if (keep) sel.value = keep;
    if (!r.schedules.length) showScheduleError('no schedules under ' + r.data);
  } catch (e) {
    showScheduleError(e.message);
  }
}

function showScheduleError(msg) {
  $('schedule-error').textContent = msg;
  $('schedule-error').hidden = false;
}

async function loadSchedule(name) {
  $('schedule-error').hidden = true;
  try {
    sched = await getJson('/api/schedule?' + new URLSearchParams({name}));
  } catch (e) {
    $('schedule').hidden = true;
    showScheduleError(e.message);
    return;
  }
  $('schedule-title').textContent = sched.scenario + ', variant ' + sched.variant + ': ' + sched.description +
    ' (' + sched.steps.length + ' steps)';
  const head = el('tr', {}, el('th', {}, 'step'));
  for (let c = 0; c < sched.cpus; c++) head.append(el('th', {}, 'CPU' + c));
  $('trace').tHead.replaceChildren(head);
  const body = $('trace').tBodies[0];
  body.replaceChildren();
  sched.steps.forEach((s, i) => {
    const tr = el('tr', {'data-step': String(i)}, el('td', {class: 'stepno'}, s.step >= 0 ? String(s.step) : ''));
    for (let c = 0; c < sched.cpus; c++) {
      const td = el('td', {});
      if (c === s.cpu) {
        td.append(el('b', {}, s.op), ' ', entryText(s.text));
        for (const n of s.notes) td.append(el('div', {class: 'note'}, n));
      }
      tr.append(td);
    }
    body.append(tr);
  });
  $('schedule').hidden = false;
  show(0);
}

// highlight the "[P RW US A]" groups of page-table entries in a trace line
function entryText(text) {
  const span = el('span', {});
  let last = 0;
  for (const m of text.matchAll(/\[([A-Za-z ]+)\]/g)) {
    span.append(text.slice(last, m.index), bits(m[1]));
    last = m.index + m[0].length;
  }
  span.append(text.slice(last));
  return span;
}

function show(n) {
  pos = Math.max(0, Math.min(n, sched.steps.length));
  const rows = $('trace').tBodies[0].rows;
  for (let i = 0; i < rows.length; i++) {
    rows[i].classList.toggle('future', i >= pos);
    rows[i].classList.toggle('current', i === pos - 1);
    rows[i].classList.toggle('violation-step', pos === rows.length && i === rows.length - 1 && !!sched.violation);
  }
  $('step-pos').textContent = 'step ' + pos + ' of ' + sched.steps.length;
  const atEnd = pos === sched.steps.length;
  $('violation').hidden = !(atEnd && sched.violation);
  $('violation').textContent = sched.violation ? 'violation: ' + sched.violation : '';
  if (pos > 0) rows[pos - 1].scrollIntoView({block: 'nearest'});
}

$('load').addEventListener('click', () => loadSchedule($('schedule-list').value));
$('step-first').addEventListener('click', () => show(0));
$('step-prev').addEventListener('click', () => show(pos - 1));
$('step-next').addEventListener('click', () => show(pos + 1));
$('step-last').addEventListener('click', () => show(sched.steps.length));
document.addEventListener('keydown', (e) => {
  if (!sched || $('panel-schedule').hidden) return;
  if (e.key === 'ArrowRight') show(pos + 1);
  if (e.key === 'ArrowLeft') show(pos - 1);
});

// ?tab=schedule&schedule=NAME opens a schedule directly (links from the report, screenshots)
(async () => {
  await loadModes();
  const p = new URLSearchParams(location.search);
  if (p.get('tab') === 'schedule') {
    $('tab-schedule').click();
    await loadScheduleList();
    if (p.get('schedule')) {
      $('schedule-list').value = p.get('schedule');
      await loadSchedule(p.get('schedule'));
      if (p.get('step') === 'last') show(sched.steps.length);
    }
  } else if (p.get('va')) {
    $('va').value = p.get('va');
    if (p.get('mode')) $('mode').value = p.get('mode');
    if (p.get('access')) $('access').value = p.get('access');
    showMappings();
    translate();
  }
})();
